"""Where a version came from: code (git), machine and packages. Nothing here imports torch."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import platform
import sys
from pathlib import Path
from typing import Any

from .redact import strip_url_credentials

PACKAGES = (
    "hubver",
    "huggingface_hub",
    "torch",
    "transformers",
    "peft",
    "trl",
    "datasets",
    "accelerate",
    "safetensors",
)


def strip_credentials(url: str) -> str:
    """https://user:token@host/x -> https://host/x, for any scheme and case, and without
    credential-like query parameters (`?access_token=...` -> `?access_token=<redacted>`)."""
    return strip_url_credentials(url)


def code_provenance(path: Path | None = None) -> dict[str, Any] | None:
    """Commit, branch, dirty flag, diff hash and remote of the git checkout at `path` (cwd)."""
    try:
        import git
    except ImportError:  # gitpython needs the git binary at import time
        return None
    try:
        repo = git.Repo(path or Path.cwd(), search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, git.GitCommandError):
        return None
    info: dict[str, Any] = {"repo_root": None}
    try:
        info["commit"] = repo.head.commit.hexsha
    except (ValueError, git.GitCommandError):
        return None  # a repository without commits says nothing useful
    try:
        info["branch"] = repo.active_branch.name
    except (TypeError, git.GitCommandError):
        info["branch"] = None  # detached HEAD, as in CI checkouts
    try:
        dirty = repo.is_dirty(untracked_files=False)
        info["dirty"] = dirty
        info["diff_sha256"] = hashlib.sha256(repo.git.diff("HEAD").encode()).hexdigest() if dirty else None
    except git.GitCommandError:
        info["dirty"] = None
        info["diff_sha256"] = None
    remotes = {r.name: r for r in repo.remotes}
    remote = remotes.get("origin") or next(iter(remotes.values()), None)
    try:
        info["remote"] = strip_credentials(next(remote.urls)) if remote else None
    except (git.GitCommandError, StopIteration):
        info["remote"] = None
    info["repo_root"] = Path(repo.working_tree_dir or "").name or None
    return info


def package_versions() -> dict[str, str]:
    return dict(_package_versions())


@functools.lru_cache(maxsize=1)
def _package_versions() -> tuple[tuple[str, str], ...]:
    # importlib.metadata scans every dist-info on each call (~20 ms for these nine); what is
    # installed does not change under a running process (the callback's pushes reuse it).
    versions = []
    for name in PACKAGES:
        try:
            versions.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            continue
    return tuple(versions)


def accelerator() -> dict[str, Any]:
    """What torch sees when it is already loaded; otherwise a cheap look for a GPU driver."""
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            if torch.cuda.is_available():
                return {
                    "type": "cuda",
                    "count": torch.cuda.device_count(),
                    "name": torch.cuda.get_device_name(0),
                    "cuda": torch.version.cuda,
                }
            mps = getattr(torch.backends, "mps", None)
            if mps is not None and mps.is_available():
                return {"type": "mps"}
        except Exception:  # a broken CUDA install must not break a push
            return {"type": "unknown"}
        return {"type": "cpu"}
    if os.path.exists("/proc/driver/nvidia/version"):
        return {"type": "cuda", "detected_by": "nvidia driver"}
    return {"type": "cpu"}


def environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": package_versions(),
        "accelerator": accelerator(),
    }


def current_user() -> str:
    for var in ("HUBVER_USER", "GITHUB_ACTOR", "USER", "USERNAME"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        import getpass

        return getpass.getuser()
    except Exception:
        return "unknown"
