"""The strict JSON reader and writer: broken files named with line and column, NaN never written."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubver.errors import MetadataError
from hubver.jsonio import MAX_DEPTH, depth, dumps, finite, load_json, parse_json

pytestmark = pytest.mark.fast

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_dumps_is_strict_json_that_reads_back_without_non_finite_numbers(value):
    text = dumps(value)
    assert text.endswith("\n")
    back = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} written"))
    assert back == json.loads(json.dumps(finite(value)))
    assert parse_json(text, "x") == back


def test_dumps_is_canonical():
    assert (
        dumps({"b": 1, "a": [float("nan"), float("inf"), "é"]})
        == '{\n  "a": [\n    null,\n    null,\n    "é"\n  ],\n  "b": 1\n}\n'
    )


def test_python_nan_is_read_as_a_float():
    assert math.isnan(parse_json('{"loss": NaN}', "trainer_state.json")["loss"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b'{"a": 1,\n "b": }', "x.json is not valid JSON: Expecting value (line 2, column 7)."),
        (b'{"v": "\xff"}', "x.json is not UTF-8 text."),
        (b"[" * 100_000, f"x.json is nested more than {MAX_DEPTH} levels deep; no model or metrics file is."),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "x.json is nested more than"),
        (b"1" * 5000, "x.json is not valid JSON: Exceeds the limit"),
    ],
)
def test_broken_json_is_named_with_where_it_broke(text, message):
    with pytest.raises(MetadataError) as e:
        parse_json(text, "x.json")
    assert e.value.message.startswith(message)
    assert e.value.hint == "Fix or regenerate that file."


def test_depth_limit_is_inclusive():
    assert depth([[]]) == 2 and depth(1) == 0 and depth({"a": {"b": [1]}}) == 3
    ok = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert depth(parse_json(ok, "x")) == MAX_DEPTH


def test_load_json_checks_the_shape_and_names_the_file(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text("[1, 2]")
    with pytest.raises(MetadataError, match=f"{path} should hold a JSON object, not list"):
        load_json(path)
    assert load_json(path, expect=list) == [1, 2]
    assert load_json(path, expect=None) == [1, 2]
    with pytest.raises(MetadataError, match="Cannot read .*missing.json: No such file or directory"):
        load_json(tmp_path / "missing.json")
