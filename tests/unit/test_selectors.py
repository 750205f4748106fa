"""The selector grammar and its resolution against an index (hubver/selectors.py): no hub."""

from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubver.errors import SelectorError, VersionNotFound
from hubver.ids import validate
from hubver.selectors import Selector, parse, parse_when, resolve

pytestmark = pytest.mark.fast

UTC = timezone.utc


def entry(v, **metrics):
    return {"version": v, "metrics": metrics}


ENTRIES = [
    entry("v1", eval_loss=2.0, accuracy=0.5),
    entry("v2", eval_loss=1.5, accuracy=0.7),
    entry("v3", eval_loss=1.2),
    entry("v4", eval_loss=1.9, accuracy=0.7),
    entry("v5"),
]
TAGS = {f"v{i}": f"{i:040x}" for i in range(1, 6)}
HISTORY = {
    "production": [
        {"from": None, "to": "v1", "at": "2026-01-01T10:00:00Z"},
        {"from": "v1", "to": "v3", "at": "2026-01-05T10:00:00Z"},
        {"from": "v3", "to": "v2", "at": "2026-01-05T12:00:00Z"},  # a rollback
        {"from": "v2", "to": "v4", "at": "2026-01-09T00:00:00Z"},
    ]
}
ALIASES = {"production": "v4"}


def pick(text, entries=ENTRIES, tags=TAGS, aliases=ALIASES):
    return resolve(text, entries, tags, aliases, lambda a: HISTORY.get(a, []), repo="me/m").version


@pytest.mark.parametrize(
    "text, expected",
    [
        ("v3", "v3"),
        ("production", "v4"),
        ("latest", "v5"),
        ("best:eval_loss", "v3"),  # a loss: lower is better
        ("min:eval_loss", "v3"),
        ("max:eval_loss", "v1"),
        ("best:accuracy", "v4"),  # higher is better; v2 and v4 tie: the later one wins
        ("min:accuracy", "v1"),
        ("v5~2", "v3"),
        ("latest~1", "v4"),
        ("production~1", "v3"),
        ("v5~1~1", "v3"),
        ("v3~0", "v3"),
        ("best:eval_loss~2", "v1"),
        ("production@2026-01-01", "v1"),  # a date: the end of that day
        ("production@2026-01-05T10:00:00Z", "v3"),  # at the very second of a promotion: it counts
        ("production@2026-01-05T11:59:59", "v3"),  # no zone: UTC
        ("production@2026-01-05T13:00:00+02:00", "v3"),  # 11:00 UTC
        ("production@2026-01-05", "v2"),  # the rollback later that day
        ("production@2026-01-08T23:59:59Z", "v2"),
        ("production@2026-02-01", "v4"),
        ("production@2026-01-05~1", "v1"),
    ],
)
def test_every_form_resolves(text, expected):
    assert pick(text) == expected


def test_ties_go_to_the_later_version_either_way():
    tied = [entry("a1", eval_loss=1.0), entry("a2", eval_loss=1.0), entry("a3", eval_loss=3.0)]
    tags = {e["version"]: "0" * 40 for e in tied}
    assert pick("best:eval_loss", tied, tags, {}) == "a2"
    assert pick("min:eval_loss", tied, tags, {}) == "a2"
    assert pick("max:eval_loss", [*tied, entry("a4", eval_loss=3.0)], {**tags, "a4": "1" * 40}, {}) == "a4"


def test_pruned_and_untagged_versions_are_never_selected():
    # The prune helper appends a tombstone line and removes the tag: v3 is gone either way.
    entries = [*ENTRIES, {"version": "v3", "pruned": {"by": "alice", "at": "2026-02-01T00:00:00Z"}}]
    tags = {k: v for k, v in TAGS.items() if k != "v3"}
    assert pick("best:eval_loss", entries, tags) == "v2"
    assert pick("v5~2", entries, tags) == "v2"  # counted among live versions only
    with pytest.raises(SelectorError) as e:
        pick("v3", entries, tags)
    assert "pruned: by alice at 2026-02-01" in e.value.message
    with pytest.raises(SelectorError) as e:
        pick("production@2026-01-05T10:30:00Z", entries, tags)
    assert "v3" in e.value.message and "pruned" in e.value.message
    # A tag still standing with a tombstone beside it is pruned too.
    assert pick("latest", [*ENTRIES, {"version": "v5", "pruned": {}}]) == "v4"


def test_metrics_that_are_not_numbers_are_skipped():
    entries = [entry("v1", f1=0.4), entry("v2", f1=True), entry("v3", f1=float("nan")), entry("v4", f1="0.9")]
    assert pick("best:f1", entries, {e["version"]: "0" * 40 for e in entries}, {}) == "v1"


@pytest.mark.parametrize(
    "text, words",
    [
        ("best:bleu", ["'bleu'", "accuracy, eval_loss"]),
        ("v1~1", ["only 0 version(s)", "v1 is the oldest"]),
        ("latest~9", ["only 4 version(s)"]),
        ("staging@2026-01-01", ["staging is not an alias", "production"]),
        ("production@2025-12-31", ["did not exist yet", "first promoted at 2026-01-01T10:00:00Z"]),
        ("v9", ["No version or alias v9", "v5"]),
    ],
)
def test_resolution_errors_say_what_is_wrong(text, words):
    with pytest.raises(SelectorError) as e:
        pick(text)
    for word in words:
        assert word in e.value.message
    assert "best:METRIC" in e.value.hint or "hubver history production" in e.value.hint


def test_no_metric_anywhere_and_no_versions():
    with pytest.raises(SelectorError, match="No version records any metric"):
        pick("best:eval_loss", [entry("v1")], {"v1": "0" * 40}, {})
    with pytest.raises(SelectorError, match="no live versions"):
        pick("latest", [], {}, {})


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "empty"),
        (" v1", "spaces"),
        ("best:", "names no metric"),
        ("v5~", "followed by a number"),
        ("v5~x", "followed by a number"),
        ("foo:bar", "only best, min or max"),
        ("@2026-01-01", "names no alias"),
        ("production@", "no date"),
        ("production@yesterday", "not an ISO date"),
        ("~2", "names no version"),
    ],
)
def test_grammar_errors_list_the_forms(text, words):
    with pytest.raises(SelectorError) as e:
        parse(text)
    assert words in e.value.message and "ALIAS@DATE" in e.value.hint
    assert isinstance(e.value, VersionNotFound)  # callers catching "not found" catch these too


def test_metric_names_may_hold_at_and_colon():
    assert parse("best:recall@5") == Selector("best:recall@5", "best", "recall@5")
    assert parse("max:top:1~2") == Selector("max:top:1~2", "max", "top:1", back=2)
    assert pick("max:recall@5", [entry("v1", **{"recall@5": 0.5})], {"v1": "0" * 40}, {}) == "v1"


def test_a_ref_named_latest_is_taken_literally():
    assert pick("latest", aliases={**ALIASES, "latest": "v2"}) == "v2"
    assert pick("latest", tags={**TAGS, "latest": "f" * 40}) == "latest"


def test_dates():
    assert parse_when("2026-01-31") == datetime(2026, 1, 31, 23, 59, 59, 999999, UTC)
    assert parse_when("2026-01-31T12:00") == datetime(2026, 1, 31, 12, tzinfo=UTC)
    assert parse_when("2026-01-31T12:00:00-05:00") == datetime(2026, 1, 31, 17, tzinfo=UTC)


version_ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._+/-]{0,20}\Z")


@settings(max_examples=60)
@given(version_ids)
def test_every_valid_id_is_a_plain_selector(text):
    try:
        validate(text)
    except Exception:
        return
    sel = parse(text)
    assert (sel.plain and sel.name == text) or text == "latest"


@given(st.integers(0, 6), st.integers(1, 6))
def test_back_counts_in_publication_order(back, n):
    entries = [entry(f"x{i}") for i in range(n)]
    tags = {e["version"]: "0" * 40 for e in entries}
    if back < n:
        assert pick(f"latest~{back}", entries, tags, {}) == f"x{n - 1 - back}"
    else:
        with pytest.raises(SelectorError):
            pick(f"latest~{back}", entries, tags, {})


@given(st.datetimes(min_value=datetime(2025, 12, 1), max_value=datetime(2026, 2, 1)))
def test_alias_at_is_the_last_promotion_not_after_the_date(moment):
    when = moment.replace(tzinfo=UTC)
    stamped = [(parse_when(h["at"]), h["to"]) for h in HISTORY["production"]]
    then = [to for at, to in stamped if at <= when]
    text = "production@" + when.isoformat()
    if then:
        assert pick(text) == then[-1]
    else:
        with pytest.raises(SelectorError):
            pick(text)


def test_a_metric_whose_name_ends_in_tilde_n_can_be_selected():
    entries = [entry("v1", **{"weird name:x~1": 0.9}), entry("v2", **{"weird name:x~1": 0.5})]
    tags = {"v1": "1" * 40, "v2": "2" * 40}
    assert pick("best:weird name:x~1", entries, tags, {}) == "v1"  # not a cost: higher is better
    assert pick("min:weird name:x~1", entries, tags, {}) == "v2"
    # a metric named x that exists wins over the ~N reading
    both = [entry("v1", x=1.0), entry("v2", x=2.0)]
    assert pick("max:x~1", both, tags, {}) == "v1"


def test_an_alias_on_a_pruned_version_says_so():
    entries = [*ENTRIES, {"version": "v4", "pruned": {"by": "bob", "at": "2026-02-01T00:00:00Z"}}]
    tags = {k: v for k, v in TAGS.items() if k != "v4"}
    with pytest.raises(SelectorError) as e:
        pick("production", entries, tags)
    assert "production points at v4, which is no longer available" in e.value.message
    assert "pruned: by bob" in e.value.message and "hubver promote VERSION production" in e.value.hint
