"""Retention against the embedded hub: `hubver prune` (plan, tombstones, tags), `hub gc`, `--reclaim`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import SCHEMA_PATH, git_dir, lfs_objects

import hubver
from hubver import index
from hubver.errors import VersionIdError, VersionPruned

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

# eval_loss of version n: all distinct; the best two are v11 (2.0) and v14 (2.1), not the last ones.
LOSS = {n: 2.0 + ((n * 7 + 3) % 20) / 10 for n in range(1, 21)}


def extra_size(n: int) -> int:
    return 3000 + n  # each version's own LFS object (extra.bin), of a size that names it


@pytest.fixture
def conn(hub, hub_token):
    return {"endpoint": hub.url, "token": hub_token}


def publish(art, repo_id, conn, n: int) -> hubver.push:
    (art / "extra.bin").write_bytes(os.urandom(extra_size(n)))
    return hubver.push(art, repo_id, message=f"epoch {n}", metrics={"eval_loss": LOSS[n]}, **conn)


def lfs_bytes(hub, repo_id) -> int:
    return sum(p.stat().st_size for p in lfs_objects(hub, repo_id))


def index_lines(hub, repo_id, rev="main") -> list[dict]:
    import subprocess

    out = subprocess.run(
        ["git", "--git-dir", str(git_dir(hub, repo_id)), "show", f"{rev}:{index.INDEX_PATH}"],
        capture_output=True,
        check=True,
    ).stdout
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]


def test_prune_of_20_versions_keeps_exactly_the_right_set_and_gc_frees_the_planned_bytes(
    hub, conn, cli, adapters, copy_of, repo_id, monkeypatch
):
    monkeypatch.setenv("HUBVER_USER", "retention-bot")  # not what a tombstone records: the Hub account
    art = copy_of(adapters[4], "art")
    for n in range(1, 21):
        publish(art, repo_id, conn, n)
    hubver.promote(repo_id, "v3", "production", **conn)
    hubver.promote(repo_id, "v5", "staging", **conn)
    hubver.promote(repo_id, "v8", "staging", **conn)  # v5 was promoted once, no longer is

    policy = ["--keep-last", "3", "--keep-best", "eval_loss:2"]
    plan = cli("prune", *policy, "--json", repo=repo_id)
    assert plan.exit_code == 0, plan.output
    plan = json.loads(plan.output)
    kept = {d["version"]: d["reasons"] for d in plan["kept"]}
    assert set(kept) == {"v3", "v8", "v11", "v14", "v18", "v19", "v20"}
    assert kept["v3"] == ["alias production"] and kept["v8"] == ["alias staging"]
    assert kept["v11"] == ["best 2 eval_loss (#1: 2.0)"] and kept["v18"] == ["last 3"]
    assert kept["v20"] == ["latest (the branch head holds its files)", "last 3"]
    pruned = sorted(int(d["version"][1:]) for d in plan["pruned"])
    assert pruned == [1, 2, 4, 5, 6, 7, 9, 10, 12, 13, 15, 16, 17]
    # Every version shares the adapter's weights (held by the kept ones); extra.bin is its own.
    assert plan["reclaimable_bytes"] == sum(extra_size(n) for n in pruned)
    assert len(plan["reclaimable_objects"]) == len(pruned) and plan["applied"] is False

    # The dry run changed nothing; keeping every version ever promoted also keeps v5.
    assert len(hubver.list_versions(repo_id, **conn)) == 20
    ever = json.loads(cli("prune", *policy, "--keep-promoted-ever", "--json", repo=repo_id).output)
    assert {d["version"] for d in ever["kept"]} == set(kept) | {"v5"}
    # --older-than: only versions older than that may go (all of these are minutes old).
    young = json.loads(cli("prune", *policy, "--older-than", "1h", "--json", repo=repo_id).output)
    assert young["pruned"] == [] and young["kept"][0]["reasons"] == ["younger than 1h"]
    text = cli("prune", *policy, repo=repo_id)
    assert "keep   v3           alias production" in text.output
    assert "13 to prune" in text.output and f"({plan['reclaimable_bytes']} B)" in text.output
    assert "Dry run: nothing changed" in text.output

    before = lfs_bytes(hub, repo_id)
    done = cli("prune", *policy, "--yes", "--reason", "keep the best two", "--json", repo=repo_id)
    assert done.exit_code == 0, done.output
    done = json.loads(done.output)
    assert done["applied"] and sorted(done["tags_deleted"]) == sorted(f"v{n}" for n in pruned)
    tags = {t.name for t in hubver.connect(repo_id, **conn).client.api.list_repo_refs(repo_id).tags}
    assert tags == set(kept)
    # One commit of tombstones (who, when, why, which commit), valid against the schema.
    stones = [e for e in index_lines(hub, repo_id) if "pruned" in e]
    assert [s["version"] for s in stones] == [f"v{n}" for n in pruned]
    assert {s["pruned"]["by"] for s in stones} == {"admin"}  # whoami of the token, not $HUBVER_USER
    assert {s["pruned"]["reason"] for s in stones} == {"keep the best two"}
    assert stones[0]["pruned"]["commit"] == plan["pruned"][0]["commit"]
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text())
    for s in stones:
        jsonschema.validate(s, {"$ref": "#/$defs/indexTombstone", "$defs": schema["$defs"]})
    assert lfs_bytes(hub, repo_id) == before  # pruning alone frees nothing

    # Listing: the live versions; --all shows the pruned ones too, marked.
    assert [v.version for v in hubver.list_versions(repo_id, **conn)] == [
        f"v{n}" for n in (3, 8, 11, 14, 18, 19, 20)
    ]
    listed = cli("list", "--all", repo=repo_id).output
    assert "v1 pruned by admin at" in listed and "(pruned)" in listed
    # verify: pruned is not tampered; everything else checks out.
    reports = hubver.verify(repo_id, **conn)
    assert all(r.ok for r in reports), [r.problems for r in reports if not r.ok]
    assert any("pruned by admin" in n for r in reports if r.version == "v1" for n in r.notes)

    # Nothing left to prune with the same policy.
    again = json.loads(cli("prune", *policy, "--json", repo=repo_id).output)
    assert again["pruned"] == [] and again["reclaimable_bytes"] == 0

    # hub gc frees, on disk, exactly the bytes the dry run announced; not before the grace period.
    def gc(*args: str) -> dict:
        out = cli(
            "hub",
            "gc",
            "--data-dir",
            hub.data_dir,
            "--repo",
            repo_id,
            "--json",
            *args,
            endpoint=None,
            token=None,
        )
        assert out.exit_code == 0, out.output
        return json.loads(out.output)

    recent = gc()  # default grace 1 h: everything was stored minutes ago
    assert recent["bytes"] == 0 and recent["repos"][0]["kept_recent"] == len(pruned)
    dry = gc("--grace", "0s", "--dry-run")
    assert dry["bytes"] == plan["reclaimable_bytes"] and dry["objects"] == len(pruned)
    assert lfs_bytes(hub, repo_id) == before
    assert gc("--grace", "0s")["bytes"] == plan["reclaimable_bytes"]
    assert before - lfs_bytes(hub, repo_id) == plan["reclaimable_bytes"]
    # The kept versions are whole.
    assert all(r.ok for r in hubver.verify(repo_id, **conn))
    out = hubver.checkout(repo_id, "v11", "co-v11", **conn)
    assert (Path(out.path) / "extra.bin").stat().st_size == extra_size(11)


def test_a_pruned_version_is_explained_and_its_id_never_reused(
    hub, conn, cli, adapters, copy_of, repo_id, monkeypatch
):
    monkeypatch.setenv("HUBVER_USER", "alice")
    art = copy_of(adapters[4], "art")
    for n in (1, 2, 3):
        publish(art, repo_id, conn, n)
    before = lfs_bytes(hub, repo_id)
    result = hubver.prune(repo_id, keep_last=1, reason="old epochs", apply=True, reclaim=True, **conn)
    assert [d.version for d in result.pruned] == ["v1", "v2"]
    # --reclaim deleted, through the LFS-files API, exactly the bytes the plan announced.
    assert result.reclaimed_bytes == result.reclaimable_bytes == extra_size(1) + extra_size(2)
    assert before - lfs_bytes(hub, repo_id) == result.reclaimed_bytes
    assert any("can no longer be downloaded" in w for w in result.warnings)

    co = cli("checkout", "v2", repo=repo_id)
    assert co.exit_code == 1
    assert (
        "Version v2 of" in co.output and "was pruned by admin at" in co.output and "old epochs" in co.output
    )
    with pytest.raises(VersionPruned):
        hubver.get_version(repo_id, "v1", **conn)
    shown = cli("show", "v1", repo=repo_id)
    assert shown.exit_code == 1 and "pruned by admin" in shown.output
    promoted = cli("promote", "v1", "production", repo=repo_id)
    assert promoted.exit_code == 1 and "v1 of" in promoted.output and "was pruned by admin" in promoted.output

    # The next push is v4, and v2 cannot be taken again by hand.
    assert publish(art, repo_id, conn, 4).version == "v4"
    (art / "extra.bin").write_bytes(b"again")
    with pytest.raises(VersionIdError) as taken:
        hubver.push(art, repo_id, version="v2", **conn)
    assert "already exists" in taken.value.message
    # A version pushed after the tombstones chains on, and verify accepts the whole index.
    reports = {r.version: r for r in hubver.verify(repo_id, **conn)}
    assert reports["v4"].ok and reports["v3"].ok and reports["v1"].ok, reports
    assert not any("pruned" in e for e in index.live(index_lines(hub, repo_id)))


def test_version_tags_stay_protected_without_a_tombstone(hub, api, conn, cli, adapters, copy_of, repo_id):
    from huggingface_hub.errors import HfHubHTTPError

    art = copy_of(adapters[4], "art")
    for n in (1, 2):
        publish(art, repo_id, conn, n)
    with pytest.raises(HfHubHTTPError) as refused:
        api.delete_tag(repo_id, tag="v1")
    assert refused.value.response.status_code == 403
    assert "unless pruned" in refused.value.response.text
    # A tombstone on another branch, or naming another commit, does not count.
    stone = index.tombstone("v1", at="2026-01-01T00:00:00Z", by="x", reason="y", commit="0" * 40)
    from huggingface_hub import CommitOperationAdd

    lines = index_lines(hub, repo_id)
    api.create_commit(
        repo_id,
        [CommitOperationAdd(index.INDEX_PATH, index.render([*lines, stone]))],
        commit_message="a tombstone for another commit",
    )
    with pytest.raises(HfHubHTTPError):
        api.delete_tag(repo_id, tag="v1")


def test_verify_still_reports_a_tag_deleted_without_tombstone(
    unprotected, conn, adapters, copy_of, repo_id, api
):
    art = copy_of(adapters[4], "art")
    for n in (1, 2, 3):
        publish(art, repo_id, conn, n)
    hubver.prune(repo_id, keep_last=2, apply=True, **conn)  # v1 pruned
    api.delete_tag(repo_id, tag="v2")  # by hand: no tombstone
    reports = {r.version: r for r in hubver.verify(repo_id, **conn)}
    assert reports["v1"].ok and any("pruned by" in n for n in reports["v1"].notes)
    assert not reports["v2"].ok and any("TAG MISSING" in p for p in reports["v2"].problems)


def test_prune_refuses_bad_options(cli, repo_id):
    for args, words in [
        ((), "Nothing says which versions to prune"),
        (("--older-than", "30 days"), "Invalid duration '30 days'"),
        (("--keep-best", "eval_loss:zero"), "Invalid --keep-best"),
        (("--keep-last", "2", "--reclaim"), "needs --yes"),
    ]:
        out = cli("prune", *args, repo=repo_id)
        assert out.exit_code == 1 and words in out.output, out.output
        assert "Traceback" not in out.output


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_the_callback_prunes_after_each_publish(hub, hub_token, tiny_base, repo_id, tmp_path):
    from hubver import HubverCallback
    from hubver.testing import train_lora

    conn = {"endpoint": hub.url, "token": hub_token}
    # "wait": every epoch must become a version here, however slow the hub is on a loaded machine
    cb = HubverCallback(
        repo=repo_id, push="epoch", keep_last=1, keep_best="eval_loss", on_backlog="wait", **conn
    )
    train_lora(
        tiny_base,
        tmp_path / "out",
        r=4,
        epochs=3,
        callbacks=[cb],
        eval=True,
        extra_args={"disable_tqdm": True},
    )
    assert not cb.failures and [r.version for r in cb.results] == ["v1", "v2", "v3"]
    live = hubver.list_versions(repo_id, **conn)
    losses = {r.version: r.metadata["metrics"].get("eval_loss") for r in cb.results}
    best = min((v for v in losses if losses[v] is not None), key=lambda v: losses[v])
    assert {v.version for v in live} == {"v3", best}
    stones = index.tombstones(index_lines(hub, repo_id))
    assert set(stones) == {"v1", "v2"} - {best}
    assert {s["reason"] for s in stones.values()} == {"HubverCallback retention"}


def test_a_bad_retention_policy_fails_when_the_callback_is_made(hub, hub_token, repo_id):
    from hubver import HubverCallback
    from hubver.errors import ConfigError

    with pytest.raises(ConfigError, match="Invalid --keep-best"):
        HubverCallback(repo=repo_id, endpoint=hub.url, token=hub_token, keep_best="eval_loss:0")


# -- issue 16 red team: prune racing promote, pruning through plain huggingface_hub ----------


def oids_of(conn, repo_id, rev) -> dict[str, str]:
    """path -> LFS oid of the files at `rev`."""
    _, files = hubver.connect(repo_id, **conn).client.files(repo_id, rev)
    return {p: f.sha256 for p, f in files.items() if f.sha256}


def test_a_version_promoted_while_prune_runs_keeps_its_tag_and_files(
    hub, conn, cli, adapters, copy_of, repo_id, monkeypatch
):
    from hubver.registry import prune as prune_module

    art = copy_of(adapters[4], "art")
    for n in range(1, 6):
        publish(art, repo_id, conn, n)
    planned = prune_module._plan

    def plan_then_promote(*args, **kwargs):
        result = planned(*args, **kwargs)
        if not hubver.list_aliases(repo_id, **conn):  # once: the race the red team ran
            hubver.promote(repo_id, "v3", "production", **conn)
        return result

    monkeypatch.setattr(prune_module, "_plan", plan_then_promote)
    v3_extra = oids_of(conn, repo_id, "v3")["extra.bin"]
    result = hubver.prune(repo_id, keep_last=2, apply=True, reclaim=True, **conn)
    assert {d.version for d in result.pruned} == {"v1", "v2", "v3"}  # planned before the promotion
    assert sorted(result.tags_deleted) == ["v1", "v2"]
    assert any("v3 is kept for now: the alias production now points at it" in w for w in result.warnings)
    assert v3_extra not in result.reclaimed_objects and len(result.reclaimed_objects) == 2
    # production still serves v3, whole
    out = hubver.checkout(repo_id, "production", to=Path(art).parent / "co", quiet=True, **conn)
    assert json.loads((Path(out.path) / "hubver.json").read_text())["version"] == "v3"
    assert (Path(out.path) / "extra.bin").stat().st_size == extra_size(3)
    assert hubver.select(repo_id, "production", **conn).version == "v3"
    # ... and verify says the alias sits on a pruned version (a failure, never "ok")
    reports = {r.version: r for r in hubver.verify(repo_id, **conn)}
    assert not reports["alias production"].ok
    assert any("ALIAS ON A PRUNED VERSION" in p for p in reports["alias production"].problems)
    # promote never takes a version whose pruning is recorded, even while its tag is there
    refused = cli("promote", "v3", "staging", repo=repo_id)
    assert refused.exit_code == 1 and "v3 of" in refused.output and "was pruned by admin" in refused.output

    # Once production moves on, the next prune finishes v3 (its tag goes).
    hubver.promote(repo_id, "v5", "production", **conn)
    again = hubver.prune(repo_id, keep_last=2, apply=True, **conn)
    assert again.tags_deleted == ["v3"]


def test_the_hub_refuses_deleting_a_tag_an_alias_needs_even_if_the_client_does_not_look(
    hub, conn, adapters, copy_of, repo_id, monkeypatch
):
    from hubver.errors import HubverError
    from hubver.registry import prune as prune_module

    art = copy_of(adapters[4], "art")
    for n in range(1, 4):
        publish(art, repo_id, conn, n)
    planned = prune_module._plan

    def plan_then_promote(*args, **kwargs):
        result = planned(*args, **kwargs)
        hubver.promote(repo_id, "v2", "production", **conn)
        return result

    monkeypatch.setattr(prune_module, "_plan", plan_then_promote)
    monkeypatch.setattr(prune_module, "_in_use", lambda *a: {})  # a client that does not re-read
    with pytest.raises(HubverError) as refused:
        hubver.prune(repo_id, keep_last=1, apply=True, reclaim=True, **conn)
    message = refused.value.message
    assert "the Hub refused to delete its tag" in message and "the alias 'production' points at it" in message
    assert "no write access" not in message and "Run the same" not in (refused.value.hint or "")
    tags = {t.name for t in hubver.connect(repo_id, **conn).client.api.list_repo_refs(repo_id).tags}
    assert "v2" in tags
    out = hubver.checkout(repo_id, "production", to=Path(art).parent / "co", quiet=True, **conn)
    assert (Path(out.path) / "extra.bin").stat().st_size == extra_size(2)


def test_a_writer_with_plain_huggingface_hub_cannot_prune_what_an_alias_or_the_head_serves(
    hub, api, conn, cli, adapters, copy_of, repo_id
):
    from huggingface_hub import CommitOperationAdd
    from huggingface_hub.errors import HfHubHTTPError

    art = copy_of(adapters[4], "art")
    for n in (1, 2, 3):
        publish(art, repo_id, conn, n)
    hubver.promote(repo_id, "v2", "production", **conn)
    tags = {t.name: t.target_commit for t in api.list_repo_refs(repo_id).tags}
    stones = [
        index.tombstone(v, at="2026-01-01T00:00:00Z", by="mallory", reason="by hand", commit=tags[v])
        for v in ("v1", "v2", "v3")
    ]
    api.create_commit(
        repo_id,
        [CommitOperationAdd(index.INDEX_PATH, index.render([*index_lines(hub, repo_id), *stones]))],
        commit_message="tombstones by hand",
    )
    for tag, words in (("v2", "the alias 'production' points at it"), ("v3", "latest version")):
        with pytest.raises(HfHubHTTPError) as refused:
            api.delete_tag(repo_id, tag=tag)
        assert refused.value.response.status_code == 403 and words in refused.value.response.text, tag
    # A branch made from v1 and moved on still holds v1's own file once v1's tag is gone.
    api.create_branch(repo_id, branch="keep", revision="v1")
    api.create_commit(
        repo_id, [CommitOperationAdd("notes.txt", b"x")], commit_message="notes", revision="keep"
    )
    api.delete_tag(repo_id, tag="v1")  # pruned, and no alias or branch head is its commit: may go
    # LFS files: what production, main's head and keep hold stay.
    files = {f.file_oid: f for f in api.list_lfs_files(repo_id)}
    for rev in ("production", "main", "keep"):
        held = oids_of(conn, repo_id, rev)["extra.bin"]
        with pytest.raises(HfHubHTTPError) as refused:
            api.permanently_delete_lfs_files(repo_id, [files[held]])
        assert refused.value.response.status_code == 403, rev
    assert "refs/heads/keep still hold" in refused.value.response.text

    out = hubver.checkout(repo_id, "production", to=Path(art).parent / "co", quiet=True, **conn)
    assert (Path(out.path) / "extra.bin").stat().st_size == extra_size(2)  # every file still downloads
    # verify fails the alias on a pruned version; the gate still sees the pruned version's metrics
    reports = {r.version: r for r in hubver.verify(repo_id, **conn)}
    assert any("ALIAS ON A PRUNED VERSION" in p for p in reports["alias production"].problems)
    publish(art, repo_id, conn, 4)
    gated = hubver.promote(repo_id, "v4", "production", require_better=["eval_loss"], **conn)
    assert f"the current v2 has {LOSS[2]:g}" in gated.gate["summary"], gated.gate


def test_verify_fails_a_version_and_an_alias_whose_lfs_files_the_hub_lost(
    unprotected, api, conn, cli, adapters, copy_of, repo_id
):
    art = copy_of(adapters[4], "art")
    for n in (1, 2):
        publish(art, repo_id, conn, n)
    hubver.promote(repo_id, "v1", "production", **conn)
    assert all(r.ok for r in hubver.verify(repo_id, **conn))
    lost = oids_of(conn, repo_id, "v1")["extra.bin"]
    api.permanently_delete_lfs_files(repo_id, [f for f in api.list_lfs_files(repo_id) if f.file_oid == lost])
    reports = {r.version: r for r in hubver.verify(repo_id, **conn)}
    for name in ("v1", "alias production"):
        assert not reports[name].ok and any(
            "LFS OBJECT MISSING: extra.bin" in p for p in reports[name].problems
        )
    assert reports["v2"].ok
    out = cli("verify", "production", repo=repo_id)
    assert out.exit_code == 1 and "LFS OBJECT MISSING" in out.output and "alias production" in out.output


def test_keep_best_needs_a_recorded_metric_and_min_max_override_the_direction(
    conn, cli, adapters, copy_of, repo_id
):
    art = copy_of(adapters[4], "art")
    for n in (1, 2, 3):
        publish(art, repo_id, conn, n)
    out = cli("prune", "--keep-best", "eval_los", "--yes", repo=repo_id)
    assert out.exit_code == 1 and "has the metric 'eval_los'" in out.output, out.output
    assert "Metrics recorded: eval_loss" in out.output and "Traceback" not in out.output
    assert len(hubver.list_versions(repo_id, **conn)) == 3  # nothing pruned
    # eval_loss: v1 3.0, v2 3.7, v3 2.4. Lower is better by its name; max: keeps the highest.
    lowest = hubver.prune(repo_id, keep_best="eval_loss", **conn)
    assert [d.version for d in lowest.kept] == ["v3"]
    highest = hubver.prune(repo_id, keep_best="max:eval_loss", **conn)
    assert [(d.version, d.reasons[-1]) for d in highest.kept] == [
        ("v2", "best eval_loss (highest: 3.7)"),
        ("v3", "latest (the branch head holds its files)"),
    ]


def test_prune_on_a_branch_touches_only_the_versions_published_on_it(
    hub, api, conn, cli, adapters, copy_of, repo_id
):
    from hubver.errors import AuthError

    art = copy_of(adapters[4], "art")
    for n in (1, 2, 3):
        publish(art, repo_id, conn, n)
    api.create_branch(repo_id, branch="dev", revision="main")
    for n in (4, 5):
        (art / "extra.bin").write_bytes(os.urandom(extra_size(n)))
        hubver.push(art, repo_id, metrics={"eval_loss": LOSS[n]}, branch="dev", **conn)
    done = json.loads(
        cli("prune", "--branch", "dev", "--keep-last", "1", "--yes", "--json", repo=repo_id).output
    )
    assert [d["version"] for d in done["kept"]] == ["v5"] and done["tags_deleted"] == ["v4"]
    assert [d["version"] for d in done["pruned"]] == ["v4"]
    tags = {t.name for t in api.list_repo_refs(repo_id).tags}
    assert tags == {"v1", "v2", "v3", "v5"}
    # A refusal by a rule of the hub is reported as what the hub said, not as missing rights.
    with pytest.raises(AuthError) as refused:
        hubver.connect(repo_id, **conn).client.delete_tag(repo_id, "v1")
    assert "was refused by" in refused.value.message and "unless pruned" in refused.value.message
    assert "no write access" not in refused.value.message


def test_latest_cannot_be_pushed_as_a_version_id_and_a_bad_alias_name_says_alias(
    conn, cli, adapters, copy_of, repo_id
):
    art = copy_of(adapters[4], "art")
    out = cli("push", str(art), "--version", "latest", repo=repo_id)
    assert out.exit_code == 1 and "selector word" in out.output, out.output
    publish(art, repo_id, conn, 1)
    out = cli("promote", "v1", "best:x", repo=repo_id)
    assert out.exit_code == 1 and "Invalid alias name 'best:x'" in out.output, out.output


def test_an_alias_left_on_a_pruned_version_is_explained_by_resolve_verify_and_list(
    unprotected, api, conn, cli, adapters, copy_of, repo_id
):
    art = copy_of(adapters[4], "art")
    for n in (1, 2, 3):
        publish(art, repo_id, conn, n)
    hubver.promote(repo_id, "v2", "production", **conn)
    # What an older hubver (or a hub that protects nothing) could leave: v2 pruned, tag gone.
    from huggingface_hub import CommitOperationAdd

    commit = {t.name: t.target_commit for t in api.list_repo_refs(repo_id).tags}["v2"]
    stone = index.tombstone("v2", at="2026-01-01T00:00:00Z", by="bob", reason="old", commit=commit)
    api.create_commit(
        repo_id,
        [
            CommitOperationAdd(
                index.INDEX_PATH, index.render([*index_lines(hub=unprotected, repo_id=repo_id), stone])
            )
        ],
        commit_message="prune v2",
    )
    api.delete_tag(repo_id, tag="v2")
    for selector in ("production", "production~1"):
        out = cli("resolve", selector, repo=repo_id)
        assert out.exit_code == 1 and "Traceback" not in out.output and "KeyError" not in out.output, (
            out.output
        )
        assert (
            "production points at v2, which is no longer available" in out.output and "pruned" in out.output
        )
    out = cli("verify", "production", repo=repo_id)
    assert out.exit_code == 1 and "ALIAS ON A PRUNED VERSION" in out.output and "KeyError" not in out.output
    listed = cli("list", repo=repo_id)
    assert listed.exit_code == 0 and "alias production points at v2, which was pruned by bob" in listed.output


def test_a_reclaim_the_hub_partly_refuses_keeps_what_is_held_and_reclaims_the_rest(
    hub, conn, adapters, copy_of, repo_id, monkeypatch
):
    # Red team: a push lands between the prune's last look and its LFS delete, with v1's bytes.
    # The hub refuses deleting what v4 now holds; v2's own object still goes, and the prune
    # (tombstones, tags) is reported as applied, not as "nothing was changed".
    from hubver.client import HubClient

    art = copy_of(adapters[4], "art")
    publish(art, repo_id, conn, 1)
    v1_bytes = (art / "extra.bin").read_bytes()
    for n in (2, 3):
        publish(art, repo_id, conn, n)
    v1_extra, v2_extra = oids_of(conn, repo_id, "v1")["extra.bin"], oids_of(conn, repo_id, "v2")["extra.bin"]
    original = HubClient.delete_lfs_files
    raced = []

    def push_then_delete(self, repo, files):
        if not raced:
            raced.append(True)
            (art / "extra.bin").write_bytes(v1_bytes)
            hubver.push(art, repo_id, message="same bytes as v1", **conn)
        return original(self, repo, files)

    monkeypatch.setattr(HubClient, "delete_lfs_files", push_then_delete)
    result = hubver.prune(repo_id, keep_last=1, apply=True, reclaim=True, **conn)
    assert sorted(result.tags_deleted) == ["v1", "v2"]
    assert v2_extra in result.reclaimed_objects and v1_extra not in result.reclaimed_objects
    assert any("were kept: the Hub refused" in w and v1_extra[:12] in w for w in result.warnings)
    out = hubver.checkout(repo_id, "v4", to=Path(art).parent / "co4", quiet=True, **conn)
    assert (Path(out.path) / "extra.bin").read_bytes() == v1_bytes
