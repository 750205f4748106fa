"""The metrics of one training step, from a Trainer's log history and its evaluations.

A version made at step S carries the metrics measured at S: the evaluation of S (every eval
data set of it), and the training loss logged last at or before S, labelled with its step.
An evaluation of an earlier step is never presented as S's: it is kept apart, with its step,
as `last_eval`. Nothing logged after S is read.
"""

from __future__ import annotations

import math
from typing import Any

_SKIP = {"epoch", "step", "total_flos"}


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_eval_entry(entry: dict[str, Any]) -> bool:
    return any(k.startswith("eval_") for k in entry)


def metrics_at(
    log_history: list[dict[str, Any]], step: int, evals: dict[int, dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, int], dict[str, Any] | None]:
    """(metrics, the step each was measured at, the latest earlier evaluation or None)."""
    metrics: dict[str, Any] = {}
    steps: dict[str, int] = {}
    earlier: dict[int, dict[str, Any]] = {}
    for entry in log_history or []:
        if not isinstance(entry, dict):
            continue
        at = entry.get("step")
        if not isinstance(at, int) or at > step:
            continue
        values = {k: v for k, v in entry.items() if k not in _SKIP and _numeric(v)}
        if is_eval_entry(entry):
            (metrics if at == step else earlier.setdefault(at, {})).update(values)
            if at == step:
                steps.update(dict.fromkeys(values, at))
            continue
        if "train_runtime" in entry:  # the summary written at the end of train()
            if "train_loss" in values and at == step:
                metrics["train_loss"], steps["train_loss"] = values["train_loss"], at
            continue
        for key, value in values.items():
            name = "train_loss" if key == "loss" else key
            metrics[name], steps[name] = value, at
    for at, values in evals.items():  # what on_evaluate was given (may hold more than the log)
        numeric = {k: v for k, v in values.items() if k not in _SKIP and _numeric(v)}
        if at == step:
            metrics.update(numeric)
            steps.update(dict.fromkeys(numeric, at))
        elif at < step:
            earlier.setdefault(at, {}).update(numeric)
    last = None
    if earlier:
        at = max(earlier)
        last = {"step": at, "metrics": earlier[at]}
    return metrics, steps, last
