"""The version-id grammar: validate, natural sort, next id per scheme. Pure: no hub, no files."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubver.errors import VersionIdError
from hubver.ids import MAX_LENGTH, next_id, parse_semver, ref_clash, sort, sort_key, validate

pytestmark = pytest.mark.fast

NOW = datetime(2026, 1, 31, 12, 0, 5, tzinfo=timezone.utc)
_number = st.integers(min_value=0, max_value=10**6).map(str)  # as hubver writes them: no leading zeros
counter_ids = st.integers(min_value=1, max_value=10**6).map(lambda n: f"v{n}")
semver_ids = st.tuples(_number, _number, _number).map(lambda t: "v" + ".".join(t))
timestamp_ids = st.sampled_from(["v_20260131_120005", "v_20260131_120005_2", "v_20260131_120005_3"])
# Names made of letters, '.', '-' and canonical numbers: the ids hubver and its users write.
named_ids = st.lists(
    st.one_of(st.sampled_from(["v", "rc", "exp", "-", ".", "_", "a", "b"]), _number), min_size=1
)
# Adjacent numbers joined here make leading zeros ("v01"): sort_key must still not tie them with "v1".
named_ids = named_ids.map("".join).filter(lambda s: s[0].isalnum())
any_ids = st.one_of(counter_ids, semver_ids, timestamp_ids, named_ids)


@pytest.mark.parametrize(
    "good",
    ["v1", "v10", "v1.2.3", "v_20260131_120005", "exp-1", "release/1.0", "v1+build.5", "x" * MAX_LENGTH],
)
def test_valid_ids_are_returned_unchanged(good):
    assert validate(good) == good


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("", "empty"),
        ("x" * (MAX_LENGTH + 1), "longer than"),
        ("-v1", "starting with a letter or digit"),
        ("v 1", "letters, digits"),
        ("v1:x", "letters, digits"),
        ("v1..2", "'..'"),
        ("a//b", "'//'"),
        ("v1/", "ends with '/'"),
        ("v1.", "ends with"),
        ("v1.lock", ".lock"),
        ("a/.b", "starts with '.'"),
        ("a/b.lock/c", "ends with '.lock'"),
        ("refs/heads/x", "refs/"),
        ("refs", "refs/"),
        ("deadbeef", "commit id"),
        ("0123456789abcdef0123456789abcdef01234567", "commit id"),
        ("main", "branch"),
        ("HEAD", "branch"),
    ],
)
def test_invalid_ids_say_why(bad, why):
    with pytest.raises(VersionIdError) as e:
        validate(bad)
    assert why in e.value.message
    assert e.value.hint and "--version" in e.value.hint


def test_reserved_names_are_the_branches_given():
    assert validate("main", reserved=("production",)) == "main"
    with pytest.raises(VersionIdError, match="name of a branch"):
        validate("production", reserved=("production",))


def test_ref_clash_with_tags_and_branches():
    assert ref_clash("v2", ["v1"], ["main"]) is None
    assert "name of a tag" in ref_clash("v1", ["v1"], [])
    assert "(an alias)" in ref_clash("production", [], ["production"])
    assert "the tag v1 exists" in ref_clash("v1/x", ["v1"], [])
    assert "the branch team/a exists" in ref_clash("team", [], ["team/a"])


def test_natural_order():
    assert sort(["v10", "v2", "v1"]) == ["v1", "v2", "v10"]
    assert sort(["v1.10.0", "v1.9.0", "v1.9.10", "v1.9.2"]) == ["v1.9.0", "v1.9.2", "v1.9.10", "v1.10.0"]
    assert sort(["v_20260131_120005_10", "v_20260131_120005_2"]) == [
        "v_20260131_120005_2",
        "v_20260131_120005_10",
    ]


@given(st.lists(any_ids, unique=True))
def test_sort_is_a_total_order(ids):
    """Distinct ids never tie (so the order does not depend on the order they were listed in),
    and sorting is idempotent and permutation-independent."""
    keys = [sort_key(i) for i in ids]
    assert len(set(keys)) == len(ids)
    ordered = sort(ids)
    assert sort(ordered) == ordered
    assert sort(list(reversed(ids))) == ordered
    assert all(sort_key(a) < sort_key(b) for a, b in zip(ordered, ordered[1:], strict=False))


@given(st.integers(0, 10**6), st.integers(0, 10**6))
def test_counters_sort_by_number(a, b):
    assert (sort_key(f"v{a}") < sort_key(f"v{b}")) == (a < b)


@given(st.tuples(*[st.integers(0, 999)] * 3), st.tuples(*[st.integers(0, 999)] * 3))
def test_semver_ids_sort_as_version_tuples(a, b):
    va, vb = "v{}.{}.{}".format(*a), "v{}.{}.{}".format(*b)
    assert parse_semver(va) == a
    assert (sort_key(va) < sort_key(vb)) == (a < b)


def test_parse_semver_refuses_other_ids():
    assert (
        parse_semver("v1.2") is None and parse_semver("1.2.3") is None and parse_semver("v1.2.3-rc") is None
    )


@given(
    st.sets(any_ids, max_size=30),
    st.sampled_from(["counter", "timestamp", "semver"]),
    st.sampled_from([None, "major", "minor", "patch"]),
)
def test_next_id_is_never_an_id_already_used_and_is_valid(existing, scheme, bump):
    new = next_id(existing, scheme, bump=bump if scheme == "semver" else None, now=NOW)
    assert new not in existing
    assert validate(new) == new


@given(st.sets(counter_ids, min_size=1, max_size=30))
def test_counter_is_one_more_than_the_highest_ever_used(existing):
    highest = max(int(i[1:]) for i in existing)
    assert next_id(existing) == f"v{highest + 1}"
    assert sort_key(next_id(existing)) > max(sort_key(i) for i in existing)


def test_counter_starts_at_v1_and_ignores_other_schemes():
    assert next_id([]) == "v1"
    assert next_id(["v1.2.3", "exp-7", "v_20260131_120005"]) == "v1"


def test_timestamp_adds_a_suffix_when_the_second_is_taken():
    assert next_id([], "timestamp", now=NOW) == "v_20260131_120005"
    assert next_id(["v_20260131_120005"], "timestamp", now=NOW) == "v_20260131_120005_2"
    taken = ["v_20260131_120005", "v_20260131_120005_2", "v_20260131_120005_3"]
    assert next_id(taken, "timestamp", now=NOW) == "v_20260131_120005_4"


@pytest.mark.parametrize(
    ("bump", "expected"), [(None, "v1.4.3"), ("patch", "v1.4.3"), ("minor", "v1.5.0"), ("major", "v2.0.0")]
)
def test_semver_bumps_the_highest(bump, expected):
    assert next_id(["v1.4.2", "v1.3.9", "v0.9.0", "v7"], "semver", bump=bump) == expected


@given(st.sets(semver_ids, min_size=1, max_size=20), st.sampled_from(["major", "minor", "patch"]))
def test_semver_bump_sorts_after_every_semver_id(existing, bump):
    new = next_id(existing, "semver", bump=bump)
    assert all(sort_key(new) > sort_key(i) for i in existing)


def test_unknown_scheme_and_bump_are_refused_with_the_choices():
    with pytest.raises(VersionIdError, match="Unknown version scheme 'date'") as e:
        next_id([], "date")
    assert e.value.hint == "Use one of: counter, timestamp, semver."
    with pytest.raises(VersionIdError, match="Invalid bump 'huge'"):
        next_id([], "semver", bump="huge")


def test_leading_zeros_do_not_tie():
    assert sort_key("v01") != sort_key("v1")
    assert sort(["v01", "v1", "v2"]) == sort(["v2", "v1", "v01"])
    assert sort(["v10", "v9"]) == ["v9", "v10"]
