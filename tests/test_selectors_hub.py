"""Selectors against the session hub: every form, through the library and the CLI, in every verb.

Promotion times come from the client's clock (`hubver.registry.aliases._now`, written into the
alias history that ALIAS@DATE reads); the test sets that clock, so dates are exact.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

import hubver
from hubver.errors import SelectorError, VersionIdError
from hubver.registry import aliases as aliases_module

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

LOSSES = {"v1": 2.0, "v2": 1.5, "v3": 1.2, "v4": 1.9, "v5": 1.2}  # v3 and v5 tie on eval_loss
PROMOTIONS = [  # (when, version): a promotion, a newer one, a rollback the same day, a newer one
    ("2026-01-01T10:00:00Z", "v1"),
    ("2026-01-05T10:00:00Z", "v3"),
    ("2026-01-05T12:00:00Z", "v2"),
    ("2026-01-09T00:00:00Z", "v4"),
]


@pytest.fixture
def conn(hub, hub_token):
    return {"endpoint": hub.url, "token": hub_token}


@pytest.fixture
def published(conn, adapters, repo_id, copy_of, monkeypatch):
    art = copy_of(adapters[4], "art")
    for n, (version, loss) in enumerate(LOSSES.items(), start=1):
        (art / "step.txt").write_text(str(n))
        metrics = {"eval_loss": loss, **({"eval_accuracy": 0.5 + n / 10} if n < 5 else {})}
        assert hubver.push(art, repo_id, metrics=metrics, **conn).version == version
    with hubver.connect(repo_id, **conn) as registry:
        for when, version in PROMOTIONS:
            at = datetime.fromisoformat(when)
            monkeypatch.setattr(aliases_module, "_now", lambda at=at: at)
            registry.promote(version, "production")
    monkeypatch.setattr(aliases_module, "_now", lambda: datetime.now(timezone.utc))
    return repo_id


FORMS = {
    "v2": "v2",
    "production": "v4",
    "latest": "v5",
    "best:eval_loss": "v5",  # tie with v3: the later version
    "min:eval_loss": "v5",
    "max:eval_loss": "v1",
    "best:eval_accuracy": "v4",  # v5 lacks it: skipped
    "min:eval_accuracy": "v1",
    "v5~2": "v3",
    "latest~1": "v4",
    "production~1": "v3",
    "best:eval_loss~4": "v1",
    "production@2026-01-01": "v1",
    "production@2026-01-05T10:00:00Z": "v3",
    "production@2026-01-05T11:59:59": "v3",
    "production@2026-01-05T13:30:00+02:00": "v3",
    "production@2026-01-05": "v2",  # the rollback, later that day
    "production@2026-01-08T23:59:59Z": "v2",
    "production@2026-03-01": "v4",
    "production@2026-01-05~1": "v1",
}


def test_every_selector_form_resolves_on_the_hub(conn, published):
    with hubver.connect(published, **conn) as registry:
        tags = registry.client.refs(published).tags
        for selector, version in FORMS.items():
            got = registry.select(selector)
            assert (selector, got.version, got.commit) == (selector, version, tags[version])
            if selector != "production":  # a bare alias resolves to its branch head, as before
                assert hubver.resolve(published, selector, **conn) == tags[version]
        history = registry.alias_history("production")
    assert [(h["at"], h["to"]) for h in history] == PROMOTIONS


def test_selector_errors_say_what_is_wrong(conn, published, cli):
    with hubver.connect(published, **conn) as registry:
        cases = {
            "production@2025-12-31": "first promoted at 2026-01-01T10:00:00Z",
            "best:bleu": "Metrics recorded: eval_accuracy, eval_loss",
            "v2~5": "only 1 version(s) were published before v2",
            "staging@2026-01-01": "staging is not an alias",
            "foo:bar": "only best, min or max",
        }
        for selector, words in cases.items():
            with pytest.raises(SelectorError) as e:
                registry.select(selector)
            assert words in e.value.message, selector
    result = cli("resolve", "v1~9", repo=published)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "only 0 version(s)" in result.output and "best:METRIC" in result.output
    # `latest` is a selector word: no new alias may take it.
    with pytest.raises(VersionIdError, match="selector word"):
        hubver.promote(published, "v1", "latest", **conn)


def test_resolve_command(conn, published, cli):
    with hubver.connect(published, **conn) as registry:
        tags = registry.client.refs(published).tags
    result = cli("resolve", "best:eval_loss", repo=published)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"v5 {tags['v5']}"
    result = cli("resolve", "production@2026-01-05", "--json", repo=published)
    data = json.loads(result.stdout)
    assert (data["version"], data["commit"], data["alias"]) == ("v2", tags["v2"], "production")
    assert "production pointed at v2" in data["how"]
    assert hubver.select(published, "latest~4", **conn).version == "v1"


def test_every_verb_accepts_selectors(conn, published, cli, tmp_path):
    detail = hubver.get_version(published, "best:eval_loss", **conn)
    assert detail.info.version == "v5" and detail.metadata["version"] == "v5"
    d = hubver.diff(published, "latest~1", "latest", **conn)
    assert (d.a, d.b) == ("v4", "v5") and d.metrics["eval_loss"][:2] == (1.9, 1.2)
    out = hubver.checkout(published, "production~1", to=tmp_path / "co", quiet=True, **conn)
    assert (
        out.version == "v3" and json.loads((tmp_path / "co" / "hubver.json").read_text())["version"] == "v3"
    )
    promoted = hubver.promote(published, "production@2026-01-01", "staging", **conn)
    assert promoted.version == "v1"
    reports = hubver.verify(published, "min:eval_loss", **conn)
    assert [(r.version, r.ok) for r in reports] == [("v5", True)]
    # an alias: its version, and the alias branch itself (that it holds the version, stored)
    assert [(r.version, r.ok) for r in hubver.verify(published, "production", **conn)] == [
        ("v4", True),
        ("alias production", True),
    ]
    # Through the CLI too.
    shown = cli("show", "max:eval_loss", repo=published)
    assert shown.exit_code == 0 and shown.stdout.startswith(f"{published} v1  commit")
    diffed = cli("diff", "v5~4", "best:eval_accuracy", repo=published)
    assert diffed.exit_code == 0 and f"{published}: v1 (" in diffed.stdout and "-> v4 (" in diffed.stdout
    checked = cli("checkout", "latest", "--to", str(tmp_path / "cli-co"), repo=published)
    assert checked.exit_code == 0 and "Checked out v5" in checked.stdout
    rolled = cli("promote", "production~1", "production", repo=published)  # a rollback in one word
    assert rolled.exit_code == 0 and "production: v4 -> v3" in rolled.stdout
    with hubver.connect(published, **conn) as registry:
        assert registry.select("production").version == "v3"
    verified = cli("verify", "production@2026-01-05", repo=published)
    assert verified.exit_code == 0 and verified.stdout.startswith("v2: ok")
