"""The hub's disk fills up: a 507 that says so at once, nothing half-written, reads go on.

Each test mounts a real small tmpfs (root only; skipped otherwise, saying why), runs its own
hub on it, and unmounts it at the end. Every write a push makes is tried: a large LFS upload,
the commit's git objects on a nearly full disk, and `hubver hub add-user`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import git_dir, recorded_requests
from huggingface_hub import HfApi

import hubver

TOKEN = "hv_diskfull_" + "0" * 24
MiB = 1 << 20


@contextlib.contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; the disk-full tests run as root in CI")
    where.mkdir(parents=True, exist_ok=True)
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True, text=True
    )
    if mount.returncode:
        pytest.skip(f"cannot mount a tmpfs here (a container without CAP_SYS_ADMIN?): {mount.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture
def disk(tmp_path) -> Iterator[Path]:
    with tmpfs(tmp_path / "disk", "16m") as d:
        yield d


@pytest.fixture
def full_hub(disk):
    from hubver.server import HubConfig, start_in_thread

    running = start_in_thread(HubConfig(data_dir=disk / "hub", admin_token=TOKEN))
    yield running
    running.stop()


def fill(disk: Path) -> Path:
    """Write a file until the disk refuses another byte; returns it (delete it to free the space)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    block = b"\0" * (64 << 10)
    try:
        while True:
            try:
                os.write(fd, block)
            except OSError as e:
                assert e.errno == errno.ENOSPC
                if len(block) == 1:
                    break
                block = block[: len(block) // 2]
    finally:
        os.close(fd)
    return filler


def leftovers(hub, repo: str) -> list[Path]:
    """Temp files and upload parts that a failed write left in the repo (there must be none)."""
    tmp = git_dir(hub, repo) / "lfs" / "tmp"
    staged = [p for p in git_dir(hub, repo).rglob("*") if p.name.startswith(("tmp_obj_", ".tmp-"))]
    return staged + (sorted(tmp.iterdir()) if tmp.is_dir() else [])


def assert_clear_disk_full(result) -> None:
    assert result.exit_code == 1, (result.stdout, result.stderr)
    err = result.stderr
    assert err.startswith("Error: ") and "no disk space left (HTTP 507)" in err, err
    assert "unexpected" not in err and "Traceback" not in err and "kept changing" not in err, err
    assert TOKEN not in err


def test_a_large_upload_to_a_full_hub_fails_at_once(full_hub, disk, cli, adapters, tmp_path):
    art = shutil.copytree(adapters[4], tmp_path / "art")
    (art / "extra.dat").write_bytes(os.urandom(24 * MiB))  # larger than the whole disk
    repo = "tests/full-upload"
    with recorded_requests(full_hub.app) as seen:
        started = time.monotonic()
        result = cli("push", art, repo=repo, token=TOKEN, endpoint=full_hub.url)
        took = time.monotonic() - started
    assert_clear_disk_full(result)
    puts = [r for r in seen if r.method == "PUT"]
    # Each object is sent once: huggingface_hub retried a 500 six times (151 MB sent for 24 MB).
    assert puts and len(puts) == len({p.path for p in puts}), puts
    assert len([p for p in puts if p.path.endswith(f"/{24 * MiB}")]) == 1, puts
    assert not [r for r in seen if r.path.endswith("/commit/main")], (
        "a commit was tried after the upload failed"
    )
    assert took < 30, took
    assert leftovers(full_hub, repo) == []
    api = HfApi(endpoint=full_hub.url, token=TOKEN)
    assert api.list_repo_refs(repo).tags == []  # nothing published
    # Disk-full is transient once space comes back.
    subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
    assert cli("push", art, repo=repo, token=TOKEN, endpoint=full_hub.url).exit_code == 0
    assert [t.name for t in api.list_repo_refs(repo).tags] == ["v1"]


def test_a_commit_on_a_nearly_full_disk_fails_once_and_reads_go_on(full_hub, disk, cli, adapters, tmp_path):
    repo = "tests/full-commit"
    hubver.push(adapters[4], repo, endpoint=full_hub.url, token=TOKEN)
    art = shutil.copytree(adapters[4], tmp_path / "art")
    (art / "notes.txt").write_text("a small file: it travels inside the commit, not through LFS\n")
    filler = fill(disk)
    # The weights are on the hub already: only the commit's own objects need space now.
    with recorded_requests(full_hub.app) as seen:
        result = cli(
            "push",
            art,
            "--metric",
            "eval_loss=0.5",
            "-m",
            "second",
            repo=repo,
            token=TOKEN,
            endpoint=full_hub.url,
        )
    assert_clear_disk_full(result)
    commits = [r for r in seen if r.method == "POST" and "/commit/" in r.path]
    assert len(commits) == 1, commits  # the push tried 12 commits and blamed "someone else"
    assert leftovers(full_hub, repo) == []
    listing = cli("list", repo=repo, token=TOKEN, endpoint=full_hub.url)  # the full hub still serves reads
    assert listing.exit_code == 0 and "v1" in listing.stdout and "v2" not in listing.stdout, listing.stderr
    filler.unlink()
    again = cli(
        "push",
        art,
        "--metric",
        "eval_loss=0.5",
        "-m",
        "second",
        repo=repo,
        token=TOKEN,
        endpoint=full_hub.url,
    )
    assert again.exit_code == 0, again.stderr
    assert "Published v2" in again.stdout


def test_the_hub_answers_507_with_a_message_that_says_the_disk_is_full(full_hub, disk):
    from helpers import raw_request

    api = HfApi(endpoint=full_hub.url, token=TOKEN)
    api.create_repo("tests/full-raw")
    fill(disk)
    status, headers, _ = raw_request(
        full_hub.url,
        "POST",
        "/api/repos/create",
        body=b'{"name": "full-raw2", "organization": "tests"}',
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    assert status == 507, (status, headers)
    assert headers["x-error-code"] == "InsufficientStorage"
    assert "The hub's disk is full" in headers["x-error-message"]
    assert api.repo_exists("tests/full-raw")  # reads go on


def test_add_user_on_a_full_disk(disk, tmp_path):
    from click.testing import CliRunner

    from hubver.cli import cli as group
    from hubver.server.auth import TokenStore

    data = disk / "hub"
    TokenStore(data).create_user("alice")
    before = (data / "tokens.json").read_bytes()
    fill(disk)
    result = CliRunner().invoke(
        group, ["hub", "add-user", "bob", "--data-dir", str(data)], catch_exceptions=False
    )
    assert result.exit_code == 1, result.stdout
    assert result.stderr.startswith("Error: Cannot add user bob: the disk of the hub's data directory"), (
        result.stderr
    )
    assert "is full" in result.stderr and "unexpected" not in result.stderr
    assert (data / "tokens.json").read_bytes() == before
    assert [p.name for p in data.iterdir() if p.name.startswith(".tokens")] == []
