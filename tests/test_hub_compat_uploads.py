"""The embedded hub behaves like huggingface.co for uploads, pull requests, cards, LFS storage and
listings (issue 14: items 3, 4, 6, 7, 9, 10, 11), seen through the unmodified huggingface_hub client."""

from __future__ import annotations

import json

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


def test_a_hostile_gitignore_neither_fails_nor_stalls_preupload(api, repo_id):
    import time

    api.create_repo(repo_id)
    # Invalid lines (git skips them), a catastrophic-backtracking pattern, and many slow ones.
    hostile = "\\\n!\n[z-a]\n[[x]]\n" + "*a" * 20 + "b\n" + "*a*b\n" * 900 + "*.log\n"
    files = [{"path": "a" * 900 + f"{i}", "sample": "", "size": 1} for i in range(256)]
    files.append({"path": "x.log", "sample": "", "size": 1})
    start = time.monotonic()
    resp = get_session().post(
        f"{api.endpoint}/api/models/{repo_id}/preupload/main",
        json={"files": files, "gitIgnore": hostile},
        headers=api._build_hf_headers(),
    )
    assert resp.status_code == 200 and time.monotonic() - start < 15
    assert all(isinstance(f["shouldIgnore"], bool) for f in resp.json()["files"])


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
        [CommitOperationAdd("fix.txt", b"a fix")],
        commit_message="fix",
        revision="refs/pr/1",
    )
    assert _files(api, repo_id, "refs/pr/1") == {".gitattributes", "weights.bin", "fix.txt"}
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
    with pytest.raises(HfHubHTTPError) as e:  # nor through create_pr
        alice.upload_file(
            path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id, revision="refs/pr/2", create_pr=True
        )
    assert e.value.response.status_code == 403
    bob = HfApi(endpoint=hub.url, token=hub.app.tokens.create_user("bob"))
    with pytest.raises(HfHubHTTPError) as e:
        bob.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id, revision="refs/pr/1")
    assert e.value.response.status_code == 403


def test_create_pull_request_then_commit_to_it_without_write_access(api, alice, repo_id):
    api.create_repo(repo_id)
    pr = alice.create_pull_request(repo_id, title="Better weights", description="Trained longer.")
    assert (pr.num, pr.git_reference, pr.author, pr.is_pull_request) == (1, "refs/pr/1", "alice", True)
    assert pr.target_branch == "refs/heads/main" and pr.events[0].content == "Trained longer."
    alice.upload_file(
        path_or_fileobj=b"\0w" * 500, path_in_repo="w.bin", repo_id=repo_id, revision=pr.git_reference
    )
    assert "w.bin" in _files(api, repo_id, "refs/pr/1") and "w.bin" not in _files(api, repo_id)
    refs = api.list_repo_refs(repo_id, include_pull_requests=True)
    assert [r.ref for r in refs.pull_requests] == ["refs/pr/1"]
    assert api.get_discussion_details(repo_id, 1).title == "Better weights"
    with pytest.raises(HfHubHTTPError) as e:
        alice.create_discussion(repo_id, title="Just a question")
    assert e.value.response.status_code == 400


def test_a_private_repo_the_user_cannot_read_stays_hidden_from_pull_requests(api, alice, repo_id):
    api.create_repo(repo_id, private=True)
    with pytest.raises(RepositoryNotFoundError):
        alice.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id, create_pr=True)
    with pytest.raises(RepositoryNotFoundError):
        alice.create_pull_request(repo_id, title="hidden")


# -- 9. card metadata validation -------------------------------------------------------------------


GOOD_CARD = """---
license: apache-2.0
tags: [hubver, lora]
language: en
base_model: org/base
model-index:
- name: m
  results:
  - task: {type: text-generation}
    dataset: {type: wikitext, name: WikiText}
    metrics:
    - {type: perplexity, value: 12.5}
---
# A model
"""


def test_model_card_validate_accepts_good_metadata_and_lists_every_error(hub):
    from huggingface_hub import ModelCard

    ModelCard(GOOD_CARD).validate()
    bad = "---\nlicense: asdf\ntags: [1, {a: b}]\nlibrary_name: [x]\n---\ntext\n"  # tags: one string is fine
    with pytest.raises(ValueError) as e:
        ModelCard(bad, ignore_metadata_errors=True).validate()
    # ModelCard.validate raises with the body of the 400: the list of errors.
    errors = [err["message"] for err in json.loads(str(e.value))["errors"]]
    assert len(errors) == 3
    for key in ('"license"', '"tags"', '"library_name"'):
        assert any(m.startswith(key) for m in errors), key
    # ModelCard drops a model-index it cannot parse before sending; the endpoint still refuses it.
    resp = get_session().post(
        f"{hub.url}/api/validate-yaml", json={"content": "---\nmodel-index: foo\n---\n", "repoType": "model"}
    )
    assert resp.status_code == 400
    assert resp.json()["errors"] == [{"message": '"model-index" must be an array'}]
    broken_index = GOOD_CARD.replace("    - {type: perplexity, value: 12.5}\n", "    - {value: 1}\n")
    resp = get_session().post(f"{hub.url}/api/validate-yaml", json={"content": broken_index})
    assert resp.status_code == 400
    assert "model-index[0].results[0].metrics[0]" in resp.json()["errors"][0]["message"]


def test_a_card_without_metadata_is_accepted_with_a_warning(api, repo_id):
    api.create_repo(repo_id)
    with pytest.warns(UserWarning, match="empty or missing yaml metadata"):
        api.upload_file(path_or_fileobj=b"# no metadata\n", path_in_repo="README.md", repo_id=repo_id)
    with pytest.raises(ValueError, match="Invalid metadata in README.md"):
        api.upload_file(
            path_or_fileobj=b"---\nlicense: asdf\n---\n", path_in_repo="README.md", repo_id=repo_id
        )
    assert api.hf_hub_download(repo_id, "README.md") and "README.md" in _files(api, repo_id)


# -- 10. LFS files and squashing -------------------------------------------------------------------


def _version_on(api: HfApi, repo_id: str, branch: str, version: str, weights: bytes) -> None:
    """Publish what the hub counts as a hubver version: a tag on a commit whose hubver.json names it."""
    api.create_branch(repo_id, branch=branch)
    api.create_commit(
        repo_id,
        [
            CommitOperationAdd("hubver.json", json.dumps({"version": version}).encode()),
            CommitOperationAdd("version.bin", weights),
        ],
        commit_message=f"hubver {version}",
        revision=branch,
    )
    api.create_tag(repo_id, tag=version, revision=branch)


def test_lfs_files_are_listed_and_deleted_for_good_except_a_versions(api, hub, repo_id):
    api.create_repo(repo_id)
    api.upload_file(path_or_fileobj=b"\0a" * 2000, path_in_repo="a.bin", repo_id=repo_id)
    api.upload_file(path_or_fileobj=b"\0b" * 3000, path_in_repo="ckpt/b.bin", repo_id=repo_id)
    api.delete_file("ckpt/b.bin", repo_id=repo_id)  # still in history, still stored
    _version_on(api, repo_id, "release", "v1", b"\0v" * 1000)
    files = {f.filename: f for f in api.list_lfs_files(repo_id)}
    assert set(files) == {"a.bin", "ckpt/b.bin", "version.bin"}
    assert files["ckpt/b.bin"].size == 6000 and files["ckpt/b.bin"].ref is not None
    assert len(files["a.bin"].file_oid) == 64 and len(files["a.bin"].oid) == 40

    api.permanently_delete_lfs_files(repo_id, [files["ckpt/b.bin"]])
    assert {f.filename for f in api.list_lfs_files(repo_id)} == {"a.bin", "version.bin"}
    # A version's weights are protected until the version is removed, and nothing is deleted.
    with pytest.raises(HfHubHTTPError) as e:
        api.permanently_delete_lfs_files(repo_id, [files["a.bin"], files["version.bin"]])
    assert e.value.response.status_code == 403 and "v1" in str(e.value)
    assert {f.filename for f in api.list_lfs_files(repo_id)} == {"a.bin", "version.bin"}
    hub.app.store.remove_version("model", repo_id, "v1", by="admin", reason="test")
    # The branch tip still serves it: refused too, until the branch no longer holds it.
    with pytest.raises(HfHubHTTPError) as e:
        api.permanently_delete_lfs_files(repo_id, [files["version.bin"]])
    assert e.value.response.status_code == 403 and "refs/heads/release still hold" in str(e.value)
    api.delete_file("version.bin", repo_id=repo_id, revision="release")
    api.permanently_delete_lfs_files(repo_id, [files["version.bin"]])
    assert {f.filename for f in api.list_lfs_files(repo_id)} == {"a.bin"}


def test_lfs_files_page_by_link_headers_and_need_write_access(api, alice, repo_id):
    api.create_repo(repo_id)
    for i in range(3):
        api.upload_file(path_or_fileobj=bytes([0, i]) * 1000, path_in_repo=f"{i}.bin", repo_id=repo_id)
    url = f"{api.endpoint}/api/models/{repo_id}/lfs-files?limit=2"
    seen, pages = [], 0
    while url:
        resp = get_session().get(url, headers=api._build_hf_headers())
        resp.raise_for_status()
        seen += [f["filename"] for f in resp.json()]
        pages += 1
        url = resp.links.get("next", {}).get("url")
    assert sorted(seen) == ["0.bin", "1.bin", "2.bin"] and pages == 2
    with pytest.raises(HfHubHTTPError) as e:
        list(alice.list_lfs_files(repo_id))
    assert e.value.response.status_code == 403


def test_super_squash_a_branch_without_versions_and_refuse_one_with(api, repo_id):
    api.create_repo(repo_id)
    api.create_branch(repo_id, branch="scratch")
    for i in range(3):
        api.upload_file(
            path_or_fileobj=str(i).encode(), path_in_repo=f"{i}.txt", repo_id=repo_id, revision="scratch"
        )
    before = _files(api, repo_id, "scratch")
    api.super_squash_history(repo_id, branch="scratch", commit_message="squashed")
    commits = api.list_repo_commits(repo_id, revision="scratch")
    assert [c.title for c in commits] == ["squashed"]
    assert _files(api, repo_id, "scratch") == before
    _version_on(api, repo_id, "release", "v1", b"\0v" * 1000)
    with pytest.raises(HfHubHTTPError) as e:
        api.super_squash_history(repo_id, branch="release")
    assert e.value.response.status_code == 403 and "v1" in str(e.value)
    with pytest.raises(RevisionNotFoundError):
        api.super_squash_history(repo_id, branch="nope")


# -- 11. listing repos and auth-check --------------------------------------------------------------


def test_list_models_by_author_and_search_hides_others_private_repos(api, alice, hub):
    import uuid

    ns = f"lst{uuid.uuid4().hex[:8]}"
    owner = HfApi(endpoint=hub.url, token=hub.app.tokens.create_user(ns))
    for name, private in (("alpha-one", False), ("alpha-two", True), ("beta", False)):
        owner.create_repo(f"{ns}/{name}", private=private)
    owner.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=f"{ns}/alpha-one")
    assert [m.id for m in owner.list_models(author=ns)] == [
        f"{ns}/alpha-one",
        f"{ns}/alpha-two",
        f"{ns}/beta",
    ]
    assert [m.id for m in alice.list_models(author=ns)] == [f"{ns}/alpha-one", f"{ns}/beta"]
    assert [m.id for m in HfApi(endpoint=hub.url, token=False).list_models(search=f"{ns}/ALPHA")] == [
        f"{ns}/alpha-one"
    ]
    listed = list(owner.list_models(author=ns, search="alpha"))
    assert [(m.id, m.private) for m in listed] == [(f"{ns}/alpha-one", False), (f"{ns}/alpha-two", True)]
    newest = [m.id for m in owner.list_models(author=ns, sort="created_at")]
    assert newest == [f"{ns}/beta", f"{ns}/alpha-two", f"{ns}/alpha-one"]
    assert [m.id for m in owner.list_models(author=ns, sort="last_modified", limit=1)] == [f"{ns}/alpha-one"]
    # Pages follow the Link header: two repos a page, all three found.
    resp = get_session().get(
        f"{hub.url}/api/models", params={"author": ns, "limit": 2}, headers=owner._build_hf_headers()
    )
    assert len(resp.json()) == 2 and "next" in resp.links
    assert len(get_session().get(resp.links["next"]["url"], headers=owner._build_hf_headers()).json()) == 1


def test_auth_check_reads_writes_and_hides_private_repos(api, alice, hub, repo_id):
    from huggingface_hub.errors import HfHubHTTPError as HTTPError

    api.create_repo(repo_id)
    api.auth_check(repo_id)
    api.auth_check(repo_id, write=True)
    alice.auth_check(repo_id)
    HfApi(endpoint=hub.url, token=False).auth_check(repo_id)
    with pytest.raises(HTTPError) as e:
        alice.auth_check(repo_id, write=True)
    assert e.value.response.status_code == 403
    private = repo_id + "-private"
    api.create_repo(private, private=True)
    api.auth_check(private)
    with pytest.raises(RepositoryNotFoundError):
        alice.auth_check(private)
    with pytest.raises(RepositoryNotFoundError):
        alice.auth_check("tests/does-not-exist")


def test_a_run_of_stars_in_a_gitignore_cannot_freeze_the_hub(api, repo_id):
    # One line of 5000 '*' then 'a' became 5000 nested `[^/]*` in the matcher's regex: minutes of
    # backtracking per path, with every other request waiting. Runs of stars fold as git reads them.
    import time

    api.create_repo(repo_id)
    start = time.monotonic()
    resp = get_session().post(
        f"{api.endpoint}/api/models/{repo_id}/preupload/main",
        json={
            "files": [
                {"path": "x" * 900 + ".txt", "sample": "", "size": 1},
                {"path": "data", "sample": "", "size": 1},
            ],
            "gitIgnore": "*" * 5000 + "a\n" + "*" * 100 + ".txt\n",
        },
        headers=api._build_hf_headers(),
    )
    assert resp.status_code == 200 and time.monotonic() - start < 15
    assert [f["shouldIgnore"] for f in resp.json()["files"]] == [True, True]
    # 1000 two-run patterns with long literals against one 1 KiB path: ~0.1 s each, so the
    # budget must hold inside one path's matching, not only between paths.
    start = time.monotonic()
    resp = get_session().post(
        f"{api.endpoint}/api/models/{repo_id}/preupload/main",
        json={
            "files": [{"path": "x" * 1020, "sample": "", "size": 1}],
            "gitIgnore": "\n".join(["*" + "x" * 120 + "*" + "x" * 120 + "/y"] * 1000),
        },
        headers=api._build_hf_headers(),
    )
    assert resp.status_code == 200 and time.monotonic() - start < 15
