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
        path = directory / "hubver.lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except FileNotFoundError:  # moved or deleted by the writer this thread waited for
            from .storage_errors import NoSuchRepo

            raise NoSuchRepo("Repository not found") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            # Another process may have moved or deleted the directory while this one waited
            # (a repo rename, a delete): the lock then guards a directory that is gone, and a
            # write through the old path would recreate it or be lost. Refused, as "not found".
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                from .storage_errors import NoSuchRepo

                raise NoSuchRepo("Repository not found")
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
