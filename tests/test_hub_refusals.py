"""What the embedded hub refuses: anonymous writes, hidden private repos, forged uploads, traversal."""

from __future__ import annotations

import json
import math
import os
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from helpers import git_dir, lfs_objects, raw_request, sha256
from huggingface_hub import HfApi, file_exists, get_session, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

MiB = 1 << 20


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _batch(url: str, repo_id: str, token: str, objects: list[dict]) -> list[dict]:
    """Ask the LFS batch endpoint for upload actions, as huggingface_hub does."""
    response = get_session().post(
        f"{url}/{repo_id}.git/info/lfs/objects/batch",
        json={
            "operation": "upload",
            "transfers": ["basic", "multipart"],
            "objects": objects,
            "hash_algo": "sha256",
        },
        headers={**_auth(token), "Accept": "application/vnd.git-lfs+json"},
    )
    response.raise_for_status()
    return response.json()["objects"]


def _put(href: str, data: bytes) -> int:
    return get_session().put(href, content=data).status_code


def _tree_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


# -- authentication and visibility -----------------------------------------------------------------


def test_anonymous_write_is_401(hub, api, repo_id):
    api.create_repo(repo_id)
    head = api.model_info(repo_id).sha
    anonymous = HfApi(endpoint=hub.url, token=False)
    with pytest.raises(HfHubHTTPError) as excinfo:
        anonymous.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id)
    assert excinfo.value.response.status_code == 401

    body = json.dumps({"name": repo_id.split("/")[1], "organization": "tests"}).encode()
    ndjson = b'{"key":"header","value":{"summary":"anonymous"}}\n'
    lfs = json.dumps({"operation": "upload", "objects": [{"oid": "0" * 64, "size": 1}]}).encode()
    for method, path, payload in [
        ("POST", "/api/repos/create", json.dumps({"name": "anon", "organization": "tests"}).encode()),
        ("DELETE", "/api/repos/delete", body),
        ("POST", f"/api/models/{repo_id}/commit/main", ndjson),
        ("POST", f"/api/models/{repo_id}/preupload/main", b'{"files":[]}'),
        ("POST", f"/api/models/{repo_id}/tag/main", b'{"tag":"v1"}'),
        ("DELETE", f"/api/models/{repo_id}/tag/v1", b""),
        ("POST", f"/api/models/{repo_id}/branch/dev", b"{}"),
        ("PUT", f"/api/models/{repo_id}/settings", b'{"private":true}'),
        ("POST", f"/{repo_id}.git/info/lfs/objects/batch", lfs),
        ("POST", f"/{repo_id}.git/info/lfs/objects/verify", b'{"oid":"' + b"0" * 64 + b'","size":1}'),
    ]:
        for headers in ({}, {"Authorization": "Bearer hv_not-a-real-token"}):
            status, resp_headers, _ = raw_request(hub.url, method, path, body=payload, headers=headers)
            assert status == 401, (method, path, headers)
            assert resp_headers.get("x-error-code") == "Unauthorized"

    assert api.model_info(repo_id).sha == head
    assert [t.name for t in api.list_repo_refs(repo_id).tags] == []
    assert not api.model_info(repo_id).private


def test_other_users_cannot_write_or_see_private(hub, api, repo_id):
    alice = HfApi(endpoint=hub.url, token=hub.app.tokens.create_user("alice"))
    api.create_repo(repo_id)
    with pytest.raises(HfHubHTTPError) as excinfo:
        alice.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id)
    assert excinfo.value.response.status_code == 403
    private = f"{repo_id}-private"
    api.create_repo(private, private=True)
    with pytest.raises(RepositoryNotFoundError):
        alice.model_info(private)
    with pytest.raises(RepositoryNotFoundError):
        alice.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=private)
    # Her own namespace is hers.
    alice.create_repo("alice/mine")
    alice.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="alice/mine")
    assert alice.whoami()["name"] == "alice"


def test_private_repo_is_404_to_anonymous_readers(hub, api, repo_id, hf_cache):
    api.create_repo(repo_id, private=True)
    api.upload_file(path_or_fileobj=b"secret", path_in_repo="secret.txt", repo_id=repo_id)
    api.create_tag(repo_id, tag="v1")
    assert api.model_info(repo_id).private

    anonymous = HfApi(endpoint=hub.url, token=False)
    with pytest.raises(RepositoryNotFoundError):
        anonymous.model_info(repo_id)
    with pytest.raises(RepositoryNotFoundError):
        anonymous.model_info(repo_id, revision="v1")
    with pytest.raises(RepositoryNotFoundError):
        anonymous.list_repo_refs(repo_id)
    with pytest.raises(RepositoryNotFoundError):
        anonymous.list_repo_commits(repo_id)
    with pytest.raises(RepositoryNotFoundError):
        list(anonymous.list_repo_tree(repo_id))
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(repo_id, "secret.txt", revision="v1", token=False, cache_dir=hf_cache)
    # file_exists folds RepositoryNotFoundError into False; with the token it is there.
    assert file_exists(repo_id, "secret.txt", token=False) is False
    assert file_exists(repo_id, "secret.txt", token=api.token) is True
    for method in ("GET", "HEAD"):
        status, headers, body = raw_request(hub.url, method, f"/{repo_id}/resolve/main/secret.txt")
        assert (status, headers.get("x-error-code")) == (404, "RepoNotFound")
        assert b"secret" not in body
    # Unknown and private look the same from outside.
    status, headers, _ = raw_request(hub.url, "GET", f"/api/models/{repo_id}-nope")
    assert (status, headers.get("x-error-code")) == (404, "RepoNotFound")

    path = hf_hub_download(repo_id, "secret.txt", revision="v1", token=api.token, cache_dir=hf_cache)
    assert Path(path).read_bytes() == b"secret"


# -- signed upload URLs ------------------------------------------------------------------------------


def test_tampered_upload_url_is_403(hub, hub_token, api, repo_id):
    api.create_repo(repo_id)
    data = os.urandom(4096)
    oid = sha256(data)
    (obj,) = _batch(hub.url, repo_id, hub_token, [{"oid": oid, "size": len(data)}])
    href = obj["actions"]["upload"]["href"]
    assert "Authorization" not in obj["actions"]["upload"].get("header", {})
    base, _, query = href.partition("?")
    params = dict(p.split("=", 1) for p in query.split("&"))
    sig, expires = params["sig"], params["expires"]
    flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")

    other = os.urandom(4096)
    forged = [
        f"{base}?expires={expires}&sig={flipped}",  # altered signature
        f"{base}?expires={int(expires) + 3600}&sig={sig}",  # extended expiry
        f"{base}?expires={expires}",  # no signature
        f"{base.replace(oid, sha256(other))}?{query}",  # another object
        f"{base.replace(quote(repo_id, safe=''), quote(repo_id + '-x', safe=''))}?{query}",  # another repo
        f"{base.replace(f'/{len(data)}', f'/{len(data) + 1}')}?{query}",  # another size
    ]
    for url in forged:
        assert url != href
        assert _put(url, other if sha256(other) in url else data) == 403, url
    assert lfs_objects(hub, repo_id) == []

    assert _put(href, data) == 200
    assert [p.name for p in lfs_objects(hub, repo_id)] == [oid]


def test_tampered_multipart_urls_are_403(hub, hub_token, api, repo_id):
    api.create_repo(repo_id)
    size = 25 * MiB
    (obj,) = _batch(hub.url, repo_id, hub_token, [{"oid": "a" * 64, "size": size}])
    header = obj["actions"]["upload"]["header"]
    assert int(header["chunk_size"]) == 10 * MiB
    assert [k for k in header if k != "chunk_size"] == ["1", "2", "3"]
    part = header["1"]
    # Part 1's signature does not cover part 2, and the completion URL is signed on its own.
    assert _put(part.replace("/1?", "/2?"), b"x") == 403
    complete = obj["actions"]["upload"]["href"]
    sig = complete.rsplit("sig=", 1)[1]
    bad = complete.replace(sig, sig[::-1])
    assert get_session().post(bad, json={"oid": "a" * 64, "parts": []}).status_code == 403


def test_expired_upload_url_is_403(tmp_path):
    from hubver.server import HubConfig, start_in_thread

    token = "hv_expiry_" + uuid.uuid4().hex
    with start_in_thread(HubConfig(data_dir=tmp_path / "hub", admin_token=token, upload_url_ttl=-1)) as short:
        api = HfApi(endpoint=short.url, token=token)
        api.create_repo("tests/expiring")
        data = os.urandom(1024)
        (obj,) = _batch(short.url, "tests/expiring", token, [{"oid": sha256(data), "size": len(data)}])
        response = get_session().put(obj["actions"]["upload"]["href"], content=data)
        assert response.status_code == 403
        assert "expired" in response.headers["x-error-message"]
        assert lfs_objects(short, "tests/expiring") == []
        # The client surfaces it as a failed upload, not as a commit of a missing object.
        with pytest.raises(RuntimeError, match="Error while uploading 'w.bin'") as excinfo:
            api.upload_file(path_or_fileobj=data, path_in_repo="w.bin", repo_id="tests/expiring")
        assert isinstance(excinfo.value.__cause__, HfHubHTTPError)
        assert excinfo.value.__cause__.response.status_code == 403
        assert api.list_repo_files("tests/expiring") == [".gitattributes"]


# -- LFS content checks ------------------------------------------------------------------------------


def test_lfs_bytes_must_match_their_oid(hub, hub_token, api, repo_id):
    api.create_repo(repo_id)
    good = os.urandom(8192)
    oid = sha256(good)
    (obj,) = _batch(hub.url, repo_id, hub_token, [{"oid": oid, "size": len(good)}])
    href = obj["actions"]["upload"]["href"]

    evil = os.urandom(len(good))
    response = get_session().put(href, content=evil)
    assert response.status_code == 400
    assert "do not match" in response.headers["x-error-message"]
    assert get_session().put(href, content=good + b"!").status_code == 413  # more than announced
    assert get_session().put(href, content=good[:-1]).status_code == 400  # fewer than announced
    assert lfs_objects(hub, repo_id) == []
    tmp = git_dir(hub, repo_id) / "lfs" / "tmp"
    assert not tmp.exists() or list(tmp.iterdir()) == []

    # Nothing was stored, so neither verify nor a commit naming the oid goes through.
    verify = get_session().post(
        obj["actions"]["verify"]["href"], json={"oid": oid, "size": len(good)}, headers=_auth(hub_token)
    )
    assert verify.status_code == 404
    ndjson = (
        json.dumps({"key": "header", "value": {"summary": "sneaky"}})
        + "\n"
        + json.dumps(
            {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": oid, "size": 8192}}
        )
    )
    status, _, _ = raw_request(
        hub.url, "POST", f"/api/models/{repo_id}/commit/main", body=ndjson.encode(), headers=_auth(hub_token)
    )
    assert status == 400
    assert api.list_repo_files(repo_id) == [".gitattributes"]

    assert _put(href, good) == 200
    assert [p.read_bytes() == good for p in lfs_objects(hub, repo_id)] == [True]


def test_multipart_bytes_must_match_their_oid(hub, hub_token, api, repo_id):
    api.create_repo(repo_id)
    size = 24 * MiB + 1  # just above the session hub's multipart threshold
    good = os.urandom(size)
    oid = sha256(good)
    (obj,) = _batch(hub.url, repo_id, hub_token, [{"oid": oid, "size": size}])
    header = obj["actions"]["upload"]["header"]
    chunk = int(header["chunk_size"])
    count = math.ceil(size / chunk)
    evil = bytearray(good)
    evil[-1] ^= 0xFF  # one flipped bit in the last part
    etags = []
    for n in range(1, count + 1):
        response = get_session().put(header[str(n)], content=bytes(evil[(n - 1) * chunk : n * chunk]))
        assert response.status_code == 200
        etags.append({"partNumber": n, "etag": response.headers["etag"]})
    response = get_session().post(obj["actions"]["upload"]["href"], json={"oid": oid, "parts": etags})
    assert response.status_code == 400
    assert lfs_objects(hub, repo_id) == []
    tmp = git_dir(hub, repo_id) / "lfs" / "tmp"
    assert not tmp.exists() or list(tmp.iterdir()) == []


# -- traversal ----------------------------------------------------------------------------------------

# (namespace, name) as sent on the wire, quoted so that no client or proxy normalises them.
BAD_REPO_IDS = [
    ("a", "..%2F..%2Fetc"),
    ("..%2F..%2Fetc", "passwd"),
    ("%2E%2E", "%2E%2E"),
    ("tests", "%2E%2E"),
    ("tests", "a%5C..%5Cb"),
    ("tests", "a%00b"),
    ("tests", "x.git"),
    ("%2Fetc", "passwd"),
    ("tests", "..%2Fsecret"),
]


def _bad_repo_requests(ns: str, name: str) -> list[tuple[str, str]]:
    return [
        ("GET", f"/api/models/{ns}/{name}"),
        ("GET", f"/api/models/{ns}/{name}/revision/main"),
        ("GET", f"/api/models/{ns}/{name}/tree/main"),
        ("POST", f"/api/models/{ns}/{name}/commit/main"),
        ("GET", f"/{ns}/{name}/resolve/main/config.json"),
        ("POST", f"/{ns}/{name}.git/info/lfs/objects/batch"),
    ]


def _bad_revisions(repo_id: str) -> list[tuple[str, str]]:
    revs = [
        "%2E%2E",
        "..%2F..%2Fheads%2Fmain",
        "refs%2F..%2F..%2Fconfig",
        "main%5C..",
        "main%00",
        "%2Fetc%2Fpasswd",
        "-x",
        "main%2F..%2F..%2Fx",
    ]
    out = []
    for rev in revs:
        out += [
            ("GET", f"/api/models/{repo_id}/revision/{rev}"),
            ("GET", f"/api/models/{repo_id}/commits/{rev}"),
            ("GET", f"/api/models/{repo_id}/tree/{rev}"),
            ("GET", f"/{repo_id}/resolve/{rev}/config.json"),
            ("HEAD", f"/{repo_id}/resolve/{rev}/config.json"),
            ("POST", f"/api/models/{repo_id}/tag/{rev}"),
            ("DELETE", f"/api/models/{repo_id}/tag/{rev}"),
            ("POST", f"/api/models/{repo_id}/branch/{rev}"),
            ("DELETE", f"/api/models/{repo_id}/branch/{rev}"),
            ("POST", f"/api/models/{repo_id}/commit/{rev}"),
            ("POST", f"/api/models/{repo_id}/preupload/{rev}"),
            ("POST", f"/api/models/{repo_id}/paths-info/{rev}"),
        ]
    return out


BAD_FILE_PATHS = [
    "../../hubver-repo.json",
    "%2E%2E/%2E%2E/hubver-repo.json",
    "a/../../b",
    "/etc/passwd",
    "a%5C..%5C..%5Cb",
    "..%5Cb",
    "a%00b",
    ".git/config",
    "a//b",
    "./config.json",
    "..%2F..%2Fhubver-repo.json",
    "a%FFb",  # not UTF-8
]


@pytest.fixture
def guarded(hub, api, repo_id):
    """A repo with a tag; yields it, then checks that no refused request changed the data dir."""
    api.create_repo(repo_id)
    api.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id=repo_id)
    api.create_tag(repo_id, tag="v1")
    refs = api.list_repo_refs(repo_id)
    before = _tree_files(hub.data_dir)
    yield repo_id
    assert _tree_files(hub.data_dir) == before
    after = api.list_repo_refs(repo_id)
    assert (after.branches, after.tags) == (refs.branches, refs.tags)


def _assert_400(hub, token, method, path, body=b"{}", *, file_path=""):
    """400 BadRequest, or 422 if `file_path` has a backslash (the Hub's status for `..\\ddd`)."""
    status, headers, _ = raw_request(hub.url, method, path, body=body, headers=_auth(token))
    backslash = "\\" in file_path or "%5C" in file_path
    expected = (422, "UnprocessableEntity") if backslash else (400, "BadRequest")
    assert (status, headers.get("x-error-code")) == expected, (method, path, status)


def test_traversal_in_repo_names_is_400(hub, hub_token, guarded):
    for ns, name in BAD_REPO_IDS:
        for method, path in _bad_repo_requests(ns, name):
            _assert_400(hub, hub_token, method, path)
    for name, org in [
        ("..", "tests"),
        ("../x", "tests"),
        ("x", ".."),
        ("x", "../tests"),
        ("a/b", "tests"),
        ("x\\y", "tests"),
    ]:
        body = json.dumps({"name": name, "organization": org}).encode()
        _assert_400(hub, hub_token, "POST", "/api/repos/create", body)
        _assert_400(hub, hub_token, "DELETE", "/api/repos/delete", body)


def test_traversal_in_revisions_is_400(hub, hub_token, guarded):
    for method, path in _bad_revisions(guarded):
        body = b'{"tag": "x"}' if "/tag/" in path else b"{}"
        _assert_400(hub, hub_token, method, path, body)
    # Names in the body get the same checks as names in the path.
    for tag in ["..", "../../heads/main", "../HEAD", "a/../b", "v1\\x", "v1\x00", "/abs", "x.lock", "@{u}"]:
        _assert_400(
            hub, hub_token, "POST", f"/api/models/{guarded}/tag/main", json.dumps({"tag": tag}).encode()
        )
    for start in ["..", "../../heads/main", "main\\x"]:
        body = json.dumps({"startingPoint": start}).encode()
        _assert_400(hub, hub_token, "POST", f"/api/models/{guarded}/branch/dev", body)


def test_traversal_in_file_paths_is_400(hub, hub_token, guarded):
    for path in BAD_FILE_PATHS:
        for method in ("GET", "HEAD"):
            _assert_400(hub, hub_token, method, f"/{guarded}/resolve/main/{path}", file_path=path)
        _assert_400(hub, hub_token, "GET", f"/api/models/{guarded}/tree/main/{path}", file_path=path)
    for path in ["..", "../x", "/etc/passwd", "a\\b", "a\x00b", ".git/HEAD", "a/./b"]:
        form = "paths=" + "".join(c if c.isalnum() else f"%{ord(c):02X}" for c in path)
        status, _, _ = raw_request(
            hub.url,
            "POST",
            f"/api/models/{guarded}/paths-info/main",
            body=form.encode(),
            headers={**_auth(hub_token), "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert status == (422 if "\\" in path else 400), path
        body = json.dumps({"files": [{"path": path, "size": 1, "sample": ""}]}).encode()
        _assert_400(hub, hub_token, "POST", f"/api/models/{guarded}/preupload/main", body, file_path=path)
        header = json.dumps({"key": "header", "value": {"summary": "traversal"}})
        for op in [
            {"key": "file", "value": {"path": path, "content": "eA==", "encoding": "base64"}},
            {"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": "0" * 64, "size": 1}},
            {"key": "deletedFile", "value": {"path": path}},
            {"key": "deletedFolder", "value": {"path": path}},
        ]:
            body = f"{header}\n{json.dumps(op)}\n".encode()
            _assert_400(hub, hub_token, "POST", f"/api/models/{guarded}/commit/main", body, file_path=path)


# -- malformed bodies ---------------------------------------------------------------------------------

ODD_VALUES = [None, 1, -1, 1.5, True, "", "\x00", [], [1], [None], {}, {"a": [1]}]


def test_malformed_bodies_are_4xx_not_500(hub, hub_token, api, repo_id):
    """Wrong JSON types anywhere in a body are the client's error (4xx), never a server crash."""
    api.create_repo(repo_id)
    endpoints = [
        (
            "POST",
            "/api/repos/create",
            lambda v: [{"name": "ok", "organization": v}, {"name": v}, {"name": "ok", "type": v}],
        ),
        (
            "DELETE",
            "/api/repos/delete",
            lambda v: [{"name": "ok", "organization": v}, {"name": "ok", "type": v}],
        ),
        ("POST", f"/api/models/{repo_id}/tag/main", lambda v: [{"tag": v}, {"tag": "t", "message": v}]),
        ("POST", f"/api/models/{repo_id}/branch/b", lambda v: [{"startingPoint": v}]),
        (
            "POST",
            f"/api/models/{repo_id}/preupload/main",
            lambda v: [{"files": v}, {"files": [v]}, {"files": [{"path": "a", "size": 1, "sample": v}]}],
        ),
        (
            "POST",
            f"/{repo_id}.git/info/lfs/objects/batch",
            lambda v: [{"objects": v}, {"objects": [v]}, {"objects": [{"oid": "0" * 64, "size": v}]}],
        ),
        (
            "POST",
            f"/{repo_id}.git/info/lfs/objects/verify",
            lambda v: [{"oid": v}, {"oid": "0" * 64, "size": v}],
        ),
    ]
    crashes = []
    for method, path, bodies in endpoints:
        for value in ODD_VALUES:
            for body in [value, *bodies(value)]:
                status, _, _ = raw_request(
                    hub.url, method, path, body=json.dumps(body).encode(), headers=_auth(hub_token)
                )
                if status >= 500:
                    crashes.append((method, path, body))
    assert crashes == []


def test_control_characters_still_get_an_error_response(hub, hub_token, api, repo_id):
    # Regression: error messages echo the request, and a control character in the
    # X-Error-Message header made the server drop the connection without any response.
    api.create_repo(repo_id)
    for method, path, body in [
        ("GET", "/api/x%01y", None),
        ("GET", "/api/models/tests/x%1By", None),
        ("GET", f"/api/models/{repo_id}/nope%07", None),
        ("GET", f"/{repo_id}/resolve/main/a%01b", None),
        (
            "POST",
            f"/{repo_id}.git/info/lfs/objects/verify",
            json.dumps({"oid": "0" * 64, "size": "\x00\x1b"}),
        ),
    ]:
        status, headers, _ = raw_request(hub.url, method, path, body=body, headers=_auth(hub_token))
        assert 400 <= status < 500, (path, status)
        assert headers["x-error-message"].isprintable()
