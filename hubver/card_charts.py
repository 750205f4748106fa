"""The pictures in a version's card: its training loss curve, and its key metric across versions.

`hubver push` writes them as `.hubver/charts/loss.svg` and `.hubver/charts/<metric>.svg` in the
version's own commit, and the card shows them with relative image links, which the Hub's card
renderer (and the embedded hub's pages) resolve against the repository. They are drawn by
`hubver.charts` from what the push already has: the log history recorded in hubver.json, the
version index, and the alias records (promotions are marked). Nothing to plot, no picture: a
version without a log history has no loss curve, one without metrics no metric chart.

Which metric is "key": the one asked for (`--chart-metric`, the callback's `chart_metric=`),
else the first eval loss-like metric of the version (`eval_loss`, `eval_wer`...), else the first
of `training.key_metric_names` (losses, then quality scores), else the first by name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .charts import Marker, Point, line_chart
from .direction import direction, is_number
from .formatting import fmt
from .layout import CHARTS_DIR, LOSS_CHART_PATH
from .training import key_metric_names

WIDTH, HEIGHT = 720, 320
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class CardChart:
    path: str  # in the repository: ".hubver/charts/loss.svg"
    kind: str  # "loss" or "metric"
    title: str  # the image's alt text
    svg: str
    points: int
    metric: str | None = None  # for kind "metric"

    def to_card(self) -> dict[str, Any]:
        """What the card template gets: path, alt text (markdown-safe), kind, metric."""
        return {"path": self.path, "alt": markdown_alt(self.title), "kind": self.kind, "metric": self.metric}


def markdown_alt(text: str) -> str:
    """`text` safe inside `![...]`: one line, brackets and backslashes escaped, no HTML."""
    one_line = " ".join(str(text).split())
    return re.sub(r"([\\\[\]`*_<>])", r"\\\1", one_line)


def metric_chart_path(metric: str) -> str:
    """`.hubver/charts/<metric>.svg`, the name made safe for a path and a URL ("eval/loss" ->
    "eval_loss"); never the loss curve's own name."""
    name = _UNSAFE.sub("_", metric).lstrip(".-")[:90] or "metric"
    if f"{CHARTS_DIR}{name}.svg" == LOSS_CHART_PATH:
        name = "metric-loss"
    return f"{CHARTS_DIR}{name}.svg"


def key_metric(metrics: Mapping[str, Any], wanted: str | None = None) -> str | None:
    """The metric the card charts across versions (see the module docstring); None without metrics."""
    names = sorted(str(k) for k, v in metrics.items() if is_number(v))
    if wanted is not None:
        return wanted
    if not names:
        return None
    for name in names:
        if name.lower().startswith(("eval", "val", "test")) and direction(name) == "min":
            return name
    ranked = key_metric_names(set(names), limit=1)
    return ranked[0] if ranked else names[0]


def _number(value: object) -> float | None:
    return float(value) if is_number(value) else None  # type: ignore[arg-type]


def loss_chart(meta: Mapping[str, Any]) -> CardChart | None:
    """The training loss of this version by step (or epoch, when steps were not logged), from
    `training.log_history`; None without a logged loss."""
    history = (meta.get("training") or {}).get("log_history")
    logged = [e for e in history if isinstance(e, dict)] if isinstance(history, list) else []
    logged = [e for e in logged if _number(e.get("loss")) is not None]
    axis = next(
        (k for k in ("step", "epoch") if logged and all(_number(e.get(k)) is not None for e in logged)), None
    )
    points = []
    for i, entry in enumerate(logged):
        x = _number(entry.get(axis)) if axis else float(i)
        loss = _number(entry["loss"])
        assert x is not None and loss is not None
        at = fmt(entry[axis]) if axis else str(i)
        points.append(Point(x, loss, f"{axis or 'entry'} {at}: loss {fmt(entry['loss'])}", at))
    if not points:
        return None
    title = f"Training loss of {meta.get('version')}"
    svg = line_chart(
        points,
        title=title,
        x_label=axis or "logged entry",
        y_label="loss",
        width=WIDTH,
        height=HEIGHT,
        css_class="chart loss",
    )
    return CardChart(LOSS_CHART_PATH, "loss", title, svg, len(points))


def metric_chart(
    metric: str,
    entries: Sequence[Mapping[str, Any]],
    aliases: Mapping[str, Mapping[str, Any]] | None = None,
) -> CardChart | None:
    """`metric` of every version in `entries` (index order, this version last) that has it, with
    each promotion of an alias to one of them marked. None if no version has the metric."""
    position = {str(e.get("version")): i for i, e in enumerate(entries)}
    points = []
    for i, e in enumerate(entries):
        metrics = e.get("metrics")
        raw = metrics.get(metric) if isinstance(metrics, dict) else None
        value = _number(raw)
        if value is not None:
            v = str(e.get("version"))
            points.append(Point(float(i), value, f"{v}: {metric} {fmt(raw)}", v))
    if not points:
        return None
    markers = []
    for alias, record in sorted((aliases or {}).items()):
        history = record.get("history")
        moves = [h for h in history if isinstance(h, dict)] if isinstance(history, list) else []
        moves = moves or [{"to": record.get("version")}]
        for h in moves:
            to = str(h.get("to"))
            if to not in position:
                continue
            who = f" by {h['by']}" if isinstance(h.get("by"), str) else ""
            when = f" at {h['at']}" if isinstance(h.get("at"), str) else ""
            label = f"{alias}: {h.get('from') or '-'} -> {to}{who}{when}"
            markers.append(Marker(float(position[to]), label, str(alias), to))
    title = f"{metric} across versions"
    svg = line_chart(
        points,
        title=title,
        x_label="version",
        y_label=metric,
        markers=markers,
        x_ticks=[(float(i), str(e.get("version"))) for i, e in enumerate(entries)],
        width=WIDTH,
        height=HEIGHT,
        css_class="chart metric",
    )
    return CardChart(metric_chart_path(metric), "metric", title, svg, len(points), metric=metric)


def card_charts(
    meta: Mapping[str, Any],
    entries: Sequence[Mapping[str, Any]],
    aliases: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    chart_metric: str | None = None,
) -> list[CardChart]:
    """The pictures of a version's card: its loss curve and its key metric across `entries`."""
    charts = [c for c in (loss_chart(meta),) if c]
    metric = key_metric(meta.get("metrics") or {}, chart_metric)
    if metric:
        chart = metric_chart(metric, entries, aliases)
        if chart:
            charts.append(chart)
    return charts
