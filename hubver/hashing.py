"""sha256 of files, read in large blocks: the one read loop every module uses.

`sha256_files` hashes several files at once in threads: hashlib and file reads release the
GIL, so on a multi-core machine shards hash in parallel instead of one after the other.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BLOCK = 4 << 20
MAX_THREADS = 8


def sha256_file(path: str | Path, block: int = BLOCK) -> str:
    """Hex sha256 of the file at `path`."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def hash_threads(count: int) -> int:
    """Threads for hashing `count` files: one per core, at most MAX_THREADS ($HUBVER_HASH_THREADS)."""
    try:
        wanted = int(os.environ.get("HUBVER_HASH_THREADS", "0"))
    except ValueError:
        wanted = 0
    cores = wanted if wanted > 0 else (os.cpu_count() or 1)
    return max(1, min(count, cores, MAX_THREADS))


def sha256_files(paths: Sequence[str | Path], hash_one: Callable[[Path], str] | None = None) -> list[str]:
    """Hex sha256 of each file, in the order given, hashed in parallel threads.

    The first error (an OSError from a file that cannot be read) is raised, as a loop would.
    """
    one = hash_one or sha256_file
    items = [Path(p) for p in paths]
    threads = hash_threads(len(items))
    if threads == 1:
        return [one(p) for p in items]
    # Largest first: a big shard started last would leave the other threads idle at the end.
    order = sorted(range(len(items)), key=lambda i: -_size(items[i]))
    out: list[str] = [""] * len(items)
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="hubver-hash") as pool:
        for i, digest in zip(order, pool.map(lambda i: one(items[i]), order), strict=True):
            out[i] = digest
    return out


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
