"""Gated promotion: the conditions a version must meet before an alias points at it.

`--require 'eval_loss<=1.2'` compares one of the version's metrics with a number (ops <, <=,
>, >=, ==, !=); `--require-better eval_loss` compares it with the alias's current version, the
way `direction.py` says the metric improves. No current version: better-than holds. A metric
the version lacks fails the condition, saying so. Pure functions: the promotion reads the
metrics (from the index) and calls `evaluate`.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from .direction import is_better, is_number, split
from .errors import ConfigError
from .jsonio import decimal

_OPS = ("<=", ">=", "==", "!=", "<", ">")
_REQUIRE = re.compile(r"^\s*([^<>=!\s]+)\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Requirement:
    metric: str
    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{_num(self.value)}"


def parse_requirement(text: str) -> Requirement:
    """'eval_loss<=1.2' -> Requirement('eval_loss', '<=', 1.2); ConfigError when malformed."""
    m = _REQUIRE.match(text or "")
    value = None
    if m:
        value = decimal(m.group(3))  # no `1_0` (10 to Python), no 1e-400 (0 to Python)
    if not m or value is None or not math.isfinite(value):
        raise ConfigError(
            f"Invalid --require {text!r}.",
            f"Write METRIC OP NUMBER with OP one of {' '.join(_OPS)}, for example --require 'eval_loss<=1.2'.",
        )
    return Requirement(m.group(1), m.group(2), value)


def _holds(a: float, op: str, b: float) -> bool:
    return {
        "<": a < b,
        "<=": a <= b,
        ">": a > b,
        ">=": a >= b,
        "==": a == b,
        "!=": a != b,
    }[op]


def _num(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


@dataclass
class Verdict:
    """The outcome of a gate: every condition checked, each with what it compared."""

    passed: bool
    checks: list[dict[str, Any]] = field(default_factory=list)  # {condition, ok, detail}

    @property
    def failures(self) -> list[str]:
        return [c["detail"] for c in self.checks if not c["ok"]]

    def summary(self) -> str:
        if not self.checks:
            return "no conditions"
        return "; ".join(f"{'PASS' if c['ok'] else 'FAIL'} {c['detail']}" for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "summary": self.summary()}


def evaluate(
    version: str,
    metrics: dict[str, Any],
    requirements: list[Requirement],
    better: list[str],
    *,
    current: str | None,
    current_metrics: dict[str, Any] | None,
) -> Verdict:
    """Check `version` (its `metrics`) against `requirements`, and against the alias's
    `current` version (its `current_metrics`) for each metric of `better`."""
    checks = []
    for req in requirements:
        value = metrics.get(req.metric)
        if not is_number(value):
            checks.append(
                {"condition": str(req), "ok": False, "detail": f"{req}: {version} has no metric {req.metric}"}
            )
            continue
        ok = _holds(float(value or 0), req.op, req.value)
        checks.append(
            {
                "condition": str(req),
                "ok": ok,
                "detail": f"{req}: {version} has {req.metric}={_num(value)}",
            }
        )
    for spec in better:
        metric, how = split(spec)
        if not metric or metric.startswith(("min:", "max:")) or metric in ("min:", "max:"):
            raise ConfigError(
                f"Invalid --require-better {spec!r}: name a metric, e.g. eval_loss or min:latency_ms.",
                "min: / max: say which way the metric improves, once, before its name.",
            )
        word = "lower" if how == "min" else "higher"
        cond = f"better {metric} ({word} is better)"
        value = metrics.get(metric)
        if not is_number(value):
            checks.append(
                {"condition": cond, "ok": False, "detail": f"{cond}: {version} has no metric {metric}"}
            )
            continue
        if current is None:
            checks.append(
                {
                    "condition": cond,
                    "ok": True,
                    "detail": f"{cond}: {version} has {metric}={_num(value)}, no current version",
                }
            )
            continue
        theirs = (current_metrics or {}).get(metric)
        if not is_number(theirs):
            checks.append(
                {
                    "condition": cond,
                    "ok": True,
                    "detail": f"{cond}: {version} has {metric}={_num(value)}, the current {current} has none",
                }
            )
            continue
        ok = is_better(metric, float(value or 0), float(theirs or 0), how)
        checks.append(
            {
                "condition": cond,
                "ok": ok,
                "detail": f"{cond}: {version} has {metric}={_num(value)}, the current {current} has {_num(theirs)}",
            }
        )
    return Verdict(all(c["ok"] for c in checks), checks)
