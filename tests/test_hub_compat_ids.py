"""How the embedded hub reads repo ids and revisions, as huggingface.co does (issue 14a).

Every test drives the unmodified huggingface_hub client (or a raw request where the client
cannot send the case) against the session's embedded hub.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import git_dir, raw_request
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

# -- 1. repo ids without a namespace ------------------------------------------------------------


def test_a_repo_id_without_namespace_is_a_missing_repo(hub, api):
    assert api.repo_exists("gpt2") is False
    assert api.revision_exists("gpt2", "main") is False
    assert api.file_exists("gpt2", "config.json") is False
    assert HfApi(endpoint=hub.url, token=False).file_exists("gpt2", "config.json") is False
    assert api.repo_exists("squad", repo_type="dataset") is False
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("gpt2")
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("gpt2", revision="main")
    with pytest.raises(RepositoryNotFoundError):
        api.list_repo_commits("gpt2")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("gpt2", "config.json", endpoint=hub.url)
    for method, path in [
        ("GET", "/api/models/gpt2"),
        ("GET", "/api/models/gpt2/revision/main"),
        ("GET", "/api/models/gpt2/commits/main"),
        ("HEAD", "/gpt2/resolve/main/config.json"),
        ("GET", "/gpt2/resolve/main/config.json"),
        ("GET", "/datasets/squad/resolve/main/README.md"),
    ]:
        status, headers, _ = raw_request(hub.url, method, path)
        assert (status, headers.get("x-error-code")) == (404, "RepoNotFound"), (method, path)
    # The name is still checked: an id no repo can have is a 400, not a 404.
    status, _, _ = raw_request(hub.url, "GET", "/api/models/bad..name")
    assert status == 400


def test_from_pretrained_of_a_canonical_id_says_the_repo_is_missing(hub):
    transformers = pytest.importorskip("transformers")
    with pytest.raises(OSError, match="not a valid model identifier"):
        transformers.AutoConfig.from_pretrained("gpt2")


# -- 2. short commit ids ----------------------------------------------------------------------


def test_short_commit_ids_resolve_wherever_a_revision_is_accepted(hub, api, repo_id, tmp_path):
    api.create_repo(repo_id)
    full = api.upload_file(path_or_fileobj=b"hello", path_in_repo="a.txt", repo_id=repo_id).oid
    api.upload_file(path_or_fileobj=b"later", path_in_repo="b.txt", repo_id=repo_id)
    for short in (full[:7], full[:12], full[:39]):
        info = api.model_info(repo_id, revision=short)
        assert info.sha == full
        assert sorted(s.rfilename for s in info.siblings) == [".gitattributes", "a.txt"]
        assert [c.commit_id for c in api.list_repo_commits(repo_id, revision=short)][0] == full
        assert {f.path for f in api.list_repo_tree(repo_id, revision=short)} == {".gitattributes", "a.txt"}
        assert api.revision_exists(repo_id, short)
    path = hf_hub_download(repo_id, "a.txt", revision=full[:7], cache_dir=tmp_path, endpoint=hub.url)
    assert Path(path).read_bytes() == b"hello"
    status, headers, _ = raw_request(hub.url, "HEAD", f"/{repo_id}/resolve/{full[:8]}/a.txt")
    assert status == 200 and headers["x-repo-commit"] == full

    api.create_tag(repo_id, tag="v1", revision=full[:7])
    (tag,) = api.list_repo_refs(repo_id).tags
    assert tag.target_commit == full

    # Fewer than 7 characters is not an abbreviation; a prefix of no commit is not found.
    assert not api.revision_exists(repo_id, full[:6])
    assert not api.revision_exists(repo_id, "0000000")


def test_an_ambiguous_short_commit_id_is_a_clear_404(hub, api, repo_id):
    api.create_repo(repo_id)
    api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id)
    # Two fake commits sharing a 7-character prefix: plant loose objects with crafted names
    # (their content is never read, the prefix search only lists names and headers).
    from hubver.server.gitstore import ObjectStore

    objects = ObjectStore(git_dir(hub, repo_id) / "objects")
    real = api.model_info(repo_id).sha
    raw = (objects.dir / real[:2] / real[2:]).read_bytes()
    # Their 8th character differs from the real one's, so 8 characters are unique again.
    for c in [c for c in "0123456789abcdef" if c != real[7]][:2]:
        twin = real[:7] + c * 33
        (objects.dir / twin[:2]).mkdir(exist_ok=True)
        (objects.dir / twin[:2] / twin[2:]).write_bytes(raw)
    with pytest.raises(RevisionNotFoundError, match="ambiguous"):
        api.model_info(repo_id, revision=real[:7])
    # One more character makes it unique again.
    assert api.model_info(repo_id, revision=real[:8]).sha == real


# -- 5. repo ids are case-insensitive ------------------------------------------------------------


def test_repo_ids_are_case_insensitive_and_answers_use_the_created_casing(hub, api, repo_id, tmp_path):
    namespace, name = repo_id.split("/")
    canonical = f"{namespace}/My-{name}"
    api.create_repo(canonical)
    other = f"{namespace.upper()}/my-{name.upper()}"
    lower = canonical.lower()
    # Writes and reads under any casing reach the one repository.
    commit = api.upload_file(path_or_fileobj=b"hi", path_in_repo="a.txt", repo_id=lower)
    assert commit.repo_url.repo_id == canonical
    for rid in (lower, other, canonical):
        info = api.model_info(rid)
        assert (info.id, info.sha, info.author) == (canonical, commit.oid, namespace)
        assert api.file_exists(rid, "a.txt")
    api.create_tag(other, tag="v1")
    assert [t.name for t in api.list_repo_refs(lower).tags] == ["v1"]
    path = hf_hub_download(other, "a.txt", cache_dir=tmp_path, endpoint=hub.url)
    assert Path(path).read_bytes() == b"hi"

    # Creating the same id in another casing is a 409 naming the existing repo ...
    from huggingface_hub.errors import HfHubHTTPError

    with pytest.raises(HfHubHTTPError) as excinfo:
        api.create_repo(other)
    assert excinfo.value.response.status_code == 409
    assert excinfo.value.response.json()["url"].endswith(f"/{canonical}")
    # ... and exist_ok hands back the existing repo's URL.
    assert api.create_repo(other, exist_ok=True).repo_id == canonical
    assert not git_dir(hub, other).exists()

    api.delete_repo(other)
    assert not api.repo_exists(canonical)


# -- 8. move_repo ------------------------------------------------------------------------------


def test_move_repo_renames_with_versions_and_the_old_id_redirects(hub, api, repo_id, tmp_path):
    api.create_repo(repo_id)
    sha = api.upload_file(path_or_fileobj=b"w" * 100, path_in_repo="w.bin", repo_id=repo_id).oid
    api.create_tag(repo_id, tag="v1", tag_message="hubver version v1")
    new_id = f"{repo_id}-renamed"
    api.move_repo(repo_id, new_id)

    info = api.model_info(new_id)
    assert (info.id, info.sha) == (new_id, sha)
    assert [(t.name, t.target_commit) for t in api.list_repo_refs(new_id).tags] == [("v1", sha)]
    # The old id: GET and HEAD are redirected (307, relative) and the client follows.
    assert api.model_info(repo_id).id == new_id
    assert api.model_info(repo_id, revision="v1").sha == sha
    assert api.file_exists(repo_id, "w.bin")
    path = hf_hub_download(repo_id, "w.bin", revision="v1", cache_dir=tmp_path, endpoint=hub.url)
    assert Path(path).read_bytes() == b"w" * 100
    status, headers, _ = raw_request(hub.url, "GET", f"/api/models/{repo_id}/revision/v1?blobs=1")
    assert (status, headers["location"]) == (307, f"/api/models/{new_id}/revision/v1?blobs=1")
    status, headers, _ = raw_request(hub.url, "HEAD", f"/{repo_id}/resolve/main/w.bin")
    assert (status, headers["location"]) == (307, f"/{new_id}/resolve/main/w.bin")
    # A repository created at the old id again is that repository, not the redirect.
    api.create_repo(repo_id)
    assert api.model_info(repo_id).id == repo_id
    api.delete_repo(repo_id)
    # Deleting the moved repository ends the redirect: the old id is simply missing.
    api.delete_repo(new_id)
    assert not api.repo_exists(repo_id)


def test_a_moved_private_repo_tells_its_new_name_only_to_who_may_see_it(hub, api, repo_id):
    api.create_repo(repo_id, private=True)
    api.move_repo(repo_id, f"{repo_id}-secret")
    assert api.model_info(repo_id).id == f"{repo_id}-secret"
    anonymous = HfApi(endpoint=hub.url, token=False)
    with pytest.raises(RepositoryNotFoundError):
        anonymous.model_info(repo_id)
    for path in (f"/api/models/{repo_id}", f"/api/models/{repo_id}/tree/main", f"/{repo_id}/resolve/main/x"):
        status, headers, body = raw_request(hub.url, "GET", path)
        assert (status, headers.get("x-error-code")) == (404, "RepoNotFound") and "location" not in headers
        # Neither the new name nor that the repo exists: the answer of a repo that never was.
        assert "secret" not in body.decode() and "secret" not in headers.get("x-error-message", "")


def test_move_repo_needs_write_access_on_both_sides(hub, api, repo_id):
    from huggingface_hub.errors import HfHubHTTPError

    api.create_repo(repo_id)
    token = hub.app.tokens.create_user(f"mover-{repo_id[-6:]}")
    user = HfApi(endpoint=hub.url, token=token)
    with pytest.raises(HfHubHTTPError) as excinfo:  # not theirs
        user.move_repo(repo_id, f"{user.whoami()['name']}/stolen")
    assert excinfo.value.response.status_code == 403
    mine = f"{user.whoami()['name']}/mine"
    user.create_repo(mine)
    with pytest.raises(HfHubHTTPError) as excinfo:  # into a namespace they cannot write
        user.move_repo(mine, f"{repo_id}-theirs")
    assert excinfo.value.response.status_code == 403
    api.create_repo(f"{repo_id}-taken")
    with pytest.raises(HfHubHTTPError) as excinfo:  # onto an existing repo, in any casing
        api.move_repo(repo_id, f"{repo_id}-TAKEN")
    assert excinfo.value.response.status_code == 409
    with pytest.raises(RepositoryNotFoundError):
        api.move_repo(f"{repo_id}-missing", f"{repo_id}-x")
    assert api.repo_exists(repo_id)


# -- 12. status codes ----------------------------------------------------------------------------


def test_status_codes_follow_the_hub(hub, api, repo_id):
    from huggingface_hub import CommitOperationAdd
    from huggingface_hub.errors import HfHubHTTPError

    api.create_repo(repo_id)
    sha = api.model_info(repo_id).sha
    add = [CommitOperationAdd(path_in_repo="x.txt", path_or_fileobj=b"x")]
    # A pull request (or a commit) against a commit id: 404 RevisionNotFound, not 400.
    for create_pr in (True, False):
        with pytest.raises(RevisionNotFoundError):
            api.create_commit(repo_id, add, commit_message="m", revision=sha, create_pr=create_pr)
    # An invalid tag name on a missing revision: the revision is checked first.
    with pytest.raises(RevisionNotFoundError):
        api.create_tag(repo_id, tag="bad..name", revision="no-such-branch")
    with pytest.raises(HfHubHTTPError) as excinfo:  # on an existing revision, the name's 400
        api.create_tag(repo_id, tag="bad..name", revision="main")
    assert excinfo.value.response.status_code == 400
    # A Windows-style path: refused, with the Hub's 422.
    for path in ("..\\ddd", "a\\b.txt"):
        with pytest.raises(HfHubHTTPError) as excinfo:
            api.upload_file(path_or_fileobj=b"x", path_in_repo=path, repo_id=repo_id)
        assert excinfo.value.response.status_code == 422, path
    status, headers, _ = raw_request(hub.url, "GET", f"/{repo_id}/resolve/main/..%5Cddd")
    assert (status, headers["x-error-code"]) == (422, "UnprocessableEntity")
    assert api.model_info(repo_id).sha == sha


# -- 13. the Hub's error texts and a request id ---------------------------------------------------


def test_errors_read_as_on_the_hub_with_a_request_id(hub, api, repo_id):
    from huggingface_hub import CommitOperationAdd
    from huggingface_hub.errors import HfHubHTTPError, RemoteEntryNotFoundError

    api.create_repo(repo_id)
    first = api.model_info(repo_id).sha
    api.upload_file(path_or_fileobj=b"1", path_in_repo="a.txt", repo_id=repo_id)

    def error(call) -> HfHubHTTPError:
        with pytest.raises(HfHubHTTPError) as excinfo:
            call()
        e = excinfo.value
        assert e.request_id and e.request_id.startswith("Root=1-"), e.request_id
        assert f"(Request ID: {e.request_id})" in str(e)
        return e

    e = error(lambda: api.create_repo(repo_id))  # 409
    assert e.response.status_code == 409 and e.server_message == "You already created this model repo"
    e = error(
        lambda: api.create_commit(
            repo_id,
            [CommitOperationAdd(path_in_repo="b.txt", path_or_fileobj=b"2")],
            commit_message="stale",
            parent_commit=first,
        )
    )  # 412
    assert e.response.status_code == 412
    assert "The branch was updated since you opened this page. Please refresh and try again." in str(e)
    token = hub.app.tokens.create_user(f"reader-{repo_id[-6:]}")
    other = HfApi(endpoint=hub.url, token=token)
    e = error(lambda: other.create_repo(f"{repo_id}-x"))  # 403
    namespace = repo_id.split("/")[0]
    assert (
        f'403 Forbidden: You don\'t have the rights to create a model under the namespace "{namespace}".'
        in str(e)
    )
    e = error(lambda: other.upload_file(path_or_fileobj=b"x", path_in_repo="x", repo_id=repo_id))
    assert e.response.status_code == 403 and "not the required permissions" in str(e)
    e = error(lambda: api.model_info(f"{repo_id}-missing"))  # 404s
    assert isinstance(e, RepositoryNotFoundError) and e.server_message == "Repository not found"
    e = error(lambda: api.model_info(repo_id, revision="nope"))
    assert isinstance(e, RevisionNotFoundError) and e.server_message == "Invalid rev id: nope"
    e = error(lambda: api.get_hf_file_metadata(url=f"{hub.url}/{repo_id}/resolve/main/no.txt"))
    assert isinstance(e, RemoteEntryNotFoundError)
    e = error(lambda: api.delete_branch(repo_id, branch="main"))
    assert "Cannot delete refs/heads/main" in str(e)
    e = error(lambda: api.delete_branch(repo_id, branch="cool-branch"))
    assert "Invalid rev id" in str(e)
    api.create_branch(repo_id, branch="cool-branch")
    e = error(lambda: api.create_branch(repo_id, branch="cool-branch"))
    assert "Reference refs/heads/cool-branch already exists" in str(e)
    api.create_branch(repo_id, branch="cool-branch", exist_ok=True)
    api.create_repo(f"{repo_id}-2")
    e = error(lambda: api.move_repo(repo_id, f"{repo_id}-2"))
    assert f"A model repository called {repo_id}-2 already exists" in str(e)
    # Every answer carries one, successes too; the client's own trace id is kept in it.
    status, headers, _ = raw_request(
        hub.url, "GET", f"/api/models/{repo_id}", headers={"X-Amzn-Trace-Id": "abc-123"}
    )
    assert status == 200 and headers["x-request-id"].endswith(";abc-123")


# -- 14. whoami full names, formatted commits, '_' namespaces ---------------------------------------


def test_whoami_shows_the_full_name_and_org_entries(hub, tmp_path):
    from click.testing import CliRunner

    from hubver.cli import cli

    data = tmp_path / "hub-data"
    result = CliRunner().invoke(
        cli,
        [
            "hub",
            "add-user",
            "ada",
            "--fullname",
            "Ada Lovelace",
            "--org",
            "analytical",
            "--data-dir",
            str(data),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    import json

    token = json.loads(result.output)["token"]
    from hubver.server.auth import TokenStore

    user = TokenStore(data).authenticate(token)
    assert user is not None and (user.fullname, user.orgs) == ("Ada Lovelace", ("analytical",))
    # The session hub's own users, through the client.
    token = hub.app.tokens.create_user("grace", orgs=("navy",), fullname="Grace Hopper")
    me = HfApi(endpoint=hub.url, token=token).whoami()
    assert (me["name"], me["fullname"]) == ("grace", "Grace Hopper")
    assert [(o["name"], o["fullname"]) for o in me["orgs"]] == [("navy", "navy")]
    plain = HfApi(endpoint=hub.url, token=hub.app.tokens.create_user("linus")).whoami()
    assert plain["fullname"] == "linus"


def test_list_repo_commits_formatted(api, repo_id):
    api.create_repo(repo_id)
    api.upload_file(
        path_or_fileobj=b"x",
        path_in_repo="x.txt",
        repo_id=repo_id,
        commit_message="Add <x> & y",
        commit_description="first line\nsecond <b>line</b>\n\nnext paragraph",
    )
    plain = api.list_repo_commits(repo_id)
    assert plain[0].formatted_title is None and plain[0].formatted_message is None
    newest, initial = api.list_repo_commits(repo_id, formatted=True)
    assert newest.title == "Add <x> & y"
    assert newest.formatted_title == "Add &lt;x&gt; &amp; y"
    assert (
        newest.formatted_message == "<p>first line<br>second &lt;b&gt;line&lt;/b&gt;</p><p>next paragraph</p>"
    )
    assert initial.formatted_title == "initial commit" and initial.formatted_message == ""


def test_namespaces_may_start_with_an_underscore(hub, api):
    import uuid

    repo_id = f"_tests/m-{uuid.uuid4().hex[:8]}"
    api.create_repo(repo_id)
    api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id)
    assert api.model_info(repo_id).id == repo_id
    assert api.file_exists(repo_id, "x.txt")
    # Only namespaces may: a repository name starting with '_' is still a 400.
    status, _, _ = raw_request(hub.url, "GET", "/api/models/tests/_m")
    assert status == 400


# -- namespaces are one whatever the spelling (red team) -------------------------------------------


def test_a_namespace_cannot_be_spelled_twice(hub, api, repo_id):
    from huggingface_hub.errors import HfHubHTTPError

    from hubver.server.storage_errors import InvalidName

    api.create_repo(repo_id)
    namespace, name = repo_id.split("/")
    # Even the administrator: `TESTS/x` beside `tests/...` would be a namespace its owner cannot reach.
    with pytest.raises(HfHubHTTPError, match="case-insensitive") as e:
        api.create_repo(f"{namespace.upper()}/{name}-x")
    assert e.value.response.status_code == 400
    with pytest.raises(HfHubHTTPError, match="case-insensitive"):
        api.move_repo(repo_id, f"{namespace.title()}/{name}-y")
    # A trailing newline is no part of a name ('$' matched before it).
    from huggingface_hub.utils import get_session

    for org, repo in ((namespace, f"{name}-z\n"), (f"{namespace}\n", f"{name}-z")):
        resp = get_session().post(
            f"{hub.url}/api/repos/create",
            json={"name": repo, "organization": org},
            headers=api._build_hf_headers(),
        )
        assert resp.status_code == 400, (org, repo, resp.text)
    with pytest.raises(InvalidName):
        hub.app.tokens.create_user("eve\n")
    # 'admin' is the administrator: a plain user of that name would own the admin's namespace.
    with pytest.raises(InvalidName, match="administrator"):
        hub.app.tokens.create_user("admin")
