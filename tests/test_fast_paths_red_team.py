"""Issue 17 red team: what the fast paths (early upload, hard-linked checkouts) must still refuse.

Each test is a finding of the red team: a refused push that uploaded first, a small file
rewritten while it was pushed, checkouts racing into one directory, a symlinked target,
contradictory flags. The session hub, real files, the real CLI.
"""

from __future__ import annotations

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
