"""Reading versions back: list, show, diff, resolve, checkout, promote, verify, load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import recorded_requests
from huggingface_hub import CommitOperationAdd

import hubver
from hubver.errors import CheckoutError, IntegrityError, LoadError, MetadataError, VersionNotFound

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture
def conn(hub, hub_token):
    return {"endpoint": hub.url, "token": hub_token}


@pytest.fixture
def two_versions(conn, adapters, repo_id):
    """v1 (r=4, eval_loss 2.0) and v2 (r=8, eval_loss 1.5)."""
    v1 = hubver.push(adapters[4], repo_id, message="rank 4", metrics={"eval_loss": 2.0}, **conn)
    v2 = hubver.push(adapters[8], repo_id, message="rank 8", metrics={"eval_loss": 1.5}, **conn)
    return v1, v2


def test_list_versions(conn, two_versions, repo_id):
    v1, v2 = two_versions
    versions = hubver.list_versions(repo_id, **conn)
    assert [(v.version, v.commit) for v in versions] == [("v1", v1.commit), ("v2", v2.commit)]
    assert versions[0].metrics == {"eval_loss": 2.0} and versions[1].message == "rank 8"
    assert versions[1].lora_rank == 8 and versions[1].kind == "adapter"
    best = hubver.list_versions(repo_id, sort="eval_loss", limit=1, **conn)
    assert [v.version for v in best] == ["v2"]
    assert [v.version for v in hubver.list_versions(repo_id, sort="-eval_loss", **conn)] == ["v1", "v2"]


def test_listing_costs_a_constant_number_of_requests(hub, conn, adapters, repo_id, copy_of):
    art = copy_of(adapters[4], "art")

    def count_list_requests() -> int:
        with recorded_requests(hub.app) as seen:
            hubver.list_versions(repo_id, **conn)
        return len(seen)

    counts = []
    for n in range(1, 9):
        (art / "step.txt").write_text(str(n))
        hubver.push(art, repo_id, **conn)
        if n in (2, 8):
            counts.append(count_list_requests())
    assert counts[0] == counts[1] == 2  # refs + the index, for 2 versions as for 8


def test_show_and_a_corrupt_old_version(api, unprotected, conn, two_versions, repo_id):
    detail = hubver.get_version(repo_id, "v1", **conn)
    assert detail.metadata["version"] == "v1" and detail.metadata["peft"]["r"] == 4
    assert detail.card["library_name"] == "peft"
    # Rewrite v1's hubver.json with broken JSON and move the tag there, as a damaged repo would be.
    commit = api.create_commit(
        repo_id,
        [CommitOperationAdd("hubver.json", b'{"version": "v1", broken')],
        commit_message="damage",
        revision="main",
    ).oid
    api.delete_tag(repo_id, tag="v1")
    api.create_tag(repo_id, tag="v1", revision=commit)
    with pytest.raises(IntegrityError) as moved:
        hubver.get_version(repo_id, "v1", **conn)
    assert "TAG MOVED: v1" in moved.value.message and "--unchecked" in moved.value.hint
    with pytest.raises(MetadataError) as e:  # read anyway: the file itself is what is broken
        hubver.get_version(repo_id, "v1", unchecked=True, **conn)
    assert "hubver.json of version v1" in e.value.message and "line 1" in e.value.message
    assert [v.version for v in hubver.list_versions(repo_id, **conn)] == ["v1", "v2"]  # listing still works


def test_unknown_version(conn, two_versions, repo_id):
    with pytest.raises(VersionNotFound) as e:
        hubver.get_version(repo_id, "v7", **conn)
    assert e.value.message.startswith("Version v7 not found in") and "hubver list" in e.value.hint


def test_diff_reads_ranks_from_weight_headers_without_downloading(hub, conn, two_versions, repo_id):
    with recorded_requests(hub.app) as seen:
        d = hubver.diff(repo_id, "v1", "v2", **conn)
    assert d.lora_rank == (4, 8)
    assert set(d.lora_ranks.values()) == {(4, 8)}
    assert d.peft["r"] == (4, 8)
    assert d.metrics["eval_loss"] == (2.0, 1.5, -0.5)
    assert {f["path"] for f in d.files_changed} == {"adapter_model.safetensors", "adapter_config.json"}
    weight_gets = [s for s in seen if s.path.endswith("adapter_model.safetensors") and s.method == "GET"]
    assert weight_gets, "the headers are read over HTTP"
    # Every weight GET was a range request for the header, never the whole file (see below).


def test_diff_weight_requests_are_ranged(hub, conn, two_versions, repo_id):
    ranges = []
    original = hub.app.dispatch

    async def spy(request):
        if request.url.path.endswith("adapter_model.safetensors") and request.method == "GET":
            ranges.append(request.headers.get("range"))
        return await original(request)

    hub.app.dispatch = spy
    try:
        hubver.diff(repo_id, "v1", "v2", **conn)
    finally:
        del hub.app.dispatch
    assert ranges and all(r and r.startswith("bytes=0-") for r in ranges)


def test_resolve(conn, two_versions, repo_id):
    assert hubver.resolve(repo_id, "v2", **conn) == two_versions[1].commit


def test_checkout_verifies_and_lands_in_the_cache(conn, two_versions, repo_id, tmp_path, adapters):
    target = tmp_path / "v1"
    result = hubver.checkout(repo_id, "v1", to=target, quiet=True, **conn)
    assert result.commit == two_versions[0].commit and result.verified == 2
    assert (target / "adapter_model.safetensors").read_bytes() == (
        adapters[4] / "adapter_model.safetensors"
    ).read_bytes()
    assert sorted(p.name for p in target.iterdir()) == [
        "README.md",
        "adapter_config.json",
        "adapter_model.safetensors",
        "hubver.json",
    ]
    # Offline, with plain huggingface_hub: the tag resolves from the standard cache.
    code = (
        "from huggingface_hub import hf_hub_download;"
        f"print(hf_hub_download({repo_id!r}, 'adapter_model.safetensors', revision='v1'))"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert Path(out.stdout.strip()).read_bytes() == (target / "adapter_model.safetensors").read_bytes()


def test_checkout_refuses_a_non_empty_target(conn, two_versions, repo_id, tmp_path):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "mine.txt").write_text("keep me")
    with pytest.raises(CheckoutError) as e:
        hubver.checkout(repo_id, "v1", to=target, quiet=True, **conn)
    assert "not empty" in e.value.message and "--force" in e.value.hint
    assert [p.name for p in target.iterdir()] == ["mine.txt"]
    hubver.checkout(repo_id, "v2", to=target, force=True, quiet=True, **conn)
    assert "mine.txt" not in [p.name for p in target.iterdir()]
    assert json.loads((target / "hubver.json").read_text())["version"] == "v2"


def test_a_second_checkout_downloads_nothing(hub, conn, two_versions, repo_id, tmp_path):
    hubver.checkout(repo_id, "v1", to=tmp_path / "a", quiet=True, **conn)
    with recorded_requests(hub.app) as seen:
        hubver.checkout(repo_id, "v1", to=tmp_path / "b", quiet=True, **conn)
    # No file of the version is downloaded again; the cache is still checked against the Hub:
    # refs, the index at the head and one tree listing of the tag's commit.
    downloads = [s for s in seen if "/resolve/" in s.path and not s.path.endswith("/.hubver/versions.jsonl")]
    assert not downloads and len(seen) == 3, seen


def test_promote_history_and_rollback(api, conn, two_versions, repo_id, tmp_path):
    p1 = hubver.promote(repo_id, "v1", "production", **conn)
    assert (p1.version, p1.previous) == ("v1", None)
    p2 = hubver.promote(repo_id, "v2", "production", **conn)
    assert (p2.previous, p2.version) == ("v1", "v2")
    files_v2 = {
        s.rfilename: s.blob_id for s in api.model_info(repo_id, revision="v2", files_metadata=True).siblings
    }
    files_prod = {
        s.rfilename: s.blob_id
        for s in api.model_info(repo_id, revision="production", files_metadata=True).siblings
    }
    files_prod.pop(".hubver/alias.json")
    assert files_prod == files_v2  # the alias is exactly v2's content
    hubver.promote(repo_id, "v1", "production", **conn)  # rollback
    history = hubver.alias_history(repo_id, "production", **conn)
    assert [(h["from"], h["to"]) for h in history] == [(None, "v1"), ("v1", "v2"), ("v2", "v1")]
    assert all(h["by"] and h["at"] for h in history)
    assert hubver.list_aliases(repo_id, **conn)[0]["version"] == "v1"
    assert [v.aliases for v in hubver.list_versions(repo_id, **conn)] == [["production"], []]
    again = hubver.promote(repo_id, "v1", "production", **conn)
    assert again.changed is False


def test_promote_refuses_unknown_versions_and_bad_aliases(conn, two_versions, repo_id):
    from hubver.errors import VersionIdError

    with pytest.raises(VersionNotFound):
        hubver.promote(repo_id, "v9", "production", **conn)
    with pytest.raises(VersionIdError):
        hubver.promote(repo_id, "v1", "main", **conn)
    with pytest.raises(VersionIdError):
        hubver.promote(repo_id, "v1", "v2", **conn)


def test_verify_reports_a_moved_tag_and_repairs_a_missing_one(api, unprotected, conn, two_versions, repo_id):
    assert all(r.ok for r in hubver.verify(repo_id, **conn))
    api.delete_tag(repo_id, tag="v2")  # a push that died between its commit and its tag
    report = hubver.verify(repo_id, "v2", **conn)[0]
    assert not report.ok and "missing" in report.problems[0]
    repaired = hubver.verify(repo_id, "v2", repair=True, **conn)[0]
    assert repaired.repaired and repaired.ok
    api.delete_tag(repo_id, tag="v1")
    api.create_tag(repo_id, tag="v1", revision=two_versions[1].commit)  # someone moved it
    moved = hubver.verify(repo_id, "v1", **conn)[0]
    assert not moved.ok and any("TAG MOVED" in p for p in moved.problems)


def test_verify_reports_a_changed_file(api, unprotected, conn, adapters, repo_id):
    hubver.push(adapters[4], repo_id, **conn)
    commit = api.create_commit(
        repo_id, [CommitOperationAdd("adapter_config.json", b"{}")], commit_message="tamper", revision="main"
    ).oid
    api.delete_tag(repo_id, tag="v1")
    api.create_tag(repo_id, tag="v1", revision=commit)
    report = hubver.verify(repo_id, "v1", **conn)[0]
    assert not report.ok
    assert any("FILE CHANGED: adapter_config.json" in p for p in report.problems)


def test_next_push_repairs_a_missing_tag(api, unprotected, conn, adapters, repo_id, copy_of):
    hubver.push(adapters[4], repo_id, **conn)
    api.delete_tag(repo_id, tag="v1")
    result = hubver.push(adapters[8], repo_id, **conn)
    assert result.repaired == ["v1"] and result.version == "v2"
    assert {t.name for t in api.list_repo_refs(repo_id).tags} == {"v1", "v2"}


@pytest.mark.filterwarnings("ignore::FutureWarning")  # peft reads a deprecated transformers attribute
def test_load_gives_v1_after_v2_exists(conn, two_versions, repo_id, adapters):
    import torch
    from safetensors.torch import load_file

    model = hubver.load(repo_id, "v1", **conn)
    loaded = {k: v for k, v in model.state_dict().items() if "lora_" in k}
    want = load_file(adapters[4] / "adapter_model.safetensors")
    assert len(loaded) == len(want) == 4
    for name, tensor in want.items():
        key = name.replace(".weight", ".default.weight")
        assert torch.equal(loaded[key], tensor)
    assert not model.training
    devices = {p.device.type for p in model.parameters()}
    assert devices == {"cpu"}  # one device, never mixed


def test_load_refuses_pickle_only_weights(conn, tiny_base, repo_id, copy_of):
    import torch
    from safetensors.torch import load_file

    art = copy_of(tiny_base, "pickled")
    weights = load_file(art / "model.safetensors")
    (art / "model.safetensors").unlink()
    torch.save(weights, art / "pytorch_model.bin")
    hubver.push(art, repo_id, **conn)
    with pytest.raises(LoadError) as e:
        hubver.load(repo_id, "v1", **conn)
    assert "pickle" in e.value.message and "allow_pickle=True" in e.value.hint


def test_checkout_detects_tampered_cache(conn, two_versions, repo_id, tmp_path):
    first = hubver.checkout(repo_id, "v1", to=tmp_path / "a", quiet=True, **conn)
    blob = (Path(first.cache_dir) / "adapter_model.safetensors").resolve()
    os.chmod(blob, 0o644)
    blob.write_bytes(b"tampered")
    with pytest.raises(IntegrityError):
        hubver.checkout(repo_id, "v1", to=tmp_path / "b", quiet=True, **conn)
    assert not (tmp_path / "b").exists()
