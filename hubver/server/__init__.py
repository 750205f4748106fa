"""The embedded, Hugging Face Hub-compatible server (`hubver hub serve`).

Imports are lazy so that `hubver.server.names` and friends stay cheap to import.
"""

from __future__ import annotations

from typing import Any

__all__ = ["HubApp", "HubConfig", "RunningHub", "bind", "serve_forever", "start_in_thread"]


def __getattr__(name: str) -> Any:
    if name in ("HubApp", "HubConfig"):
        from . import app

        return getattr(app, name)
    if name in ("RunningHub", "bind", "serve_forever", "start_in_thread"):
        from . import run

        return getattr(run, name)
    raise AttributeError(name)
