"""Large-file storage in git-lfs's own layout: `<git_dir>/lfs/objects/<2>/<2>/<sha256>`.

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
import fcntl
import hashlib
import os
import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path

from .errors import BadRequest, PayloadTooLarge

POINTER_VERSION = "version https://git-lfs.github.com/spec/v1"
_POINTER = re.compile(
    rb"^version https://git-lfs\.github\.com/spec/v1\noid sha256:([0-9a-f]{64})\nsize (\d+)\n$"
)
MAX_POINTER_SIZE = 200


def pointer(oid: str, size: int) -> bytes:
    return f"{POINTER_VERSION}\noid sha256:{oid}\nsize {size}\n".encode()


def parse_pointer(data: bytes) -> tuple[str, int] | None:
    m = _POINTER.match(data)
    return (m.group(1).decode(), int(m.group(2))) if m else None


class LfsStore:
    def __init__(self, git_dir: Path) -> None:
        self.root = git_dir / "lfs" / "objects"
        self.tmp = git_dir / "lfs" / "tmp"

    def path(self, oid: str) -> Path:
        return self.root / oid[:2] / oid[2:4] / oid

    def size(self, oid: str) -> int | None:
        try:
            return self.path(oid).stat().st_size
        except FileNotFoundError:
            return None

    def has(self, oid: str, size: int) -> bool:
        return self.size(oid) == size

    def new_upload(self, oid: str, size: int) -> Upload:
        self.tmp.mkdir(parents=True, exist_ok=True)
        return Upload(self, oid, size)

    # -- multipart ------------------------------------------------------------------------

    def part_dir(self, upload_id: str) -> Path:
        return self.tmp / f"parts-{upload_id}"

    def part_path(self, upload_id: str, number: int) -> Path:
        return self.part_dir(upload_id) / f"{number:06d}"

    def assemble(self, oid: str, size: int, upload_id: str, count: int) -> None:
        """Concatenate parts 1..count into the object, verifying it; parts are removed either way."""
        d = self.part_dir(upload_id)
        try:
            upload = self.new_upload(oid, size)
            try:
                for n in range(1, count + 1):
                    part = self.part_path(upload_id, n)
                    if not part.is_file():
                        raise BadRequest(f"Part {n} of object {oid} was never uploaded.")
                    with part.open("rb") as f:
                        while chunk := f.read(4 << 20):
                            upload.write(chunk)
                upload.commit()
            except BaseException:
                upload.abort()
                raise
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
                elif entry.stat().st_mtime < cutoff or _orphaned(entry):
                    entry.unlink()


def _orphaned(path: Path) -> bool:
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
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_nlink:
                break
            os.close(fd)  # swept between creation and lock: take another
        else:
            raise OSError(f"Cannot create a temp file in {store.tmp}")
        self._file = os.fdopen(fd, "wb")

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.received += len(data)
        if self.received > self.size:
            raise PayloadTooLarge(
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
            raise BadRequest(
                f"The upload of {self.oid} has {self.received} bytes, but {self.size} were announced."
            )
        if self._hash.hexdigest() != self.oid:
            raise BadRequest(
                f"The uploaded bytes do not match their oid: expected sha256 {self.oid}, "
                f"got {self._hash.hexdigest()}. The object was not stored."
            )
        return self._move(self.store.path(self.oid))

    def commit_part(self, upload_id: str, number: int) -> Path:
        """Keep a fully received part (its hash is checked once all parts are assembled)."""
        if self.received != self.size:
            raise BadRequest(f"The part has {self.received} bytes, but {self.size} were expected.")
        return self._move(self.store.part_path(upload_id, number))

    def abort(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._tmp)
        with contextlib.suppress(Exception):
            self._file.close()
