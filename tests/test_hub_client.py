"""The unmodified huggingface_hub client against the embedded hub, over real HTTP."""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import git_dir, lfs_objects, recorded_requests, sha256
from huggingface_hub import (
    HfApi,
    ModelCard,
    file_exists,
    hf_hub_download,
    snapshot_download,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

MB = 1000 * 1000
MiB = 1 << 20


@dataclass
class Versioned:
    """A repo with two tagged uploads: v1 (and release/1.0) then v2."""

    repo_id: str
    v1: str  # commit ids
    v2: str
    initial: str
    lfs_basic: bytes  # weights.bin, in v1 and v2
    lfs_multipart: bytes  # big.bin, only in v2
    v1_requests: list
    v2_requests: list


@pytest.fixture(scope="module")
def versioned(hub, hub_token, tmp_path_factory) -> Versioned:
    api = HfApi(endpoint=hub.url, token=hub_token)
    repo_id = f"tests/client-{uuid.uuid4().hex[:10]}"
    api.create_repo(repo_id)
    initial = api.model_info(repo_id).sha

    # ≥ 20 MB goes through LFS "basic"; above the session hub's 24 MiB threshold, "multipart".
    lfs_basic = os.urandom(21 * MB)
    lfs_multipart = os.urandom(25 * MiB + 12345)

    folder = tmp_path_factory.mktemp("v1")
    (folder / "config.json").write_text(json.dumps({"version": 1}))
    (folder / "weights.bin").write_bytes(lfs_basic)
    (folder / "sub").mkdir()
    (folder / "sub" / "nested.txt").write_text("nested\n")
    with recorded_requests(hub.app) as v1_requests:
        v1 = api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message="v1 upload").oid
    api.create_tag(repo_id, tag="v1", revision=v1)
    api.create_tag(repo_id, tag="release/1.0", revision="v1", tag_message="first release")

    folder = tmp_path_factory.mktemp("v2")
    (folder / "config.json").write_text(json.dumps({"version": 2}))
    (folder / "big.bin").write_bytes(lfs_multipart)
    with recorded_requests(hub.app) as v2_requests:
        v2 = api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message="v2 upload").oid
    api.create_tag(repo_id, tag="v2")
    return Versioned(repo_id, v1, v2, initial, lfs_basic, lfs_multipart, v1_requests, v2_requests)


def test_create_repo_exist_ok(api, repo_id, hub):
    url = api.create_repo(repo_id)
    assert url.repo_id == repo_id
    assert str(url) == f"{hub.url}/{repo_id}"
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.create_repo(repo_id)
    assert excinfo.value.response.status_code == 409
    assert api.create_repo(repo_id, exist_ok=True).repo_id == repo_id
    assert git_dir(hub, repo_id).is_dir()


def test_upload_folder_uses_lfs_basic_then_multipart(versioned, hub):
    v1_kinds = [r.path.split("/")[1] for r in versioned.v1_requests]
    assert v1_kinds.count("lfs-upload") == 1 and "lfs-part" not in v1_kinds
    v2_kinds = [r.path.split("/")[1] for r in versioned.v2_requests]
    # 25 MiB in 10 MiB parts: three part uploads, then one completion.
    assert v2_kinds.count("lfs-part") == 3
    assert v2_kinds.count("lfs-complete") == 1
    assert "lfs-upload" not in v2_kinds

    stored = {p.name: p.stat().st_size for p in lfs_objects(hub, versioned.repo_id)}
    assert stored == {
        sha256(versioned.lfs_basic): len(versioned.lfs_basic),
        sha256(versioned.lfs_multipart): len(versioned.lfs_multipart),
    }
    # The parts of the multipart upload were assembled and cleaned up.
    tmp = git_dir(hub, versioned.repo_id) / "lfs" / "tmp"
    assert not tmp.exists() or not any(tmp.iterdir())


def test_list_repo_refs(api, versioned):
    refs = api.list_repo_refs(versioned.repo_id)
    assert {(b.name, b.ref, b.target_commit) for b in refs.branches} == {
        ("main", "refs/heads/main", versioned.v2)
    }
    assert {(t.name, t.ref, t.target_commit) for t in refs.tags} == {
        ("v1", "refs/tags/v1", versioned.v1),
        ("release/1.0", "refs/tags/release/1.0", versioned.v1),
        ("v2", "refs/tags/v2", versioned.v2),
    }
    assert refs.converts == []


def test_list_repo_commits(api, versioned):
    at_main = api.list_repo_commits(versioned.repo_id)
    assert [c.commit_id for c in at_main] == [versioned.v2, versioned.v1, versioned.initial]
    assert [c.title for c in at_main] == ["v2 upload", "v1 upload", "initial commit"]
    assert all(c.authors == ["admin"] for c in at_main)
    at_tag = api.list_repo_commits(versioned.repo_id, revision="release/1.0")
    assert [c.commit_id for c in at_tag] == [versioned.v1, versioned.initial]


def test_list_repo_tree(api, versioned):
    tree = {e.path: e for e in api.list_repo_tree(versioned.repo_id, revision="v1", recursive=True)}
    assert set(tree) == {".gitattributes", "config.json", "weights.bin", "sub", "sub/nested.txt"}
    weights = tree["weights.bin"]
    assert weights.size == len(versioned.lfs_basic)
    assert weights.lfs.sha256 == sha256(versioned.lfs_basic)
    assert weights.lfs.size == len(versioned.lfs_basic)
    assert tree["config.json"].lfs is None
    assert type(tree["sub"]).__name__ == "RepoFolder"

    top = {e.path for e in api.list_repo_tree(versioned.repo_id, revision="v2")}
    assert top == {".gitattributes", "config.json", "weights.bin", "big.bin", "sub"}
    nested = [e.path for e in api.list_repo_tree(versioned.repo_id, path_in_repo="sub", revision="v1")]
    assert nested == ["sub/nested.txt"]


def test_get_paths_info(api, versioned):
    infos = api.get_paths_info(
        versioned.repo_id, ["config.json", "weights.bin", "sub", "big.bin", "missing.txt"], revision="v1"
    )
    by_path = {i.path: i for i in infos}
    # big.bin only exists from v2 on; missing paths are left out, not errors.
    assert set(by_path) == {"config.json", "weights.bin", "sub"}
    assert by_path["weights.bin"].lfs.sha256 == sha256(versioned.lfs_basic)
    assert by_path["config.json"].size == len(json.dumps({"version": 1}))
    assert type(by_path["sub"]).__name__ == "RepoFolder"


def test_model_info_at_revision(api, versioned):
    info = api.model_info(versioned.repo_id, revision="v1", files_metadata=True)
    assert info.id == versioned.repo_id
    assert info.sha == versioned.v1
    siblings = {s.rfilename: s for s in info.siblings}
    assert set(siblings) == {".gitattributes", "config.json", "weights.bin", "sub/nested.txt"}
    assert siblings["weights.bin"].lfs.sha256 == sha256(versioned.lfs_basic)
    assert siblings["weights.bin"].size == len(versioned.lfs_basic)
    assert api.model_info(versioned.repo_id, revision="release/1.0").sha == versioned.v1
    assert api.model_info(versioned.repo_id).sha == versioned.v2
    with pytest.raises(RevisionNotFoundError):
        api.model_info(versioned.repo_id, revision="v3")


def test_hf_hub_download_at_each_tag(versioned, hf_cache):
    def config_at(rev: str) -> dict:
        path = hf_hub_download(versioned.repo_id, "config.json", revision=rev, cache_dir=hf_cache)
        return json.loads(Path(path).read_text())

    assert config_at("v1") == {"version": 1}
    assert config_at("release/1.0") == {"version": 1}
    assert config_at("v2") == {"version": 2}
    assert config_at(versioned.v1) == {"version": 1}
    assert config_at("main") == {"version": 2}

    weights = hf_hub_download(versioned.repo_id, "weights.bin", revision="v1", cache_dir=hf_cache)
    assert Path(weights).read_bytes() == versioned.lfs_basic
    big = hf_hub_download(versioned.repo_id, "big.bin", revision="v2", cache_dir=hf_cache)
    assert Path(big).read_bytes() == versioned.lfs_multipart
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(versioned.repo_id, "big.bin", revision="v1", cache_dir=hf_cache)
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(versioned.repo_id, "config.json", revision="nope", cache_dir=hf_cache)


def test_snapshot_download_at_tag_then_warm(versioned, hub, hf_cache):
    folder = snapshot_download(versioned.repo_id, revision="v1", cache_dir=hf_cache)
    assert folder.endswith(versioned.v1)
    files = sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs)
    assert files == [".gitattributes", "config.json", "sub/nested.txt", "weights.bin"]
    assert Path(os.path.join(folder, "weights.bin")).read_bytes() == versioned.lfs_basic

    with recorded_requests(hub.app) as seen:
        again = snapshot_download(versioned.repo_id, revision="v1", cache_dir=hf_cache)
    assert again == folder
    assert [(r.method, r.path) for r in seen] == [("GET", f"/api/models/{versioned.repo_id}/revision/v1")]


def test_file_exists(versioned):
    assert file_exists(versioned.repo_id, "config.json", revision="v1")
    assert file_exists(versioned.repo_id, "big.bin", revision="v2")
    assert file_exists(versioned.repo_id, "big.bin", revision="v1") is False
    assert file_exists(versioned.repo_id, "no/such/file.txt") is False


def test_create_and_delete_branch(api, repo_id, hf_cache):
    api.create_repo(repo_id)
    first = api.upload_file(path_or_fileobj=b"one", path_in_repo="a.txt", repo_id=repo_id).oid
    api.create_branch(repo_id, branch="dev", revision=first)
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.create_branch(repo_id, branch="dev")
    assert excinfo.value.response.status_code == 409
    api.create_branch(repo_id, branch="dev", exist_ok=True)

    on_dev = api.upload_file(
        path_or_fileobj=b"two", path_in_repo="a.txt", repo_id=repo_id, revision="dev"
    ).oid
    refs = api.list_repo_refs(repo_id)
    assert {b.name: b.target_commit for b in refs.branches} == {"main": first, "dev": on_dev}
    path = hf_hub_download(repo_id, "a.txt", revision="dev", cache_dir=hf_cache)
    assert Path(path).read_bytes() == b"two"

    api.delete_branch(repo_id, branch="dev")
    assert [b.name for b in api.list_repo_refs(repo_id).branches] == ["main"]
    with pytest.raises(RevisionNotFoundError):
        api.model_info(repo_id, revision="dev")
    with pytest.raises(HfHubHTTPError):
        api.delete_branch(repo_id, branch="main")


def test_delete_tag(api, repo_id):
    api.create_repo(repo_id)
    api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id)
    api.create_tag(repo_id, tag="team/v1")
    api.create_tag(repo_id, tag="v1")
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.create_tag(repo_id, tag="v1")
    assert excinfo.value.response.status_code == 409

    api.delete_tag(repo_id, tag="team/v1")
    assert [t.name for t in api.list_repo_refs(repo_id).tags] == ["v1"]
    with pytest.raises(RevisionNotFoundError):
        api.model_info(repo_id, revision="team/v1")
    with pytest.raises(RevisionNotFoundError):
        api.delete_tag(repo_id, tag="team/v1")
    # The name is free again, even as a directory of other tags.
    api.create_tag(repo_id, tag="team/v1/rc")
    assert {t.name for t in api.list_repo_refs(repo_id).tags} == {"v1", "team/v1/rc"}


def test_delete_file(api, repo_id):
    api.create_repo(repo_id)
    api.upload_file(path_or_fileobj=b"keep", path_in_repo="keep.txt", repo_id=repo_id)
    before = api.upload_file(path_or_fileobj=b"drop", path_in_repo="dir/drop.txt", repo_id=repo_id).oid
    api.create_tag(repo_id, tag="before")
    api.delete_file("dir/drop.txt", repo_id=repo_id)
    assert not file_exists(repo_id, "dir/drop.txt")
    assert file_exists(repo_id, "dir/drop.txt", revision="before")
    assert {e.path for e in api.list_repo_tree(repo_id)} == {".gitattributes", "keep.txt"}
    assert api.list_repo_commits(repo_id)[1].commit_id == before
    with pytest.raises(EntryNotFoundError):
        api.delete_file("dir/drop.txt", repo_id=repo_id)


def test_model_card_push_to_hub(api, repo_id, hub_token, hf_cache):
    api.create_repo(repo_id)
    content = "---\nlicense: apache-2.0\nlibrary_name: peft\ntags:\n- hubver\n---\n\n# A model\n\nHello.\n"
    ModelCard(content).push_to_hub(repo_id, token=hub_token)
    info = api.model_info(repo_id)
    assert info.card_data["license"] == "apache-2.0"
    assert info.library_name == "peft"
    assert "hubver" in info.tags
    card = ModelCard.load(repo_id)
    assert card.data.license == "apache-2.0"
    assert card.text.strip() == "# A model\n\nHello."
    readme = hf_hub_download(repo_id, "README.md", cache_dir=hf_cache)
    assert Path(readme).read_text() == content


def test_delete_repo(api, repo_id, hub):
    api.create_repo(repo_id)
    api.delete_repo(repo_id)
    assert not git_dir(hub, repo_id).exists()
    with pytest.raises(RepositoryNotFoundError):
        api.model_info(repo_id)
    with pytest.raises(RepositoryNotFoundError):
        api.delete_repo(repo_id)
    api.delete_repo(repo_id, missing_ok=True)
    # The name can be used again.
    api.create_repo(repo_id)
    assert api.list_repo_commits(repo_id)[0].title == "initial commit"


def test_small_responses_are_not_delayed(api, repo_id):
    # Regression: a listening socket created with proto 0 made asyncio skip TCP_NODELAY, so
    # Nagle and delayed ACKs held back every response body by ~40 ms.
    api.create_repo(repo_id)
    timings = []
    for _ in range(21):
        start = time.perf_counter()
        api.list_repo_refs(repo_id)
        timings.append(time.perf_counter() - start)
    assert statistics.median(timings) < 0.02, timings


def test_create_pr_opens_a_pull_request_ref(api, repo_id, tmp_path):
    """create_commit(create_pr=True): the commit lands on refs/pr/N, the branch does not move."""
    from huggingface_hub import CommitOperationAdd, hf_hub_download

    api.create_repo(repo_id)
    main_before = api.list_repo_refs(repo_id).branches[0].target_commit
    info = api.create_commit(
        repo_id,
        [CommitOperationAdd("proposal.txt", b"please merge")],
        commit_message="a proposal",
        create_pr=True,
    )
    assert info.pr_url.endswith("/discussions/1") and info.pr_revision == "refs/pr/1"
    refs = api.list_repo_refs(repo_id, include_pull_requests=True)
    assert refs.branches[0].target_commit == main_before
    assert [(p.ref, p.target_commit) for p in refs.pull_requests] == [("refs/pr/1", info.oid)]
    got = hf_hub_download(repo_id, "proposal.txt", revision="refs/pr/1", cache_dir=tmp_path)
    assert Path(got).read_bytes() == b"please merge"
    assert not api.file_exists(repo_id, "proposal.txt")  # main is untouched
    second = api.create_commit(
        repo_id, [CommitOperationAdd("other.txt", b"x")], commit_message="another", create_pr=True
    )
    assert second.pr_revision == "refs/pr/2"
