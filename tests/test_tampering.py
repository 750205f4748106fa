"""A hostile writer with write access and plain huggingface_hub calls, no hubver.

With the embedded hub's protection off (as on huggingface.co, which protects no tag), each
tampering of issue #11 is done, and hubver must refuse or report it: never serve the wrong
bytes as verified. With protection on, the hub refuses the tampering itself.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from helpers import git_dir
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError

import hubver
from hubver.errors import IntegrityError

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture
def conn(hub, hub_token):
    return {"endpoint": hub.url, "token": hub_token}


def _push(art: Path, repo_id: str, conn: dict, n: int, **kw) -> hubver.PushResult:
    (art / "step.txt").write_text(str(n))
    return hubver.push(art, repo_id, message=f"run {n}", **conn, **kw)


@pytest.fixture
def three(conn, adapters, repo_id, copy_of):
    art = copy_of(adapters[4], "art")
    return [_push(art, repo_id, conn, n) for n in (1, 2, 3)]


def _problems(reports) -> str:
    return "\n".join(p for r in reports for p in r.problems)


def _retag(api, repo_id: str, tag: str, commit: str) -> None:
    api.delete_tag(repo_id, tag=tag)
    api.create_tag(repo_id, tag=tag, revision=commit)


def test_a_moved_tag_is_refused_by_every_read(unprotected, api, conn, cli, three, repo_id, tmp_path):
    _retag(api, repo_id, "v1", three[1].commit)  # v1 now names v2's commit
    listed = {v.version: v for v in hubver.list_versions(repo_id, **conn)}
    assert any("TAG MOVED" in p for p in listed["v1"].problems)
    for read in (
        lambda: hubver.get_version(repo_id, "v1", **conn),
        lambda: hubver.checkout(repo_id, "v1", to=tmp_path / "co", quiet=True, **conn),
        lambda: hubver.diff(repo_id, "v1", "v3", **conn),
    ):
        with pytest.raises(IntegrityError) as e:
            read()
        assert "TAG MOVED: v1" in e.value.message or "holds hubver.json of version 'v2'" in e.value.message
    assert not (tmp_path / "co").exists()
    shown = cli("show", "v1", repo=repo_id)
    assert shown.exit_code == 1 and shown.stderr.startswith("Error: ") and "Traceback" not in shown.stderr
    assert cli("show", "v1", "--unchecked", repo=repo_id).exit_code == 0  # forensics
    _retag(api, repo_id, "v3", three[0].commit)  # the latest version has no successor to vouch for it
    listed = {v.version: v for v in hubver.list_versions(repo_id, **conn)}
    assert any("holds hubver.json of version 'v1'" in p for p in listed["v3"].problems)
    verified = cli("verify", repo=repo_id)
    assert verified.exit_code == 1 and "TAG MOVED" in verified.stderr


def _forge_v1(api, repo_id: str, adapters) -> str:
    """A commit titled as v1 with other weights, its manifest updated but the old digest kept."""
    meta = json.loads(Path(hf_hub_download(repo_id, "hubver.json", revision="v1")).read_text())
    weights = (adapters[8] / "adapter_model.safetensors").read_bytes()
    for f in meta["files"]:
        if f["path"] == "adapter_model.safetensors":
            f.update(size=len(weights), sha256=hashlib.sha256(weights).hexdigest())
    ops = [
        CommitOperationAdd("adapter_model.safetensors", weights),
        CommitOperationAdd("hubver.json", json.dumps(meta).encode()),
    ]
    return api.create_commit(repo_id, ops, commit_message="hubver v1: republished").oid


def test_a_forged_republish_is_caught_and_never_repaired_onto(
    unprotected, api, conn, adapters, repo_id, tmp_path, copy_of
):
    art = copy_of(adapters[4], "art")
    _push(art, repo_id, conn, 1)
    forged = _forge_v1(api, repo_id, adapters)
    _retag(api, repo_id, "v1", forged)
    reports = hubver.verify(repo_id, **conn)
    assert not all(r.ok for r in reports) and "CONTENT CHANGED" in _problems(reports)
    with pytest.raises(IntegrityError):
        hubver.checkout(repo_id, "v1", to=tmp_path / "co", quiet=True, **conn)
    # Deleting the tag instead: neither a push nor verify --repair puts it on the forged commit.
    api.delete_tag(repo_id, tag="v1")
    repaired = hubver.verify(repo_id, "v1", repair=True, **conn)[0]
    assert not repaired.repaired and "Not repaired" in repaired.problems[0]
    result = _push(art, repo_id, conn, 2)
    assert result.repaired == [] and result.version == "v2"
    assert "v1" not in {t.name for t in api.list_repo_refs(repo_id).tags}


def test_a_commit_merely_titled_as_a_version_is_no_false_alarm(conn, api, three, repo_id):
    api.create_commit(
        repo_id, [CommitOperationAdd("notes.txt", b"x")], commit_message="hubver v1: not really"
    )
    reports = {r.version: r for r in hubver.verify(repo_id, **conn)}
    assert reports["v1"].ok and reports["v2"].ok and reports["v3"].ok, _problems(reports.values())


def test_shadowing_refs_are_refused_and_tags_win(hub, api, conn, three, repo_id):
    for make in (
        lambda: api.create_branch(repo_id, branch="v2", revision=three[0].commit),
        lambda: api.create_tag(repo_id, tag="main", revision=three[0].commit),
    ):
        with pytest.raises(HfHubHTTPError) as e:
            make()
        assert e.value.response.status_code == 409 and "shadow" in e.value.response.headers["X-Error-Message"]
    # A branch written behind the API's back still loses to the tag, as in git.
    (git_dir(hub, repo_id) / "refs" / "heads" / "v2").write_text(three[0].commit + "\n")
    step = Path(hf_hub_download(repo_id, "step.txt", revision="v2", token=False)).read_text()
    assert step == "2"
    assert hubver.get_version(repo_id, "v2", **conn).info.commit == three[1].commit


def test_a_rewound_branch_hides_no_version(unprotected, api, conn, adapters, repo_id, copy_of):
    art = copy_of(adapters[4], "art")
    pushed = [_push(art, repo_id, conn, n, branch="exp") for n in (1, 2, 3)]
    api.delete_branch(repo_id, branch="exp")
    api.create_branch(repo_id, branch="exp", revision=pushed[0].commit)
    assert [v.version for v in hubver.list_versions(repo_id, branch="exp", **conn)] == ["v1"]
    problems = _problems(_verify_branch(conn, repo_id, "exp"))
    assert "VERSION MISSING: v2" in problems and "VERSION MISSING: v3" in problems
    assert _push(art, repo_id, conn, 4, branch="exp").version == "v4"  # v2, v3 are never reused


def _verify_branch(conn, repo_id: str, branch: str):
    from hubver.settings import resolve_settings

    settings = resolve_settings(repo=repo_id, branch=branch, **conn)
    return hubver.verify(settings=settings)


def test_a_shortened_index_is_reported_and_refused(unprotected, api, conn, three, repo_id, adapters, copy_of):
    raw = Path(hf_hub_download(repo_id, ".hubver/versions.jsonl", revision="main")).read_bytes()
    kept = b"".join(line + b"\n" for line in raw.splitlines()[:2])
    api.create_commit(repo_id, [CommitOperationAdd(".hubver/versions.jsonl", kept)], commit_message="drop v3")
    api.delete_tag(repo_id, tag="v3")
    assert "VERSION MISSING: commit" in _problems(hubver.verify(repo_id, **conn))
    art = copy_of(adapters[8], "other")
    with pytest.raises(IntegrityError) as e:
        hubver.push(art, repo_id, **conn)
    assert "has lost v3" in e.value.message
    assert "v3" not in {t.name for t in api.list_repo_refs(repo_id).tags}


def test_a_rewritten_old_entry_breaks_the_chain(unprotected, api, conn, three, repo_id):
    raw = Path(hf_hub_download(repo_id, ".hubver/versions.jsonl", revision="main")).read_bytes()
    lines = [json.loads(line) for line in raw.splitlines()]
    lines[0]["metrics"] = {"eval_loss": 0.01}
    body = "".join(json.dumps(e, sort_keys=True) + "\n" for e in lines).encode()
    api.create_commit(repo_id, [CommitOperationAdd(".hubver/versions.jsonl", body)], commit_message="better")
    problems = _problems(hubver.verify(repo_id, **conn))
    assert "INDEX CHAIN BROKEN: v2" in problems


def test_a_deleted_index_is_reported(unprotected, api, conn, three, repo_id):
    api.create_commit(repo_id, [CommitOperationDelete(".hubver/versions.jsonl")], commit_message="gone")
    problems = _problems(hubver.verify(repo_id, **conn))
    assert "INDEX MISSING" in problems and "VERSION MISSING: v1" in problems


def test_an_alias_holding_other_weights_is_reported(conn, api, three, repo_id, adapters):
    hubver.promote(repo_id, "v2", "production", **conn)
    weights = (adapters[8] / "adapter_model.safetensors").read_bytes()
    api.create_commit(
        repo_id, [CommitOperationAdd("adapter_model.safetensors", weights)], commit_message="hotfix",
        revision="production",
    )  # fmt: skip
    reports = {r.version: r for r in hubver.verify(repo_id, **conn)}
    assert not reports["alias production"].ok
    assert "ALIAS production does not hold v2" in reports["alias production"].problems[0]
    with pytest.raises(IntegrityError):
        hubver.get_version(repo_id, "production", **conn)


def test_a_tampered_cache_is_not_trusted(conn, three, repo_id, tmp_path):
    first = hubver.checkout(repo_id, "v1", to=tmp_path / "a", quiet=True, **conn)
    snap = Path(first.cache_dir)
    blob = (snap / "adapter_model.safetensors").resolve()
    blob.chmod(0o644)
    blob.write_bytes(b"forged weights")
    meta_path = (snap / "hubver.json").resolve()
    meta = json.loads(meta_path.read_text())
    for f in meta["files"]:
        if f["path"] == "adapter_model.safetensors":
            f.update(size=14, sha256=hashlib.sha256(b"forged weights").hexdigest())
    meta_path.chmod(0o644)
    meta_path.write_text(json.dumps(meta))  # blob and cached hubver.json changed together
    with pytest.raises(IntegrityError) as e:
        hubver.checkout(repo_id, "v1", to=tmp_path / "b", quiet=True, **conn)
    assert "cached hubver.json differs" in e.value.message
    assert not (tmp_path / "b").exists()


def test_the_hub_protects_versions(conn, api, three, repo_id, adapters, copy_of):
    _push(copy_of(adapters[4], "exp-art"), repo_id, conn, 9, branch="exp")
    for refuse, why in (
        (lambda: api.delete_tag(repo_id, tag="v1"), "marks a hubver version"),
        (lambda: api.delete_branch(repo_id, branch="exp"), "holds hubver versions"),
    ):
        with pytest.raises(HfHubHTTPError) as e:
            refuse()
        assert e.value.response.status_code == 403
        assert why in e.value.response.headers["X-Error-Message"]
    assert {t.name for t in api.list_repo_refs(repo_id).tags} >= {"v1", "v2", "v3", "v4"}
    api.create_tag(repo_id, tag="not-a-version", revision=three[0].commit)
    api.delete_tag(repo_id, tag="not-a-version")  # other tags stay the owner's to manage


# -- objects at rest on the hub's disk ---------------------------------------------------------------


def _weights_object(hub, repo_id: str, adapters) -> Path:
    oid = hashlib.sha256((adapters[4] / "adapter_model.safetensors").read_bytes()).hexdigest()
    return git_dir(hub, repo_id) / "lfs" / "objects" / oid[:2] / oid[2:4] / oid


def test_a_flipped_byte_at_rest_is_found_and_healed(hub, cli, conn, adapters, repo_id, copy_of):
    from click.testing import CliRunner

    from hubver.cli import cli as group

    hubver.push(adapters[4], repo_id, **conn)
    obj = _weights_object(hub, repo_id, adapters)
    data = bytearray(obj.read_bytes())
    data[len(data) // 2] ^= 0x01
    obj.chmod(0o644)
    obj.write_bytes(bytes(data))
    assert all(r.ok for r in hubver.verify(repo_id, **conn))  # pointers alone look fine
    deep = cli("verify", "--deep", repo=repo_id)
    assert deep.exit_code == 1 and "BYTES DAMAGED: adapter_model.safetensors" in deep.stderr

    fsck = CliRunner().invoke(group, ["hub", "fsck", "--data-dir", str(hub.data_dir)])
    assert fsck.exit_code == 1 and f"DAMAGED: models/{repo_id}.git" in fsck.stderr
    assert not obj.exists() and list((git_dir(hub, repo_id) / "lfs" / "quarantine").iterdir())

    # Re-uploading the good bytes (here: the same files under another repo path) restores it.
    art = copy_of(adapters[4], "again")
    (art / "adapter_model.safetensors").rename(art / "copy.safetensors")
    good = (adapters[4] / "adapter_model.safetensors").read_bytes()
    (art / "adapter_model.safetensors").write_bytes(good)
    hubver.push(art, repo_id, **conn)
    assert obj.read_bytes() == good
    clean = CliRunner().invoke(group, ["hub", "fsck", "--data-dir", str(hub.data_dir)])
    assert clean.exit_code == 0, clean.output
    assert cli("verify", "--deep", repo=repo_id).exit_code == 0


def test_the_batch_rehashes_an_object_it_already_has(hub, conn, adapters, repo_id):
    from huggingface_hub import HfApi

    hubver.push(adapters[4], repo_id, **conn)
    obj = _weights_object(hub, repo_id, adapters)
    good = obj.read_bytes()
    obj.chmod(0o644)
    obj.write_bytes(good[:-7] + b"\0" * 7)  # same size, damaged
    HfApi(endpoint=hub.url, token=conn["token"]).upload_file(
        path_or_fileobj=good, path_in_repo="again.safetensors", repo_id=repo_id
    )
    assert obj.read_bytes() == good  # "already stored" was not believed: the good bytes replaced it


def test_an_administrator_removes_a_version_with_a_record(hub, api, conn, three, repo_id):
    from click.testing import CliRunner

    from hubver.cli import cli as group

    args = ["hub", "remove-version", repo_id, "v2", "--reason", "leaked data", "--by", "alice"]
    removed = CliRunner().invoke(group, [*args, "--data-dir", str(hub.data_dir)])
    assert removed.exit_code == 0, removed.output
    assert "v2" not in {t.name for t in api.list_repo_refs(repo_id).tags}
    records = [json.loads(line) for line in (hub.data_dir / "removals.jsonl").read_text().splitlines()]
    mine = [r for r in records if r["repo"] == f"model/{repo_id}"]
    assert mine == [
        {**mine[0], "version": "v2", "by": "alice", "reason": "leaked data", "commit": three[1].commit}
    ]
    again = CliRunner().invoke(group, [*args, "--data-dir", str(hub.data_dir)])
    assert again.exit_code == 1 and again.output.startswith("Error: ")
    assert not hubver.verify(repo_id, "v2", **conn)[0].ok  # a removed version is still reported


def test_versions_from_before_the_chain_are_accepted_as_its_start(
    unprotected, api, conn, adapters, repo_id, copy_of
):
    """An index and hubver.json as hubver wrote them before #11: no links, no git blob ids."""
    art = copy_of(adapters[4], "art")
    _push(art, repo_id, conn, 1)
    meta = json.loads(Path(hf_hub_download(repo_id, "hubver.json", revision="v1")).read_text())
    for f in meta["files"]:
        f.pop("git", None)
    raw = Path(hf_hub_download(repo_id, ".hubver/versions.jsonl", revision="v1")).read_text()
    entry = {k: v for k, v in json.loads(raw).items() if k not in ("prev", "branch", "metadata_blob")}
    ops = [
        CommitOperationAdd("hubver.json", json.dumps(meta).encode()),
        CommitOperationAdd(".hubver/versions.jsonl", (json.dumps(entry, sort_keys=True) + "\n").encode()),
    ]
    legacy = api.create_commit(repo_id, ops, commit_message="hubver v1").oid
    _retag(api, repo_id, "v1", legacy)
    assert hubver.get_version(repo_id, "v1", **conn).info.commit == legacy  # small files hashed instead
    v2 = _push(art, repo_id, conn, 2)
    reports = {r.version: r for r in hubver.verify(repo_id, **conn)}
    assert reports["v1"].ok and reports["v2"].ok, _problems(reports.values())
    assert hubver.get_version(repo_id, "v2", **conn).info.commit == v2.commit


def test_promote_refuses_a_tampered_version(unprotected, api, conn, three, repo_id):
    _retag(api, repo_id, "v1", three[2].commit)
    with pytest.raises(IntegrityError):
        hubver.promote(repo_id, "v1", "production", **conn)
    assert "production" not in {b.name for b in api.list_repo_refs(repo_id).branches}


def test_offline_checkout_says_it_checked_the_local_cache_only(
    cli, conn, three, repo_id, tmp_path, monkeypatch
):
    assert cli("checkout", "v1", "--to", tmp_path / "a", repo=repo_id).exit_code == 0
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    offline = cli("checkout", "v1", "--to", tmp_path / "b", repo=repo_id)
    assert offline.exit_code == 0, offline.stderr
    assert "checked against the local cache only" in offline.stderr
    assert (tmp_path / "b" / "step.txt").read_text() == "1"
    missing = cli("checkout", "v2", "--to", tmp_path / "c", repo=repo_id)
    assert missing.exit_code == 1 and "not in the local cache" in missing.stderr
