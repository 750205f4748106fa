"""Server-rendered SVG line charts (stand-in with the API of the "charts" helper's module, issue-15c:
on merge, take that branch's hubver/charts.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str
    key: str
    href: str | None = None


@dataclass(frozen=True)
class Marker:
    x: float
    label: str
    alias: str
    version: str


def _a(s: object) -> str:
    return escape(str(s), quote=True)


def line_chart(
    points: Sequence[Point],
    *,
    title: str,
    x_label: str,
    y_label: str,
    markers: Sequence[Marker] = (),
    x_ticks: Sequence[tuple[float, str]] | None = None,
    width: int = 640,
    height: int = 300,
    css_class: str = "chart",
) -> str:
    """A standalone SVG: no script, no external reference, every text escaped."""
    left, right, top, bottom = 60, 20, 30, 40
    xs = [p.x for p in points] + [m.x for m in markers] or [0.0]
    ys = [p.y for p in points] or [0.0]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    x1 = x1 if x1 > x0 else x0 + 1
    y1 = y1 if y1 > y0 else y0 + 1

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * (width - left - right)

    def sy(y: float) -> float:
        return height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{_a(css_class)}" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" role="img" aria-label="{_a(title)}">',
        f"<title>{_a(title)}</title>",
        f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="13">{_a(title)}</text>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#888"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#888"/>',
        f'<text x="{width / 2}" y="{height - 6}" text-anchor="middle" font-size="11">{_a(x_label)}</text>',
        f'<text x="12" y="{height / 2}" font-size="11" transform="rotate(-90 12 {height / 2})"'
        f' text-anchor="middle">{_a(y_label)}</text>',
        f'<text x="{left - 4}" y="{sy(y1) + 4:.1f}" text-anchor="end" font-size="10">{y1:.4g}</text>',
        f'<text x="{left - 4}" y="{sy(y0) + 4:.1f}" text-anchor="end" font-size="10">{y0:.4g}</text>',
    ]
    for x, label in x_ticks or ():
        out.append(
            f'<text x="{sx(x):.1f}" y="{height - bottom + 14}" text-anchor="middle" font-size="10">{_a(label)}</text>'
        )
    for m in markers:
        out.append(
            f'<g class="marker" data-alias="{_a(m.alias)}" data-version="{_a(m.version)}"><title>{_a(m.label)}</title>'
            f'<line x1="{sx(m.x):.1f}" y1="{top}" x2="{sx(m.x):.1f}" y2="{height - bottom}" stroke="#c60"'
            ' stroke-dasharray="4 3"/></g>'
        )
    if len(points) > 1:
        path = " ".join(f"{sx(p.x):.1f},{sy(p.y):.1f}" for p in points)
        out.append(f'<polyline fill="none" stroke="#36c" stroke-width="1.5" points="{path}"/>')
    for p in points:
        circle = (
            f'<circle class="point" data-key="{_a(p.key)}" data-value="{p.y!r}" cx="{sx(p.x):.1f}"'
            f' cy="{sy(p.y):.1f}" r="3.5" fill="#36c"><title>{_a(p.label)}</title></circle>'
        )
        out.append(f'<a href="{_a(p.href)}">{circle}</a>' if p.href else circle)
    out.append("</svg>")
    return "".join(out)
