"""hubver: every fine-tuning run becomes a version on the Hugging Face Hub.

    import hubver
    hubver.push("out/", "me/my-adapter", message="r=8")     # -> PushResult(version="v3", ...)
    hubver.list_versions("me/my-adapter")                   # -> [VersionInfo, ...]
    model = hubver.load("me/my-adapter", "v3")              # base at its recorded revision + adapter
    with hubver.connect("me/my-adapter") as registry:       # one client for several verbs
        registry.promote("v3", "production")

Everything is imported lazily: `import hubver` does not import torch or huggingface_hub.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "connect": "hubver.registry",
    "Registry": "hubver.registry",
    "PushRequest": "hubver.registry.request",
    "push": "hubver.registry.push",
    "list_versions": "hubver.registry.browse",
    "get_version": "hubver.registry.browse",
    "diff": "hubver.registry.browse",
    "resolve": "hubver.registry.browse",
    "select": "hubver.registry.browse",
    "checkout": "hubver.registry.checkout",
    "promote": "hubver.registry.aliases",
    "list_aliases": "hubver.registry.aliases",
    "alias_history": "hubver.registry.aliases",
    "verify": "hubver.registry.verify",
    "prune": "hubver.registry.prune",
    "load": "hubver.registry.load",
    "sync": "hubver.registry.sync",
    "lock": "hubver.registry.lock",
    "read_lock": "hubver.lockfile",
    "write_lock": "hubver.lockfile",
    "HubverCallback": "hubver.callback",
    "HubverError": "hubver.errors",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hubver' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
