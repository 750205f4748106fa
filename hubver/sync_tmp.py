"""Where `hubver sync` stages the files it copies: $HUBVER_HOME/sync-tmp/, one dir per run.

A run killed with SIGKILL cannot remove its dir (a full-size copy of an LFS object): each dir
holds an `owner` file (pid and process start time), and every new run removes the dirs whose
owner process is gone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .settings import hubver_home

OWNER = "owner"


def _start_time(pid: int) -> str:
    """The process's start time (clock ticks after boot, from /proc), or "" where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]


def _alive(pid: int, started: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not started or _start_time(pid) in ("", started)  # a reused pid is another process


def sweep(base: Path) -> list[Path]:
    """Remove the dirs under `base` whose owner process is gone; the ones removed."""
    removed = []
    for d in sorted(base.glob("run-*")) if base.is_dir() else []:
        try:
            pid_text, _, started = (d / OWNER).read_text().strip().partition(" ")
            pid = int(pid_text)
        except (OSError, ValueError):
            continue  # being created right now, or not ours: left alone
        if not _alive(pid, started):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


@contextlib.contextmanager
def sync_temp_dir(home: Path | None = None) -> Iterator[Path]:
    base = (home or hubver_home()) / "sync-tmp"
    base.mkdir(parents=True, exist_ok=True)
    sweep(base)
    d = Path(tempfile.mkdtemp(prefix="run-", dir=base))
    (d / OWNER).write_text(f"{os.getpid()} {_start_time(os.getpid())}\n")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)
