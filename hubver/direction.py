"""Which way a metric improves: the one rule that `best:METRIC`, retention (`--keep-best`) and
gated promotion (`--require-better`) share.

A metric whose name says it measures a cost (loss, error, perplexity, word/character error
rate, distances) is better when lower; every other metric (accuracy, f1, bleu, rouge, ...) is
better when higher. `min:` / `max:` selectors and explicit options override the rule.
"""

from __future__ import annotations

import math
import re
from typing import Literal

Direction = Literal["min", "max"]

# Matched against the name's words, so `eval_loss`, `train-loss`, `val/perplexity`, `eval_wer`,
# `test_mae` are costs while `glossary_acc` or `werewolf_score` are not.
_COST_WORDS = frozenset(
    {
        "loss",
        "error",
        "err",
        "perplexity",
        "ppl",
        "wer",
        "cer",
        "ter",
        "mse",
        "mae",
        "rmse",
        "nll",
        "distance",
    }
)
_COST_SUFFIXES = ("loss", "error", "perplexity")
_WORD = re.compile(r"[a-z0-9]+")


def direction(metric: str) -> Direction:
    """'min' if lower values of `metric` are better, 'max' otherwise."""
    words = _WORD.findall(metric.lower())
    if any(w in _COST_WORDS or w.endswith(_COST_SUFFIXES) for w in words):
        return "min"
    return "max"


def split(spec: str) -> tuple[str, Direction]:
    """'min:latency_ms' -> ('latency_ms', 'min'); 'eval_loss' -> ('eval_loss', 'min') by the
    name rule: the explicit `min:` / `max:` prefix says which way the metric improves."""
    for how in ("min", "max"):
        if spec.startswith(how + ":") and spec[4:].strip():
            return spec[4:].strip(), how  # type: ignore[return-value]
    return spec, direction(spec)


def is_number(value: object) -> bool:
    """A finite int or float (booleans and NaN are not metrics one can rank)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_better(metric: str, candidate: float, than: float, how: Direction | None = None) -> bool:
    """True if `candidate` strictly improves on `than` for `metric`."""
    if (how or direction(metric)) == "min":
        return candidate < than
    return candidate > than
