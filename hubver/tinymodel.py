"""Moved to `hubver.testing`; this name stays for scripts (and copies of the examples) that import it."""

import warnings

from .testing.tinymodel import *  # noqa: F403
from .testing.tinymodel import __all__ as __all__

warnings.warn("hubver.tinymodel is now hubver.testing", DeprecationWarning, stacklevel=2)
