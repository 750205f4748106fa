"""The hub's cross-process guards, without a server: the repo lock after a move, multipart hashing."""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from pathlib import Path

import pytest

from hubver.server.lfs import LfsStore
from hubver.server.locks import dir_lock
from hubver.server.storage_errors import BadUpload, NoSuchRepo


def test_a_writer_that_waited_for_a_moved_repo_is_refused(tmp_path: Path) -> None:
    repo = tmp_path / "a.git"
    repo.mkdir()
    # Another process holds the repo's lock (a separate open file: flock conflicts as across processes).
    other = os.open(repo / "hubver.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(other, fcntl.LOCK_EX)
    seen: list[BaseException | None] = []

    def writer() -> None:
        try:
            with dir_lock(repo):
                seen.append(None)
        except BaseException as e:
            seen.append(e)

    t = threading.Thread(target=writer)
    t.start()
    t.join(0.3)
    assert t.is_alive()  # waiting for the other process
    os.rename(repo, tmp_path / "b.git")  # ... which moves the repo, then lets go
    os.close(other)
    t.join(5)
    assert isinstance(seen[0], NoSuchRepo)  # not a write into a directory that is gone
    with pytest.raises(NoSuchRepo):  # and a writer arriving after the move is refused too
        with dir_lock(repo):
            pass
    with dir_lock(tmp_path / "b.git"):
        pass


def _part(store: LfsStore, upload: str, n: int, chunk: int, data: bytes) -> None:
    w = store.open_part(upload, n, (n - 1) * chunk, len(data))
    w.write(data)
    w.commit()


def test_a_part_sent_again_with_other_bytes_is_not_hidden_by_the_running_hash(tmp_path: Path) -> None:
    store = LfsStore(tmp_path)
    chunk = 1024
    good = os.urandom(2 * chunk)
    oid = hashlib.sha256(good).hexdigest()
    _part(store, "u1", 1, chunk, good[:chunk])
    _part(store, "u1", 1, chunk, b"\0" * chunk)  # re-sent, other bytes
    _part(store, "u1", 2, chunk, good[chunk:])
    with pytest.raises(BadUpload, match="do not match"):
        store.assemble(oid, len(good), "u1", 2)
    assert store.size(oid) is None
    # In order, once each: the running hash is used and the object stored.
    for n in (1, 2):
        _part(store, "u2", n, chunk, good[(n - 1) * chunk : n * chunk])
    store.assemble(oid, len(good), "u2", 2)
    assert store.path(oid).read_bytes() == good
