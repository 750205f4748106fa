"""The lockfile against the session hub: lock -> checkout --lock -> verify --lock (offline),
tampering detected, and hubver.load(lock=...) refusing a tampered file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from huggingface_hub import HfApi

import hubver
from hubver.errors import IntegrityError, LockError
from hubver.lockfile import LOCK_VERSION, cache_snapshot, read_lock, write_lock

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture
def conn(hub, hub_token):
    return {"endpoint": hub.url, "token": hub_token}


@pytest.fixture
def base_on_hub(api: HfApi, tiny_base, repo_id) -> tuple[str, str]:
    """The tiny base model as a plain repo on the hub: (repo id, its main commit)."""
    base = repo_id + "-base"
    api.create_repo(base)
    commit = api.upload_folder(repo_id=base, folder_path=str(tiny_base), commit_message="base").oid
    return base, commit


@pytest.fixture
def adapter_repo(conn, adapters, base_on_hub, repo_id, copy_of):
    """v1 and v2: adapters on the hub's base model; v2 has the better eval_loss."""
    base, _ = base_on_hub
    for n, (r, loss) in enumerate(((4, 2.0), (8, 1.5)), start=1):
        art = copy_of(adapters[r], f"a{n}")
        config = json.loads((art / "adapter_config.json").read_text())
        config["base_model_name_or_path"] = base
        (art / "adapter_config.json").write_text(json.dumps(config))
        hubver.push(art, repo_id, metrics={"eval_loss": loss}, **conn)
    return repo_id


def _tamper(path: Path, data: bytes = b"tampered") -> None:
    real = path.resolve()  # the cache's snapshot files are links to its blobs
    os.chmod(real, 0o644)
    real.write_bytes(data)


def test_lock_round_trip_and_tampering(
    conn, adapter_repo, base_on_hub, cli, hub_token, tmp_path, monkeypatch
):
    base, base_commit = base_on_hub
    lock_path = tmp_path / "deploy" / "hubver.lock"
    result = cli("lock", "best:eval_loss", "-o", str(lock_path), repo=adapter_repo)
    assert result.exit_code == 0, result.output
    assert "Locked" in result.stdout and "v2 (best:eval_loss)" in result.stdout

    raw = lock_path.read_text()
    assert hub_token not in raw
    data = json.loads(raw)
    assert data["lock_version"] == LOCK_VERSION and len(data["versions"]) == 1
    pinned = data["versions"][0]
    with hubver.connect(adapter_repo, **conn) as registry:
        tags = registry.client.refs(adapter_repo).tags
        meta = registry.get_version("v2").metadata
    assert (pinned["repo"], pinned["version"], pinned["selector"]) == (adapter_repo, "v2", "best:eval_loss")
    assert pinned["commit"] == tags["v2"] and pinned["digest"] == meta["digest"]
    assert pinned["base_model"] == {
        "name": base,
        "revision": base_commit,
        "commit": base_commit,
        "note": None,
    }
    manifest = sorted(
        ({k: f[k] for k in ("path", "sha256", "size")} for f in meta["files"]), key=lambda f: f["path"]
    )
    assert pinned["files"] == manifest and any(f["path"] == "adapter_model.safetensors" for f in manifest)

    # checkout --lock: no --repo needed, the lock names it.
    out = tmp_path / "co"
    result = cli("checkout", "--lock", str(lock_path), "--to", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["commit"] == tags["v2"]
    assert (out / "adapter_model.safetensors").read_bytes()

    # verify --lock: offline, and no hub to ask (the endpoint points nowhere).
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    result = cli("verify", "--lock", str(lock_path), token=None, endpoint=None)
    assert result.exit_code == 0, result.output
    assert f"{adapter_repo} v2 ({tags['v2'][:12]}): ok" in result.stdout
    assert "adapter_model.safetensors: ok" in result.stdout

    snapshot = cache_snapshot(adapter_repo, tags["v2"])
    _tamper(snapshot / "adapter_model.safetensors")
    (snapshot / "adapter_config.json").unlink()
    result = cli("verify", "--lock", str(lock_path), "--json", token=None, endpoint=None)
    assert result.exit_code == 1
    report = {f["path"]: f["status"] for f in json.loads(result.stdout)[0]["files"]}
    assert report.pop("adapter_model.safetensors") == "modified"
    assert report.pop("adapter_config.json") == "missing"
    assert set(report.values()) <= {"ok"}
    result = cli("verify", "--lock", str(lock_path), token=None, endpoint=None)
    assert result.exit_code == 1 and "adapter_model.safetensors: modified" in result.output
    assert "Traceback" not in result.output


def test_lock_errors_are_clear(adapter_repo, cli, tmp_path):
    result = cli("lock", "best:bleu", "-o", str(tmp_path / "x.lock"), repo=adapter_repo)
    assert result.exit_code == 1 and "Metrics recorded: eval_loss" in result.output
    assert not (tmp_path / "x.lock").exists()
    result = cli("checkout", "--lock", str(tmp_path / "none.lock"))
    assert result.exit_code == 1 and "Cannot read the lockfile" in result.output
    (tmp_path / "old.lock").write_text('{"lock_version": 99, "versions": []}')
    result = cli("verify", "--lock", str(tmp_path / "old.lock"))
    assert result.exit_code == 1 and "lock_version 99" in result.output and "Traceback" not in result.output


def test_lock_refuses_a_version_that_moved(conn, adapter_repo, unprotected, api, tmp_path):
    with hubver.connect(adapter_repo, **conn) as registry:
        lock = registry.lock(["v1", "latest"])
    assert [v.version for v in lock.versions] == ["v1", "v2"]
    path = write_lock(lock, tmp_path / "hubver.lock")
    assert read_lock(path) == lock
    with pytest.raises(LockError, match="pins 2 versions"):
        hubver.checkout(adapter_repo, "", lock=path, **conn)
    with pytest.raises(LockError, match=f"The lock pins {adapter_repo}, not"):
        hubver.checkout(adapter_repo + "-other", "v1", lock=path, **conn)
    tags = {t.name: t.target_commit for t in api.list_repo_refs(adapter_repo).tags}
    api.delete_tag(adapter_repo, tag="v1")
    api.create_tag(adapter_repo, tag="v1", revision=tags["v2"])
    with pytest.raises(IntegrityError) as e:
        hubver.checkout(adapter_repo, "v1", to=tmp_path / "co", lock=path, quiet=True, **conn)
    assert "locked at commit" in e.value.message and "now points at" in e.value.message
    assert not (tmp_path / "co").exists()


@pytest.mark.filterwarnings("ignore::FutureWarning")  # peft reads a deprecated transformers attribute
def test_load_with_a_lock(conn, adapter_repo, base_on_hub, tmp_path, monkeypatch):
    with hubver.connect(adapter_repo, **conn) as registry:
        path = write_lock(registry.lock(["v1"]), tmp_path / "hubver.lock")
    model = hubver.load(lock=path, **conn)  # repo and version come from the lock
    assert not model.training and any("lora_" in k for k in model.state_dict())
    # Offline the locked commit is read from the cache by its sha, base model included.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hubver.load(lock=path, **conn) is not None
    commit = read_lock(path).versions[0].commit
    _tamper(cache_snapshot(adapter_repo, commit) / "adapter_model.safetensors")
    with pytest.raises(IntegrityError) as e:
        hubver.load(lock=path, **conn)
    assert "adapter_model.safetensors modified" in e.value.message and "lockfile" in e.value.message
    monkeypatch.delenv("HF_HUB_OFFLINE")
    with pytest.raises(IntegrityError):  # online too: the cached copy is not trusted
        hubver.load(lock=path, **conn)
