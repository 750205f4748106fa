"""A hubver.json as `metadata.build` writes it: every key, most of them filled."""

from __future__ import annotations

from typing import Any

RECORD: dict[str, Any] = {
    "schema_version": 1,
    "version": "v2",
    "created_at": "2026-01-31T12:00:05Z",
    "created_by": "alice",
    "message": "rank 8",
    "kind": "adapter",
    "base_model": {"name": "org/base", "revision": "a" * 40, "source": "adapter_config.json"},
    "peft": {
        "peft_type": "LORA",
        "r": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.0,
        "target_modules": ["c_attn"],
        "task_type": "CAUSAL_LM",
        "bias": "none",
        "use_rslora": False,
        "use_dora": False,
        "fan_in_fan_out": True,
        "modules_to_save": None,
        "init_lora_weights": True,
    },  # fmt: skip
    "lora_ranks": {"transformer.h.0.attn.c_attn": 8},
    "training": {
        "epoch": 1.0,
        "global_step": 5,
        "hyperparameters": {"learning_rate": 0.01, "optim": "adamw_torch"},
        "log_history": [{"step": 5, "epoch": 1.0, "loss": 3.2, "learning_rate": 0.01}],
        "distributed": {
            "world_size": 1,
            "distributed_type": "NO",
            "parallel_mode": "not_parallel",
            "per_device_train_batch_size": 8,
            "gradient_accumulation_steps": 1,
            "effective_batch_size": 8,
        },  # fmt: skip
        "run": {"id": "run-1"},
        "metric_steps": {"eval_loss": 5},
        "last_eval": None,
    },
    "metrics": {"eval_loss": 0.5},
    "dataset": {"name": "train.jsonl", "fingerprint": "sha256:" + "b" * 64, "size": 10, "num_samples": 3},
    "code": {
        "repo_root": "proj",
        "commit": "c" * 40,
        "branch": "main",
        "dirty": False,
        "diff_sha256": None,
        "remote": "https://github.com/o/r",
    },  # fmt: skip
    "ci": None,
    "environment": {
        "python": "3.11.7",
        "platform": "Linux",
        "machine": "x86_64",
        "packages": {"hubver": "0.1.0"},
        "accelerator": {"type": "cpu"},
    },  # fmt: skip
    "files": [
        {"path": "adapter_config.json", "size": 1098, "sha256": "d" * 64, "git": "e" * 40},
        {"path": "adapter_model.safetensors", "size": 8712, "sha256": "f" * 64},
    ],
    "digest": "0" * 64,
    "parent": {"version": "v1", "commit": "1" * 40},
    "extra": {"trigger": "epoch"},
}
# metadata.build leaves `last_eval` out when it is None: drop it so RECORD is what build writes.
del RECORD["training"]["last_eval"]
