"""The pictures in each version's card, against the session hub: `.hubver/charts/*.svg` committed in
the version's own commit, drawn from its log history and the index, shown by the card."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from huggingface_hub import CommitOperationAdd, hf_hub_download

import hubver
from tests.helpers import raw_request

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

SVG = "{http://www.w3.org/2000/svg}"
LOSS = ".hubver/charts/loss.svg"
EVAL = ".hubver/charts/eval_loss.svg"
IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")


def _with_training(copy_of, src, name, losses, eval_loss, accuracy=None, extra_file=None):
    """A copy of `src` with the trainer_state.json a Trainer leaves: a loss per step, an evaluation."""
    out = copy_of(src, name)
    history = [
        {"step": 10 * (i + 1), "epoch": (i + 1) / len(losses), "loss": v} for i, v in enumerate(losses)
    ]
    evaluation = {"step": 10 * len(losses), "epoch": 1.0, "eval_loss": eval_loss}
    if accuracy is not None:
        evaluation["eval_accuracy"] = accuracy
    history.append(evaluation)
    state = {"log_history": history, "global_step": 10 * len(losses), "epoch": 1.0}
    (out / "trainer_state.json").write_text(json.dumps(state))
    if extra_file:
        (out / "notes.txt").write_text(extra_file)
    return out


def _points(svg: bytes) -> list[tuple[str, float]]:
    root = ET.fromstring(svg)
    return [(c.get("data-key"), float(c.get("data-value"))) for c in root.iter(f"{SVG}circle")]


def _markers(svg: bytes) -> list[tuple[str, str]]:
    root = ET.fromstring(svg)
    return [
        (g.get("data-alias"), g.get("data-version"))
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "marker"
    ]


def _files(api, repo, rev) -> set[str]:
    return {f.rfilename for f in api.model_info(repo, revision=rev).siblings}


def _read(repo, path, rev) -> bytes:
    with open(hf_hub_download(repo, path, revision=rev), "rb") as f:
        return f.read()


def test_each_version_commits_its_pictures_and_its_card_shows_them(
    hub, hub_token, api, adapters, repo_id, copy_of
):
    conn = {"endpoint": hub.url, "token": hub_token}
    runs = [
        (adapters[4], [2.5, 1.9, 1.4], 0.91),
        (adapters[8], [2.4, 1.5, 1.1, 0.8], 0.62),
        (adapters[4], [2.2, 1.2], 0.75),
    ]
    results = []
    for i, (src, losses, eval_loss) in enumerate(runs, start=1):
        directory = _with_training(copy_of, src, f"run{i}", losses, eval_loss, extra_file=f"run {i}\n")
        results.append(hubver.push(directory, repo_id, message=f"run {i}", **conn))
        if i == 1:
            hubver.promote(repo_id, "v1", "production", **conn)
    assert [r.version for r in results] == ["v1", "v2", "v3"]

    for n, (result, (_, losses, _)) in enumerate(zip(results, runs, strict=True), start=1):
        v = result.version
        assert result.charts == [LOSS, EVAL]
        commit = api.list_repo_commits(repo_id, revision=v)[0]
        assert commit.commit_id == result.commit  # in the version's one commit, under its tag
        assert {LOSS, EVAL} <= _files(api, repo_id, v)
        # The loss curve is this version's log history, step by step.
        assert _points(_read(repo_id, LOSS, v)) == [(str(10 * (i + 1)), x) for i, x in enumerate(losses)]
        # The metric chart is every version so far, in order, this one last.
        assert _points(_read(repo_id, EVAL, v)) == [
            (r.version, runs[i][2]) for i, r in enumerate(results[:n])
        ]

        card = _read(repo_id, "README.md", v).decode()
        images = dict((path, alt) for alt, path in IMAGE.findall(card))
        assert set(images) == {LOSS, EVAL}
        assert images[LOSS] == f"Training loss of {v}" and images[EVAL] == "eval\\_loss across versions"
        for path in images:  # the relative link resolves through the hub, as an image
            status, headers, body = raw_request(hub.url, "GET", f"/{repo_id}/resolve/{v}/{path}")
            assert status == 200 and headers["content-type"].startswith("image/svg+xml"), (status, headers)
            assert "sandbox" in headers["content-security-policy"]
            assert body == _read(repo_id, path, v)

    # v1 was promoted before v2 and v3 were pushed: their pictures mark it.
    assert _markers(_read(repo_id, EVAL, "v1")) == []
    assert _markers(_read(repo_id, EVAL, "v3")) == [("production", "v1")]

    # Pictures are not model files: verify checks the versions, checkout leaves them out.
    assert [(r.version, r.ok, r.problems) for r in hubver.verify(repo_id, **conn)][:3] == [
        ("v1", True, []),
        ("v2", True, []),
        ("v3", True, []),
    ]
    out = hubver.checkout(repo_id, "v3", to="v3-out", quiet=True, **conn)
    # A picture swapped on the alias branch is reported: the index entry records each one's blob.
    api.create_commit(
        repo_id,
        [CommitOperationAdd(LOSS, b'<svg xmlns="http://www.w3.org/2000/svg"/>')],
        commit_message="nicer curve",
        revision="production",
    )
    problems = [p for r in hubver.verify(repo_id, **conn) for p in r.problems]
    assert any(f"ALIAS production does not hold v1: PICTURE CHANGED: {LOSS}" in p for p in problems), problems
    root = Path(out.path)
    checked_out = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert not any(p.startswith(".hubver/") for p in checked_out), checked_out

    # The same content again is the same version: no commit, the pictures untouched.
    head = api.list_repo_commits(repo_id)[0].commit_id
    same = _with_training(copy_of, adapters[4], "again", [2.2, 1.2], 0.75, extra_file="run 3\n")
    again = hubver.push(same, repo_id, message="again", **conn)
    assert (again.version, again.created) == ("v3", False) and "identical" in again.reason
    assert api.list_repo_commits(repo_id)[0].commit_id == head


def test_nothing_to_plot_means_no_picture_and_a_card_without_one(
    hub, hub_token, api, adapters, repo_id, copy_of
):
    conn = {"endpoint": hub.url, "token": hub_token}
    first = hubver.push(_with_training(copy_of, adapters[4], "trained", [1.0, 0.5], 0.4), repo_id, **conn)
    assert first.charts == [LOSS, EVAL]
    # No log history and no metrics: no pictures, and the earlier version's are not left behind.
    bare = hubver.push(adapters[8], repo_id, **conn)
    assert bare.created and bare.charts == []
    files = _files(api, repo_id, bare.version)
    assert not any(p.startswith(".hubver/charts/") for p in files), files
    card = _read(repo_id, "README.md", bare.version).decode()
    assert ".hubver/charts" not in card and "## Charts" not in card and "![" not in card
    assert {LOSS, EVAL} <= _files(api, repo_id, first.version)  # v1 keeps its own
    assert [r.ok for r in hubver.verify(repo_id, **conn)][:2] == [True, True]


def test_chart_metric_picks_the_metric_and_a_missing_one_is_said(cli, api, adapters, repo_id, copy_of):
    directory = _with_training(copy_of, adapters[4], "acc", [1.0, 0.7], 0.5, accuracy=0.81)
    done = cli("push", directory, "--chart-metric", "eval_accuracy", "--json", repo=repo_id)
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["charts"] == [LOSS, ".hubver/charts/eval_accuracy.svg"]
    assert _points(_read(repo_id, ".hubver/charts/eval_accuracy.svg", "v1")) == [("v1", 0.81)]
    assert "eval\\_accuracy across versions" in _read(repo_id, "README.md", "v1").decode()

    (directory / "notes.txt").write_text("changed\n")
    missing = cli("push", directory, "--chart-metric", "bleu", repo=repo_id)
    assert missing.exit_code == 0, missing.output
    assert "--chart-metric bleu: no version records that metric" in missing.stderr
    assert not any(p.startswith(".hubver/charts/bleu") for p in _files(api, repo_id, "v2"))
