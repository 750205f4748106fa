"""Large-file storage: the interface every store offers (`ObjectStore`), and the local directory
store in git-lfs's own layout: `<git_dir>/lfs/objects/<2>/<2>/<sha256>` (the default). The S3
store (lfs_s3.py) offers the same interface, with the bytes moved by clients through presigned URLs.

An object only ever reaches its final path through `Upload.commit()`, which checks the
announced size and sha256 of what was streamed to a temp file and then renames it: a broken
or forged upload never leaves a bad object behind.

Every temp file is `flock`ed by its writer until it is renamed away or deleted. The kernel
drops that lock when the writer dies, so `sweep()` can tell the leftovers of a killed hub
(removed at the next start, whatever their age) from the uploads of a live hub that shares
the data dir (kept).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from ..hashing import sha256_file
from .locks import hold, is_orphaned
from .storage_errors import BadUpload, TooLarge

POINTER_VERSION = "version https://git-lfs.github.com/spec/v1"
_POINTER = re.compile(
    rb"^version https://git-lfs\.github\.com/spec/v1\noid sha256:([0-9a-f]{64})\nsize (\d+)\n$"
)
MAX_POINTER_SIZE = 200
_OID = re.compile(r"^[0-9a-f]{64}$")
_BOOT = secrets.token_hex(4)


def _process() -> str:
    """This hub process, in multipart upload logs (a pid is reused by a later process, not with this)."""
    return f"{os.getpid()}-{_BOOT}"


def pointer(oid: str, size: int) -> bytes:
    return f"{POINTER_VERSION}\noid sha256:{oid}\nsize {size}\n".encode()


def parse_pointer(data: bytes) -> tuple[str, int] | None:
    m = _POINTER.match(data)
    return (m.group(1).decode(), int(m.group(2))) if m else None


class ObjectStore(Protocol):
    """What the hub asks of a repository's LFS store, whatever keeps the bytes.

    Every object reaches the store only after its size and sha256 were checked (a bad upload
    never becomes an object). A store with a `download_url` (S3) has clients fetch the bytes
    from it, not through the hub; its uploads go to presigned URLs (lfs_s3.S3LfsStore).
    """

    def size(self, oid: str) -> int | None: ...
    def stat(self, oid: str) -> tuple[int, float] | None: ...  # (size, when stored)
    def has(self, oid: str, size: int) -> bool: ...
    def intact(self, oid: str, size: int) -> bool: ...
    def oids(self) -> list[str]: ...
    def delete(self, oid: str) -> bool: ...
    def fsck(self) -> list[tuple[str, str | None]]: ...  # (oid, where the damaged one went)
    def sweep(self, older_than: float = 24 * 3600) -> None: ...
    def download_url(self, oid: str, filename: str | None, ttl: float) -> str | None: ...
    def purge(self) -> None: ...  # the repo is deleted: everything it stored goes


class LfsStore:
    """The local directory store (`ObjectStore`): the hub streams every byte itself."""

    def __init__(self, git_dir: Path) -> None:
        self.root = git_dir / "lfs" / "objects"
        self.tmp = git_dir / "lfs" / "tmp"
        # upload id -> (next part number, sha256 of the parts before it). Clients send parts in
        # order, so the object's hash is complete when its last part lands: completing a
        # multipart upload then neither re-reads nor copies the object. Only if this process
        # wrote every part, once each, in order: the upload's `log` (shared by every hub on the
        # data dir) says so; otherwise the object is re-hashed whole.
        self._running: dict[str, tuple[int, Any]] = {}
        self._running_lock = threading.Lock()
        self._verified: dict[str, tuple[int, int, int]] = {}

    def path(self, oid: str) -> Path:
        return self.root / oid[:2] / oid[2:4] / oid

    def size(self, oid: str) -> int | None:
        try:
            return self.path(oid).stat().st_size
        except FileNotFoundError:
            return None

    def stat(self, oid: str) -> tuple[int, float] | None:
        try:
            st = self.path(oid).stat()
        except FileNotFoundError:
            return None
        return st.st_size, st.st_mtime

    def download_url(self, oid: str, filename: str | None, ttl: float) -> str | None:
        return None  # the hub serves the file itself

    def purge(self) -> None:
        shutil.rmtree(self.root.parent, ignore_errors=True)

    def oids(self) -> list[str]:
        """Every stored object, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.glob("??/??/*") if _OID.fullmatch(p.name))

    def delete(self, oid: str) -> bool:
        """Remove an object for good; whether it was stored."""
        self._verified.pop(oid, None)
        try:
            self.path(oid).unlink()
        except FileNotFoundError:
            return False
        return True

    def has(self, oid: str, size: int) -> bool:
        return self.size(oid) == size

    def intact(self, oid: str, size: int) -> bool:
        """Stored, of that size, and its bytes still hash to `oid` (damage at rest is found here).

        A damaged object is quarantined, so that the upload the caller now asks for replaces
        it. The hash is remembered per (inode, size, mtime): re-reading an object whose file
        did not change would find nothing new.
        """
        path = self.path(oid)
        try:
            st = path.stat()
        except FileNotFoundError:
            return False
        if st.st_size != size:
            return False
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if self._verified.get(oid) == stamp:
            return True
        if sha256_file(path) == oid:
            self._verified[oid] = stamp
            return True
        self.quarantine(oid)
        return False

    def quarantine(self, oid: str) -> str | None:
        """Move a damaged object aside (kept for inspection); returns where it went."""
        self._verified.pop(oid, None)
        dest = self.root.parent / "quarantine" / f"{oid}-{int(time.time())}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(self.path(oid), dest)
        except FileNotFoundError:
            return None
        return str(dest)

    def fsck(self) -> list[tuple[str, str | None]]:
        """Re-hash every stored object; quarantine and return the damaged ones (oid, new place)."""
        damaged: list[tuple[str, str | None]] = []
        if not self.root.is_dir():
            return damaged
        for path in sorted(p for p in self.root.rglob("*") if p.is_file()):
            self._verified.pop(path.name, None)
            if sha256_file(path) != path.name:
                damaged.append((path.name, self.quarantine(path.name)))
        return damaged

    def new_upload(self, oid: str, size: int) -> Upload:
        self.tmp.mkdir(parents=True, exist_ok=True)
        return Upload(self, oid, size)

    # -- multipart ------------------------------------------------------------------------

    def part_dir(self, upload_id: str) -> Path:
        return self.tmp / f"parts-{upload_id}"

    def open_part(self, upload_id: str, number: int, offset: int, size: int) -> PartWriter:
        """A writer for one part: each part goes straight to its offset in the upload's object file."""
        self.part_dir(upload_id).mkdir(parents=True, exist_ok=True)
        self._log(upload_id, f"open {number}")
        with self._running_lock:
            next_part, running = self._running.get(upload_id, (1, None))
        # A copy: a part that fails half-way must not leave its bytes in the running hash.
        hasher = (running or hashlib.sha256()).copy() if number == next_part else None
        return PartWriter(self, upload_id, number, offset, size, hasher)

    def _log(self, upload_id: str, event: str) -> None:
        """Append `<process> <event>` to the upload's log (one O_APPEND write: never torn)."""
        fd = os.open(self.part_dir(upload_id) / "log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, f"{_process()} {event}\n".encode())
        finally:
            os.close(fd)

    def _wrote_all_in_order(self, upload_id: str, count: int) -> bool:
        try:
            log = (self.part_dir(upload_id) / "log").read_text().splitlines()
        except FileNotFoundError:
            return False
        me = _process()
        want = [f"{me} {what} {n}" for n in range(1, count + 1) for what in ("open", "done")]
        return log == want

    def _part_done(self, upload_id: str, number: int, hasher: Any) -> None:
        self._log(upload_id, f"done {number}")
        with self._running_lock:
            next_part, _ = self._running.get(upload_id, (1, None))
            if hasher is not None and number == next_part:
                self._running[upload_id] = (number + 1, hasher)

    def assemble(self, oid: str, size: int, upload_id: str, count: int) -> None:
        """Verify the object that parts 1..count wrote, and store it; the parts are removed either way."""
        d = self.part_dir(upload_id)
        try:
            with self._running_lock:
                next_part, hasher = self._running.pop(upload_id, (1, None))
            for n in range(1, count + 1):
                if not (d / f"{n:06d}.done").is_file():
                    raise BadUpload(f"Part {n} of object {oid} was never uploaded.")
            data = d / "object"
            if data.stat().st_size != size:
                raise BadUpload(f"The parts of {oid} hold {data.stat().st_size} bytes, not {size}.")
            if hasher is None or next_part != count + 1 or not self._wrote_all_in_order(upload_id, count):
                # parts out of order, sent twice, or (partly) to another hub: hash the whole
                digest = sha256_file(data)
            else:
                digest = hasher.hexdigest()
            if digest != oid:
                raise BadUpload(
                    f"The uploaded parts do not match their oid: expected sha256 {oid}, "
                    f"got {digest}. The object was not stored."
                )
            final = self.path(oid)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(data, 0o444)
            os.replace(data, final)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def sweep(self, older_than: float = 24 * 3600) -> None:
        """Remove what uploads that never finished left in the temp dir.

        A temp file that no live writer holds is an orphan of a killed hub; part directories
        of an abandoned multipart upload are removed once `older_than` seconds old.
        """
        if not self.tmp.is_dir():
            return
        cutoff = time.time() - older_than
        for entry in self.tmp.iterdir():
            with contextlib.suppress(OSError):
                if entry.is_dir():
                    if entry.stat().st_mtime < cutoff:
                        shutil.rmtree(entry)
                elif entry.stat().st_mtime < cutoff or is_orphaned(entry):
                    entry.unlink()


class Upload:
    """Bytes streamed to a temp file and hashed while written."""

    def __init__(self, store: LfsStore, oid: str, size: int) -> None:
        self.store = store
        self.oid = oid
        self.size = size
        self.received = 0
        self._hash = hashlib.sha256()
        for _ in range(10):
            fd, self._tmp = tempfile.mkstemp(dir=store.tmp, prefix=f"{oid[:16]}-{secrets.token_hex(4)}-")
            # Blocking: a sweeper may hold it for the moment it takes to judge it an orphan.
            hold(fd)
            if os.fstat(fd).st_nlink:
                break
            os.close(fd)  # swept between creation and lock: take another
        else:
            raise OSError(f"Cannot create a temp file in {store.tmp}")
        self._file = os.fdopen(fd, "wb")

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.received += len(data)
        if self.received > self.size:
            raise TooLarge(
                f"The upload of {self.oid} is larger than its announced size of {self.size} bytes."
            )
        self._hash.update(data)
        self._file.write(data)

    def _move(self, final: Path) -> Path:
        # Renamed before it is closed: while it sits in the temp dir it stays locked.
        self._file.flush()
        os.fchmod(self._file.fileno(), 0o444)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._tmp, final)
        self._file.close()
        return final

    def commit(self) -> Path:
        if self.received != self.size:
            raise BadUpload(
                f"The upload of {self.oid} has {self.received} bytes, but {self.size} were announced."
            )
        if self._hash.hexdigest() != self.oid:
            raise BadUpload(
                f"The uploaded bytes do not match their oid: expected sha256 {self.oid}, "
                f"got {self._hash.hexdigest()}. The object was not stored."
            )
        return self._move(self.store.path(self.oid))

    def abort(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._tmp)
        with contextlib.suppress(Exception):
            self._file.close()


class PartWriter:
    """One part of a multipart upload, written in place at its offset in the upload's object file.

    The file lives in the upload's part directory, which `sweep()` removes once abandoned.
    """

    def __init__(self, store: LfsStore, upload_id: str, number: int, offset: int, size: int, hasher: Any):
        self.store, self.upload_id, self.number = store, upload_id, number
        self.offset, self.size, self.received = offset, size, 0
        self.hasher = hasher  # None when this part came out of order: assemble() hashes the whole
        self._fd = os.open(store.part_dir(upload_id) / "object", os.O_WRONLY | os.O_CREAT, 0o600)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.received + len(data) > self.size:
            raise TooLarge(f"The part is larger than its {self.size} bytes.")
        view = memoryview(data)
        if self.hasher is not None:
            self.hasher.update(view)
        while view:
            n = os.pwrite(self._fd, view, self.offset + self.received)
            self.received += n
            view = view[n:]

    def commit(self) -> None:
        os.close(self._fd)
        self._fd = -1
        if self.received != self.size:
            raise BadUpload(f"The part has {self.received} bytes, but {self.size} were expected.")
        (self.store.part_dir(self.upload_id) / f"{self.number:06d}.done").touch()
        self.store._part_done(self.upload_id, self.number, self.hasher)

    def abort(self) -> None:
        if self._fd >= 0:  # never close twice: the number may already belong to another file
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1
