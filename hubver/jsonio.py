"""Reading JSON files so that a broken one is reported with its name, line and column."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from .errors import MetadataError

# No file hubver reads nests deeper than ~6 levels; 64 leaves room and keeps every recursive
# walk (scrubbing, rendering, printing) far from Python's recursion limit.
MAX_DEPTH = 64


def parse_json(text: str | bytes, source: str) -> Any:
    """Parse JSON from `source` (a path, or e.g. 'hubver.json of v3'); MetadataError if broken.

    Python's NaN/Infinity extensions are accepted here (the Trainer writes them); readers see
    them as floats and everything hubver writes turns them into null (see `dumps`).
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise MetadataError(
            f"{source} is not valid JSON: {e.msg} (line {e.lineno}, column {e.colno}).",
            "Fix or regenerate that file.",
        ) from None
    except UnicodeDecodeError:
        raise MetadataError(f"{source} is not UTF-8 text.", "Fix or regenerate that file.") from None
    except RecursionError:  # '[[[[...' some thousand deep overflows the decoder's stack
        raise _too_deep(source) from None
    except ValueError as e:  # e.g. an integer of more than 4300 digits
        raise MetadataError(f"{source} is not valid JSON: {e}.", "Fix or regenerate that file.") from None
    if depth(data) > MAX_DEPTH:
        raise _too_deep(source)
    return data


def _too_deep(source: str) -> MetadataError:
    return MetadataError(
        f"{source} is nested more than {MAX_DEPTH} levels deep; no model or metrics file is.",
        "Fix or regenerate that file.",
    )


def depth(data: Any) -> int:
    """How deeply lists and objects nest in `data` (iterative: safe on any input)."""
    deepest = 0
    stack = [(data, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, (list, tuple)):
            children = value
        else:
            continue
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            return level
        stack.extend((child, level + 1) for child in children)
    return deepest


def finite(data: Any) -> Any:
    """`data` with every NaN and infinity replaced by None: what strict JSON (RFC 8259) can hold."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite(v) for v in data]
    return data


def load_json(path: Path, *, expect: type | None = dict) -> Any:
    """Read a local JSON file; MetadataError naming it if it is unreadable, broken or of the wrong shape."""
    try:
        data = parse_json(path.read_bytes(), str(path))
    except OSError as e:
        raise MetadataError(
            f"Cannot read {path}: {e.strerror}.", "Check that the file exists and is readable."
        ) from None
    if expect is not None and not isinstance(data, expect):
        raise MetadataError(
            f"{path} should hold a JSON {'object' if expect is dict else expect.__name__}, "
            f"not {type(data).__name__}.",
            "Fix or regenerate that file.",
        )
    return data


def dumps(data: Any) -> str:
    """The canonical form hubver writes: strict JSON, sorted keys, two-space indent, trailing newline.

    A non-finite float left in `data` (a hyperparameter the framework wrote as NaN) becomes
    null: jq, JavaScript and Go refuse bare `NaN`. Metrics given explicitly never get here
    non-finite: `training.check_metrics` refuses them.
    """
    return (
        json.dumps(finite(data), indent=2, sort_keys=True, ensure_ascii=False, default=str, allow_nan=False)
        + "\n"
    )


# A number as people type one on a command line: no `1_0` (Python reads 10), no `0x10`, no
# `inf`/`nan`; `1e-400` is refused too (it would be stored as 0 and compare as 0).
_DECIMAL = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def decimal(text: str) -> float | None:
    """`text` as a finite float, or None when it is not plainly a decimal number or when it
    underflows to 0 though its digits are not all zeros."""
    text = text.strip()
    if not _DECIMAL.fullmatch(text):
        return None
    value = float(text)
    if not math.isfinite(value):
        return None
    mantissa = re.split(r"[eE]", text)[0]
    if value == 0 and re.search(r"[1-9]", mantissa):
        return None
    return value
