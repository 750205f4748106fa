"""transformers and peft load tagged versions from the embedded hub: the weights of that tag.

Every repo gets v1 and then v2 with other random weights, so loading v1 after v2 exists
proves the loaders resolve the tag rather than reading main or a stale cache.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import same_weights, state
from huggingface_hub import HfApi

from hubver.testing import lora_model, tiny_gpt2

pytest.importorskip("torch")
pytest.importorskip("peft")


@dataclass
class Pushed:
    repo_id: str
    weights: dict  # tag -> state dict pushed at that tag


def _push_versions(api: HfApi, tmp_path_factory, build, *, save_kwargs=None) -> Pushed:
    """Push `build(tag)` as tags v1 then v2 of a new repo; returns what each tag holds."""
    repo_id = f"tests/load-{uuid.uuid4().hex[:10]}"
    api.create_repo(repo_id)
    weights = {}
    for tag in ("v1", "v2"):
        model = build(tag)
        folder = tmp_path_factory.mktemp(tag)
        model.save_pretrained(folder, **(save_kwargs or {}))
        api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message=f"push {tag}")
        api.create_tag(repo_id, tag=tag)
        weights[tag] = state(model)
    assert not same_weights(weights["v1"], weights["v2"])
    return Pushed(repo_id, weights)


@pytest.fixture(scope="module")
def module_api(hub, hub_token) -> HfApi:
    return HfApi(endpoint=hub.url, token=hub_token)


@pytest.fixture(scope="module")
def full_model(module_api, tmp_path_factory) -> Pushed:
    return _push_versions(module_api, tmp_path_factory, lambda tag: tiny_gpt2(seed=int(tag[1:])))


@pytest.fixture(scope="module")
def sharded_model(module_api, tmp_path_factory) -> Pushed:
    return _push_versions(
        module_api,
        tmp_path_factory,
        lambda tag: tiny_gpt2(seed=100 + int(tag[1:])),
        save_kwargs={"max_shard_size": "100KB"},
    )


@pytest.fixture(scope="module")
def base_model(module_api, tmp_path_factory) -> Pushed:
    """The base of the adapters: its v1 is what adapter_config.json names."""
    return _push_versions(module_api, tmp_path_factory, lambda tag: tiny_gpt2(seed=200 + int(tag[1:])))


@pytest.fixture(scope="module")
def adapter(module_api, tmp_path_factory, base_model) -> Pushed:
    def build(tag: str):
        base = tiny_gpt2(seed=201)  # the weights of base_model at v1
        return lora_model(
            base, r=4, alpha=8, seed=300 + int(tag[1:]), base_name=base_model.repo_id, base_revision="v1"
        )

    return _push_versions(module_api, tmp_path_factory, build)


def test_from_pretrained_at_tag(full_model):
    from transformers import AutoModelForCausalLM

    for tag in ("v1", "v2", "v1"):
        model = AutoModelForCausalLM.from_pretrained(full_model.repo_id, revision=tag)
        assert same_weights(state(model), full_model.weights[tag]), tag
    latest = AutoModelForCausalLM.from_pretrained(full_model.repo_id)
    assert same_weights(state(latest), full_model.weights["v2"])


def test_from_pretrained_sharded_at_tag(module_api, sharded_model):
    from transformers import AutoModelForCausalLM

    files = module_api.list_repo_files(sharded_model.repo_id, revision="v1")
    shards = [f for f in files if f.startswith("model-") and f.endswith(".safetensors")]
    assert "model.safetensors.index.json" in files and len(shards) > 1
    assert "model.safetensors" not in files
    for tag in ("v2", "v1"):
        model = AutoModelForCausalLM.from_pretrained(sharded_model.repo_id, revision=tag)
        assert same_weights(state(model), sharded_model.weights[tag]), tag


def test_peft_model_from_pretrained_at_tag(adapter):
    from peft import PeftModel

    for tag in ("v2", "v1"):
        model = PeftModel.from_pretrained(tiny_gpt2(seed=201), adapter.repo_id, revision=tag)
        assert same_weights(state(model), adapter.weights[tag]), tag


def test_auto_peft_model_loads_base_from_the_hub(module_api, adapter, base_model):
    from huggingface_hub import hf_hub_download
    from peft import AutoPeftModelForCausalLM

    config = json.loads(
        Path(hf_hub_download(adapter.repo_id, "adapter_config.json", revision="v1")).read_text()
    )
    assert (config["base_model_name_or_path"], config["revision"]) == (base_model.repo_id, "v1")

    for tag in ("v2", "v1"):
        model = AutoPeftModelForCausalLM.from_pretrained(adapter.repo_id, revision=tag)
        # The base came from the hub at its v1 (base_model's v2 exists and differs), the adapter at `tag`.
        assert same_weights(state(model), adapter.weights[tag]), tag
