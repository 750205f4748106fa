"""Issue 17 red team: what the fast paths (early upload, hard-linked checkouts) must still refuse.

Each test is a finding of the red team: a refused push that uploaded first, a small file
rewritten while it was pushed, checkouts racing into one directory, a symlinked target,
contradictory flags. The session hub, real files, the real CLI.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

import pytest
from helpers import lfs_objects, recorded_requests

import hubver
from hubver.errors import ArtifactError, CheckoutError

MiB = 1 << 20


@pytest.fixture
def conn(hub, hub_token):
    return {"endpoint": hub.url, "token": hub_token}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _artifact(copy_of, adapters, seed: int) -> Path:
    art = copy_of(adapters[4], f"art-{seed}")
    (art / "big.bin").write_bytes(hashlib.sha256(str(seed).encode()).digest() * (3 * MiB // 32))
    return art


def test_a_push_refused_for_a_taken_version_id_uploads_nothing(hub, conn, cli, copy_of, adapters, repo_id):
    hubver.push(_artifact(copy_of, adapters, 1), repo_id, version="v1", **conn)
    before = lfs_objects(hub, repo_id)
    art = _artifact(copy_of, adapters, 2)  # a new 3 MiB file
    with recorded_requests(hub.app) as seen:
        result = cli("push", art, "--version", "v1", repo=repo_id)
    assert result.exit_code == 1 and "v1 already exists" in result.output, result.output
    assert not [r for r in seen if r.method == "PUT"], seen
    assert lfs_objects(hub, repo_id) == before


def test_a_push_with_a_broken_template_fails_before_any_request(
    hub, cli, copy_of, adapters, repo_id, tmp_path
):
    bad = tmp_path / "bad.j2"
    bad.write_text("{% for x in %}")
    with recorded_requests(hub.app) as seen:
        result = cli("push", _artifact(copy_of, adapters, 3), "--template", bad, repo=repo_id)
    assert result.exit_code == 1 and "is invalid" in result.output, result.output
    assert seen == []


def test_a_small_file_rewritten_during_the_push_is_refused_and_nothing_published(
    conn, copy_of, adapters, repo_id, monkeypatch
):
    from hubver.registry import push as push_module

    art = _artifact(copy_of, adapters, 4)
    compose = push_module._compose

    def compose_then_rewrite(*args, **kwargs):  # the trainer saving again while push runs
        out = compose(*args, **kwargs)
        (art / "adapter_config.json").write_text('{"r": 99, "peft_type": "LORA"}')
        return out

    monkeypatch.setattr(push_module, "_compose", compose_then_rewrite)
    with pytest.raises(ArtifactError, match="adapter_config.json changed while it was being pushed"):
        hubver.push(art, repo_id, **conn)
    assert hubver.list_versions(repo_id, **conn) == []


def test_a_file_deleted_during_the_push_gets_a_clear_error(conn, copy_of, adapters, repo_id, monkeypatch):
    from hubver.registry import push as push_module

    art = _artifact(copy_of, adapters, 5)
    (art / "notes.txt").write_text("small")
    compose = push_module._compose

    def compose_then_delete(*args, **kwargs):
        out = compose(*args, **kwargs)
        (art / "notes.txt").unlink()
        return out

    monkeypatch.setattr(push_module, "_compose", compose_then_delete)
    with pytest.raises(ArtifactError, match="notes.txt could not be read while it was being pushed"):
        hubver.push(art, repo_id, **conn)


@pytest.fixture
def pushed(conn, copy_of, adapters, repo_id):
    art = _artifact(copy_of, adapters, 6)
    hubver.push(art, repo_id, **conn)
    return art


def test_a_checkout_does_not_replace_what_another_one_put_there_meanwhile(
    conn, pushed, repo_id, hf_cache, tmp_path, monkeypatch
):
    from hubver.registry import checkout as checkout_module

    target = tmp_path / "co"
    fill = checkout_module._fill

    def fill_then_race(*args, **kwargs):  # another checkout finishes into the same directory
        out = fill(*args, **kwargs)
        target.mkdir()
        (target / "theirs.txt").write_text("the other checkout's")
        return out

    monkeypatch.setattr(checkout_module, "_fill", fill_then_race)
    with pytest.raises(CheckoutError, match="was filled by another checkout while this one ran"):
        hubver.checkout(repo_id, "v1", to=target, cache_dir=hf_cache, quiet=True, **conn)
    assert [p.name for p in target.iterdir()] == ["theirs.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".co.hubver-")]


def test_a_symlinked_target_is_filled_through_the_link(conn, pushed, repo_id, hf_cache, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    result = hubver.checkout(repo_id, "v1", to=link, cache_dir=hf_cache, quiet=True, force=True, **conn)
    assert link.is_symlink() and Path(result.path) == real.resolve()
    assert _sha(real / "big.bin") == _sha(pushed / "big.bin")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_changed_blob_names_itself_and_the_way_out(conn, pushed, repo_id, hf_cache, tmp_path):
    first = hubver.checkout(repo_id, "v1", to=tmp_path / "a", cache_dir=hf_cache, quiet=True, **conn)
    blob = (Path(first.cache_dir) / "big.bin").resolve()
    os.chmod(blob, 0o644)
    with blob.open("r+b") as f:
        f.write(b"changed")
    with pytest.raises(hubver.errors.IntegrityError) as e:
        hubver.checkout(repo_id, "v1", to=tmp_path / "b", cache_dir=hf_cache, quiet=True, **conn)
    assert str(blob) in e.value.message and f"rm {blob}" in (e.value.hint or "")
    blob.unlink()  # what the hint says: then it is downloaded afresh
    again = hubver.checkout(repo_id, "v1", to=tmp_path / "b", cache_dir=hf_cache, quiet=True, **conn)
    assert _sha(Path(again.path) / "big.bin") == _sha(pushed / "big.bin")


def test_link_and_copy_together_are_refused(cli, pushed, repo_id, tmp_path):
    result = cli("checkout", "v1", "--to", tmp_path / "a", "--link", "--copy", repo=repo_id)
    assert result.exit_code == 2 and "--link and --copy contradict each other" in result.output
    assert not (tmp_path / "a").exists()


# -- round 2 -------------------------------------------------------------------------------------


def test_a_large_text_file_rewritten_during_the_push_is_refused(
    conn, copy_of, adapters, repo_id, monkeypatch
):
    """A 2 MiB tokenizer.json: big enough for the early upload, but the Hub takes it in the
    commit itself ("regular"), where nobody checks its bytes against the hash."""
    from hubver.registry import push as push_module

    art = copy_of(adapters[4], "art-text")
    tokenizer = art / "tokenizer.json"
    tokenizer.write_text('{"vocab": {' + ", ".join(f'"t{i}": {i}' for i in range(180_000)) + "}}")
    assert tokenizer.stat().st_size > 2 * MiB
    compose = push_module._compose

    def compose_then_rewrite(*args, **kwargs):
        out = compose(*args, **kwargs)
        tokenizer.write_text("{}")
        return out

    monkeypatch.setattr(push_module, "_compose", compose_then_rewrite)
    with pytest.raises(ArtifactError, match="tokenizer.json changed while it was being pushed"):
        hubver.push(art, repo_id, **conn)
    assert hubver.list_versions(repo_id, **conn) == []
    monkeypatch.undo()
    tokenizer.write_text('{"vocab": {}}')
    result = hubver.push(art, repo_id, **conn)  # and a clean push of the same folder verifies
    assert hubver.verify(repo_id, result.version, **conn)[0].ok


def test_a_blob_written_while_it_is_hashed_is_refused_and_not_recorded(
    conn, pushed, repo_id, hf_cache, tmp_path, monkeypatch
):
    """The red team wrote into a blob while checkout hashed it and put its mtime back."""
    from hubver import hashcache

    monkeypatch.setenv("HUBVER_HOME", str(tmp_path / "hubver-home"))
    opts = {"cache_dir": hf_cache, "quiet": True, "place": "link", **conn}
    first = hubver.checkout(repo_id, "v1", to=tmp_path / "a", **opts)
    blob = (Path(first.cache_dir) / "big.bin").resolve()
    os.chmod(blob, 0o644)  # moves the ctime: the next checkout hashes it
    real = hashcache.sha256_file

    def hash_then_write(path, *a, **kw):
        digest = real(path, *a, **kw)  # the good bytes were read...
        if Path(path) == blob:
            st = blob.stat()
            with blob.open("r+b") as f:  # ...and then the start is rewritten, mtime put back
                f.write(b"EVIL" * 8)
            os.utime(blob, ns=(st.st_atime_ns, st.st_mtime_ns))
        return digest

    monkeypatch.setattr(hashcache, "sha256_file", hash_then_write)
    with pytest.raises(
        hubver.errors.IntegrityError, match="changed in the HF cache .* while it was being checked"
    ):
        hubver.checkout(repo_id, "v1", to=tmp_path / "b", **opts)
    monkeypatch.setattr(hashcache, "sha256_file", real)
    with pytest.raises(hubver.errors.IntegrityError, match="does not match its manifest"):
        hubver.checkout(repo_id, "v1", to=tmp_path / "c", **{**opts, "place": "copy"})


def test_a_template_that_fails_when_rendered_sends_no_byte(
    hub, conn, cli, copy_of, adapters, repo_id, tmp_path
):
    hubver.push(_artifact(copy_of, adapters, 7), repo_id, **conn)
    before = lfs_objects(hub, repo_id)
    bad = tmp_path / "t1.j2"
    bad.write_text("card {{ none_thing.attr.deeper }}\n")
    with recorded_requests(hub.app) as seen:
        result = cli("push", _artifact(copy_of, adapters, 8), "--template", bad, repo=repo_id)
    assert result.exit_code == 1 and "none_thing" in result.output, result.output
    assert not [r for r in seen if r.method == "PUT" or "/info/lfs/" in r.path], seen
    assert lfs_objects(hub, repo_id) == before


def test_pushes_that_create_the_same_new_branch_at_once_each_get_a_version(
    conn, copy_of, adapters, repo_id, monkeypatch
):
    import threading

    from hubver.client import HubClient

    hubver.push(_artifact(copy_of, adapters, 9), repo_id, **conn)  # main exists
    both = threading.Barrier(2, timeout=30)
    create = HubClient.create_branch

    def together(self, *args, **kwargs):  # both pushes ask at the same moment
        with contextlib.suppress(threading.BrokenBarrierError):
            both.wait()
        return create(self, *args, **kwargs)

    monkeypatch.setattr(HubClient, "create_branch", together)
    results, errors = [], []

    def push(seed):
        try:
            results.append(hubver.push(_artifact(copy_of, adapters, seed), repo_id, branch="fresh", **conn))
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=push, args=(seed,)) for seed in (10, 11)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    # the branch starts from main (v1): each push got its own next version, none failed
    assert errors == [] and sorted(r.version for r in results) == ["v2", "v3"]
    listed = hubver.list_versions(repo_id, branch="fresh", **conn)
    assert sorted(v.version for v in listed) == ["v1", "v2", "v3"]


@pytest.mark.parametrize("kind", ["loop", "dangling", "under-a-file"])
def test_a_target_that_cannot_be_a_directory_is_refused_before_any_download(
    conn, pushed, repo_id, hf_cache, tmp_path, kind
):
    if kind == "loop":
        target = tmp_path / "loop"
        target.symlink_to(tmp_path / "loop")
    elif kind == "dangling":
        target = tmp_path / "dangling"
        target.symlink_to(tmp_path / "nowhere")
    else:
        (tmp_path / "afile").write_text("x")
        target = tmp_path / "afile" / "x"
    with pytest.raises(CheckoutError) as e:
        hubver.checkout(repo_id, "v1", to=target, cache_dir=hf_cache, quiet=True, **conn)
    assert "unexpected" not in e.value.message
    assert not hf_cache.exists()  # refused before a byte was downloaded
