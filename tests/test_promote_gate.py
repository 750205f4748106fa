"""Gated promotion: `hubver promote VERSION ALIAS --require ... --require-better ...` against the hub."""

from __future__ import annotations

import json

import pytest

import hubver
from hubver.errors import ConfigError, GateFailed
from hubver.gate import evaluate, parse_requirement

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture
def three(hub, hub_token, adapters, copy_of, repo_id):
    """v1 (eval_loss 2.0, accuracy 0.6), v2 (1.5, 0.7), v3 (1.8, no accuracy); production -> v2."""
    conn = {"endpoint": hub.url, "token": hub_token}
    art = copy_of(adapters[4], "art")
    for n, metrics in enumerate(
        [{"eval_loss": 2.0, "accuracy": 0.6}, {"eval_loss": 1.5, "accuracy": 0.7}, {"eval_loss": 1.8}],
        start=1,
    ):
        (art / "n.txt").write_text(str(n))
        hubver.push(art, repo_id, metrics=metrics, **conn)
    hubver.promote(repo_id, "v2", "production", **conn)
    return conn


def production(repo_id, conn) -> str:
    return next(a["version"] for a in hubver.list_aliases(repo_id, **conn) if a["alias"] == "production")


def test_a_failed_gate_refuses_with_the_numbers_and_changes_nothing(cli, three, repo_id):
    out = cli(
        "promote",
        "v3",
        "production",
        "--require",
        "eval_loss<=1.9",
        "--require-better",
        "eval_loss",
        repo=repo_id,
    )
    assert out.exit_code == 1
    assert "Not promoting v3 to production" in out.output
    assert "better eval_loss (lower is better): v3 has eval_loss=1.8, the current v2 has 1.5" in out.output
    assert "production stays on v2" in out.output and "Traceback" not in out.output
    assert production(repo_id, three) == "v2"
    # A threshold that fails names its numbers too; a metric the version lacks fails, saying so.
    out = cli("promote", "v3", "production", "--require", "eval_loss<1.6", repo=repo_id)
    assert out.exit_code == 1 and "eval_loss<1.6: v3 has eval_loss=1.8" in out.output
    out = cli("promote", "v3", "production", "--require", "accuracy>=0.5", repo=repo_id)
    assert out.exit_code == 1 and "v3 has no metric accuracy" in out.output
    assert production(repo_id, three) == "v2"


def test_a_gate_that_holds_promotes(cli, three, repo_id):
    # Back to v1 is worse for eval_loss: refused; forcing it by a threshold alone passes.
    refused = cli("promote", "v1", "production", "--require-better", "eval_loss", repo=repo_id)
    assert refused.exit_code == 1 and "v1 has eval_loss=2, the current v2 has 1.5" in refused.output
    ok = cli(
        "promote", "v1", "production", "--require", "eval_loss <= 2", "--require", "accuracy!=0.7", "--json",
        repo=repo_id,
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    done = json.loads(ok.output)
    assert done["version"] == "v1" and done["gate"]["passed"] is True
    assert [c["ok"] for c in done["gate"]["checks"]] == [True, True]
    assert production(repo_id, three) == "v1"
    # v2 beats v1 on accuracy (higher is better) and eval_loss (lower): promoted, text output.
    text = cli(
        "promote",
        "v2",
        "production",
        "--require-better",
        "accuracy",
        "--require-better",
        "eval_loss",
        repo=repo_id,
    )
    assert text.exit_code == 0, text.output
    assert (
        "gate passed: PASS better accuracy (higher is better): v2 has accuracy=0.7, the current v1 has 0.6"
        in text.output
    )
    assert production(repo_id, three) == "v2"


def test_better_than_holds_for_a_new_alias(three, repo_id):
    p = hubver.promote(repo_id, "v3", "staging", require_better=["eval_loss"], **three)
    assert p.version == "v3" and "no current version" in p.gate["summary"]
    with pytest.raises(GateFailed) as e:
        hubver.promote(repo_id, "v1", "staging", require_better=["eval_loss"], **three)
    assert e.value.verdict["passed"] is False and e.value.verdict["current"] == "v3"


def test_gate_conditions_parse_or_say_how_to_write_them(cli, repo_id):
    assert str(parse_requirement(" eval_loss >= 1.25 ")) == "eval_loss>=1.25"
    for bad in ("eval_loss", "eval_loss=<1", "eval_loss<=abc", "<=1", "loss<=nan"):
        with pytest.raises(ConfigError) as e:
            parse_requirement(bad)
        assert "Invalid --require" in e.value.message and "eval_loss<=1.2" in e.value.hint
    out = cli("promote", "v1", "production", "--require", "loss~1", repo=repo_id)
    assert out.exit_code == 1 and "Invalid --require 'loss~1'" in out.output
    verdict = evaluate("v9", {"wer": 0.1}, [], ["wer"], current="v8", current_metrics={"wer": 0.1})
    assert (
        not verdict.passed and "v9 has wer=0.1, the current v8 has 0.1" in verdict.failures[0]
    )  # equal is not better


def test_require_better_takes_a_direction_and_require_refuses_misread_numbers(cli, three, repo_id):
    # accuracy is higher-is-better by its name; min: turns it around (v1 0.6 < v2 0.7).
    out = cli("promote", "v1", "production", "--require-better", "accuracy", repo=repo_id)
    assert out.exit_code == 1 and "higher is better" in out.output
    out = cli("promote", "v1", "production", "--require-better", "min:accuracy", "--json", repo=repo_id)
    assert out.exit_code == 0, out.output
    assert "better accuracy (lower is better)" in json.loads(out.output)["gate"]["summary"]
    assert production(repo_id, three) == "v1"
    out = cli("promote", "v2", "production", "--require", "eval_loss<=1_0", repo=repo_id)
    assert out.exit_code == 1 and "Invalid --require 'eval_loss<=1_0'" in out.output
    assert production(repo_id, three) == "v1"
