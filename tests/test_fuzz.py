"""Fuzzing the embedded hub: every endpoint, with garbage in every place a client controls.

hypothesis builds requests from the hub's routes (method x path shape), putting either a
valid value (the target repo, a real revision, a real file) or garbage in each segment, and
adds random query strings, headers and bodies (JSON, NDJSON, forms, bytes). They go over raw
HTTP to the session hub. However hostile, a request gets an answer, and never a 5xx (the one
deliberate 500, `LfsObjectMissing`, cannot be caused by a request); afterwards the hub still
serves a normal download, and the target repo is still a repository `git fsck --strict` accepts.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import subprocess
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import pytest
from helpers import git_dir
from huggingface_hub import CommitOperationAdd, HfApi, get_session, hf_hub_download
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

RUN = uuid.uuid4().hex[:8]
NS, NAME = f"fuzz-{RUN}", "target"
CHECK_REPO = f"fuzzcheck-{RUN}/model"  # never named by the strategies: the after-fuzz check reads it
CASES: Counter[str] = Counter()
W_BIN = os.urandom(2048)  # the target's LFS file: commits may name it by its oid
STORED_OID = hashlib.sha256(W_BIN).hexdigest()
STATUSES: Counter[int] = Counter()

FUZZ = settings(
    deadline=None,
    database=None,  # no .hypothesis/ directory in the working tree
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@pytest.fixture(scope="module")
def target(hub, hub_token) -> dict:
    """The repo the fuzz aims at (a regular file, an LFS file, a card, a tag, a branch), and a signed URL."""
    api = HfApi(endpoint=hub.url, token=hub_token)
    repo = f"{NS}/{NAME}"
    api.create_repo(repo)
    info = api.create_commit(
        repo,
        [
            CommitOperationAdd("config.json", b'{"model_type": "gpt2"}'),
            CommitOperationAdd("w.bin", W_BIN),
            CommitOperationAdd("sub/dir/x.txt", b"x\n"),
            CommitOperationAdd("README.md", b"---\ntags: [a, b]\nlicense: mit\n---\n# card\n"),
        ],
        commit_message="fuzz target",
    )
    api.create_tag(repo, tag="v1")
    api.create_branch(repo, branch="dev")
    api.create_repo(CHECK_REPO)
    api.upload_file(path_or_fileobj=b"still here\n", path_in_repo="check.txt", repo_id=CHECK_REPO)
    data = os.urandom(1024)
    response = get_session().post(
        f"{hub.url}/{repo}.git/info/lfs/objects/batch",
        json={
            "operation": "upload",
            "objects": [{"oid": hashlib.sha256(data).hexdigest(), "size": len(data)}],
        },
        headers={"Authorization": f"Bearer {hub_token}"},
    )
    href = response.json()["objects"][0]["actions"]["upload"]["href"]
    return {"repo": repo, "sha": info.oid, "upload": href[len(hub.url) :], "data": data}


# -- strategies -----------------------------------------------------------------------------------

GARBAGE_WORDS = [
    "", ".", "..", "...", "%2e%2e", "%2E%2E%2F%2E%2E", "%00", "%FF", "%C0%AF", "%E2%80%8C", "a%2Fb", "%2F", "%5C",
    "%", "%zz", "%%", "~", "-x", "HEAD", "@", "@{u}", ".git", ".GIT", "git~1", ".gitmodules", "x.lock", "*", "?",
    "refs%2Fheads%2Fmain", "%ud800", "%ED%A0%80", "0" * 40, "f" * 64, "a" * 300, "%0A", "%0D%0A", "%7F", "%09",
    "main%00", "v1%2F..%2F..", "null", "true", "-1", "1e309", "NaN", "💥", "%F0%9F%92%A5",
]  # fmt: skip
PRINTABLE = "".join(chr(c) for c in range(0x21, 0x7F))
SAFES = ["", "/", "%", "/%:@~", "!$&'()*+,;=:@"]


def _wire(text: str, safe: str) -> str:
    """A path segment as it may appear on the wire (ASCII, no spaces or control characters)."""
    return quote(text, safe=safe)


garbage = st.one_of(
    st.sampled_from(GARBAGE_WORDS),
    st.builds(_wire, st.text(max_size=30), st.sampled_from(SAFES)),
    st.binary(max_size=16).map(lambda b: "".join(f"%{x:02X}" for x in b)),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.just("a" * 3000),
)


def slot(valid: list[str]) -> st.SearchStrategy[str]:
    # Mostly valid: garbage in one place of an otherwise good request reaches deeper code.
    good = st.sampled_from(valid)
    return st.one_of(good, good, good, garbage)


def path_slot(valid: list[str]) -> st.SearchStrategy[str]:
    good = st.sampled_from(valid)
    return st.one_of(good, good, st.lists(garbage, min_size=1, max_size=4).map("/".join))


TYPES = ["models", "datasets", "spaces"]
REVS = ["main", "v1", "dev", "refs%2Fheads%2Fmain", "nope"]
PATHS = ["config.json", "w.bin", "README.md", "sub/dir/x.txt", "sub", "missing.txt"]
TEMPLATES: list[tuple[list[str], str]] = [
    (["api", "whoami-v2"], "GET"),
    (["api", "agent-harnesses"], "GET"),
    (["api", "validate-yaml"], "POST"),
    (["api", "repos", "create"], "POST"),
    (["api", "repos", "delete"], "DELETE"),
    (["api", "TYPE", "NS", "NAME"], "GET"),
    (["api", "TYPE", "NS", "NAME", "revision", "REV"], "GET"),
    (["api", "TYPE", "NS", "NAME", "refs"], "GET"),
    (["api", "TYPE", "NS", "NAME", "tag", "REV"], "POST"),
    (["api", "TYPE", "NS", "NAME", "tag", "REV"], "DELETE"),
    (["api", "TYPE", "NS", "NAME", "branch", "REV"], "POST"),
    (["api", "TYPE", "NS", "NAME", "branch", "REV"], "DELETE"),
    (["api", "TYPE", "NS", "NAME", "commits", "REV"], "GET"),
    (["api", "TYPE", "NS", "NAME", "tree", "REV"], "GET"),
    (["api", "TYPE", "NS", "NAME", "tree", "REV", "PATH"], "GET"),
    (["api", "TYPE", "NS", "NAME", "paths-info", "REV"], "POST"),
    (["api", "TYPE", "NS", "NAME", "preupload", "REV"], "POST"),
    (["api", "TYPE", "NS", "NAME", "commit", "REV"], "POST"),
    (["api", "TYPE", "NS", "NAME", "settings"], "PUT"),
    (["api", "TYPE", "NS", "NAME", "xet-write-token", "REV"], "GET"),
    (["NS", "NAME", "resolve", "REV", "PATH"], "GET"),
    (["NS", "NAME", "resolve", "REV", "PATH"], "HEAD"),
    (["datasets", "NS", "NAME", "resolve", "REV", "PATH"], "GET"),
    (["NS", "NAME.git", "info", "lfs", "objects", "batch"], "POST"),
    (["NS", "NAME.git", "info", "lfs", "objects", "verify"], "POST"),
    (["lfs-upload", "model", "REPOQ", "OID", "SIZE"], "PUT"),
    (["lfs-part", "model", "REPOQ", "OID", "SIZE", "ANY", "ANY"], "PUT"),
    (["lfs-complete", "model", "REPOQ", "OID", "SIZE", "ANY", "ANY"], "POST"),
]
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]


def _segment(name: str, target: dict) -> st.SearchStrategy[str]:
    if name == "TYPE":
        return slot(TYPES)
    if name == "NS":
        return slot([NS])
    if name in ("NAME", "NAME.git"):
        return slot([NAME]).map(lambda n: n + ".git" if name == "NAME.git" else n)
    if name == "REV":
        return slot([*REVS, target["sha"]])
    if name == "PATH":
        return path_slot(PATHS)
    if name == "REPOQ":
        return slot([quote(target["repo"], safe="")])
    if name == "OID":
        return slot([hashlib.sha256(target["data"]).hexdigest()])
    if name == "SIZE":
        return slot([str(len(target["data"]))])
    if name == "ANY":
        return garbage
    return st.just(name)


def request_path(target: dict) -> st.SearchStrategy[tuple[str, str]]:
    def build(template: tuple[list[str], str]) -> st.SearchStrategy[tuple[str, str]]:
        parts, method = template
        segments = st.tuples(*[_segment(p, target) for p in parts]).map(lambda s: "/" + "/".join(s))
        return st.tuples(st.one_of(st.just(method), st.just(method), st.sampled_from(METHODS)), segments)

    random_path = st.lists(garbage, max_size=8).map(lambda s: "/" + "/".join(s))
    return st.one_of(
        st.sampled_from(TEMPLATES).flatmap(build), st.tuples(st.sampled_from(METHODS), random_path)
    )


QUERY_KEYS = [
    "blobs",
    "recursive",
    "expand",
    "limit",
    "cursor",
    "p",
    "create_pr",
    "include_prs",
    "expires",
    "sig",
]
query = st.one_of(
    st.just(""),
    st.dictionaries(st.one_of(st.sampled_from(QUERY_KEYS), st.text(max_size=8)), st.one_of(garbage, st.text(max_size=20)), max_size=4).map(urlencode),
    garbage,
)  # fmt: skip

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=30),
        st.sampled_from(
            GARBAGE_WORDS + PATHS + REVS + [NS, NAME, "\ud800", "a\x00b", ".GIT/config", "f" * 64]
        ),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
KEYS = [
    "name", "organization", "type", "private", "visibility", "tag", "message", "startingPoint", "files", "objects",
    "operation", "transfers", "hash_algo", "ref", "oid", "size", "parts", "paths", "expand", "content", "path",
    "encoding", "algo", "summary", "description", "parentCommit", "sample", "partNumber", "etag",
]  # fmt: skip
shaped = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6)
file_item = st.fixed_dictionaries(
    {
        "path": st.one_of(st.sampled_from(PATHS), st.text(max_size=20)),
        "size": json_values,
        "sample": json_values,
    }
)
lfs_object = st.fixed_dictionaries({"oid": st.one_of(st.just("a" * 64), json_values), "size": json_values})
op_path = st.one_of(
    st.sampled_from([*PATHS, "sub/", "sub/dir", "new/file.txt", "README.md"]), st.text(max_size=20)
)
commit_line = st.one_of(
    st.fixed_dictionaries({"key": st.sampled_from(["header", "file", "lfsFile", "deletedFile", "deletedFolder"]), "value": shaped}),
    st.fixed_dictionaries({"key": json_values, "value": json_values}),
    st.fixed_dictionaries({"key": st.just("file"), "value": st.fixed_dictionaries(
        {"path": op_path, "content": st.one_of(st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()), st.text(max_size=40))},
        optional={"encoding": st.sampled_from(["base64", "utf-8", "nope"])})}),
    st.fixed_dictionaries({"key": st.sampled_from(["deletedFile", "deletedFolder"]), "value": st.fixed_dictionaries({"path": op_path})}),
    st.fixed_dictionaries({"key": st.just("lfsFile"), "value": st.fixed_dictionaries(
        {"path": op_path, "oid": st.sampled_from([STORED_OID, "a" * 64]), "algo": st.sampled_from(["sha256", "md5"])},
        optional={"size": st.one_of(st.sampled_from([2048, 0, True]), json_values)})}),
)  # fmt: skip


def _ndjson(lines: list) -> bytes:
    return "\n".join(json.dumps(line) for line in lines).encode("utf-8", "surrogatepass")


def _json(value) -> bytes:
    return json.dumps(value).encode("utf-8", "surrogatepass")


body = st.one_of(
    st.none(),
    st.just(b""),
    st.binary(max_size=300),
    json_values.map(_json),
    shaped.map(_json),
    st.fixed_dictionaries({"files": st.lists(file_item, max_size=3)}).map(_json),
    st.fixed_dictionaries({"objects": st.lists(lfs_object, max_size=3), "transfers": json_values, "operation": json_values}).map(_json),
    st.lists(commit_line, max_size=5).map(_ndjson),
    st.lists(st.tuples(st.sampled_from(["paths", "expand", "x"]), st.text(max_size=20)), max_size=4).map(lambda kv: urlencode(kv).encode()),
    st.just(b"[" * 50_000),
    st.just(b"---\n" + b"[" * 5000),
)  # fmt: skip

header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=60
)


def headers_for(token: str) -> st.SearchStrategy[dict[str, str]]:
    auth = st.one_of(
        st.none(),
        st.just(f"Bearer {token}"),
        st.just(f"Bearer {token}"),
        st.just(f"Bearer {token}"),
        st.just(f"bearer   {token}  "),
        header_text.map(lambda t: f"Bearer {t}"),
        header_text,
        st.just("Basic dXNlcjpwYXNz"),
    )
    content_type = st.one_of(
        st.none(),
        st.sampled_from(["application/json", "application/x-ndjson", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]),
        header_text,
    )  # fmt: skip
    rng = st.one_of(st.none(), st.sampled_from(["bytes=0-10", "bytes=-5", "bytes=5-", "bytes=9-2", "bytes=0-0,2-3", "bytes=x-y", "bytes=--1", "pages=1"]), header_text)  # fmt: skip

    def build(a, c, r, extra):
        h = {"Authorization": a, "Content-Type": c, "Range": r, **extra}
        return {k: v for k, v in h.items() if v is not None}

    extra = st.dictionaries(
        st.sampled_from(["Accept", "X-Forwarded-Host", "If-None-Match", "Cookie", "X-Garbage"]),
        header_text,
        max_size=2,
    )
    return st.builds(build, auth, content_type, rng, extra)


# -- sending ---------------------------------------------------------------------------------------


def send(url: str, method: str, path: str, qs: str, data: bytes | None, headers: dict[str, str]) -> None:
    """One request; fails the example on a 5xx or on a connection that ends without an answer."""
    # What a client can put on the wire: printable ASCII; anything else arrives percent-encoded.
    target = quote(path + (f"?{qs}" if qs else ""), safe=PRINTABLE)
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        try:
            conn.request(method, target, body=data, headers=headers)
        except http.client.InvalidURL:
            CASES["not sendable"] += 1  # http.client refuses it before it leaves: nothing to test
            return
        try:
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as e:
            raise AssertionError(f"no answer to {method} {target[:300]!r}: {e!r}") from None
        status = response.status
        STATUSES[status] += 1
        CASES["sent"] += 1
        error_code = response.getheader("X-Error-Code")
        assert status < 500 or error_code == "LfsObjectMissing", (
            f"{status} {error_code} for {method} {target[:300]!r} {headers!r} body={data[:300] if data else data!r}"
        )
    finally:
        conn.close()


@settings(FUZZ, max_examples=int(os.environ.get("FUZZ_N", 400)))
@given(data=st.data())
def test_fuzz_every_endpoint(hub, hub_token, target, data):
    method, path = data.draw(request_path(target), label="method, path")
    qs = data.draw(query, label="query")
    payload = data.draw(body, label="body")
    headers = data.draw(headers_for(hub_token), label="headers")
    send(hub.url, method, path, qs, payload, headers)


@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_fuzz_signed_upload_urls(hub, target, data):
    """A valid signed upload URL with a tampered query, method or body."""
    path, _, query_string = target["upload"].partition("?")
    params = dict(p.split("=", 1) for p in query_string.split("&"))
    params = data.draw(
        st.fixed_dictionaries({k: st.one_of(st.just(v), garbage) for k, v in params.items()}), label="params"
    )
    method = data.draw(st.one_of(st.just("PUT"), st.sampled_from(METHODS)), label="method")
    payload = data.draw(
        st.one_of(st.just(target["data"]), st.binary(max_size=2048), st.just(target["data"] + b"x")),
        label="body",
    )
    send(hub.url, method, path, urlencode(params, safe="%"), payload, {})


YAML_PIECES = [
    "tags: [a, b]", "tags: 5", "tags: {a: 1}", "date: 2024-01-01", "when: 2024-01-01 10:00:00", "x: !!binary aGk=",
    "s: !!set {a, b}", "n: .nan", "i: -.inf", "a: &a [1, 2]", "b: [*a, *a]", "c: &c {k: *c}", "? [1, 2]\n: v",
    "2024-01-01: date key", "null: x", "1.5: y", "big: 1" + "0" * 4000, "x: !!python/object:os.system ls",
    "o: !!omap [a: 1]", "p: !!pairs [a: 1]", "deep: " + "[" * 200 + "]" * 200, "bad: [", "- list", "k: '\x00'",
    "u: \"\\ud800\"", "t: !custom x", "license: mit", "library_name: 5", "pipeline_tag: [x]", "model-index: 3",
]  # fmt: skip
front_matter = st.lists(st.sampled_from(YAML_PIECES) | st.text(max_size=30), max_size=6).map(
    lambda lines: "---\n" + "\n".join(lines) + "\n---\ntext\n"
)


@settings(FUZZ, max_examples=int(os.environ.get("FUZZ_BODIES", 100)))
@given(data=st.data())
def test_fuzz_request_bodies(hub, hub_token, target, data):
    """Well-addressed, authenticated requests whose bodies are hostile: the deep code paths."""
    repo = target["repo"]
    auth = {"Authorization": f"Bearer {hub_token}"}
    kind = data.draw(
        st.sampled_from(["commit", "preupload", "batch", "tag", "branch", "yaml", "card", "paths"])
    )
    if kind == "commit":
        lines = data.draw(st.lists(commit_line, max_size=5))
        header = {"key": "header", "value": data.draw(shaped)}
        send(hub.url, "POST", f"/api/models/{repo}/commit/main", "", _ndjson([header, *lines]), auth)
    elif kind == "preupload":
        payload = {"files": data.draw(st.lists(file_item, max_size=3))}
        send(hub.url, "POST", f"/api/models/{repo}/preupload/main", "", _json(payload), auth)
    elif kind == "batch":
        payload = data.draw(
            st.fixed_dictionaries(
                {"objects": st.lists(lfs_object, max_size=3)},
                optional={"transfers": json_values, "operation": json_values, "ref": json_values},
            )
        )
        send(hub.url, "POST", f"/{repo}.git/info/lfs/objects/batch", "", _json(payload), auth)
    elif kind in ("tag", "branch"):
        name = quote(data.draw(st.sampled_from(REVS) | st.text(min_size=1, max_size=20)), safe="")
        payload = data.draw(shaped)
        send(
            hub.url,
            data.draw(st.sampled_from(["POST", "DELETE"])),
            f"/api/models/{repo}/{kind}/{name}",
            "",
            _json(payload),
            auth,
        )
    elif kind == "yaml":
        send(hub.url, "POST", "/api/validate-yaml", "", _json({"content": data.draw(front_matter)}), auth)
    elif kind == "card":
        card = data.draw(front_matter)
        line = {"key": "file", "value": {"path": "README.md", "content": card, "encoding": "utf-8"}}
        send(
            hub.url,
            "POST",
            f"/api/models/{repo}/commit/main",
            "",
            _ndjson([{"key": "header", "value": {"summary": "card"}}, line]),
            auth,
        )
        send(hub.url, "GET", f"/api/models/{repo}", "", None, auth)
    else:
        paths = data.draw(st.lists(st.sampled_from(PATHS) | st.text(max_size=20), max_size=4))
        send(
            hub.url,
            "POST",
            f"/api/models/{repo}/paths-info/main",
            "",
            _json({"paths": paths, "expand": True}),
            {**auth, "Content-Type": "application/json"},
        )


def test_the_hub_still_serves_after_the_fuzz(hub, hub_token, target, tmp_path, capsys):
    assert CASES["sent"] >= 500, CASES  # the fuzz really ran (and most requests were sendable)
    got = hf_hub_download(CHECK_REPO, "check.txt", cache_dir=tmp_path / "cache", token=hub_token)
    assert Path(got).read_bytes() == b"still here\n"
    bare = git_dir(hub, target["repo"])
    if bare.exists():  # the fuzz may have deleted it, which is allowed
        fsck = subprocess.run(
            ["git", "--git-dir", str(bare), "fsck", "--full", "--strict"], capture_output=True, text=True
        )
        assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    with capsys.disabled():
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(STATUSES.items()))
        print(
            f"\n[fuzz] {CASES['sent']} requests answered ({statuses}); {CASES['not sendable']} not sendable"
        )
