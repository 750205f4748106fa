"""HubverCallback with real TRL SFTTrainer runs: versions per epoch, and a hub that dies mid-run."""

from __future__ import annotations

import time

import pytest

import hubver
from hubver import HubverCallback
from hubver.testing import train_lora

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),  # peft reads a deprecated transformers attribute
]
QUIET = {"disable_tqdm": True}


def test_push_every_epoch_with_a_real_sft_run(hub, hub_token, tiny_base, repo_id, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    cb = HubverCallback(
        repo=repo_id, push="epoch", endpoint=hub.url, token=hub_token, dataset_name="tiny-texts"
    )
    trainer = train_lora(
        tiny_base, tmp_path / "out", r=4, epochs=2, callbacks=[cb], eval=True, extra_args=QUIET
    )
    assert not cb.failures
    assert [(r.version, r.created) for r in cb.results] == [("v1", True), ("v2", True)]
    versions = hubver.list_versions(repo_id, endpoint=hub.url, token=hub_token)
    assert [v.version for v in versions] == ["v1", "v2"]
    for n, v in enumerate(versions, start=1):
        meta = hubver.get_version(repo_id, v.version, endpoint=hub.url, token=hub_token).metadata
        assert meta["training"]["epoch"] == float(n)
        assert meta["training"]["global_step"] == n * trainer.state.max_steps // 2
        assert "train_loss" in meta["metrics"] and "eval_loss" in meta["metrics"]
        assert meta["training"]["hyperparameters"]["num_train_epochs"] == 2
        assert meta["training"]["hyperparameters"]["learning_rate"] == trainer.args.learning_rate
        assert meta["peft"]["r"] == 4
        assert meta["dataset"]["name"] == "tiny-texts" and meta["dataset"]["num_samples"] > 0
        assert meta["extra"]["trigger"] == "epoch"
        assert any("loss" in p for p in meta["training"]["log_history"])
    # Each version loads by tag with plain peft, and v2 is the final state of training.
    base = AutoModelForCausalLM.from_pretrained(tiny_base)
    final = {k: t.detach().clone() for k, t in trainer.model.state_dict().items() if "lora_" in k}
    v1 = PeftModel.from_pretrained(base, repo_id, revision="v1")
    v1_lora = {k: t.detach().clone() for k, t in v1.state_dict().items() if "lora_" in k}
    base = AutoModelForCausalLM.from_pretrained(tiny_base)
    v2 = PeftModel.from_pretrained(base, repo_id, revision="v2")
    v2_lora = {k: t for k, t in v2.state_dict().items() if "lora_" in k}
    assert v1_lora.keys() == v2_lora.keys() == final.keys()
    assert all(torch.equal(final[k], v2_lora[k]) for k in final)
    assert not all(torch.equal(v1_lora[k], v2_lora[k]) for k in v1_lora)  # epoch 2 trained further


def test_save_strategy_no_with_push_on_save_publishes_at_the_end(
    hub, hub_token, tiny_base, repo_id, tmp_path
):
    cb = HubverCallback(repo=repo_id, push="save", endpoint=hub.url, token=hub_token)
    train_lora(
        tiny_base, tmp_path / "out", r=4, epochs=1, callbacks=[cb], save_strategy="no", extra_args=QUIET
    )
    assert [r.version for r in cb.results] == ["v1"]
    meta = hubver.get_version(repo_id, "v1", endpoint=hub.url, token=hub_token).metadata
    assert meta["extra"]["trigger"] == "end" and meta["training"]["epoch"] == 1.0


def test_push_on_save_with_checkpoints(hub, hub_token, tiny_base, repo_id, tmp_path):
    cb = HubverCallback(repo=repo_id, push="save", endpoint=hub.url, token=hub_token)
    train_lora(
        tiny_base, tmp_path / "out", r=4, epochs=2, callbacks=[cb], save_strategy="epoch", extra_args=QUIET
    )
    assert [r.version for r in cb.results] == ["v1", "v2"]


class _StopHubAfterFirstVersion:
    """Stops the hub once the first version is published: the later uploads must fail."""

    def __init__(self, hub, cb):
        self.hub, self.cb = hub, cb

    def __getattr__(self, name):
        if name.startswith("on_"):
            return lambda *a, **k: None
        raise AttributeError(name)

    def on_epoch_begin(self, args, state, control, **kwargs):
        if state.epoch and state.epoch >= 1 and self.hub is not None:
            deadline = time.monotonic() + 60
            while not self.cb.results and time.monotonic() < deadline:
                time.sleep(0.05)
            self.hub.stop()
            self.hub = None


def test_a_dead_hub_does_not_stop_training(hub_token, tiny_base, tmp_path, cli):
    from hubver.server import HubConfig, start_in_thread

    data = tmp_path / "hub"
    own = start_in_thread(HubConfig(data_dir=data, admin_token=hub_token))
    cb = HubverCallback(repo="t/dying", push="epoch", endpoint=own.url, token=hub_token, wait_timeout=5)
    trainer = train_lora(
        tiny_base,
        tmp_path / "out",
        r=4,
        epochs=3,
        callbacks=[cb, _StopHubAfterFirstVersion(own, cb)],
        extra_args=QUIET,
    )
    assert trainer.state.epoch == 3.0  # training went to the end
    assert [r.version for r in cb.results] == ["v1"]
    steps = {trainer.state.max_steps * 2 // 3, trainer.state.max_steps}
    assert {f.step for f in cb.failures} == steps  # reported, and kept in the outbox
    assert len(cb.pending) == 2
    # Once the hub is back, v1 is intact and the kept snapshots are published in order.
    with start_in_thread(HubConfig(data_dir=data, admin_token=hub_token)) as again:
        report = hubver.verify("t/dying", "v1", endpoint=again.url, token=hub_token)[0]
        assert report.ok and report.files_checked >= 2
        result = cli("push", "--pending", tmp_path / "out", endpoint=again.url)
        assert result.exit_code == 0, result.output
        listed = hubver.list_versions("t/dying", endpoint=again.url, token=hub_token)
        assert [v.version for v in listed] == ["v1", "v2", "v3"]


def test_strict_raises_when_an_upload_failed(hub_token, tiny_base, tmp_path):
    import socket

    from hubver.errors import HubverError

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    s.close()
    cb = HubverCallback(
        repo="t/strict", push="end", endpoint=dead, token=hub_token, strict=True, wait_timeout=3
    )
    with pytest.raises(HubverError, match="upload"):
        train_lora(tiny_base, tmp_path / "out", r=4, epochs=1, callbacks=[cb], extra_args=QUIET)


def test_interrupted_training_keeps_the_published_versions(hub, hub_token, tiny_base, repo_id, tmp_path):
    class Interrupt:
        def __getattr__(self, name):
            if name.startswith("on_"):
                return lambda *a, **k: None
            raise AttributeError(name)

        def on_epoch_begin(self, args, state, control, **kwargs):
            if state.epoch and state.epoch >= 1:
                raise KeyboardInterrupt

    cb = HubverCallback(repo=repo_id, push="epoch", endpoint=hub.url, token=hub_token)
    with pytest.raises(KeyboardInterrupt):
        train_lora(tiny_base, tmp_path / "out", r=4, epochs=3, callbacks=[cb, Interrupt()], extra_args=QUIET)
    cb.wait()  # what a process does at exit: the upload in flight completes
    assert [r.version for r in cb.results] == ["v1"]
    assert hubver.verify(repo_id, "v1", endpoint=hub.url, token=hub_token)[0].ok


def test_importing_the_callback_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys\nfrom hubver import HubverCallback\nprint('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"


def test_base_revision_is_pinned_when_training_starts(hub, hub_token, api, tiny_base, repo_id, tmp_path):
    """A base loaded by hub id is recorded at the commit that was trained, even if main moves."""
    from huggingface_hub import CommitOperationAdd

    base_repo = repo_id + "-base"
    api.create_repo(base_repo)
    trained_from = api.upload_folder(repo_id=base_repo, folder_path=tiny_base).oid

    class MoveBaseMain:
        def __getattr__(self, name):
            if name.startswith("on_"):
                return lambda *a, **k: None
            raise AttributeError(name)

        def on_epoch_end(self, args, state, control, **kwargs):
            api.create_commit(
                base_repo, [CommitOperationAdd("NOTES.md", b"moved")], commit_message="move main"
            )

    cb = HubverCallback(repo=repo_id, push="end", endpoint=hub.url, token=hub_token)
    train_lora(base_repo, tmp_path / "out", r=4, epochs=1, callbacks=[MoveBaseMain(), cb], extra_args=QUIET)
    meta = hubver.get_version(repo_id, "v1", endpoint=hub.url, token=hub_token).metadata
    assert meta["base_model"]["name"] == base_repo
    assert meta["base_model"]["revision"] == trained_from != api.model_info(base_repo).sha
