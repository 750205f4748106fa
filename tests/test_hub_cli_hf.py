"""The installed `hf` command line, run as a subprocess against the session hub."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import sha256

HF = Path(sys.executable).with_name("hf")


@pytest.fixture
def hf(hub, hub_token, tmp_path):
    """Run `hf ARGS...` with the hub as its endpoint and the admin token; returns stdout."""
    env = {
        **os.environ,
        "HF_ENDPOINT": hub.url,
        "HF_TOKEN": hub_token,
        "HF_HOME": str(tmp_path / "hf-home"),
        "NO_COLOR": "1",
    }

    def run(*args: str) -> str:
        proc = subprocess.run([str(HF), *args], env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"hf {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout

    return run


def test_hf_upload_tag_and_download_by_revision(hf, api, repo_id, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text('{"version": 1}')
    weights_v1 = os.urandom(4096)
    (folder / "model.safetensors").write_bytes(weights_v1)  # LFS by the default .gitattributes

    # `hf upload` creates the repo when it does not exist yet.
    hf("upload", repo_id, str(folder), ".", "--commit-message", "first")
    hf("repos", "tag", "create", repo_id, "v1")

    (folder / "config.json").write_text('{"version": 2}')
    weights_v2 = os.urandom(4096)
    (folder / "model.safetensors").write_bytes(weights_v2)
    hf("upload", repo_id, str(folder), ".", "--commit-message", "second")
    hf("repos", "tag", "create", repo_id, "release/2.0", "-m", "second release")

    commits = api.list_repo_commits(repo_id)
    assert [c.title for c in commits] == ["second", "first", "initial commit"]
    refs = {"v1": commits[1].commit_id, "release/2.0": commits[0].commit_id}
    listed = json.loads(hf("repos", "tag", "list", repo_id, "--format", "json"))
    assert sorted((t["name"], t["target_commit"], t["ref"]) for t in listed) == [
        ("release/2.0", refs["release/2.0"], "refs/tags/release/2.0"),
        ("v1", refs["v1"], "refs/tags/v1"),
    ]
    assert sorted(hf("repos", "tag", "list", repo_id, "-q").split()) == ["release/2.0", "v1"]
    tree = {e.path: e for e in api.list_repo_tree(repo_id, revision="v1")}
    assert tree["model.safetensors"].lfs.sha256 == sha256(weights_v1)

    # One file into a local dir, at each tag.
    for rev, config, weights in (("v1", 1, weights_v1), ("release/2.0", 2, weights_v2)):
        out = tmp_path / f"out-{rev.replace('/', '-')}"
        hf("download", repo_id, "config.json", "--revision", rev, "--local-dir", str(out))
        assert json.loads((out / "config.json").read_text()) == {"version": config}
        # The whole snapshot into a cache: stdout ends with the snapshot folder.
        cache = tmp_path / f"cache-{rev.replace('/', '-')}"
        stdout = hf("download", repo_id, "--revision", rev, "--cache-dir", str(cache), "--format", "quiet")
        snapshot = Path(stdout.strip().splitlines()[-1])
        assert snapshot.name == refs[rev]
        assert (snapshot / "model.safetensors").read_bytes() == weights
        assert json.loads((snapshot / "config.json").read_text()) == {"version": config}
