"""The version index: `.hubver/versions.jsonl`, one line per version, appended in each version's commit.

It lets `hubver list` show every version with two requests (the refs and this file),
however many versions there are. Each line is small: what a listing shows, plus what
pushes need to stay idempotent (content digest, push id, CI key).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .layout import INDEX_PATH

MAX_INDEX_METRICS = 50


def parse(data: bytes | None) -> tuple[list[dict[str, Any]], list[str]]:
    """Entries, and a description of each line that could not be read (those are skipped)."""
    entries: list[dict[str, Any]] = []
    problems: list[str] = []
    if not data:
        return entries, problems
    # "\n" only: splitlines() also splits at U+0085 and U+2028, which a message may hold raw.
    for n, line in enumerate(data.decode("utf-8", "replace").split("\n"), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"{INDEX_PATH} line {n} is not valid JSON ({e.msg}); that entry is skipped.")
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("version"), str):
            problems.append(f"{INDEX_PATH} line {n} has no version id; that entry is skipped.")
            continue
        entries.append(entry)
    return entries, problems


def render(entries: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(e, sort_keys=True, ensure_ascii=False) + "\n" for e in entries).encode()


def key_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    numeric = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return dict(sorted(numeric.items())[:MAX_INDEX_METRICS])


def entry_for(meta: Mapping[str, Any], *, push_id: str, ci_key: str | None) -> dict[str, Any]:
    """The index line of a version, from its hubver.json."""
    peft = meta.get("peft") or {}
    return {
        "version": meta["version"],
        "created_at": meta["created_at"],
        "created_by": meta.get("created_by"),
        "message": meta.get("message"),
        "kind": meta.get("kind"),
        "base_model": (meta.get("base_model") or {}).get("name"),
        "lora_rank": peft.get("r"),
        "metrics": key_metrics(meta.get("metrics") or {}),
        "files": len(meta.get("files") or []),
        "size": sum(f.get("size", 0) for f in meta.get("files") or []),
        "digest": meta.get("digest"),
        "push_id": push_id,
        "ci_key": ci_key,
        "parent": (meta.get("parent") or {}).get("version"),
    }


# Tombstones: pruning a version appends `{"version": ID, "pruned": {at, by, reason, commit}}`.
# The version's own line stays (the chain and each later commit's index still hold it); the
# tombstone says it is gone on purpose, so its id stays used and `list --all` can show it.


def is_tombstone(entry: Mapping[str, Any]) -> bool:
    """A line that records a pruning, not a version."""
    return "pruned" in entry


def versions(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The version lines (pruned versions included), in index order, without the tombstones."""
    return [e for e in entries if not is_tombstone(e)]


def tombstones(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """version -> its pruning record (who, when, why, which commit), for every pruned version."""
    out: dict[str, dict[str, Any]] = {}
    for e in entries:
        if is_tombstone(e):
            record = e.get("pruned")
            out.setdefault(e["version"], record if isinstance(record, dict) else {})
    return out


def live(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The versions that were not pruned, in index order."""
    gone = tombstones(entries)
    return [e for e in versions(entries) if e["version"] not in gone]


def last_version(entries: list[dict[str, Any]]) -> tuple[int, dict[str, Any]] | None:
    """The position in `entries` and the line of the latest version (pruned or not)."""
    for i in range(len(entries) - 1, -1, -1):
        if not is_tombstone(entries[i]):
            return i, entries[i]
    return None


def tombstone(version: str, *, at: str, by: str, reason: str, commit: str | None) -> dict[str, Any]:
    """The index line that records the pruning of `version`."""
    return {"version": version, "pruned": {"at": at, "by": by, "reason": reason, "commit": commit}}
