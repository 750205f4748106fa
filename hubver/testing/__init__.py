"""Test and demo scaffolding shipped with hubver, not part of its API.

`hubver.testing` builds the tiny offline GPT-2 and LoRA adapters that hubver's tests, `make
demo`, the examples and the benchmarks use (see `hubver.testing.tinymodel`). Importing it
imports only the standard library; the builders import torch, transformers, peft and trl
(the ``train`` extra) when called.
"""

from __future__ import annotations

from .tinymodel import (
    EVAL_TEXTS,
    MAX_LENGTH,
    TRAIN_TEXTS,
    build_lora_adapter,
    build_tiny_base,
    lora_model,
    lora_ranks,
    tiny_gpt2,
    train_lora,
)

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
