"""How the CLI shows values from data anyone can write: tables, numbers, escaped control characters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubver.cli.common import obj, text_list
from hubver.formatting import fmt, safe, table

pytestmark = pytest.mark.fast


@given(st.text())
def test_safe_output_is_always_printable_and_printable_text_is_kept(text):
    out = safe(text)
    assert out.isprintable()
    if text.isprintable():
        assert out == text


def test_safe_escapes_terminal_controls():
    assert safe("a\x1b[31mred\x07\r\n") == "a\\x1b[31mred\\x07\\r\\n"
    assert safe(5) == "5"


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0.123456, "0.1235"), (1e-9, "1e-09"), (3, "3"), (None, "-"), (True, "True"), ("a\nb", "a\\nb")],
)
def test_fmt(value, shown):
    assert fmt(value) == shown


def test_table_aligns_columns_and_strips_trailing_space():
    assert table([["v1", 4, None], ["v10", "rank\t8", "x"]], ["VERSION", "R", "NOTE"]).splitlines() == [
        "VERSION  R        NOTE",
        "v1       4",
        "v10      rank\\t8  x",
    ]
    assert table([], ["A", "B"]) == "A  B"


@given(st.lists(st.lists(st.text() | st.integers() | st.none(), min_size=2, max_size=2), max_size=5))
def test_table_has_one_printable_line_per_row(rows):
    lines = table(rows, ["A", "B"]).split("\n")
    assert len(lines) == len(rows) + 1
    assert all(line.isprintable() for line in lines)


def test_text_list_and_obj_accept_only_their_shapes():
    assert text_list("c_attn") == ["c_attn"]
    assert text_list(["a", 1, None, {"x": 1}, "b\x1b"]) == ["a", "1", "b\\x1b"]
    assert text_list(5) == [] and text_list(None) == []
    assert obj({"a": 1}) == {"a": 1} and obj([1]) == {} and obj("x") == {}
