"""The repository handle: `hubver.connect` opens one client that every verb shares."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request

import pytest

import hubver
from hubver.errors import ConfigError, VersionNotFound

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def test_several_verbs_through_one_handle(hub, hub_token, adapters, repo_id, tmp_path):
    with hubver.connect(repo_id, endpoint=hub.url, token=hub_token) as registry:
        assert isinstance(registry, hubver.Registry) and registry.repo == repo_id
        client = registry.client
        v1 = registry.push(adapters[4], message="rank 4", metrics={"eval_loss": 2.0})
        v2 = registry.push(adapters[8], message="rank 8", metrics={"eval_loss": 1.5})
        assert [v.version for v in registry.list_versions()] == ["v1", "v2"]
        assert [v.version for v in registry.list_versions(sort="eval_loss", limit=1)] == ["v2"]
        assert registry.resolve("v1") == v1.commit
        assert registry.show("v2").metadata["peft"]["r"] == 8
        assert registry.diff("v1", "v2").lora_rank == (4, 8)
        promotion = registry.promote("v1", "production")
        assert promotion.changed and registry.resolve("production") == promotion.commit
        assert [a["version"] for a in registry.aliases()] == ["v1"]
        assert [h["to"] for h in registry.alias_history("production")] == ["v1"]
        assert all(r.ok for r in registry.verify())
        out = registry.checkout("v2", tmp_path / "v2")
        assert out.commit == v2.commit and (tmp_path / "v2" / "adapter_model.safetensors").exists()
        with pytest.raises(VersionNotFound):
            registry.resolve("v9")
        assert registry.client is client  # one client for every verb
    # The module-level functions see the same repository.
    assert [v.version for v in hubver.list_versions(repo_id, endpoint=hub.url, token=hub_token)] == [
        "v1",
        "v2",
    ]


def test_a_local_handle_starts_one_embedded_hub_and_stops_it(adapters):
    with hubver.connect("me/handle", local=True) as registry:
        url = registry.client.endpoint
        registry.push(adapters[4])
        registry.push(adapters[8])
        assert [v.version for v in registry.list_versions()] == ["v1", "v2"]
        assert registry.client.endpoint == url
        urllib.request.urlopen(f"{url}/api/models/me/handle", timeout=5).close()  # answers meanwhile
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/api/models/me/handle", timeout=2)
    # The versions are on disk, for the next handle (and its own embedded hub).
    assert [v.version for v in hubver.list_versions("me/handle", local=True)] == ["v1", "v2"]


def test_connect_without_a_repository_says_how_to_give_one(monkeypatch):
    monkeypatch.delenv("HUBVER_REPO", raising=False)
    with pytest.raises(ConfigError) as e:
        hubver.connect(endpoint="http://127.0.0.1:9")
    assert "--repo" in (e.value.hint or "")


def test_import_hubver_registry_stays_light():
    code = "import sys, hubver.registry\nprint('huggingface_hub' in sys.modules or 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_closed_handle_says_it_is_closed(hub, hub_token, adapters, repo_id):
    with hubver.connect(repo_id, endpoint=hub.url, token=hub_token) as registry:
        registry.push(adapters[4], message="one")
    with pytest.raises(ConfigError, match="is closed") as e:
        registry.list_versions()
    assert "hubver.connect" in (e.value.hint or "")


def test_the_handle_refuses_what_belongs_to_connect(hub, hub_token, adapters, repo_id):
    with pytest.raises(TypeError, match="hubver.connect"):
        hubver.Registry(repo_id)  # type: ignore[arg-type]
    with hubver.connect(repo_id, endpoint=hub.url, token=hub_token) as registry:
        for option in ("branch", "endpoint", "local", "token"):
            with pytest.raises(TypeError, match=f"does not take {option}"):
                registry.push(adapters[4], **{option: None})
        with pytest.raises(TypeError, match="does not take endpoint"):
            registry.load("v1", endpoint=hub.url)
        with pytest.raises(TypeError, match="takes a PushRequest"):
            registry.push(adapters[4], ["message"])  # type: ignore[arg-type]
        # The JSON form of a PushRequest is a PushRequest too.
        assert registry.push(adapters[4], {"message": "from a dict"}).version == "v1"
        assert registry.show("v1").metadata["message"] == "from a dict"


def test_the_old_hub_keyword_still_passes_a_client(hub, hub_token, repo_id, adapters):
    hubver.push(adapters[4], repo_id, endpoint=hub.url, token=hub_token)
    with hubver.connect(repo_id, endpoint=hub.url, token=hub_token) as registry:
        client = registry.client
        with pytest.warns(DeprecationWarning, match="client="):
            versions = hubver.list_versions(repo_id, hub=client)
        assert [v.version for v in versions] == ["v1"]
