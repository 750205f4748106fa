"""Inputs the issue-16 red team found misread: durations, numbers, version ids, --keep-best
and --require-better directions, a lock's repo. No hub."""

from __future__ import annotations

import pytest

from hubver import ids
from hubver.errors import ConfigError, LockError, MetadataError, VersionIdError
from hubver.gate import evaluate, parse_requirement
from hubver.jsonio import decimal
from hubver.lockfile import from_dict
from hubver.registry.prune import PrunePolicy, parse_duration, parse_keep_best
from hubver.training import parse_pairs

pytestmark = pytest.mark.fast


def test_a_huge_duration_is_a_clear_error_not_an_overflow():
    for text in ("99999999999w", "9" * 30 + "d", "1" * 100 + "s"):
        with pytest.raises(ConfigError) as e:
            parse_duration(text)
        assert "too long" in e.value.message or "Invalid duration" in e.value.message
    assert parse_duration("52w").days == 364


def test_numbers_python_would_misread_are_refused():
    assert decimal("1.5") == 1.5 and decimal("-2e-3") == -0.002 and decimal("0.0") == 0.0
    for text in ("1_0", "0x10", "inf", "nan", "1e-400", "", "1e999"):
        assert decimal(text) is None, text
    with pytest.raises(ConfigError, match="Invalid --require"):
        parse_requirement("eval_loss<=1_0")
    with pytest.raises(ConfigError, match="Invalid --require"):
        parse_requirement("eval_loss<=1e-400")
    with pytest.raises(MetadataError, match="too small to store"):
        parse_pairs(["eval_loss=1e-400"], "metric", numeric=True)
    with pytest.raises(MetadataError, match="is not a number"):
        parse_pairs(["eval_loss=1_0"], "metric", numeric=True)
    with pytest.raises(MetadataError, match="not a finite number"):
        parse_pairs(["eval_loss=inf"], "metric", numeric=True)
    assert parse_pairs(["a=1e-300", "b=0", "c=0.0e5"], "metric", numeric=True) == {
        "a": 1e-300,
        "b": 0,
        "c": 0.0,
    }
    assert parse_pairs(["lr=1_0", "x=inf"], "param", numeric=False) == {"lr": "1_0", "x": "inf"}


def test_latest_is_not_a_version_id():
    for word in ("latest", "Latest"):
        with pytest.raises(VersionIdError) as e:
            ids.validate(word)
        assert "selector word" in e.value.message
    assert ids.validate("latest-fix") == "latest-fix"
    with pytest.raises(VersionIdError) as e:
        ids.validate("best:x", what="alias name")
    assert e.value.message.startswith("Invalid alias name 'best:x'") and "version id" not in e.value.hint


def test_min_and_max_say_which_way_a_metric_improves():
    assert parse_keep_best("min:latency_ms") == ("min:latency_ms", 1)
    assert parse_keep_best("max:eval_loss:3") == ("max:eval_loss", 3)
    assert PrunePolicy.of(keep_last=1, keep_best="min:latency_ms:2").describe() == (
        "keep-last 1, keep-best min:latency_ms:2"
    )
    with pytest.raises(ConfigError):
        parse_keep_best("min:")
    # latency_ms is higher-is-better by its name; min: says lower is
    faster = evaluate(
        "v2", {"latency_ms": 10}, [], ["min:latency_ms"], current="v1", current_metrics={"latency_ms": 20}
    )
    assert faster.passed and "lower is better" in faster.summary()
    assert not evaluate(
        "v2", {"latency_ms": 10}, [], ["latency_ms"], current="v1", current_metrics={"latency_ms": 20}
    ).passed


def test_a_lock_naming_a_path_for_a_repo_is_refused():
    good = {
        "repo": "me/m",
        "branch": "main",
        "selector": "latest",
        "version": "v1",
        "commit": "a" * 40,
        "files": [],
    }
    lock = {"lock_version": 1, "endpoint": "https://huggingface.co", "created_at": "x", "generated_by": "y"}
    assert from_dict({**lock, "versions": [good]}, "hubver.lock").versions[0].repo == "me/m"
    for bad in ("../../etc", "me/../x", "/etc", "me", "me/m.git"):
        with pytest.raises(LockError) as e:
            from_dict({**lock, "versions": [{**good, "repo": bad}]}, "hubver.lock")
        assert "not a repository id" in e.value.message, bad


@pytest.mark.parametrize("spec", ["min:", "max:", "min:min:eval_loss", "max:min:x"])
def test_require_better_needs_one_direction_and_a_metric(spec):
    with pytest.raises(ConfigError, match="Invalid --require-better"):
        evaluate("v2", {"eval_loss": 1.0}, [], [spec], current=None, current_metrics=None)
