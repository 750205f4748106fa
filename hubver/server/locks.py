"""The hub's locks: kernel `flock`s, so a lock dies with the process that held it (kill -9 too).

`dir_lock` serialises the writers of a directory (a repo's refs, the token file); a temp file
stays locked by its writer until renamed away, so a sweeper can tell a live upload from an orphan.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


@contextlib.contextmanager
def dir_lock(directory: Path) -> Iterator[None]:
    """Serialise writers of `directory`: threads of this process, then other processes (flock)."""
    key = str(directory)
    with _THREAD_LOCKS_GUARD:
        tlock = _THREAD_LOCKS.setdefault(key, threading.Lock())
    with tlock:
        fd = os.open(directory / "hubver.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock


def hold(fd: int) -> None:
    """Lock the open file `fd` for its writer, until it is closed (waits for a sweeper's check)."""
    fcntl.flock(fd, fcntl.LOCK_EX)


def is_orphaned(path: Path) -> bool:
    """True if no live writer holds `path`'s lock (checked with the lock held, so none can start)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    finally:
        os.close(fd)
