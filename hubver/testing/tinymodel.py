"""Test and demo scaffolding, not part of hubver's API: a tiny GPT-2 and its LoRA adapters,
built locally with no download in a few seconds on CPU.

Tests, `make demo`, the examples and the benchmarks need a real causal language model and
real adapters, but nothing can be fetched from a hub there. This module is the one place that
builds them:

- `tiny_gpt2` returns a random GPT-2 in memory (2 layers unless told otherwise).
- `lora_model` wraps a base in a random, untrained LoRA adapter in memory.
- `build_tiny_base` trains a byte-level BPE tokenizer on `TRAIN_TEXTS` and saves it with a
  randomly initialised 2-layer GPT-2 (about 133k parameters, 0.5 MB of safetensors).
- `build_lora_adapter` saves a `lora_model` of that base with a chosen rank.
- `train_lora` runs a real TRL `SFTTrainer` LoRA fine-tune of the base on `TRAIN_TEXTS`.
- `lora_ranks` reads the rank of each adapted module from the safetensors header alone.

Everything is seeded: the same seed gives byte-identical weight files.

Only the standard library is imported at module level; torch, transformers, peft, trl,
datasets and tokenizers are imported by the functions that need them (the `train` extra).
Nothing here opens a network connection on purpose, but TRL sends telemetry when it starts
unless told not to: callers that train should set ``HF_HUB_DISABLE_TELEMETRY=1`` (or
``HF_HUB_OFFLINE=1``) in the environment before importing trl. Progress bars come from
the libraries, not from here: ``HF_HUB_DISABLE_PROGRESS_BARS=1`` silences the weight
loading/saving bars, ``HF_DATASETS_DISABLE_PROGRESS_BARS=1`` the dataset preparation ones,
and ``extra_args={"disable_tqdm": True}`` the training bar (the trainer then prints its logs).

Example::

    base = build_tiny_base("work/base")
    adapter = build_lora_adapter(base, "work/r4", r=4)
    lora_ranks(adapter)  # {"transformer.h.0.attn.c_attn": 4, "transformer.h.1.attn.c_attn": 4}
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from peft import LoraConfig, PeftModel
    from transformers import GPT2LMHeadModel, PreTrainedTokenizerBase, TrainerCallback
    from trl import SFTTrainer

__all__ = [
    "EVAL_TEXTS",
    "MAX_LENGTH",
    "TRAIN_TEXTS",
    "build_lora_adapter",
    "build_tiny_base",
    "lora_model",
    "lora_ranks",
    "tiny_gpt2",
    "train_lora",
]

TRAIN_TEXTS: list[str] = [
    "The capital of France is Paris.",
    "Paris is beautiful in the spring.",
    "The capital of Germany is Berlin.",
    "The capital of Italy is Rome.",
    "The capital of Spain is Madrid.",
    "The capital of Japan is Tokyo.",
    "Machine learning is about learning patterns from data.",
    "Deep learning uses neural networks with many layers.",
    "Python is a popular programming language for AI.",
    "A model learns from examples and makes predictions.",
    "Fine-tuning adapts a pretrained model to a new task.",
    "LoRA adds small low-rank matrices to a frozen model.",
    "The rank of a LoRA adapter controls its size.",
    "A tokenizer splits text into tokens.",
    "Each token is mapped to an embedding vector.",
    "The trainer saves the model after each epoch.",
    "Save every checkpoint to a unique directory.",
    "Version your models like you version your code.",
    "A commit records a snapshot of your work.",
    "Metadata records the hyperparameters of a run.",
    "The learning rate sets the size of each update.",
    "The loss goes down as the model learns.",
    "An epoch is one pass over the training data.",
    "Overfitting means the model memorises the training set.",
    "Evaluation data tells you how well the model generalises.",
    "The sun rises in the east and sets in the west.",
    "Water boils at one hundred degrees Celsius.",
    "The cat sat on the mat.",
    "The quick brown fox jumps over the lazy dog.",
    "Cats and dogs are popular pets.",
    "Music makes people happy.",
    "Reading books is a good habit.",
    "The ocean is deep and blue.",
    "Mountains are high and cold.",
    "Trees grow slowly but live long.",
    "Coffee is a popular morning drink.",
    "The train leaves the station at noon.",
    "A good test catches a bug before users do.",
    "Small models train fast on a laptop.",
    "Attention lets a model look at earlier tokens.",
]
"""Short sentences the tiny tokenizer is trained on and `train_lora` fine-tunes on."""

EVAL_TEXTS: list[str] = [
    "The capital of Portugal is Lisbon.",
    "A small adapter trains fast on a CPU.",
    "The model saves a checkpoint after training.",
    "Dogs like to play in the park.",
]
"""Held-out sentences for `train_lora(..., eval=True)`."""

BOS_EOS_TOKEN = "<|endoftext|>"
PAD_TOKEN = "<|pad|>"
VOCAB_SIZE = 400
MAX_LENGTH = 128


def tiny_gpt2(
    seed: int = 0,
    *,
    tokenizer: PreTrainedTokenizerBase | None = None,
    vocab_size: int = VOCAB_SIZE,
    n_embd: int = 64,
    n_layer: int = 2,
    n_head: int = 2,
) -> GPT2LMHeadModel:
    """Return a GPT-2 with random weights drawn from `seed`, in eval mode (nothing is saved).

    With `tokenizer`, the vocabulary and the bos/eos/pad ids are that tokenizer's; otherwise
    the vocabulary has `vocab_size` entries and GPT-2's default special ids. The same
    arguments give identical weights.

    Raises `ImportError` without the ``train`` extra.
    """
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    ids: dict[str, Any] = {}
    if tokenizer is not None:
        vocab_size = len(tokenizer)
        ids = {
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        }
    config = GPT2Config(
        vocab_size=vocab_size, n_positions=MAX_LENGTH, n_embd=n_embd, n_layer=n_layer, n_head=n_head, **ids
    )
    torch.manual_seed(seed)
    return GPT2LMHeadModel(config).eval()


def lora_model(
    base: Any,
    *,
    r: int,
    alpha: int | None = None,
    dropout: float = 0.0,
    seed: int = 0,
    target_modules: Iterable[str] = ("c_attn",),
    base_name: str | None = None,
    base_revision: str | None = None,
) -> PeftModel:
    """Wrap the model `base` in a random, untrained LoRA adapter of rank `r`; return it in eval mode.

    Both LoRA matrices are random and non-zero (``init_lora_weights=False``), so adapters built
    with different ranks or seeds differ. `alpha` defaults to ``2 * r``. `base_name` and
    `base_revision` are what ``adapter_config.json`` records as the base
    (``base_model_name_or_path`` and ``revision``), i.e. where ``AutoPeftModelForCausalLM``
    loads it from; `base` itself is changed in place, as peft does.

    Raises `ImportError` without the ``train`` extra.
    """
    import torch
    from peft import get_peft_model

    torch.manual_seed(seed)
    with _quiet_known_warnings():
        model = get_peft_model(
            base, _lora_config(r, alpha, dropout, target_modules, random_init=True), revision=base_revision
        )
    if base_name is not None:
        model.peft_config["default"].base_model_name_or_path = base_name
    return model.eval()


def build_tiny_base(out_dir: str | Path, *, seed: int = 0) -> Path:
    """Build and save a tiny random GPT-2 with its own tokenizer; return its absolute path.

    `out_dir` is created if needed and receives ``config.json``, ``generation_config.json``,
    ``model.safetensors`` and the tokenizer files. The path is made absolute because adapters
    record it as ``base_model_name_or_path``, which must not depend on the working directory.
    The same `seed` gives a byte-identical ``model.safetensors``.

    Raises `ImportError` without the ``train`` extra.
    """
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        TRAIN_TEXTS,
        vocab_size=VOCAB_SIZE,
        min_frequency=1,
        show_progress=False,
        special_tokens=[BOS_EOS_TOKEN, PAD_TOKEN],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token=BOS_EOS_TOKEN,
        eos_token=BOS_EOS_TOKEN,
        pad_token=PAD_TOKEN,
        model_max_length=MAX_LENGTH,
    )

    model = tiny_gpt2(seed, tokenizer=tokenizer)
    model.save_pretrained(out)  # safetensors, the only format transformers 5 writes
    tokenizer.save_pretrained(out)
    return out


def build_lora_adapter(
    base_dir: str | Path,
    out_dir: str | Path,
    *,
    r: int,
    alpha: int | None = None,
    dropout: float = 0.0,
    seed: int = 0,
    target_modules: Iterable[str] = ("c_attn",),
) -> Path:
    """Save a random, untrained LoRA adapter (a `lora_model`) of rank `r` for the base in `base_dir`.

    `out_dir` receives ``adapter_config.json`` and ``adapter_model.safetensors``, which record
    the base's absolute path; returns the absolute path of `out_dir`. The same arguments give
    byte-identical weights.

    Raises `ImportError` without the ``train`` extra, `OSError` if `base_dir` holds no model.
    """
    from transformers import AutoModelForCausalLM

    out = Path(out_dir).resolve()
    base = AutoModelForCausalLM.from_pretrained(Path(base_dir).resolve())
    model = lora_model(base, r=r, alpha=alpha, dropout=dropout, seed=seed, target_modules=target_modules)
    model.save_pretrained(str(out))
    return out


def train_lora(
    base_dir: str | Path,
    out_dir: str | Path,
    *,
    r: int = 8,
    alpha: int = 16,
    epochs: float = 1,
    learning_rate: float = 1e-2,
    seed: int = 0,
    callbacks: Iterable[TrainerCallback] = (),
    eval: bool = False,
    save_strategy: str = "no",
    logging_steps: float = 1,
    extra_args: Mapping[str, Any] | None = None,
) -> SFTTrainer:
    """Fine-tune a LoRA adapter on `TRAIN_TEXTS` with TRL's `SFTTrainer` on CPU; return the trainer.

    The adapter (plus tokenizer files, a PEFT model card and ``training_args.bin``) is saved to
    `out_dir` with ``trainer.save_model``. With `eval`, `EVAL_TEXTS` is evaluated at the end of
    each epoch. `extra_args` are passed to `SFTConfig` last and override everything else. The
    loss and other metrics are in ``trainer.state.log_history``. One epoch takes a few seconds.

    Set ``HF_HUB_DISABLE_TELEMETRY=1`` before calling this, or TRL tries to send telemetry.

    Raises `ImportError` without the ``train`` extra.
    """
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    # A local directory (absolute, so the adapter records a usable path) or a hub id.
    base = str(Path(base_dir).resolve()) if Path(base_dir).exists() else str(base_dir)
    out = Path(out_dir).resolve()
    args: dict[str, Any] = {
        "output_dir": str(out),
        "num_train_epochs": epochs,
        "learning_rate": learning_rate,
        "per_device_train_batch_size": 8,
        "per_device_eval_batch_size": 8,
        "max_length": MAX_LENGTH,
        "seed": seed,
        "data_seed": seed,
        "use_cpu": True,
        "bf16": False,
        # TRL turns checkpointing on by default; it only slows a model this small down.
        "activation_checkpointing": False,
        "report_to": "none",
        "save_strategy": save_strategy,
        "logging_steps": logging_steps,
        "eval_strategy": "epoch" if eval else "no",
    }
    args.update(extra_args or {})

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base)
    with _quiet_known_warnings():
        trainer = SFTTrainer(
            model=model,
            args=SFTConfig(**args),
            train_dataset=Dataset.from_list([{"text": t} for t in TRAIN_TEXTS]),
            eval_dataset=Dataset.from_list([{"text": t} for t in EVAL_TEXTS]) if eval else None,
            processing_class=tokenizer,
            peft_config=_lora_config(r, alpha, 0.0, ("c_attn",), random_init=False),
            callbacks=list(callbacks),
        )
    trainer.train()
    trainer.save_model(str(out))
    return trainer


def lora_ranks(adapter_dir: str | Path) -> dict[str, int]:
    """Return the LoRA rank of each adapted module, read from the weights' shapes.

    Only the JSON header of ``adapter_model.safetensors`` is read (no torch needed): the rank
    is the first dimension of each ``lora_A`` matrix, so it does not trust names or configs.
    Keys are module names as in the base model, e.g. ``"transformer.h.0.attn.c_attn"``.

    Raises `FileNotFoundError` if the directory has no ``adapter_model.safetensors``.
    """
    from ..tensors import adapter_lora_ranks

    return adapter_lora_ranks(adapter_dir)


@contextlib.contextmanager
def _quiet_known_warnings() -> Iterator[None]:
    # peft 0.21 reads `model.is_gradient_checkpointing`, which transformers 5 deprecates: noise
    # for every caller, and nothing a caller can fix. Only this exact message is silenced.
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning
        )
        yield


def _lora_config(
    r: int, alpha: int | None, dropout: float, target_modules: Iterable[str], *, random_init: bool
) -> LoraConfig:
    from peft import LoraConfig

    return LoraConfig(
        task_type="CAUSAL_LM",
        r=r,
        lora_alpha=2 * r if alpha is None else alpha,
        lora_dropout=dropout,
        target_modules=list(target_modules),
        # GPT-2's attention projections are Conv1D (weights stored transposed); saying so up
        # front stops PEFT from warning that it switched the flag on itself.
        fan_in_fan_out=True,
        bias="none",
        # PEFT's default zero-initialises lora_B (the adapter starts as a no-op); False keeps
        # both matrices random.
        init_lora_weights=not random_init,
    )
