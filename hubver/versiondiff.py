"""What changed between two versions, from their `hubver.json` documents alone (pure, stdlib-only).

`hubver diff` (registry/browse.py, through the client) and the compare page of the web pages
(hubver/web, inside the embedded hub, which imports nothing of the client) both call `diff_documents`.
Documents are untrusted (anyone with write access may edit them): every field is type-checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, TypeGuard

CODE_KEYS = ("commit", "branch", "dirty", "remote")


def obj(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else {}."""
    return value if isinstance(value, dict) else {}


def files_of(meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """path -> manifest entry of a hubver.json, skipping entries that are not {path: str, ...}."""
    files = meta.get("files")
    entries = (
        [f for f in files if isinstance(f, dict) and isinstance(f.get("path"), str)]
        if isinstance(files, list)
        else []
    )
    return {f["path"]: f for f in entries}


def changed(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, tuple[Any, Any]]:
    """key -> (a's value, b's value) for the keys whose values differ."""
    a, b = a or {}, b or {}
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def is_number(x: Any) -> TypeGuard[int | float]:
    """A JSON number that arithmetic with floats can use: not a bool, finite, and an int small
    enough to be a float (a 400-digit integer in a document would raise OverflowError)."""
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        return False
    try:
        return math.isfinite(float(x))
    except OverflowError:
        return False


_number = is_number


def metric_deltas(a: dict[str, Any], b: dict[str, Any]) -> dict[str, tuple[Any, Any, Any]]:
    """metric -> (a, b, b - a), the delta None unless both are numbers."""
    out: dict[str, tuple[Any, Any, Any]] = {}
    for name in sorted(set(a) | set(b)):
        va, vb = a.get(name), b.get(name)
        out[name] = (va, vb, vb - va if _number(va) and _number(vb) else None)
    return out


@dataclass
class DocumentDiff:
    """The parts of a diff that two hubver.json documents (and the LoRA ranks of their weights) decide."""

    kind: tuple[Any, Any]
    base_model: tuple[Any, Any]
    hyperparameters: dict[str, tuple[Any, Any]]
    peft: dict[str, tuple[Any, Any]]
    lora_ranks: dict[str, tuple[Any, Any]]
    metrics: dict[str, tuple[Any, Any, Any]]
    files_added: list[dict[str, Any]]
    files_removed: list[dict[str, Any]]
    files_changed: list[dict[str, Any]]
    files_same: list[dict[str, Any]] = field(default_factory=list)
    code: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    dataset: dict[str, tuple[Any, Any]] = field(default_factory=dict)


def diff_documents(
    ma: dict[str, Any], mb: dict[str, Any], ranks_a: dict[str, int], ranks_b: dict[str, int]
) -> DocumentDiff:
    """What changed from the version of `ma` to that of `mb` (ranks: module -> LoRA rank of each)."""
    files_a, files_b = files_of(ma), files_of(mb)
    both = sorted(set(files_a) & set(files_b))
    return DocumentDiff(
        kind=(ma.get("kind"), mb.get("kind")),
        base_model=(obj(ma.get("base_model")).get("name"), obj(mb.get("base_model")).get("name")),
        hyperparameters=changed(
            obj(obj(ma.get("training")).get("hyperparameters")),
            obj(obj(mb.get("training")).get("hyperparameters")),
        ),
        peft=changed(obj(ma.get("peft")), obj(mb.get("peft"))),
        lora_ranks={
            m: (ranks_a.get(m), ranks_b.get(m))
            for m in sorted(set(ranks_a) | set(ranks_b))
            if ranks_a.get(m) != ranks_b.get(m)
        },
        metrics=metric_deltas(obj(ma.get("metrics")), obj(mb.get("metrics"))),
        files_added=[files_b[p] for p in sorted(set(files_b) - set(files_a))],
        files_removed=[files_a[p] for p in sorted(set(files_a) - set(files_b))],
        files_changed=[
            {"path": p, "size_a": files_a[p].get("size"), "size_b": files_b[p].get("size")}
            for p in both
            if files_a[p].get("sha256") != files_b[p].get("sha256")
        ],
        files_same=[files_b[p] for p in both if files_a[p].get("sha256") == files_b[p].get("sha256")],
        code=changed(
            {k: obj(ma.get("code")).get(k) for k in CODE_KEYS},
            {k: obj(mb.get("code")).get(k) for k in CODE_KEYS},
        ),
        dataset=changed(obj(ma.get("dataset")), obj(mb.get("dataset"))),
    )
