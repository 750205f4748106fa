"""safetensors headers without torch: tensor shapes, and the LoRA rank they imply."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

from .errors import MetadataError
from .jsonio import parse_json

MAX_HEADER = 100 << 20
_HINT = "Save the weights again (save_pretrained / safetensors.torch.save_file), or remove the file."


def read_header(path: Path) -> dict[str, list[int]]:
    """Tensor name -> shape from a local .safetensors file (reads only its header).

    Raises MetadataError naming the file (and the tensor) when the header is not what the
    safetensors format allows: a JSON object of {dtype, shape: [non-negative ints], data_offsets}.
    """
    try:
        with path.open("rb") as f:
            raw_len = f.read(8)
            if len(raw_len) != 8:
                raise MetadataError(f"{path} is not a safetensors file (too short).", _HINT)
            (length,) = struct.unpack("<Q", raw_len)
            if length > MAX_HEADER:
                raise MetadataError(f"{path} is not a safetensors file (header of {length} bytes).", _HINT)
            raw = f.read(length)
            data_size = os.fstat(f.fileno()).st_size - 8 - length
    except OSError as e:
        raise MetadataError(f"Cannot read the safetensors header of {path}: {e.strerror}.") from None
    header = parse_json(raw, f"The safetensors header of {path}")
    if not isinstance(header, dict):
        raise MetadataError(f"{path} has a malformed safetensors header (not a JSON object).", _HINT)
    if data_size < 0:
        raise MetadataError(f"{path} is truncated: its safetensors header is longer than the file.", _HINT)
    shapes = {}
    spans = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict):
            raise MetadataError(
                f"{path}: the safetensors header entry of tensor {name!r} is not an object.", _HINT
            )
        shapes[name] = _shape(path, name, info.get("shape", []))
        spans.append((_offsets(path, name, info.get("data_offsets"), data_size), name))
    previous_end, previous = 0, None
    for (begin, end), name in sorted(spans):
        if begin < previous_end:
            raise MetadataError(f"{path}: the data of tensors {previous!r} and {name!r} overlap.", _HINT)
        previous_end, previous = end, name
    return shapes


def _offsets(path: Path, name: str, offsets: Any, data_size: int) -> tuple[int, int]:
    """[begin, end) of a tensor's bytes, which must lie inside the file's data section."""
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
        or not 0 <= offsets[0] <= offsets[1]
    ):
        raise MetadataError(
            f"{path}: tensor {name!r} has the data_offsets {str(offsets)[:80]}; they must be "
            "[begin, end] with 0 <= begin <= end.",
            _HINT,
        )
    if offsets[1] > data_size:
        raise MetadataError(
            f"{path}: tensor {name!r} ends at byte {offsets[1]} of the data, past the end of the file "
            f"({data_size} bytes of data): the file is truncated or its header is wrong.",
            _HINT,
        )
    return offsets[0], offsets[1]


def _shape(path: Path, name: str, shape: Any) -> list[int]:
    # JSON allows NaN, 1e999, 2.5 and strings where safetensors wants dimensions.
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise MetadataError(
            f"{path}: tensor {name!r} has the shape {str(shape)[:80]}; a shape is a list of "
            "non-negative integers.",
            _HINT,
        )
    return shape


def lora_ranks(shapes: dict[str, list[int]]) -> dict[str, int]:
    """Module (named as in the base model) -> LoRA rank, from `lora_A` weights of shape (r, in_features)."""
    ranks = {}
    for name, shape in shapes.items():
        if ".lora_A." in name and shape and isinstance(shape[0], int) and not isinstance(shape[0], bool):
            ranks[name.split(".lora_A.")[0].removeprefix("base_model.model.")] = shape[0]
    return dict(sorted(ranks.items()))


def rank_summary(ranks: dict[str, int]) -> int | str | None:
    """One rank if every module has the same, else 'mixed'; None without LoRA weights."""
    values = set(ranks.values())
    if not values:
        return None
    return values.pop() if len(values) == 1 else "mixed"


ADAPTER_WEIGHTS = "adapter_model.safetensors"


def adapter_lora_ranks(path: str | Path) -> dict[str, int]:
    """Module -> LoRA rank of the adapter saved at `path` (its directory, or its
    adapter_model.safetensors): only the JSON header is read, no torch, and the rank is the
    first dimension of each `lora_A` matrix, so names and configs are not trusted.

    Raises FileNotFoundError without the weights, MetadataError for a broken header.
    `hubver push` reads the ranks of the files it publishes with `read_header` + `lora_ranks`
    (every header, so that a broken one is refused), `hubver diff` from the Hub's headers.
    """
    weights = Path(path)
    if weights.is_dir():
        weights = weights / ADAPTER_WEIGHTS
    if not weights.is_file():
        raise FileNotFoundError(weights)
    return lora_ranks(read_header(weights))
