"""Each hub repo is a real bare git repository: `git clone` of its directory shows the same history."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from helpers import git_dir, sha256


def git(*args: str, cwd: Path | None = None) -> str:
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
    }
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout


def test_git_clone_lists_the_same_commits_and_tags(hub, api, repo_id, tmp_path):
    api.create_repo(repo_id)
    weights = os.urandom(2048)
    api.upload_file(path_or_fileobj=b"first\n", path_in_repo="notes/a.txt", repo_id=repo_id)
    api.upload_file(path_or_fileobj=weights, path_in_repo="model.safetensors", repo_id=repo_id)
    api.create_tag(repo_id, tag="v1")
    api.create_tag(repo_id, tag="release/1.0", tag_message="annotated, with a slash")
    api.upload_file(path_or_fileobj=b"second\n", path_in_repo="notes/a.txt", repo_id=repo_id)
    api.create_tag(repo_id, tag="v2")
    api.create_branch(repo_id, branch="dev", revision="v1")

    bare = tmp_path / "bare.git"
    git("clone", "--bare", "--no-local", str(git_dir(hub, repo_id)), str(bare))
    hub_commits = [c.commit_id for c in api.list_repo_commits(repo_id)]
    assert git("--git-dir", str(bare), "log", "--format=%H", "main").split() == hub_commits
    refs = api.list_repo_refs(repo_id)
    assert git("--git-dir", str(bare), "tag").split() == sorted(t.name for t in refs.tags)
    for tag in refs.tags:
        assert git("--git-dir", str(bare), "rev-parse", f"{tag.name}^{{commit}}").strip() == tag.target_commit
    assert git("--git-dir", str(bare), "cat-file", "-t", "release/1.0").strip() == "tag"
    branches = git(
        "--git-dir", str(bare), "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads"
    )
    assert dict(line.split() for line in branches.splitlines()) == {
        b.name: b.target_commit for b in refs.branches
    }
    git("--git-dir", str(bare), "fsck", "--full", "--strict")

    # A working clone checks out main; LFS files are pointers, exactly as on huggingface.co.
    work = tmp_path / "work"
    git("clone", str(git_dir(hub, repo_id)), str(work))
    assert (work / "notes" / "a.txt").read_text() == "second\n"
    pointer = (work / "model.safetensors").read_text()
    assert f"oid sha256:{sha256(weights)}" in pointer and f"size {len(weights)}" in pointer
    assert "*.safetensors filter=lfs" in (work / ".gitattributes").read_text()
    git("checkout", "-q", "v1", cwd=work)
    assert (work / "notes" / "a.txt").read_text() == "first\n"
