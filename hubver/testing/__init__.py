"""Test and demo scaffolding shipped with hubver, not part of its API.

`hubver.testing` builds the tiny offline GPT-2 and LoRA adapters that hubver's tests, `make
demo`, the examples and the benchmarks use (see `hubver.testing.tinymodel`). Importing it
imports only the standard library; the builders import torch, transformers, peft and trl
(the ``train`` extra) when called.
"""

from __future__ import annotations

from .tinymodel import *  # noqa: F403  (the builders and texts: tinymodel.__all__)
from .tinymodel import __all__ as __all__
