"""The embedded hub behaves like huggingface.co for uploads, pull requests, cards, LFS storage and
listings (issue 14: items 3, 4, 6, 7, 9, 10, 11), seen through the unmodified huggingface_hub client."""

from __future__ import annotations

import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, get_session
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

MiB = 1 << 20


def _files(api: HfApi, repo_id: str, revision: str = "main") -> set[str]:
    return set(api.list_repo_files(repo_id, revision=revision))


# -- 3. .gitignore at preupload ------------------------------------------------------------------


def test_upload_folder_skips_what_the_gitignore_in_the_same_commit_ignores(api, repo_id, tmp_path):
    api.create_repo(repo_id)
    folder = tmp_path / "up"
    (folder / "logs").mkdir(parents=True)
    (folder / ".gitignore").write_text("*.log\nlogs/\n!keep.log\n")
    (folder / "a.log").write_text("noise")
    (folder / "keep.log").write_text("kept by the negation")
    (folder / "logs" / "x.txt").write_text("in an ignored folder")
    (folder / "weights.bin").write_bytes(b"\0" * 1000)  # an LFS file that is not ignored
    (folder / "debug.log.bin").write_bytes(b"\0" * 1000)  # LFS, but not matched by *.log
    api.upload_folder(repo_id=repo_id, folder_path=folder)
    assert _files(api, repo_id) == {
        ".gitattributes",
        ".gitignore",
        "keep.log",
        "weights.bin",
        "debug.log.bin",
    }


def test_upload_folder_skips_what_the_repos_gitignore_ignores(api, repo_id, tmp_path):
    api.create_repo(repo_id)
    api.upload_file(path_or_fileobj=b"*.tmp\n/build/\n", path_in_repo=".gitignore", repo_id=repo_id)
    folder = tmp_path / "up"
    (folder / "build").mkdir(parents=True)
    (folder / "sub" / "build").mkdir(parents=True)
    (folder / "a.tmp").write_text("x")
    (folder / "big.tmp").write_bytes(b"\0" * 2000)  # an LFS file: not uploaded either
    (folder / "build" / "out.txt").write_text("anchored: ignored")
    (folder / "sub" / "build" / "out.txt").write_text("not at the root: kept")
    (folder / "model.txt").write_text("kept")
    api.upload_folder(repo_id=repo_id, folder_path=folder)
    assert _files(api, repo_id) == {".gitattributes", ".gitignore", "sub/build/out.txt", "model.txt"}
    # The answer itself, as the client reads it.
    r = api._build_hf_headers()

    resp = get_session().post(
        f"{api.endpoint}/api/models/{repo_id}/preupload/main",
        json={
            "files": [{"path": "x.tmp", "sample": "", "size": 1}, {"path": "x.txt", "sample": "", "size": 1}]
        },
        headers=r,
    )
    assert [f["shouldIgnore"] for f in resp.json()["files"]] == [True, False]


# -- 4. deleting a folder --------------------------------------------------------------------------


def test_a_deleted_file_line_naming_a_folder_deletes_the_folder(api, repo_id):
    api.create_repo(repo_id)
    api.create_commit(
        repo_id,
        [
            CommitOperationAdd("ckpt/a.txt", b"a"),
            CommitOperationAdd("ckpt/sub/b.txt", b"b"),
            CommitOperationAdd("ckpt2/c.txt", b"c"),
            CommitOperationAdd("other/d.txt", b"d"),
        ],
        commit_message="files",
    )
    # No trailing slash: the client sends a deletedFile line (is_folder="auto" sees no "/").
    api.create_commit(repo_id, [CommitOperationDelete("ckpt")], commit_message="drop ckpt")
    assert _files(api, repo_id) == {".gitattributes", "ckpt2/c.txt", "other/d.txt"}
    # deletedFolder still works, and deleting what is not there is still a 404.
    api.create_commit(repo_id, [CommitOperationDelete("other/", is_folder=True)], commit_message="drop other")
    assert _files(api, repo_id) == {".gitattributes", "ckpt2/c.txt"}
    with pytest.raises(HfHubHTTPError) as e:
        api.create_commit(repo_id, [CommitOperationDelete("missing")], commit_message="nothing")
    assert e.value.response.status_code == 404


# -- 6. commits onto a pull request ----------------------------------------------------------------


def test_commits_go_onto_an_existing_pull_request(api, repo_id):
    api.create_repo(repo_id)
    info = api.upload_file(path_or_fileobj=b"v1", path_in_repo="a.txt", repo_id=repo_id, create_pr=True)
    assert info.pr_revision == "refs/pr/1"
    main_before = api.repo_info(repo_id).sha
    api.upload_file(path_or_fileobj=b"more", path_in_repo="b.txt", repo_id=repo_id, revision="refs/pr/1")
    api.create_commit(
        repo_id,
        [CommitOperationAdd("weights.bin", b"\0" * 3000), CommitOperationDelete("a.txt")],
        commit_message="on the PR",
        revision="refs/pr/1",
    )
    assert _files(api, repo_id, "refs/pr/1") == {".gitattributes", "b.txt", "weights.bin"}
    assert api.repo_info(repo_id).sha == main_before  # main did not move
    assert [c.title for c in api.list_repo_commits(repo_id, revision="refs/pr/1")][:2] == [
        "on the PR",
        "Upload b.txt with huggingface_hub",
    ]
    with pytest.raises(RevisionNotFoundError):
        api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id, revision="refs/pr/7")


# -- 7. pull requests from users without write access ----------------------------------------------


@pytest.fixture
def alice(hub) -> HfApi:
    """A user who owns nothing in the `tests` namespace."""
    return HfApi(endpoint=hub.url, token=hub.app.tokens.create_user("alice"))


def test_a_user_without_write_access_opens_and_updates_a_pull_request(api, alice, hub, repo_id):
    api.create_repo(repo_id)
    main_sha = api.repo_info(repo_id).sha
    info = alice.upload_file(
        path_or_fileobj=b"\0" * 4000, path_in_repo="weights.bin", repo_id=repo_id, create_pr=True
    )
    assert info.pr_revision == "refs/pr/1"
    alice.create_commit(
        repo_id,
        [CommitOperationAdd("README.md", b"a fix")],
        commit_message="fix",
        revision="refs/pr/1",
    )
    assert _files(api, repo_id, "refs/pr/1") == {".gitattributes", "weights.bin", "README.md"}
    assert api.repo_info(repo_id).sha == main_sha
    # Everything else still needs write access.
    with pytest.raises(HfHubHTTPError) as e:
        alice.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id)
    assert e.value.response.status_code == 403
    # A pull request someone else opened is not theirs to push to.
    api.upload_file(path_or_fileobj=b"admin", path_in_repo="y.txt", repo_id=repo_id, create_pr=True)
    with pytest.raises(HfHubHTTPError) as e:
        alice.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id, revision="refs/pr/2")
    assert e.value.response.status_code == 403
    bob = HfApi(endpoint=hub.url, token=hub.app.tokens.create_user("bob"))
    with pytest.raises(HfHubHTTPError) as e:
        bob.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id, revision="refs/pr/1")
    assert e.value.response.status_code == 403


def test_a_private_repo_the_user_cannot_read_stays_hidden_from_pull_requests(api, alice, repo_id):
    api.create_repo(repo_id, private=True)
    with pytest.raises(RepositoryNotFoundError):
        alice.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id, create_pr=True)
