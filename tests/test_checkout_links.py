"""Checkout without copying (issue #17): files hard-linked from the HF cache, read-only, and
never a way to change what the cache serves unnoticed.

The session hub and real files; the non-root case runs a real `hubver checkout` process as
another user (nobody) when the tests run as root, as they do in CI.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import hubver
from hubver import hashcache
from hubver.errors import CheckoutError, IntegrityError

MiB = 1 << 20


@pytest.fixture
def conn(hub, hub_token):
    return {"endpoint": hub.url, "token": hub_token}


@pytest.fixture
def hashed(monkeypatch, tmp_path):
    """Files of 1 MiB or more read to hash them (smaller ones are always hashed: cheaper than a
    lookup), with a private hash cache."""
    monkeypatch.setenv("HUBVER_HOME", str(tmp_path / "hubver-home"))
    seen: list[str] = []
    real = hashcache.sha256_file

    def counting(path, *a, **kw):
        if Path(path).stat().st_size >= hashcache.MIN_SIZE:
            seen.append(Path(path).name)
        return real(path, *a, **kw)

    monkeypatch.setattr(hashcache, "sha256_file", counting)
    return seen


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def pushed(conn, adapters, repo_id, copy_of):
    art = copy_of(adapters[4], "art")
    for k in range(2):
        (art / f"shard-{k}.dat").write_bytes(hashlib.sha256(str(k).encode()).digest() * (MiB // 16))
    hubver.push(art, repo_id, **conn)
    return art


def _blob(result, name: str) -> Path:
    return (Path(result.cache_dir) / name).resolve()


def test_link_puts_the_cached_blob_itself_in_the_target_read_only(conn, pushed, repo_id, hf_cache, tmp_path):
    result = hubver.checkout(
        repo_id, "v1", to=tmp_path / "a", cache_dir=hf_cache, place="link", quiet=True, **conn
    )
    assert result.placed == "hardlink"
    for name in ("shard-0.dat", "adapter_model.safetensors"):
        mine = tmp_path / "a" / name
        assert mine.stat().st_ino == _blob(result, name).stat().st_ino  # no byte copied
        assert stat.S_IMODE(mine.stat().st_mode) == 0o444
        assert _sha(mine) == _sha(pushed / name)
    # the metadata and card are copies (small, and the user's to edit)
    assert (tmp_path / "a" / "hubver.json").stat().st_nlink == 1


def test_a_warm_linked_checkout_hashes_nothing_and_a_removed_link_costs_one_hash(
    hashed, conn, pushed, repo_id, hf_cache, tmp_path
):
    opts = {"cache_dir": hf_cache, "place": "link", "quiet": True, **conn}
    hashed.clear()  # what the push hashed
    hubver.checkout(repo_id, "v1", to=tmp_path / "a", **opts)  # downloads: hashed as they arrive
    assert hashed == []
    time.sleep(hashcache.LINK_SETTLE_SECONDS)
    again = hubver.checkout(repo_id, "v1", to=tmp_path / "b", **opts)  # its own links: known
    assert again.placed == "hardlink" and hashed == []
    time.sleep(hashcache.LINK_SETTLE_SECONDS)
    hubver.checkout(repo_id, "v1", to=tmp_path / "c", **opts)
    assert hashed == []
    # Someone else's link change moves the ctime too: never excused, the blobs are hashed again.
    shutil.rmtree(tmp_path / "a")
    hubver.checkout(repo_id, "v1", to=tmp_path / "d", **opts)
    assert len(hashed) == 2  # the two blobs of 1 MiB or more


def test_a_rewrite_with_its_mtime_put_back_and_a_link_moved_is_refused(
    hashed, conn, pushed, repo_id, hf_cache, tmp_path
):
    """The red team's attack: rewrite a linked file in place, restore its mtime, then add or
    remove a hard link so that the ctime change looks like a link change."""
    opts = {"cache_dir": hf_cache, "place": "link", "quiet": True, **conn}
    hubver.checkout(repo_id, "v1", to=tmp_path / "a", **opts)
    hubver.checkout(repo_id, "v1", to=tmp_path / "b", **opts)
    mine = tmp_path / "a" / "shard-0.dat"
    before = mine.stat()
    os.chmod(mine, 0o644)
    with mine.open("r+b") as f:
        f.write(b"x" * 32)
    os.utime(mine, ns=(before.st_atime_ns, before.st_mtime_ns))
    shutil.rmtree(tmp_path / "b")
    with pytest.raises(IntegrityError, match="shard-0.dat of v1 does not match its manifest"):
        hubver.checkout(repo_id, "v1", to=tmp_path / "c", **opts)


def test_a_push_after_such_a_rewrite_uploads_the_new_bytes(
    hashed, conn, repo_id, copy_of, adapters, tmp_path, monkeypatch
):
    monkeypatch.setattr(hashcache, "RACY_SECONDS", -1.0)  # record the file just written
    art = copy_of(adapters[4], "art")
    extra = art / "extra.bin"
    extra.write_bytes(b"a" * (2 * MiB))
    hubver.push(art, repo_id, **conn)
    time.sleep(0.05)
    before = extra.stat()
    with extra.open("r+b") as f:
        f.write(b"b" * 64)
    os.utime(extra, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.link(extra, tmp_path / "elsewhere.bin")
    second = hubver.push(art, repo_id, **conn)
    assert second.created and "extra.bin" in second.uploaded
    files = {f["path"]: f["sha256"] for f in second.metadata["files"]}
    assert files["extra.bin"] == _sha(extra)


def test_a_blob_rewritten_through_a_link_is_refused_not_served(conn, pushed, repo_id, hf_cache, tmp_path):
    """Root ignores the read-only bit: `save_pretrained` into a linked checkout rewrites the
    cache's blob. The next checkout notices (the mtime moved), hashes and refuses it."""
    opts = {"cache_dir": hf_cache, "place": "link", "quiet": True, **conn}
    hubver.checkout(repo_id, "v1", to=tmp_path / "a", **opts)
    hubver.checkout(repo_id, "v1", to=tmp_path / "b", **opts)  # its hashes are cached now
    mine = tmp_path / "a" / "shard-1.dat"
    os.chmod(mine, 0o644)
    with mine.open("r+b") as f:  # what torch.save / save_file do: same inode, new bytes
        f.write(b"trained further")
    with pytest.raises(IntegrityError, match="shard-1.dat of v1 does not match its manifest"):
        hubver.checkout(repo_id, "v1", to=tmp_path / "c", **opts)
    assert not (tmp_path / "c").exists()


def test_copy_gives_files_that_can_be_rewritten_without_touching_the_cache(
    conn, pushed, repo_id, hf_cache, tmp_path
):
    result = hubver.checkout(
        repo_id, "v1", to=tmp_path / "a", cache_dir=hf_cache, place="copy", quiet=True, **conn
    )
    assert result.placed in ("copy", "reflink")
    mine = tmp_path / "a" / "shard-0.dat"
    assert mine.stat().st_ino != _blob(result, "shard-0.dat").stat().st_ino
    with mine.open("r+b") as f:
        f.write(b"mine")
    assert _sha(_blob(result, "shard-0.dat")) == _sha(pushed / "shard-0.dat")


def test_auto_copies_for_root_whom_read_only_files_do_not_stop(conn, pushed, repo_id, hf_cache, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("runs as root (CI does); the non-root default is tested below")
    result = hubver.checkout(repo_id, "v1", to=tmp_path / "a", cache_dir=hf_cache, quiet=True, **conn)
    assert result.placed in ("copy", "reflink")


def test_a_target_on_another_filesystem_gets_copies(conn, pushed, repo_id, hf_cache):
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(hf_cache.parent).st_dev:
        pytest.skip("needs /dev/shm on another filesystem than the test's tmp dir")
    target = Path(tempfile.mkdtemp(dir=shm)) / "co"
    try:
        result = hubver.checkout(
            repo_id, "v1", to=target, cache_dir=hf_cache, place="link", quiet=True, **conn
        )
        assert result.placed == "copy"
        assert _sha(target / "shard-0.dat") == _sha(pushed / "shard-0.dat")
    finally:
        shutil.rmtree(target.parent, ignore_errors=True)


def test_a_bad_place_is_refused_before_anything_is_downloaded(conn, pushed, repo_id, hf_cache, tmp_path):
    with pytest.raises(CheckoutError, match="Invalid place='hard'"):
        hubver.checkout(repo_id, "v1", to=tmp_path / "a", cache_dir=hf_cache, place="hard", **conn)
    assert not hf_cache.exists()


def test_the_cli_says_the_files_are_links_and_json_says_how(cli, pushed, repo_id, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    result = cli("checkout", "v1", "--to", tmp_path / "a", "--link", repo=repo_id)
    assert result.exit_code == 0, result.output
    assert "read-only hard links to the HF cache (--copy to edit in place)" in result.output
    result = cli("checkout", "v1", "--to", tmp_path / "b", "--copy", "--json", repo=repo_id)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["placed"] in ("copy", "reflink")


def test_non_root_gets_read_only_links_and_a_rewrite_is_refused(conn, pushed, repo_id, monkeypatch):
    """The default for a user the read-only bit binds: hard links, and a rewrite of a checked-out
    file in place (what `save_pretrained` into the checkout does: open with O_TRUNC) fails with
    "Permission denied"; the HF cache keeps the version's bytes. As root (CI), the checkout is
    made as if by a user and the write is made by a real process of the user nobody."""
    home = Path(tempfile.mkdtemp(prefix="hubver-nonroot-"))
    try:
        os.chmod(home, 0o755)
        root = os.geteuid() == 0
        if root:
            monkeypatch.setattr(os, "geteuid", lambda: 65534)
        result = hubver.checkout(repo_id, "v1", to=home / "co", cache_dir=home / "hf", quiet=True, **conn)
        assert result.placed == "hardlink"
        mine = home / "co" / "adapter_model.safetensors"
        if root:
            os.chown(mine, 65534, 65534)  # the user's own file, as the user's checkout would be
        proc = subprocess.run(
            ["sh", "-c", 'printf "trained further" > "$1"', "sh", str(mine)],
            capture_output=True,
            text=True,
            timeout=30,
            preexec_fn=_as_nobody if root else None,
        )
        assert proc.returncode != 0 and "Permission denied" in proc.stderr
        assert _sha(_blob(result, "adapter_model.safetensors")) == _sha(pushed / "adapter_model.safetensors")
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _as_nobody() -> None:
    os.setgid(65534)
    os.setuid(65534)
