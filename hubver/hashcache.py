"""Hashes of files that did not change since they were last hashed, kept between commands.

A second push of a mostly unchanged model, or a checkout from a warm HF cache, then hashes
only what changed. An entry is used only while the file's size, mtime_ns, ctime_ns, inode
and device all still equal what they were when it was hashed:

- ctime is part of the key because it cannot be set back: a program that rewrites a file in
  place with the same size and then restores its mtime (`os.utime`, `touch -r`, `cp -p`)
  still moves its ctime, so the entry no longer applies and the file is hashed again;
- inode and device catch a file replaced by rename (what editors and `save_pretrained` do);
- a file changed within 2 s of being hashed is not recorded at all (a write landing in the
  same clock tick as the hash would leave every field unchanged: git's "racy" case), nor is
  one that changed while it was being read;
- a hard link made or removed also moves the ctime, so a checkout that links an HF cache
  blob records the blob's new stat with the digest it has just checked (`remember`); a link
  removed by anyone else (deleting an older checkout) costs one hash. A ctime that moved is
  never excused: rewriting a file, putting its mtime back and adding a link would otherwise
  pass for unchanged (the red team of issue 17 did exactly that).

The cache is one JSON file, `$HUBVER_HOME/hash-cache.json`, mode 0600 in a 0700 directory,
replaced atomically; an unreadable one is ignored (it is a cache). `HUBVER_HASH_CACHE=0`
turns it off. Files under MIN_SIZE are simply hashed: that costs less than a lookup.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from pathlib import Path

from .hashing import sha256_file
from .settings import hubver_home

MIN_SIZE = 1 << 20
MAX_ENTRIES = 20_000
RACY_SECONDS = 2.0
LINK_SETTLE_SECONDS = 0.1
FILE_NAME = "hash-cache.json"

Key = tuple[int, int, int, int, int]  # size, mtime_ns, ctime_ns, inode, device


def stat_key(st: os.stat_result) -> Key:
    """What must stay equal for a file to count as unchanged (see the module docstring)."""
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


_key = stat_key


def enabled() -> bool:
    return os.environ.get("HUBVER_HASH_CACHE", "1").lower() not in ("0", "false", "no", "off")


class HashCache:
    """path -> (stat key, sha256); `sha256(path)` hashes only on a miss. Thread-safe."""

    def __init__(self, file: Path | None = None) -> None:
        self.file = file if file is not None else hubver_home() / FILE_NAME
        self.entries: dict[str, list[object]] = {}
        self.hits = 0
        self.misses = 0
        self._dirty = False
        self._lock = threading.Lock()
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(self.file.read_text("utf-8"))
            if isinstance(data, dict) and isinstance(data.get("files"), dict):
                self.entries = data["files"]

    def lookup(self, path: Path, st: os.stat_result) -> str | None:
        entry = self.entries.get(str(path))
        if not isinstance(entry, list) or len(entry) != 6 or not isinstance(entry[5], str):
            return None
        return entry[5] if tuple(entry[:5]) == _key(st) else None

    def remember(self, path: Path, digest: str, seen: os.stat_result, *, written_here: bool = False) -> None:
        """Record `digest` for `path`, whose content was checked when it had the stat `seen`
        (taken before the hash and found equal after it, ctime included) and that only changed
        links since (a checkout linking the blob moves its ctime). What is left open is the
        moment between that last stat and the link: microseconds, not the length of a hash.

        Recorded only if size, mtime, inode and device still equal `seen`'s and that mtime is
        over LINK_SETTLE_SECONDS old: a write since would then have moved the mtime (clock
        ticks are milliseconds). A file this process wrote, closed and hashed as it wrote it
        (a fresh download) is recorded at once (`written_here`).
        """
        real = Path(os.path.realpath(path))
        with contextlib.suppress(OSError):
            st = os.stat(real)
            same = [st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev] == [
                seen.st_size,
                seen.st_mtime_ns,
                seen.st_ino,
                seen.st_dev,
            ]
            settled = time.time() - st.st_mtime_ns / 1e9 > LINK_SETTLE_SECONDS
            if st.st_size >= MIN_SIZE and same and (settled or written_here):
                self._record(real, st, digest)

    def _record(self, real: Path, st: os.stat_result, digest: str) -> None:
        with self._lock:
            self.entries.pop(str(real), None)  # re-inserted last: the newest are kept on trim
            self.entries[str(real)] = [*_key(st), digest]
            self._dirty = True

    def sha256(self, path: Path) -> str:
        """sha256 of the file at `path` (followed if a symlink), from the cache when still valid."""
        real = Path(os.path.realpath(path))
        before = os.stat(real)
        if before.st_size < MIN_SIZE:
            return sha256_file(real)
        with self._lock:
            known = self.lookup(real, before)
            if known is not None:
                self.hits += 1
                return known
            self.misses += 1
        digest = sha256_file(real)
        after = os.stat(real)
        settled = time.time() - max(after.st_mtime_ns, after.st_ctime_ns) / 1e9 > RACY_SECONDS
        if _key(after) == _key(before) and settled:
            self._record(real, after, digest)
        return digest

    def save(self) -> None:
        """Write the cache back (only if something was added); failures are ignored."""
        if not self._dirty:
            return
        with self._lock:
            items = list(self.entries.items())[-MAX_ENTRIES:]
            self._dirty = False
        with contextlib.suppress(OSError):
            self.file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = self.file.with_name(f".{self.file.name}.{os.getpid()}.{threading.get_ident()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"version": 1, "files": dict(items)}, f, separators=(",", ":"))
            os.replace(tmp, self.file)


def open_cache() -> HashCache | None:
    """The user's hash cache, or None when $HUBVER_HASH_CACHE turns it off."""
    return HashCache() if enabled() else None
