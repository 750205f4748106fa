"""Where a version came from: code (git), machine and packages. Nothing here imports torch."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import platform
import re
import subprocess
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


def _git(args: list[str], cwd: Path) -> str | None:
    """stdout of one `git` command (no optional locks: a push never takes the index lock), or None."""
    try:
        proc = subprocess.run(
            ["git", "--no-optional-locks", *args],
            cwd=cwd,
            capture_output=True,
            timeout=30,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
        )
    except (OSError, subprocess.SubprocessError):  # no git binary, a hung filesystem
        return None
    return proc.stdout.decode("utf-8", "surrogateescape") if proc.returncode == 0 else None


def code_provenance(path: Path | None = None) -> dict[str, Any] | None:
    """Commit, branch, dirty flag, diff hash and remote of the git checkout at `path` (cwd).

    Plain `git` commands (four, five when dirty), not GitPython: importing GitPython cost a
    push more start-up time than the commands themselves take.
    """
    cwd = path or Path.cwd()
    top = _git(["rev-parse", "--show-toplevel"], cwd)
    if top is None:
        return None  # not in a git checkout (or no git)
    status = _git(["status", "--porcelain=v2", "--branch", "--untracked-files=no"], cwd)
    if status is None:
        return None
    heads = dict(line[2:].split(" ", 1) for line in status.splitlines() if line.startswith("# "))
    commit = heads.get("branch.oid", "")
    if not re.fullmatch(r"[0-9a-f]{40}([0-9a-f]{24})?", commit):
        return None  # a repository without commits ("(initial)") says nothing useful
    branch = heads.get("branch.head")
    dirty = any(line and not line.startswith("#") for line in status.splitlines())
    info: dict[str, Any] = {"repo_root": None, "commit": commit}
    info["branch"] = None if branch in (None, "(detached)") else branch  # detached HEAD, as in CI
    info["dirty"] = dirty
    diff = _git(["diff", "HEAD"], cwd) if dirty else None
    # GitPython, which computed this before, dropped the output's last newline: kept comparable.
    info["diff_sha256"] = (
        hashlib.sha256(diff.removesuffix("\n").encode("utf-8", "surrogateescape")).hexdigest()
        if diff is not None
        else None
    )
    urls: dict[str, str] = {}
    for line in (_git(["config", "--get-regexp", r"^remote\..*\.url$"], cwd) or "").splitlines():
        key, _, url = line.partition(" ")
        urls.setdefault(key[len("remote.") : -len(".url")], url)
    remote = urls.get("origin") or next(iter(urls.values()), None)
    info["remote"] = strip_credentials(remote) if remote else None
    info["repo_root"] = Path(top.strip()).name or None
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
