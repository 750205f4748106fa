"""safetensors headers without torch: tensor shapes, and the LoRA rank they imply."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from .errors import MetadataError

MAX_HEADER = 100 << 20


def read_header(path: Path) -> dict[str, list[int]]:
    """Tensor name -> shape from a local .safetensors file (reads only its header)."""
    try:
        with path.open("rb") as f:
            raw_len = f.read(8)
            if len(raw_len) != 8:
                raise MetadataError(f"{path} is not a safetensors file (too short).")
            (length,) = struct.unpack("<Q", raw_len)
            if length > MAX_HEADER:
                raise MetadataError(f"{path} is not a safetensors file (header of {length} bytes).")
            header = json.loads(f.read(length))
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise MetadataError(f"Cannot read the safetensors header of {path}: {e}.") from None
    if not isinstance(header, dict):
        raise MetadataError(f"{path} has a malformed safetensors header.")
    return {
        k: list(v.get("shape", [])) for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)
    }


def lora_ranks(shapes: dict[str, list[int]]) -> dict[str, int]:
    """Module (named as in the base model) -> LoRA rank, from `lora_A` weights of shape (r, in_features)."""
    ranks = {}
    for name, shape in shapes.items():
        if ".lora_A." in name and shape:
            ranks[name.split(".lora_A.")[0].removeprefix("base_model.model.")] = int(shape[0])
    return dict(sorted(ranks.items()))


def rank_summary(ranks: dict[str, int]) -> int | str | None:
    """One rank if every module has the same, else 'mixed'; None without LoRA weights."""
    values = set(ranks.values())
    if not values:
        return None
    return values.pop() if len(values) == 1 else "mixed"
