"""The version index (.hubver/versions.jsonl): parse, render, and the entry made from a hubver.json."""

from __future__ import annotations

import copy
import json

import pytest
from helpers import schema_validators
from hypothesis import given
from hypothesis import strategies as st
from record_sample import RECORD

from hubver.index import MAX_INDEX_METRICS, entry_for, key_metrics, parse, render
from hubver.layout import INDEX_PATH

pytestmark = pytest.mark.fast

_json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
_entries = st.lists(
    st.fixed_dictionaries(
        {"version": st.text(min_size=1)}, optional={"message": st.text(), "x": _json_scalars}
    ),
    max_size=8,
)


@given(_entries)
def test_render_then_parse_gives_the_entries_back(entries):
    data = render(entries)
    assert parse(data) == (entries, [])
    assert data.count(b"\n") == len(entries)  # one line each, whatever the message holds


def test_render_is_sorted_compact_utf8_lines():
    assert render([{"version": "v1", "message": "é\u2028x", "a": 1}]) == (
        '{"a": 1, "message": "é\u2028x", "version": "v1"}\n'.encode()
    )


def test_parse_splits_at_newlines_only():
    line = json.dumps({"version": "v1", "message": "a\u2028b\x85c"}, ensure_ascii=False)
    entries, problems = parse((line + "\n").encode())
    assert entries == [{"version": "v1", "message": "a\u2028b\x85c"}] and problems == []


def test_unreadable_lines_are_skipped_and_named():
    data = b'{"version": "v1"}\n\nnot json\n[1]\n{"version": 2}\n{"version": "v3"}\n'
    entries, problems = parse(data)
    assert [e["version"] for e in entries] == ["v1", "v3"]
    assert problems[0].startswith(f"{INDEX_PATH} line 3 is not valid JSON")
    assert problems[1:] == [
        f"{INDEX_PATH} line {n} has no version id; that entry is skipped." for n in (4, 5)
    ]


@pytest.mark.parametrize("empty", [None, b"", b"\n\n"])
def test_no_index(empty):
    assert parse(empty) == ([], [])


def test_key_metrics_keeps_numbers_only_and_at_most_the_limit():
    metrics = {f"m{i:03d}": float(i) for i in range(MAX_INDEX_METRICS + 10)}
    metrics.update(flag=True, name="x", none=None)
    kept = key_metrics(metrics)
    assert len(kept) == MAX_INDEX_METRICS
    assert list(kept) == sorted(kept) and "flag" not in kept and "name" not in kept


def test_entry_for_summarises_the_record():
    entry = entry_for(RECORD, push_id="p1", ci_key=None)
    assert entry == {
        "version": "v2",
        "created_at": "2026-01-31T12:00:05Z",
        "created_by": "alice",
        "message": "rank 8",
        "kind": "adapter",
        "base_model": "org/base",
        "lora_rank": 8,
        "metrics": {"eval_loss": 0.5},
        "files": 2,
        "size": 1098 + 8712,
        "digest": RECORD["digest"],
        "push_id": "p1",
        "ci_key": None,
        "parent": "v1",
    }
    assert list(schema_validators()["index"].iter_errors(entry)) == []


def test_entry_for_a_model_without_base_peft_or_parent():
    meta = {**copy.deepcopy(RECORD), "kind": "model", "peft": None, "base_model": None, "parent": None}
    entry = entry_for(meta, push_id="p", ci_key="github:o/r@abc:wf")
    assert (entry["base_model"], entry["lora_rank"], entry["parent"]) == (None, None, None)
    assert list(schema_validators()["index"].iter_errors(entry)) == []


def test_the_index_schema_refuses_what_hubver_never_writes():
    entry = entry_for(RECORD, push_id="p", ci_key=None)
    bad = [
        {**entry, "lora_rank": "8"},
        {**entry, "version": "v 2"},
        {**entry, "size": -1},
        {**entry, "extra": 1},
    ]
    bad.append({k: v for k, v in entry.items() if k != "push_id"})
    assert all(list(schema_validators()["index"].iter_errors(b)) for b in bad)
