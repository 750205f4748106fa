"""What a training run reports: metrics, the loss curve, hyperparameters, the data set.

Sources, later ones winning: `trainer_state.json` (its log history), a metrics JSON file,
and `name=value` pairs from the command line or the callback.
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path
from typing import Any

from .errors import MetadataError
from .hashing import BLOCK
from .jsonio import decimal, load_json

_TRAINER_STATE_ARGS = (
    "num_train_epochs",
    "max_steps",
    "train_batch_size",
    "logging_steps",
    "save_steps",
    "eval_steps",
)
_CURVE_KEYS = ("loss", "eval_loss", "learning_rate", "grad_norm", "mean_token_accuracy")
MAX_CURVE_POINTS = 500


_NOISE = re.compile(
    r"runtime|per_second|num_tokens|learning_rate|grad_norm|entropy|total_flos|^epoch$|^step$"
)
_PRIORITY = (
    re.compile(r"loss"),
    re.compile(r"acc|f1|bleu|rouge|perplexity|exact|precision|recall|score|win"),
)


def is_noise_metric(name: str) -> bool:
    """Timings, token counts and optimizer state: recorded, but not what compares two models."""
    return bool(_NOISE.search(name))


# Arguments that differ between any two runs without saying anything about the model.
RUN_LOCAL_ARGS = {"output_dir", "logging_dir", "run_name", "hub_model_id"}


def key_metric_names(names: list[str] | set[str], limit: int = 4) -> list[str]:
    """The few metrics worth a column: losses first, then quality scores, never timings."""
    useful = [n for n in names if not is_noise_metric(n)]

    def rank(name: str) -> tuple[int, str]:
        for i, pattern in enumerate(_PRIORITY):
            if pattern.search(name):
                return i, name
        return len(_PRIORITY), name

    return sorted(useful, key=rank)[:limit]


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


KEY_HYPERPARAMETERS = (
    "learning_rate",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "train_batch_size",
    "gradient_accumulation_steps",
    "warmup_ratio",
    "warmup_steps",
    "weight_decay",
    "lr_scheduler_type",
    "optim",
    "max_length",
    "max_seq_length",
    "packing",
    "seed",
    "bf16",
    "fp16",
)


def key_hyperparameters(hyper: dict[str, Any], limit: int = 15) -> dict[str, Any]:
    """The settings worth showing of a Trainer's ~150 arguments (all of them stay in hubver.json)."""
    key = {k: hyper[k] for k in KEY_HYPERPARAMETERS if k in hyper}
    return key or dict(list(hyper.items())[:limit])


def metrics_from_log_history(log_history: list[dict[str, Any]]) -> dict[str, float]:
    """The latest value of every numeric metric in a Trainer's log history.

    The per-step `loss` becomes `train_loss` unless the run's summary entry already has one.
    """
    metrics: dict[str, float] = {}
    for entry in log_history or []:
        if not isinstance(entry, dict):
            continue
        for key, value in entry.items():
            if key in ("epoch", "step", "total_flos") or _number(value) is None:
                continue
            name = "train_loss" if key == "loss" else key
            if key == "loss" and "train_runtime" in entry:
                continue
            metrics[name] = value
    for entry in reversed(log_history or []):  # the summary written at the end wins
        if (
            isinstance(entry, dict)
            and "train_runtime" in entry
            and _number(entry.get("train_loss")) is not None
        ):
            metrics["train_loss"] = entry["train_loss"]
            break
    return metrics


def loss_curve(log_history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    points = []
    for entry in log_history or []:
        if isinstance(entry, dict) and any(k in entry for k in _CURVE_KEYS) and "train_runtime" not in entry:
            point = {
                k: entry[k] for k in ("step", "epoch", *_CURVE_KEYS) if _number(entry.get(k)) is not None
            }
            points.append(point)
    if len(points) > MAX_CURVE_POINTS:  # keep the shape, not every step
        stride = math.ceil(len(points) / MAX_CURVE_POINTS)
        points = points[::stride] + ([points[-1]] if (len(points) - 1) % stride else [])
    return points


def from_trainer_state(state: dict[str, Any]) -> dict[str, Any]:
    """Training facts from a trainer_state.json: epoch, step, metrics, loss curve, a few args."""
    history: list[dict[str, Any]] = state["log_history"] if isinstance(state.get("log_history"), list) else []
    return {
        "epoch": _number(state.get("epoch")),
        "global_step": _number(state.get("global_step")),
        "metrics": metrics_from_log_history(history),
        "log_history": loss_curve(history),
        "hyperparameters": {k: state[k] for k in _TRAINER_STATE_ARGS if k in state},
    }


_NON_FINITE_HINT = (
    "JSON (RFC 8259) has no NaN or infinity, and jq, JavaScript and Go refuse them: "
    'leave the metric out, or record it as a string (e.g. "diverged").'
)


def check_metrics(metrics: dict[str, Any], source: str) -> dict[str, Any]:
    """`metrics` if every value is finite; MetadataError naming the first NaN or infinity."""
    for name, value in metrics.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise MetadataError(
                f"{source}: the metric {name!r} is {value}, not a finite number.", _NON_FINITE_HINT
            )
    return metrics


def finite_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """`metrics` without NaN and infinities: what a framework logged (a diverged step) is dropped."""
    return {k: v for k, v in metrics.items() if not (isinstance(v, float) and not math.isfinite(v))}


def load_metrics_file(path: Path) -> dict[str, Any]:
    """A JSON object of metrics; nested objects are flattened as `outer/inner`.

    Raises MetadataError for a NaN or infinite value (Python's json writes them as bare
    `NaN`/`Infinity`), naming the key: hubver writes strict JSON only.
    """
    data = load_json(Path(path))
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}/{k}" if prefix else str(k), v)
        elif isinstance(value, float) and not math.isfinite(value):
            raise MetadataError(
                f"{path}: the metric {prefix!r} is {value}, not a finite number.", _NON_FINITE_HINT
            )
        elif _number(value) is not None or isinstance(value, str):
            flat[prefix] = value

    walk("", data)
    return flat


def parse_pairs(pairs: tuple[str, ...] | list[str], what: str, *, numeric: bool) -> dict[str, Any]:
    """`name=value` strings into a dict; numeric values become int/float."""
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise MetadataError(
                f"Invalid {what} {pair!r}: expected name=value.", f"For example: --{what} eval_loss=0.42"
            )
        value: Any = raw.strip()
        if re.fullmatch(r"[-+]?\d{1,4000}", value):
            value = int(value)
        elif (number := decimal(value)) is not None:
            value = number
        elif not math.isfinite(_float(value)):
            value = _float(value)  # inf, nan, 1e999: said below
        elif numeric:
            underflow = _float(value) == 0
            raise MetadataError(
                f"Invalid {what} {pair!r}: {raw.strip()!r} "
                + ("is too small to store (it would read as 0)." if underflow else "is not a number."),
                f"For example: --{what} {name}=0.42"
                + (" (metrics are 64-bit floats: about 1e-308 is the smallest)." if underflow else ""),
            )
        if isinstance(value, float) and not math.isfinite(value):
            if numeric:
                raise MetadataError(
                    f"Invalid {what} {pair!r}: {raw.strip()!r} is not a finite number.", _NON_FINITE_HINT
                )
            value = raw.strip()  # a hyperparameter "inf" stays the text the user typed
        out[name] = value
    return out


def _float(text: str) -> float:
    """Python's reading of `text` (1.0 when it is none: only inf, nan and 0 matter to callers)."""
    try:
        return float(text) if "_" not in text else 1.0
    except ValueError:
        return 1.0


def dataset_facts(spec: str | None, num_samples: int | None = None) -> dict[str, Any] | None:
    """`NAME[@REVISION]` of a Hub data set, or a local file (hashed, lines counted)."""
    if not spec:
        return None if num_samples is None else {"num_samples": num_samples}
    path = Path(spec).expanduser()
    if path.is_file():
        h = hashlib.sha256()
        lines = 0
        with path.open("rb") as f:
            while block := f.read(BLOCK):  # hashing and counting lines in one pass
                h.update(block)
                lines += block.count(b"\n")
        facts: dict[str, Any] = {
            "name": path.name,
            "fingerprint": f"sha256:{h.hexdigest()}",
            "size": path.stat().st_size,
        }
        if path.suffix in (".jsonl", ".csv", ".tsv", ".txt"):
            facts["num_samples"] = lines - (1 if path.suffix in (".csv", ".tsv") else 0)
    else:
        name, _, revision = spec.partition("@")
        facts = {"name": name, "revision": revision or None}
    if num_samples is not None:
        facts["num_samples"] = num_samples
    return facts
