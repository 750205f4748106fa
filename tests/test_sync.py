"""`hubver sync SRC DST`: versions copied between two real embedded hubs, killed and resumed."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import git_dir

import hubver
from hubver.cli import cli as hubver_cli
from hubver.errors import HistoriesDiffer, RepoNotFound
from hubver.registry.sync import sync

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

ROOT = Path(__file__).resolve().parents[1]
DST_TOKEN = "hv_dst_" + secrets.token_hex(16)
PROMOTIONS = [("v2", "production"), ("v5", "production"), ("v3", "production"), ("v9", "production")]


@pytest.fixture
def dst(tmp_path):
    """A second embedded hub, with its own data directory and administrator token."""
    from hubver.server import HubConfig, start_in_thread

    with start_in_thread(HubConfig(data_dir=tmp_path / "dst-hub", admin_token=DST_TOKEN)) as running:
        yield running


@pytest.fixture(scope="module")
def source(hub, hub_token, adapters, tmp_path_factory):
    """A repo on the session hub with 10 versions (weights alternating r=4 / r=8, so objects recur)
    and `production` promoted four times (v2, v5, then back to v3, then v9)."""
    import uuid

    repo = f"tests/sync-{uuid.uuid4().hex[:8]}"
    conn = {"endpoint": hub.url, "token": hub_token}
    work = tmp_path_factory.mktemp("sync-source")
    for n in range(1, 11):
        d = work / f"run{n}"
        shutil.copytree(adapters[4 if n % 2 else 8], d)
        (d / "notes.txt").write_text(f"run {n}\n")
        hubver.push(d, repo, message=f"run {n}", metrics={"eval_loss": 3.0 - n / 10}, **conn)
    for version, alias in PROMOTIONS:
        hubver.promote(repo, version, alias, **conn)
    return repo


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(hubver_cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def _tags_and_index(hub, repo: str) -> tuple[list[str], int]:
    """DST's tags and the number of index lines at main, read from its bare repository on disk."""
    g = git_dir(hub, repo)
    if not (g / "HEAD").exists():
        return [], 0
    tags = subprocess.run(
        ["git", "-C", str(g), "tag", "--list"], capture_output=True, text=True, check=False
    ).stdout.split()
    shown = subprocess.run(
        ["git", "-C", str(g), "show", "main:.hubver/versions.jsonl"],
        capture_output=True,
        text=True,
        check=False,
    )
    return tags, len(shown.stdout.splitlines()) if shown.returncode == 0 else 0


def _published(conn: dict, repo: str) -> dict[str, tuple]:
    """version -> (manifest digest, hubver.json without parent.commit) as DST or SRC serves it."""
    out = {}
    for v in hubver.list_versions(repo, **conn):
        meta = dict(hubver.get_version(repo, v.version, **conn).metadata)
        parent = meta.pop("parent", None) or {}
        out[v.version] = (meta["digest"], json.dumps(meta, sort_keys=True), parent.get("version"))
    return out


def test_sync_dry_run_then_killed_mid_way_then_resumed(hub, hub_token, dst, source, adapters):
    src_conn = {"endpoint": hub.url, "token": hub_token}
    dst_conn = {"endpoint": dst.url, "token": DST_TOKEN}
    common = ["--repo", source, "--src-token", hub_token, "--dst-token", DST_TOKEN, "--aliases"]

    # The plan: every version in order, the alias, nothing written (DST has no repository yet).
    code, out = _run("sync", hub.url, dst.url, *common, "--dry-run", "--json")
    assert code == 0, out
    planned = json.loads(out)["repos"][0]
    assert [c["version"] for c in planned["copied"]] == [f"v{n}" for n in range(1, 11)]
    assert [a["alias"] for a in planned["aliases"]] == ["production"]
    assert hub_token not in out and DST_TOKEN not in out
    assert _tags_and_index(dst, source) == ([], 0)

    # A sync process, slowed between each commit and its tag, killed -9 in that very gap.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HUBVER_SYNC_SLOW": "0.6"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hubver", "sync", hub.url, dst.url, *common],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            tags, lines = _tags_and_index(dst, source)
            if len(tags) >= 3 and lines == len(tags) + 1:
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.02)
        else:
            pytest.fail("the sync never got to its fourth version")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    tags, lines = _tags_and_index(dst, source)
    assert lines == len(tags) + 1  # a committed version without its tag: what the next run must finish
    stopped_at = f"v{lines}"
    assert stopped_at not in tags

    # Resumed: the tag repaired, the rest copied, in order; recurring weights are not sent again.
    result = sync(hub.url, dst.url, [source], aliases=True, src_token=hub_token, dst_token=DST_TOKEN).repos[0]
    assert result.repaired == [stopped_at]
    assert [c.version for c in result.copied] == [f"v{n}" for n in range(lines + 1, 11)]
    assert all(c.present == ["adapter_model.safetensors"] for c in result.copied)  # DST had both objects
    assert result.aliases[0].changed and result.aliases[0].version == "v9"

    # Idempotent: a second run has nothing to do, and says so.
    code, out = _run("sync", hub.url, dst.url, *common)
    assert code == 0, out
    assert "nothing to do (10 version(s) already on" in out

    # Both sides verify clean, with the same digests and metadata; the chain names DST's commits.
    for conn in (src_conn, dst_conn):
        reports = hubver.verify(source, **conn)
        assert all(r.ok for r in reports), [(r.version, r.problems) for r in reports if not r.ok]
        assert "alias production" in {r.version for r in reports}
    assert _published(src_conn, source) == _published(dst_conn, source)
    dst_tags = {v.version: v.commit for v in hubver.list_versions(source, **dst_conn)}
    v5 = hubver.get_version(source, "v5", **dst_conn).metadata
    assert v5["parent"] == {"version": "v4", "commit": dst_tags["v4"]}

    # The alias and its history, as on SRC (the commits being DST's own).
    def history(conn: dict) -> list[tuple]:
        return [
            (h["from"], h["to"], h["by"], h["at"]) for h in hubver.alias_history(source, "production", **conn)
        ]

    assert history(src_conn) == history(dst_conn)
    assert [h[1] for h in history(dst_conn)] == [v for v, _ in PROMOTIONS]
    assert {h["commit"] for h in hubver.alias_history(source, "production", **dst_conn)} <= set(
        dst_tags.values()
    )

    # What is on DST loads by tag with transformers/peft, weights as trained.
    import torch
    from safetensors.torch import load_file

    model = hubver.load(source, "v8", **dst_conn)
    loaded = {k: v for k, v in model.state_dict().items() if "lora_" in k}
    want = load_file(adapters[8] / "adapter_model.safetensors")
    assert len(want) == 4
    for name, tensor in want.items():
        assert torch.equal(loaded[name.replace(".weight", ".default.weight")], tensor)


def test_sync_refuses_histories_that_disagree(hub, hub_token, dst, adapters, copy_of, repo_id):
    src_conn = {"endpoint": hub.url, "token": hub_token}
    dst_conn = {"endpoint": dst.url, "token": DST_TOKEN}
    hubver.push(adapters[4], repo_id, **src_conn)
    hubver.push(adapters[4], repo_id, **dst_conn)  # the same v1 on both sides: agreed
    changed = copy_of(adapters[8], "ours")
    hubver.push(changed, repo_id, **src_conn)
    (changed / "notes.txt").write_text("published on DST only\n")
    hubver.push(changed, repo_id, **dst_conn)  # a v2 with other content

    code, out = _run(
        "sync", hub.url, dst.url, "--repo", repo_id, "--src-token", hub_token, "--dst-token", DST_TOKEN
    )
    assert code == 1
    assert "disagree" in out and "v2 (SRC " in out and "Traceback" not in out
    assert hub_token not in out and DST_TOKEN not in out
    assert len(hubver.list_versions(repo_id, **dst_conn)) == 2  # nothing copied, nothing changed

    # Reversed, DST simply lacks nothing of what it shares... but v2 still differs: refused too.
    with pytest.raises(HistoriesDiffer, match="v2"):
        sync(dst.url, hub.url, [repo_id], src_token=DST_TOKEN, dst_token=hub_token)


def test_versions_only_on_dst_are_kept_unless_they_block_the_order(
    hub, hub_token, dst, adapters, copy_of, repo_id
):
    src_conn = {"endpoint": hub.url, "token": hub_token}
    dst_conn = {"endpoint": dst.url, "token": DST_TOKEN}
    hubver.push(adapters[4], repo_id, **src_conn)
    first = sync(hub.url, dst.url, [repo_id], src_token=hub_token, dst_token=DST_TOKEN).repos[0]
    assert [c.version for c in first.copied] == ["v1"]
    hubver.push(adapters[8], repo_id, **dst_conn)  # DST's own v2: fine while SRC has nothing after v1
    again = sync(hub.url, dst.url, [repo_id], src_token=hub_token, dst_token=DST_TOKEN).repos[0]
    assert again.nothing_to_do and again.only_on_dst == ["v2"]

    other = copy_of(adapters[8], "other")
    (other / "notes.txt").write_text("SRC's own v2 and v3\n")
    hubver.push(other, repo_id, version="v3", **src_conn)  # SRC: v1, v3; DST: v1, v2
    with pytest.raises(HistoriesDiffer, match=r"after v1, SRC has v3 but DST has v2"):
        sync(hub.url, dst.url, [repo_id], src_token=hub_token, dst_token=DST_TOKEN)
    assert [v.version for v in hubver.list_versions(repo_id, **dst_conn)] == ["v1", "v2"]


def test_sync_into_another_repository_of_the_same_hub(hub, hub_token, adapters, copy_of, repo_id):
    conn = {"endpoint": hub.url, "token": hub_token}
    hubver.push(adapters[4], repo_id, message="first", **conn)
    hubver.push(adapters[8], repo_id, message="second", **conn)
    hubver.promote(repo_id, "v2", "production", **conn)
    copy = f"{repo_id}-copy"
    result = sync(
        hub.url, hub.url, [repo_id], to_repo=copy, aliases=True, src_token=hub_token, dst_token=hub_token
    )
    repo = result.repos[0]
    assert [c.version for c in repo.copied] == ["v1", "v2"] and repo.created_repo
    reports = hubver.verify(copy, **conn)
    assert all(r.ok for r in reports), [(r.version, r.problems) for r in reports if not r.ok]
    card = hubver.get_version(copy, "v2", **conn).card
    readme = (Path(hubver.checkout(copy, "v2", to="co", **conn).path) / "README.md").read_text()
    assert copy in readme and f'{repo_id}"' not in readme, card
    assert [a["version"] for a in hubver.list_aliases(copy, **conn)] == ["v2"]


def test_bad_endpoints_are_refused_clearly(hub_token):
    code, out = _run("sync", "ftp://nowhere", "local", "--repo", "me/a")
    assert code == 1 and "Invalid endpoint" in out and "Traceback" not in out
    code, out = _run("sync", "somewhere", "local", "--repo", "me/a")
    assert code == 1 and "Invalid SRC endpoint" in out
    code, out = _run("sync", "local", "local", "--repo", "me/a")
    assert code == 1 and "same hub" in out


def test_offline_versions_published_later_from_local(dst, adapters, repo_id):
    """Trained offline with `--local`, then `hubver sync local URL`: the local hub's admin token
    is found as for every `--local` command, DST's comes from HUBVER_DST_TOKEN."""
    hubver.push(adapters[4], repo_id, local=True)
    hubver.push(adapters[8], repo_id, local=True)
    os.environ["HUBVER_DST_TOKEN"] = DST_TOKEN
    try:
        code, out = _run("sync", "local", dst.url, "--repo", repo_id)
    finally:
        os.environ.pop("HUBVER_DST_TOKEN")
    assert code == 0, out
    assert "copied 2 version(s)" in out and DST_TOKEN not in out
    dst_conn = {"endpoint": dst.url, "token": DST_TOKEN}
    assert all(r.ok for r in hubver.verify(repo_id, **dst_conn))
    assert _published({"local": True}, repo_id) == _published(dst_conn, repo_id)
    code, out = _run("sync", "local", "local", "--repo", repo_id, "--to-repo", f"{repo_id}-2")
    assert code == 0 and "copied 2 version(s)" in out, out  # one embedded hub serves both sides
    assert all(r.ok for r in hubver.verify(f"{repo_id}-2", local=True))


def test_a_tampered_source_version_is_never_copied(unprotected, api, hub_token, dst, adapters, repo_id):
    src_conn = {"endpoint": unprotected.url, "token": hub_token}
    v1 = hubver.push(adapters[4], repo_id, **src_conn)
    v2 = hubver.push(adapters[8], repo_id, **src_conn)
    api.delete_tag(repo_id, tag="v2")
    api.create_tag(repo_id, tag="v2", revision=v1.commit)  # v2 now names v1's content
    assert v2.commit != v1.commit
    code, out = _run(
        "sync",
        unprotected.url,
        dst.url,
        "--repo",
        repo_id,
        "--src-token",
        hub_token,
        "--dst-token",
        DST_TOKEN,
    )
    assert code == 1 and "Nothing was copied" in out and "v2" in out, out
    with pytest.raises(RepoNotFound):
        hubver.list_versions(repo_id, endpoint=dst.url, token=DST_TOKEN)


def test_a_refused_token_names_syncs_own_options(hub, hub_token, dst, adapters, repo_id):
    """sync's hints name --src-token/--dst-token and HUBVER_SRC_TOKEN/HUBVER_DST_TOKEN, not push's --token."""
    hubver.push(adapters[4], repo_id, endpoint=hub.url, token=hub_token)
    code, out = _run(
        "sync",
        hub.url,
        dst.url,
        "--repo",
        repo_id,
        "--src-token",
        hub_token,
        "--dst-token",
        "hv_wrong_" + "0" * 24,
    )
    assert code == 1, out
    assert "--dst-token or HUBVER_DST_TOKEN" in out, out
    assert "--token or HF_TOKEN" not in out and "Traceback" not in out
