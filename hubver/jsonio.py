"""Reading JSON files so that a broken one is reported with its name, line and column."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import MetadataError


def parse_json(text: str | bytes, source: str) -> Any:
    """Parse JSON from `source` (a path, or e.g. 'hubver.json of v3'); MetadataError if broken."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise MetadataError(
            f"{source} is not valid JSON: {e.msg} (line {e.lineno}, column {e.colno}).",
            "Fix or regenerate that file.",
        ) from None
    except UnicodeDecodeError:
        raise MetadataError(f"{source} is not UTF-8 text.", "Fix or regenerate that file.") from None


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
    """The canonical form hubver writes: sorted keys, two-space indent, trailing newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"
