"""hubver.testing: the tiny local GPT-2, its random LoRA adapters and a real SFT run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hubver import testing


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """One tiny base per module: building it is quick, but every test needs it."""
    return testing.build_tiny_base(tmp_path_factory.mktemp("tiny") / "base")


def test_import_does_not_import_torch():
    code = "import sys, hubver.testing; print(sorted({'torch', 'transformers', 'trl'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_base_reloads_and_generates(base):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert base.is_absolute()
    assert (base / "model.safetensors").is_file()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base)
    assert tokenizer.pad_token is not None and tokenizer.eos_token is not None
    assert model.config.vocab_size == len(tokenizer)
    assert model.config.n_layer == 2 and model.config.n_embd == 64

    inputs = tokenizer("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=5, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    assert out.shape[1] == inputs["input_ids"].shape[1] + 5
    assert isinstance(tokenizer.decode(out[0]), str)


def test_relative_out_dir_is_made_absolute(tmp_path):
    # conftest chdirs into tmp_path, so a relative path lands there.
    assert testing.build_tiny_base("rel") == tmp_path / "rel"


def test_same_seed_gives_identical_weights(base, tmp_path):
    again = testing.build_tiny_base(tmp_path / "again", seed=0)
    other = testing.build_tiny_base(tmp_path / "other", seed=1)
    weights = (base / "model.safetensors").read_bytes()
    assert (again / "model.safetensors").read_bytes() == weights
    assert (other / "model.safetensors").read_bytes() != weights
    assert (again / "tokenizer.json").read_bytes() == (base / "tokenizer.json").read_bytes()


def test_adapters_have_their_ranks_and_differ(base, tmp_path):
    r4 = testing.build_lora_adapter(base, tmp_path / "r4", r=4)
    r8 = testing.build_lora_adapter(base, tmp_path / "r8", r=8)

    modules = {"transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn"}
    assert testing.lora_ranks(r4) == dict.fromkeys(modules, 4)
    assert testing.lora_ranks(r8) == dict.fromkeys(modules, 8)
    config = json.loads((r4 / "adapter_config.json").read_text())
    assert config["r"] == 4 and config["lora_alpha"] == 8
    assert config["base_model_name_or_path"] == str(base)
    assert (r4 / "adapter_model.safetensors").read_bytes() != (r8 / "adapter_model.safetensors").read_bytes()


def test_adapter_weights_are_random_nonzero_and_seeded(base, tmp_path):
    from safetensors.torch import load_file

    a = load_file(testing.build_lora_adapter(base, tmp_path / "a", r=4) / "adapter_model.safetensors")
    b = load_file(testing.build_lora_adapter(base, tmp_path / "b", r=4) / "adapter_model.safetensors")
    c = load_file(testing.build_lora_adapter(base, tmp_path / "c", r=4, seed=1) / "adapter_model.safetensors")
    assert all(t.abs().sum() > 0 for t in a.values())  # lora_B too: not PEFT's zero init
    assert all((a[k] == b[k]).all() for k in a)
    assert any((a[k] != c[k]).any() for k in a)


def test_lora_ranks_reads_only_the_header(tmp_path):
    header = json.dumps(
        {
            "__metadata__": {"format": "pt"},
            "base_model.model.x.lora_A.weight": {"dtype": "F32", "shape": [3, 10], "data_offsets": [0, 0]},
            "base_model.model.x.lora_B.weight": {"dtype": "F32", "shape": [10, 3], "data_offsets": [0, 0]},
        }
    ).encode()
    (tmp_path / "adapter_model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    assert testing.lora_ranks(tmp_path) == {"x": 3}


def test_lora_ranks_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        testing.lora_ranks(tmp_path)


@pytest.mark.slow
# PeftModel.from_pretrained (peft 0.21) reads an attribute transformers 5 deprecates.
@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")
def test_train_lora_one_epoch(base, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, TrainerCallback

    class Epochs(TrainerCallback):
        def __init__(self):
            self.seen: list[float] = []

        def on_epoch_end(self, args, state, control, **kwargs):
            self.seen.append(state.epoch)

    epochs = Epochs()
    out = tmp_path / "run"
    trainer = testing.train_lora(base, out, r=4, alpha=8, callbacks=[epochs])

    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == trainer.state.global_step > 0  # logging_steps=1
    assert epochs.seen == [1.0]
    assert testing.lora_ranks(out) == dict.fromkeys(
        ["transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn"], 4
    )
    assert not list(out.glob("checkpoint-*"))  # save_strategy="no"

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), out)
    assert model.peft_config["default"].r == 4
    assert model.peft_config["default"].base_model_name_or_path == str(base)


@pytest.mark.slow
def test_train_lora_with_eval_and_checkpoints_is_deterministic(base, tmp_path):
    first = testing.train_lora(base, tmp_path / "a", epochs=2, eval=True, save_strategy="epoch")
    second = testing.train_lora(base, tmp_path / "b", epochs=2, eval=True, save_strategy="epoch")

    evals = [entry for entry in first.state.log_history if "eval_loss" in entry]
    assert [entry["epoch"] for entry in evals] == [1.0, 2.0]
    assert sorted(p.name for p in (tmp_path / "a").glob("checkpoint-*")) == ["checkpoint-10", "checkpoint-5"]
    weights = "adapter_model.safetensors"
    assert (tmp_path / "a" / weights).read_bytes() == (tmp_path / "b" / weights).read_bytes()
    assert first.state.log_history[-1]["train_loss"] == second.state.log_history[-1]["train_loss"]


def test_tiny_gpt2_in_memory_is_seeded_and_takes_the_tokenizers_vocabulary(base):
    import torch
    from transformers import AutoTokenizer

    a, b, c = testing.tiny_gpt2(3), testing.tiny_gpt2(3), testing.tiny_gpt2(4)
    assert not a.training
    assert all(
        torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )
    assert any(
        not torch.equal(x, y) for x, y in zip(a.state_dict().values(), c.state_dict().values(), strict=True)
    )
    assert a.config.vocab_size == testing.tinymodel.VOCAB_SIZE
    tokenizer = AutoTokenizer.from_pretrained(base)
    bigger = testing.tiny_gpt2(0, tokenizer=tokenizer, n_embd=128, n_layer=3, n_head=2)
    assert (bigger.config.vocab_size, bigger.config.n_embd, bigger.config.n_layer) == (len(tokenizer), 128, 3)
    assert bigger.config.pad_token_id == tokenizer.pad_token_id


def test_lora_model_records_the_base_it_is_given(tmp_path):
    model = testing.lora_model(testing.tiny_gpt2(0), r=2, seed=5, base_name="org/base", base_revision="v1")
    config = model.peft_config["default"]
    assert (config.r, config.lora_alpha, config.base_model_name_or_path, config.revision) == (
        2,
        4,
        "org/base",
        "v1",
    )
    model.save_pretrained(tmp_path / "a")
    saved = json.loads((tmp_path / "a" / "adapter_config.json").read_text())
    assert (saved["base_model_name_or_path"], saved["revision"]) == ("org/base", "v1")
    assert testing.lora_ranks(tmp_path / "a") == dict.fromkeys(
        ["transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn"], 2
    )
