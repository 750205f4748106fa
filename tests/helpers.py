"""Shared helpers for the hub tests: request recording, data-dir paths, comparing weights.

The tiny offline models are built by `hubver.testing`, the one builder tests, demo, examples
and benchmarks share.
"""

from __future__ import annotations

import contextlib
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
