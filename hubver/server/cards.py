"""Model card metadata as the hub serves it: YAML front matter, parsed with bounds, made JSON-safe."""

from __future__ import annotations

import base64
import json
import logging
import math
from datetime import date, datetime
from typing import Any, cast

import yaml

log = logging.getLogger("hubver.server")

# Bounds on what a card's YAML may expand to: aliases make a 300-byte card a billion nodes.
MAX_CARD_YAML = 256 << 10
MAX_CARD_NODES = 100_000
MAX_CARD_CHARS = 4 << 20
MAX_CARD_DEPTH = 64


def card_metadata(content: str) -> dict[str, Any]:
    """The YAML front matter of a model card, or {}; ValueError if it is not valid YAML."""
    if not content.startswith("---"):
        return {}
    end = content.find("\n---", 3)
    if end < 0:
        return {}
    if end - 3 > MAX_CARD_YAML:
        raise ValueError(f"The model card metadata is larger than {MAX_CARD_YAML // 1024} KiB.")
    try:
        # The C parser where PyYAML has it: the pure-Python one takes ~10 s for a MiB.
        data = yaml.load(content[3:end], Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        raise ValueError(f"Invalid YAML in the model card metadata: {e}") from None
    except RecursionError:  # the pure-Python parser, without libyaml's depth limit
        raise ValueError("Invalid YAML in the model card metadata: it is nested too deeply.") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError("The model card metadata must be a YAML mapping.")
    return cast(dict[str, Any], json_safe(data))


def json_safe(data: Any) -> Any:
    """A copy of YAML data that JSON can carry, or ValueError if it expands beyond a few MiB.

    YAML gives dates, bytes, sets, NaN and non-string keys that JSON cannot encode, and
    aliases that JSON writes out in full every time: ten levels of ten `*a` each are 10^10
    values (or an endless loop, for a self-referencing alias) from a 300-byte card.
    """
    budget = {"nodes": MAX_CARD_NODES, "chars": MAX_CARD_CHARS}

    def spend(nodes: int, chars: int = 0) -> None:
        budget["nodes"] -= nodes
        budget["chars"] -= chars
        if budget["nodes"] < 0 or budget["chars"] < 0:
            raise ValueError("The model card metadata is too large once its YAML aliases are expanded.")

    def text(s: str) -> str:
        spend(0, len(s))
        # YAML's "\ud800" escape gives a lone surrogate, which no UTF-8 response can carry.
        return s.encode("utf-8", "replace").decode("utf-8")

    def key(k: Any) -> str:
        if isinstance(k, str):
            return text(k)
        if isinstance(k, (date, datetime)):
            return k.isoformat()
        return text(json.dumps(k) if k is None or isinstance(k, (bool, int, float)) else str(k))

    def walk(value: Any, depth: int) -> Any:
        spend(1)
        if depth > MAX_CARD_DEPTH:
            raise ValueError("The model card metadata is nested too deeply.")
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                out[key(k)] = walk(v, depth + 1)
            return out
        if isinstance(value, (list, tuple, set, frozenset)):
            return [walk(v, depth + 1) for v in value]
        if isinstance(value, str):
            return text(value)
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)  # JSON has no NaN or infinity
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, (date, datetime)):
            return value.isoformat()
        if isinstance(value, bytes):
            spend(0, len(value))
            return base64.b64encode(value).decode()
        return text(str(value))

    return walk(data, 0)
