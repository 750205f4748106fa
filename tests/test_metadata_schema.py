"""The session's schema check (conftest) reads what hubver really published, and fails on a bad document."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from helpers import git_dir, hub_git_dirs, published, schema_problems

import hubver


def test_the_check_reads_every_version_hubver_pushed_to_the_session_hub(hub, hub_token, adapters, repo_id):
    hubver.push(adapters[4], repo_id, endpoint=hub.url, token=hub_token, message="rank 4")
    hubver.push(adapters[8], repo_id, endpoint=hub.url, token=hub_token, message="rank 8")

    git = git_dir(hub, repo_id)
    assert git in set(hub_git_dirs(hub.data_dir.parent))  # where conftest's check walks
    docs = {(d.tag, d.path): d for d in published(git)}
    assert set(docs) == {(v, p) for v in ("v1", "v2") for p in ("hubver.json", ".hubver/versions.jsonl")}
    assert json.loads(docs["v2", "hubver.json"].data)["message"] == "rank 8"
    assert [schema_problems(d) for d in docs.values()] == [[]] * 4


def test_tags_and_commits_made_with_the_plain_client_are_not_hubvers(api, hub, hub_token, adapters, repo_id):
    hubver.push(adapters[4], repo_id, endpoint=hub.url, token=hub_token)
    api.upload_file(
        path_or_fileobj=b"{}", path_in_repo="hubver.json", repo_id=repo_id, commit_message="hubver v2"
    )
    api.create_tag(repo_id, tag="v2")  # hubver's title, but not hubver's annotated tag
    api.create_tag(repo_id, tag="v3", tag_message="hubver version v3")  # hubver's message, a foreign title
    assert {d.tag for d in published(git_dir(hub, repo_id))} == {"v1"}


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _forged_hub(root: Path, meta: dict, index: bytes | None) -> Path:
    """A hub data dir whose one repo holds a version tagged exactly as hubver tags one."""
    work = root / "work"
    (work / ".hubver").mkdir(parents=True)
    (work / "hubver.json").write_text(json.dumps(meta))
    if index is not None:
        (work / ".hubver" / "versions.jsonl").write_bytes(index)
    _git("init", "-q", "-b", "main", cwd=work)
    _git("add", "-A", cwd=work)
    _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", f"hubver {meta['version']}", cwd=work)
    _git("-c", "user.name=t", "-c", "user.email=t@t", "tag", "-a", meta["version"], "-m",
         f"hubver version {meta['version']}", cwd=work)  # fmt: skip
    bare = root / "data" / "repos" / "models" / "org" / "forged.git"
    _git("clone", "-q", "--bare", str(work), str(bare), cwd=root)
    return bare


def test_a_broken_document_fails_the_check_naming_the_file_and_the_field(
    hub, hub_token, adapters, repo_id, tmp_path
):
    hubver.push(adapters[4], repo_id, endpoint=hub.url, token=hub_token)
    good = {d.path: d.data for d in published(git_dir(hub, repo_id))}
    meta = json.loads(good["hubver.json"])
    meta["files"][0]["sha256"] = "not-a-sha256"
    meta["created_at"] = "yesterday"
    del meta["digest"]
    entry = json.loads(good[".hubver/versions.jsonl"])
    entry["lora_rank"] = "4"

    root = tmp_path / "forged"  # removed below: the session's own check must not see it
    try:
        # Lines of other versions are carried over as found (others may have edited them): not checked.
        earlier = b'{not json\n{"version": "v0", "lora_rank": []}\n'
        bare = _forged_hub(root, meta, earlier + json.dumps(entry).encode() + b"\n")
        assert list(hub_git_dirs(root)) == [bare]
        problems = [p for d in published(bare) for p in schema_problems(d)]
    finally:
        shutil.rmtree(root)

    where = f"{bare} @ v1: "
    assert any(p.startswith(where + "hubver.json: at $.files[0].sha256:") for p in problems), problems
    assert any(p.startswith(where + "hubver.json: at $.created_at:") for p in problems), problems
    assert any(p.startswith(where + "hubver.json: at $:") and "'digest'" in p for p in problems), problems
    assert any(p.startswith(where + ".hubver/versions.jsonl line 3: at $.lora_rank:") for p in problems)
    assert len(problems) == 4, problems


def test_a_version_without_its_index_is_reported(tmp_path):
    root = tmp_path / "forged"
    try:
        bare = _forged_hub(root, {"version": "v1"}, None)
        docs = {d.path: d for d in published(bare)}
        assert schema_problems(docs[".hubver/versions.jsonl"]) == [
            f"{bare} @ v1: .hubver/versions.jsonl: missing"
        ]
        assert len(schema_problems(docs["hubver.json"])) == 18  # one per key it lacks
    finally:
        shutil.rmtree(root)


def test_an_index_without_the_versions_own_line_is_reported(tmp_path):
    root = tmp_path / "forged"
    try:
        bare = _forged_hub(root, {"version": "v2"}, b'{"version": "v1"}\n')
        index = next(d for d in published(bare) if d.path != "hubver.json")
        assert schema_problems(index) == [f"{bare} @ v2: .hubver/versions.jsonl: no line for v2"]
    finally:
        shutil.rmtree(root)
