"""sha256 of files, read in large blocks: the one read loop every module uses."""

from __future__ import annotations

import hashlib
from pathlib import Path

BLOCK = 4 << 20


def sha256_file(path: str | Path, block: int = BLOCK) -> str:
    """Hex sha256 of the file at `path`."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            digest.update(chunk)
    return digest.hexdigest()
