"""`hubver.json`: everything recorded about a version, captured without the user typing it.

Schema (version 1), every key always present (null when unknown):
  schema_version, version, created_at, created_by, message, kind,
  base_model {name, revision, source}, peft {...adapter_config fields}, lora_ranks {module: r},
  training {epoch, global_step, hyperparameters, log_history[, distributed, run, metric_steps, last_eval]}, metrics {name: value},
  dataset {name, revision, num_samples, fingerprint}, code {commit, branch, dirty, diff_sha256, remote},
  ci {...}, environment {python, platform, packages, accelerator}, files [{path, size, sha256}],
  digest, parent {version, commit}, extra {}
Secrets are redacted by key and scrubbed by value before anything is written.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from .artifact import Artifact, manifest_digest
from .errors import MetadataError
from .record import VersionRecord
from .redact import scrub_data
from .tensors import lora_ranks, read_header

SCHEMA_VERSION = 1
TRAINING_EXTRAS = ("distributed", "run", "metric_steps", "last_eval")
PEFT_KEYS = (
    "peft_type",
    "r",
    "lora_alpha",
    "lora_dropout",
    "target_modules",
    "task_type",
    "bias",
    "use_rslora",
    "use_dora",
    "fan_in_fan_out",
    "modules_to_save",
    "init_lora_weights",
)


# peft reads these as a module name (a regex) or a list of names; anything else breaks loading.
_NAME_LISTS = ("target_modules", "modules_to_save", "exclude_modules")
MAX_BASE_NAME = 1024  # a hub id is at most 96 characters, a local path at most PATH_MAX


def peft_summary(adapter_config: dict[str, Any] | None) -> dict[str, Any] | None:
    if not adapter_config:
        return None
    summary = {k: adapter_config[k] for k in PEFT_KEYS if k in adapter_config}
    if isinstance(summary.get("target_modules"), list):
        summary["target_modules"] = sorted(summary["target_modules"])
    return summary


def check_adapter_config(config: dict[str, Any], source: str) -> None:
    """Refuse what peft itself could not load, before it is published; MetadataError names the key."""
    for key in _NAME_LISTS:
        value = config.get(key)
        if value is None or isinstance(value, str):
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise MetadataError(
                f"{source}: {key} should be a module name or a list of module names (strings), "
                f"not {str(value)[:80]}.",
                'Fix or regenerate that file, e.g. "target_modules": ["q_proj", "v_proj"].',
            )
    rank = config.get("r")
    if rank is not None and (isinstance(rank, bool) or not isinstance(rank, int) or rank < 1):
        raise MetadataError(
            f"{source}: r (the LoRA rank) should be a positive integer, not {str(rank)[:80]}.",
            'Fix or regenerate that file, e.g. "r": 8.',
        )
    kind = config.get("peft_type")
    if kind is not None and not isinstance(kind, str):
        raise MetadataError(
            f'{source}: peft_type should be a string such as "LORA", not {str(kind)[:80]}.',
            "Fix or regenerate that file (peft writes it with save_pretrained).",
        )
    name = config.get("base_model_name_or_path")
    if isinstance(name, str) and len(name) > MAX_BASE_NAME:
        raise MetadataError(
            f"{source}: base_model_name_or_path is {len(name)} characters long; "
            f"a model id or path has at most {MAX_BASE_NAME}.",
            "Fix it, or name the base with --base-model ID.",
        )


def local_lora_ranks(artifact: Artifact) -> dict[str, int]:
    """LoRA ranks from the adapter weights; every safetensors header is read, so a broken one
    is refused here rather than published (`hubver diff` reads them all from the Hub)."""
    ranks: dict[str, int] = {}
    for f in artifact.weight_files:
        shapes = read_header(f.local)
        if f.path.startswith("adapter_model"):
            ranks.update(lora_ranks(shapes))
    return ranks


def base_model_of(artifact: Artifact) -> dict[str, Any] | None:
    """The base named by the artifact itself (adapter_config.json, or a model's config)."""
    if artifact.adapter_config:
        name = artifact.adapter_config.get("base_model_name_or_path")
        revision = artifact.adapter_config.get("revision")
        for key, value in (("base_model_name_or_path", name), ("revision", revision)):
            if value is not None and not isinstance(value, str):
                raise MetadataError(
                    f"{artifact.root / 'adapter_config.json'}: {key} should be a string, not {type(value).__name__}.",
                    "Fix or regenerate that file (save_pretrained writes it).",
                )
        if name:
            return {
                "name": name,
                "revision": artifact.adapter_config.get("revision"),
                "source": "adapter_config.json",
            }
    if artifact.config:
        name = artifact.config.get("_name_or_path")
        if isinstance(name, str) and name and name != str(artifact.root):
            return {"name": name, "revision": None, "source": "config.json"}
    return None


def build(
    artifact: Artifact,
    *,
    version: str,
    message: str | None,
    created_by: str,
    base_model: dict[str, Any] | None,
    training: dict[str, Any] | None,
    metrics: dict[str, Any],
    dataset: dict[str, Any] | None,
    code: dict[str, Any] | None,
    ci: dict[str, Any] | None,
    environment: dict[str, Any],
    parent: dict[str, Any] | None,
    files: list[dict[str, Any]],
    extra: dict[str, Any] | None,
    secrets: set[str],
    now: datetime | None = None,
) -> VersionRecord:
    training = dict(training or {})
    meta = {
        "schema_version": SCHEMA_VERSION,
        "version": version,
        "created_at": (now or datetime.now(timezone.utc))
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z"),
        "created_by": created_by,
        "message": message,
        "kind": artifact.kind,
        "base_model": base_model,
        "peft": peft_summary(artifact.adapter_config),
        "lora_ranks": local_lora_ranks(artifact) or None,
        "training": {
            "epoch": training.get("epoch"),
            "global_step": training.get("global_step"),
            "hyperparameters": training.get("hyperparameters") or {},
            "log_history": training.get("log_history") or [],
            # Recorded by HubverCallback: the processes and batch sizes, which run and from
            # which checkpoint, and the step each metric was measured at.
            **{k: training[k] for k in TRAINING_EXTRAS if training.get(k) is not None},
        },
        "metrics": metrics,
        "dataset": dataset,
        "code": code,
        "ci": ci,
        "environment": environment,
        "files": sorted(files, key=lambda f: f["path"]),
        "digest": manifest_digest(files),
        "parent": parent,
        "extra": extra or {},
    }
    record: VersionRecord = scrub_data(meta, secrets)  # the same keys, secrets replaced
    return record
