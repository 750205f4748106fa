"""The fast paths of issue #17 are never wrong: cached hashes, parallel and resumed downloads,
copies out of the HF cache, hard-linked snapshots. Each test makes the fast path meet the
case that would fool a careless one, against the session hub and real files."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
from huggingface_hub import hf_hub_download

import hubver
from hubver import hashcache
from hubver.client import HubClient
from hubver.errors import IntegrityError

MiB = 1 << 20


@pytest.fixture
def conn(hub, hub_token):
    return {"endpoint": hub.url, "token": hub_token}


@pytest.fixture
def counted(monkeypatch, tmp_path):
    """Paths hashed through the hash cache (misses), with a private cache in HUBVER_HOME.

    The 2-second "racy" window is shortened to nothing so that files the test has just
    written can be recorded; `test_a_file_written_just_now_is_not_recorded` covers it."""
    monkeypatch.setenv("HUBVER_HOME", str(tmp_path / "hubver-home"))
    monkeypatch.setattr(hashcache, "RACY_SECONDS", -1.0)
    seen: list[str] = []
    real = hashcache.sha256_file

    def counting(path, *a, **kw):
        if Path(path).stat().st_size >= hashcache.MIN_SIZE:  # smaller files skip the cache
            seen.append(Path(path).name)
        return real(path, *a, **kw)

    monkeypatch.setattr(hashcache, "sha256_file", counting)
    return seen


def _write(path: Path, size: int, seed: int) -> str:
    block = hashlib.sha256(str(seed).encode()).digest() * (size // 32 + 1)
    path.write_bytes(block[:size])
    return hashlib.sha256(block[:size]).hexdigest()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- the hash cache ----------------------------------------------------------------------------------


def test_an_in_place_edit_with_the_same_size_and_mtime_is_hashed_again(counted, tmp_path):
    f = tmp_path / "w.bin"
    _write(f, 2 * MiB, 1)
    first = hashcache.HashCache()
    assert first.sha256(f) == _sha(f)
    first.save()
    cache_file = tmp_path / "hubver-home" / "hash-cache.json"
    assert stat.S_IMODE(cache_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache_file.parent.stat().st_mode) == 0o700

    again = hashcache.HashCache()
    assert again.sha256(f) == _sha(f) and (again.hits, again.misses) == (1, 0)

    # One byte changed in place, size kept and mtime put back: only ctime tells.
    before = f.stat()
    with f.open("r+b") as out:
        out.seek(MiB)
        out.write(b"\x00" if f.read_bytes()[MiB] != 0 else b"\x01")
    os.utime(f, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = f.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        before.st_size,
        before.st_mtime_ns,
        before.st_ino,
    )
    edited = hashcache.HashCache()
    assert edited.sha256(f) == _sha(f) != first.entries[str(f.resolve())][5]
    assert edited.misses == 1

    # Replaced by rename (what save_pretrained and editors do): a new inode, hashed again.
    _write(tmp_path / "new.bin", 2 * MiB, 1)
    os.replace(tmp_path / "new.bin", f)
    replaced = hashcache.HashCache()
    assert replaced.sha256(f) == _sha(f) and replaced.misses == 1


def test_a_file_written_just_now_is_not_recorded(monkeypatch, tmp_path):
    monkeypatch.setenv("HUBVER_HOME", str(tmp_path / "home"))
    f = tmp_path / "w.bin"
    _write(f, 2 * MiB, 2)
    cache = hashcache.HashCache()
    assert cache.sha256(f) == _sha(f)
    assert cache.entries == {}  # within 2 s of its last write: a write in the same tick would go unseen
    monkeypatch.setenv("HUBVER_HASH_CACHE", "0")
    assert hashcache.open_cache() is None


def test_an_unreadable_or_forged_cache_costs_a_hash_never_a_wrong_one(counted, tmp_path):
    f = tmp_path / "w.bin"
    _write(f, 2 * MiB, 3)
    cache_file = tmp_path / "hubver-home" / "hash-cache.json"
    cache_file.parent.mkdir()
    cache_file.write_text("{not json")
    assert hashcache.HashCache().sha256(f) == _sha(f)
    st = f.stat()
    stale = [st.st_size, st.st_mtime_ns, st.st_ctime_ns - 1, st.st_ino, st.st_dev, "0" * 64]
    cache_file.write_text(json.dumps({"version": 1, "files": {str(f.resolve()): stale}}))
    assert hashcache.HashCache().sha256(f) == _sha(f)  # one field off: not used


def test_a_second_push_hashes_only_what_changed_and_the_upload_reuses_the_hash(
    counted, conn, adapters, repo_id, copy_of, monkeypatch
):
    import huggingface_hub.lfs

    art = copy_of(adapters[4], "art")
    shards = {f"shard-{k}.dat": _write(art / f"shard-{k}.dat", 2 * MiB, k) for k in range(3)}
    uploads_hashed: list[int] = []
    real_sha = huggingface_hub.lfs.sha_fileobj
    monkeypatch.setattr(
        huggingface_hub.lfs, "sha_fileobj", lambda f, *a: uploads_hashed.append(1) or real_sha(f, *a)
    )
    v1 = hubver.push(art, repo_id, **conn)
    assert sorted(counted) == sorted(shards)  # each big file hashed once for the push...
    assert uploads_hashed == []  # ...and huggingface_hub's LFS upload used that very hash

    counted.clear()
    _write(art / "shard-1.dat", 2 * MiB, 99)
    v2 = hubver.push(art, repo_id, **conn)
    assert counted == ["shard-1.dat"]
    assert sorted(v2.uploaded) == ["shard-1.dat"] and v1.version != v2.version
    files = {f["path"]: f["sha256"] for f in v2.metadata["files"]}
    assert files["shard-1.dat"] == _sha(art / "shard-1.dat")
    assert files["shard-0.dat"] == shards["shard-0.dat"]


# -- checkout ------------------------------------------------------------------------------------------


@pytest.fixture
def pushed(conn, adapters, repo_id, copy_of):
    art = copy_of(adapters[4], "art")
    for k in range(3):
        _write(art / f"shard-{k}.dat", 2 * MiB, 10 + k)
    hubver.push(art, repo_id, **conn)
    return art


def test_checkout_fills_the_hf_cache_as_huggingface_hub_does(
    conn, pushed, repo_id, hf_cache, tmp_path, monkeypatch
):
    result = hubver.checkout(repo_id, "v1", to=tmp_path / "co", cache_dir=hf_cache, quiet=True, **conn)
    assert result.verified == len(result.files) - 2
    for name in ("shard-2.dat", "adapter_model.safetensors", "adapter_config.json"):
        assert _sha(tmp_path / "co" / name) == _sha(pushed / name)
    # huggingface_hub finds every file offline, by commit and by the version's tag.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for revision in (result.commit, "v1"):
        got = hf_hub_download(repo_id, "shard-2.dat", revision=revision, cache_dir=hf_cache)
        assert _sha(Path(got)) == _sha(pushed / "shard-2.dat")
    assert not list(hf_cache.rglob("*.incomplete"))


def test_an_interrupted_download_resumes_where_it_stopped(conn, pushed, repo_id, hub, tmp_path):
    client = HubClient(hub.url, conn["token"])
    want = (pushed / "shard-0.dat").read_bytes()
    part = tmp_path / "shard-0.dat.incomplete"
    part.write_bytes(want[: MiB + 123])
    assert client.download(repo_id, "shard-0.dat", "v1", part, len(want)) == hashlib.sha256(want).hexdigest()
    assert part.read_bytes() == want
    # A part longer than the file cannot be a prefix of it: downloaded again from the start.
    part.write_bytes(want + b"junk")
    assert client.download(repo_id, "shard-0.dat", "v1", part, len(want)) == hashlib.sha256(want).hexdigest()
    assert part.read_bytes() == want


def test_editing_a_checkout_in_place_leaves_the_hf_cache_intact(conn, pushed, repo_id, hf_cache, tmp_path):
    first = hubver.checkout(
        repo_id, "v1", to=tmp_path / "a", cache_dir=hf_cache, quiet=True, place="copy", **conn
    )
    mine = tmp_path / "a" / "shard-0.dat"
    blob = (Path(first.cache_dir) / "shard-0.dat").resolve()
    assert mine.stat().st_ino != blob.stat().st_ino  # a copy (or a reflink), not a hard link
    with mine.open("r+b") as f:  # what torch.save into the checkout would do: same inode, new bytes
        f.write(b"fine-tuned further")
    assert _sha(blob) == _sha(pushed / "shard-0.dat")
    second = hubver.checkout(repo_id, "v1", to=tmp_path / "b", cache_dir=hf_cache, quiet=True, **conn)
    assert second.verified == first.verified
    assert _sha(tmp_path / "b" / "shard-0.dat") == _sha(pushed / "shard-0.dat")


def test_a_tampered_cached_file_is_refused_even_when_its_hash_was_cached(
    counted, conn, pushed, repo_id, hf_cache, tmp_path
):
    hubver.checkout(repo_id, "v1", to=tmp_path / "a", cache_dir=hf_cache, quiet=True, **conn)
    hubver.checkout(
        repo_id, "v1", to=tmp_path / "b", cache_dir=hf_cache, quiet=True, **conn
    )  # hashes recorded
    counted.clear()
    hubver.checkout(repo_id, "v1", to=tmp_path / "c", cache_dir=hf_cache, quiet=True, **conn)
    assert counted == []  # a warm checkout reads no file to hash it
    snapshot = next((hf_cache / f"models--{repo_id.replace('/', '--')}" / "snapshots").iterdir())
    blob = (snapshot / "shard-1.dat").resolve()
    before = blob.stat()
    with blob.open("r+b") as f:
        f.write(b"forged")
    os.utime(blob, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(IntegrityError) as e:
        hubver.checkout(repo_id, "v1", to=tmp_path / "d", cache_dir=hf_cache, quiet=True, **conn)
    assert "shard-1.dat of v1 does not match its manifest" in e.value.message
    assert not (tmp_path / "d").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".d.hubver-")] == []


# -- callback snapshots ------------------------------------------------------------------------------


def test_snapshot_links_survive_the_trainer_saving_that_checkpoint_again(tmp_path):
    import torch
    from safetensors.torch import save_file

    from hubver.callback import _link_model_files

    ckpt = tmp_path / "checkpoint-10"
    ckpt.mkdir()

    def save(value: float) -> None:  # as Trainer._save_checkpoint writes into checkpoint-N
        save_file({"w": torch.full((256, 256), value)}, str(ckpt / "adapter_model.safetensors"))
        torch.save({"w": torch.full((4,), value)}, ckpt / "pytorch_model.bin")
        (ckpt / "adapter_config.json").write_text(json.dumps({"r": value}))
        torch.save({"lr": value}, ckpt / "optimizer.pt")

    save(1.0)
    entry = tmp_path / "entry"
    entry.mkdir()
    kept = {p.name: _sha(p) for p in ckpt.iterdir() if p.name != "optimizer.pt"}
    _link_model_files(ckpt, entry)
    assert sorted(p.name for p in entry.iterdir()) == sorted(kept)
    linked = entry / "adapter_model.safetensors"
    assert (
        linked.stat().st_ino == (ckpt / "adapter_model.safetensors").stat().st_ino
    )  # no copy of the weights
    save(2.0)  # a resumed run reaching step 10 again
    assert {p.name: _sha(p) for p in entry.iterdir()} == kept
    # The rule the link relies on: safetensors replaces its file, torch.save writes in place.
    assert linked.stat().st_ino != (ckpt / "adapter_model.safetensors").stat().st_ino
