"""Concurrent pushers: every one gets its own version; nothing is lost or overwritten."""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import pytest
from helpers import push_in_parallel

import hubver

HUBVER = str(Path(sys.executable).with_name("hubver"))


def _distinct_artifacts(base: Path, tmp_path: Path, n: int) -> list[Path]:
    dirs = []
    for i in range(n):
        d = shutil.copytree(base, tmp_path / f"run-{i}")
        (d / "run.txt").write_text(f"run {i}\n")
        dirs.append(d)
    return dirs


@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_four_processes_pushing_at_once(hub, hub_token, adapters, repo_id, tmp_path):
    hubver.push(adapters[4], repo_id, endpoint=hub.url, token=hub_token)  # the repo exists: all race on main
    dirs = _distinct_artifacts(adapters[8], tmp_path, 4)
    results = push_in_parallel(dirs, repo_id, hub.url, hub_token)
    versions = sorted(r["version"] for r in results)
    assert versions == ["v2", "v3", "v4", "v5"]
    assert all(r["created"] for r in results)
    listed = hubver.list_versions(repo_id, endpoint=hub.url, token=hub_token)
    assert [v.version for v in listed] == ["v1", "v2", "v3", "v4", "v5"]
    assert all(v.commit for v in listed)
    by_message = {v.message: v.version for v in listed}
    for r, d in zip(results, dirs, strict=True):
        assert by_message[d.name] == r["version"]  # each version holds its own run's files
        got = hubver.get_version(repo_id, r["version"], endpoint=hub.url, token=hub_token).metadata
        manifest = {f["path"]: f["sha256"] for f in got["files"]}
        assert manifest["run.txt"] == hashlib.sha256((d / "run.txt").read_bytes()).hexdigest()
    assert max(r["attempts"] for r in results) > 1  # they really raced
