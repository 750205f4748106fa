"""Shared helpers for the hub tests: request recording, data-dir paths, comparing weights.

The tiny offline models are built by `hubver.testing`, the one builder tests, demo, examples
and benchmarks share.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.client
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

# -- the running hub ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """One request the hub received."""

    method: str
    path: str  # raw, still URL-quoted, without the query


@contextlib.contextmanager
def recorded_requests(app) -> Iterator[list[Seen]]:
    """Record every request `app` (a running `HubApp`) dispatches while the block runs.

    `HubApp.__call__` looks `dispatch` up on the instance, so shadowing it there wraps every
    request without touching production code; deleting the attribute restores the method.
    """
    seen: list[Seen] = []
    original = app.dispatch

    async def dispatch(request):
        raw = request.scope.get("raw_path") or request.scope["path"].encode()
        seen.append(Seen(request.method, raw.split(b"?", 1)[0].decode("latin-1")))
        return await original(request)

    app.dispatch = dispatch
    try:
        yield seen
    finally:
        del app.dispatch


def git_dir(hub, repo_id: str, repo_type: str = "models") -> Path:
    """The bare git repository behind `repo_id` in the hub's data dir."""
    return hub.data_dir / "repos" / repo_type / f"{repo_id}.git"


def lfs_objects(hub, repo_id: str) -> list[Path]:
    """Every file stored under the repo's `lfs/objects`."""
    root = git_dir(hub, repo_id) / "lfs" / "objects"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


def raw_request(
    url: str, method: str, path: str, *, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Send `path` exactly as written: http.client neither normalises '..' nor re-quotes."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- comparing weights (the tiny models themselves come from hubver.testing) -------------------


def state(model) -> dict:
    """A detached copy of a model's weights, for comparing what was pushed with what loads."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_weights(a: dict, b: dict) -> bool:
    import torch

    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def push_in_parallel(dirs: list[Path], repo_id: str, url: str, token: str) -> list[dict]:
    """Start one `hubver push --json` process per directory at once; their results, in order.

    Each push gets the directory's name as its message, so a test can tell them apart.
    """
    import json
    import os
    import subprocess
    import sys

    hubver = str(Path(sys.executable).with_name("hubver"))
    env = {**os.environ, "HF_TOKEN": token}
    procs = [
        subprocess.Popen(
            [hubver, "push", str(d), "--repo", repo_id, "--endpoint", url, "--json", "-m", d.name],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for d in dirs
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    return results


# -- what hubver published: every hubver.json and index line, checked against the schema ----------

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "docs" / "hubver.schema.json"


@dataclass(frozen=True)
class Published:
    """One file hubver committed with a version: read from a bare repo at the version's tag."""

    git_dir: Path
    tag: str
    path: str  # "hubver.json" or ".hubver/versions.jsonl"
    data: bytes | None  # None: the version's commit has no such file

    def where(self) -> str:
        return f"{self.git_dir} @ {self.tag}: {self.path}"


def hub_git_dirs(root: Path) -> Iterator[Path]:
    """Every bare repository of every hub data dir under `root` (`<data>/repos/<type>/<id>.git`)."""
    import os

    for top, dirs, _ in os.walk(root):
        here = Path(top)
        if here.name.endswith(".git") and "repos" in (
            here.parent.parent.name,
            here.parent.parent.parent.name,
        ):
            dirs.clear()  # nothing of interest inside a repository
            if (here / "HEAD").is_file():
                yield here


def published(git: Path) -> Iterator[Published]:
    """hubver.json and the index of each version hubver tagged in the bare repo `git`.

    A tag counts as hubver's when it is annotated with hubver's message ("hubver version v3",
    maybe "(tag repaired)") on a commit titled "hubver v3": tags and commits that tests make
    with the plain client (the hostile writers, the moved tags) are not hubver's documents.
    """
    import subprocess

    from hubver.layout import INDEX_PATH, METADATA_PATH, titled_version

    fmt = "%(refname:strip=2)%00%(objecttype)%00%(contents:subject)%00%(*subject)%00%(*objectname)"
    refs = subprocess.run(
        ["git", "--git-dir", str(git), "for-each-ref", f"--format={fmt}", "refs/tags"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    wanted: list[tuple[str, str, str]] = []
    for line in refs.splitlines():
        tag, kind, message, title, commit = line.split("\0")
        if kind == "tag" and message.startswith(f"hubver version {tag}") and titled_version(title) == tag:
            wanted += [(tag, commit, METADATA_PATH), (tag, commit, INDEX_PATH)]
    if not wanted:
        return
    batch = "".join(f"{commit}:{path}\n" for _, commit, path in wanted).encode()
    out = subprocess.run(
        ["git", "--git-dir", str(git), "cat-file", "--batch"], input=batch, capture_output=True, check=True
    ).stdout
    pos = 0
    for tag, _, path in wanted:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if header[-1] == b"missing":
            data = None
        else:
            size = int(header[2])
            data, pos = out[pos : pos + size], pos + size + 1
        yield Published(git, tag, path, data)


def schema_problems(doc: Published, validators=None) -> list[str]:
    """What is wrong with `doc` against docs/hubver.schema.json, one line per problem (empty: valid).

    Of an index, only the version's own line is checked, and a version whose index lacks it
    is a problem too.
    """
    import json

    import jsonschema

    if validators is None:
        validators = schema_validators()
    if doc.data is None:
        return [f"{doc.where()}: missing"]
    is_index = doc.path != "hubver.json"
    lines = [x for x in doc.data.split(b"\n") if x.strip()] if is_index else [doc.data]
    validator = validators["index" if is_index else "record"]
    problems: list[str] = []
    own_line = False
    for n, raw in enumerate(lines, start=1):
        where = doc.where() + (f" line {n}" if is_index else "")
        try:
            value = json.loads(raw)
        except ValueError as e:
            if not is_index:
                problems.append(f"{where}: not JSON ({e})")
            continue
        if is_index and not (isinstance(value, dict) and value.get("version") == doc.tag):
            # Lines of earlier versions are carried over as the index held them, which others
            # may have edited (the hostile-writer tests do); this commit's own line is hubver's.
            continue
        own_line = True
        for error in sorted(validator.iter_errors(value), key=jsonschema.exceptions.relevance):
            problems.append(f"{where}: at {error.json_path}: {error.message[:300]}")
    if is_index and not own_line:
        problems.append(f"{doc.where()}: no line for {doc.tag}")
    return problems


@functools.lru_cache(maxsize=1)
def schema_validators() -> dict:
    """Validators for hubver.json ("record") and one index line ("index"), built once."""
    import json

    from jsonschema import Draft202012Validator

    schema = json.loads(SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    index = {"$ref": "#/$defs/indexEntry", "$defs": schema["$defs"]}
    return {"record": Draft202012Validator(schema), "index": Draft202012Validator(index)}
