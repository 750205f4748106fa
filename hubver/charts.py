"""Line charts as standalone SVG: a metric across versions, a version's loss curve.

Pure stdlib and free of hubver's client, so the embedded hub's pages and `hubver push` (the
pictures committed with a version) draw the same picture. The output is deterministic (same
input, same bytes), has no script, no external reference and no `<style>`/`style=` (only
presentation attributes, which a page's `style-src 'self'` CSP allows when the SVG is inlined),
uses no `id` (two charts on one page cannot collide), and escapes every text it is given.

Each plotted point is `<circle class="point" data-key=KEY data-value=Y data-x=X>` with its
label as `<title>`; each marker is `<g class="marker" data-alias=ALIAS data-version=VERSION>`.
Points whose x or y is NaN or infinite are skipped; with none left the chart says "no data".
Thousands of points keep one circle each (the data stays readable), while the line through them
is thinned to the first/min/max/last point of each pixel column, which draws the same picture.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Marker", "Point", "line_chart", "nice_ticks"]


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str  # the tooltip: "v3: eval_loss 0.412"
    key: str  # what the point stands for: a version id, a step
    href: str | None = None  # a same-site link (path or relative); anything else is dropped


@dataclass(frozen=True)
class Marker:
    x: float
    label: str  # the tooltip: "production -> v3 by alice at ..."
    alias: str
    version: str


# Colours and sizes (presentation attributes only, see the module docstring).
_FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"
_LINE = "#2563eb"
_MARKER = "#d97706"
_GRID = "#e5e7eb"
_AXIS = "#6b7280"
_TEXT = "#111827"
_CHAR_W = 6.6  # average glyph width at 12px, to shorten labels that would not fit
_MAX_VERTICES_PER_COLUMN = 4

# Characters XML 1.0 cannot hold (a parser refuses the document): C0 controls but tab/newline/CR,
# lone surrogates, U+FFFE/U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# A path ("/NS/NAME/versions/v2") or a relative reference without a scheme ("v2", "../v2").
_SAFE_HREF = re.compile(r"^(?:/(?!/)|\.{1,2}/|[A-Za-z0-9_.~%-][^:]*$)")


def _text(value: object) -> str:
    """`value` as XML text or attribute content: escaped, and without characters XML forbids."""
    s = _NOT_XML.sub("\ufffd", str(value))
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _shorten(text: str, max_px: float) -> str:
    """`text` cut with an ellipsis to about `max_px` wide (the full text goes in a <title>)."""
    text = " ".join(str(text).split())
    room = max(1, int(max_px / _CHAR_W))
    return text if len(text) <= room else text[: max(0, room - 1)] + "\u2026"


def _num(v: float) -> str:
    """A coordinate: one decimal, never '-0.0'."""
    s = f"{v:.1f}"
    return "0.0" if s == "-0.0" else s


def _value(v: float) -> str:
    """A data value that reads back as the same float."""
    return repr(float(v))


def _finite(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _span(lo: float, hi: float) -> float:
    """hi - lo, finite even for values near the float limits (half-steps cannot overflow)."""
    d = hi - lo
    return d if math.isfinite(d) else math.inf


def _padded(lo: float, hi: float) -> tuple[float, float]:
    """A non-empty range around lo..hi (one value, or all equal, gets room either side)."""
    if hi > lo:
        return lo, hi
    pad = abs(lo) * 0.1 or 1.0
    a, b = lo - pad, hi + pad
    if not math.isfinite(b):
        a, b = lo - 2 * pad, hi
    elif not math.isfinite(a):
        a, b = lo, hi + 2 * pad
    if not b > a:  # too tiny to move (subnormals): any unit range around it draws the same
        a, b = lo - 1.0, hi + 1.0
    return a, b


def _nice(x: float, round_: bool) -> float:
    exp = math.floor(math.log10(x))
    base = 10.0**exp
    f = x / base
    if round_:
        n = 1 if f < 1.5 else 2 if f < 3 else 5 if f < 7 else 10
    else:
        n = 1 if f <= 1 else 2 if f <= 2 else 5 if f <= 5 else 10
    return n * base


def _linear_ticks(lo: float, hi: float, count: int) -> list[float]:
    # A weighted mean of the ends cannot overflow where `lo + i * (hi - lo) / count` would.
    return [lo * (1 - i / count) + hi * (i / count) for i in range(count + 1)]


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering lo..hi (1, 2 or 5 times a power of ten apart).

    Works for equal, negative, huge (1e300) and tiny (1e-300) values; falls back to evenly
    spaced ticks where rounding would overflow or underflow the float range.
    """
    lo, hi = _padded(lo, hi)
    span = _span(lo, hi)
    try:
        if not math.isfinite(span) or span < 1e-290 or max(abs(lo), abs(hi)) > 1e306:
            raise ArithmeticError
        step = _nice(_nice(span, False) / max(1, count - 1), True)
        k0, k1 = math.floor(lo / step), math.ceil(hi / step)
        if not step > 0 or k1 - k0 > 50:
            raise ArithmeticError
        ticks = [k * step for k in range(k0, k1 + 1)]
        if not all(math.isfinite(t) for t in ticks):
            raise ArithmeticError
        return [0.0 if abs(t) < step * 1e-9 else t for t in ticks]
    except (ArithmeticError, ValueError):
        return _linear_ticks(lo, hi, max(1, count - 1))


def _tick_label(v: float, ticks: Sequence[float]) -> str:
    """`v` as a tick label: plain decimals for everyday values ('0.25', '1500', '1.0002'), and
    as many significant digits as tell the ticks apart otherwise ('2e+300', '1.5e-07')."""
    step = min((abs(b - a) for a, b in zip(ticks[:-1], ticks[1:], strict=True) if b != a), default=0.0)
    top = max((abs(t) for t in ticks), default=0.0)
    if not (step > 0 and top > 0 and math.isfinite(step) and math.isfinite(top)):
        s = f"{v:.3g}"
    elif 1e-4 <= top < 1e9 and step >= 1e-6:
        step = float(f"{step:.10g}")  # 0.5 - 0.4 is 0.09999999999999998
        decimals = max(0, -math.floor(math.log10(step) + 1e-9))
        if round(step, decimals) != step and decimals < 12:  # a step such as 0.25 or 1/3
            decimals += 1 if round(step, decimals + 1) == step else 2
        s = f"{v:.{decimals}f}"
    else:
        digits = max(1, min(15, math.floor(math.log10(top)) - math.floor(math.log10(step)) + 1))
        s = f"{v:.{digits}g}"
    return "0" if s.lstrip("-").strip("0.") == "" else s


class _Scale:
    def __init__(self, lo: float, hi: float, start: float, length: float, flip: bool) -> None:
        self.lo, self.hi, self.start, self.length, self.flip = lo, hi, start, length, flip
        self.half_span = hi / 2 - lo / 2  # finite for any finite lo, hi

    def __call__(self, v: float) -> float:
        frac = (v / 2 - self.lo / 2) / self.half_span if self.half_span > 0 else 0.5
        frac = min(1.0, max(0.0, frac)) if math.isfinite(frac) else 0.5
        return self.start + (1 - frac if self.flip else frac) * self.length


def _thin(points: Sequence[Point], scale: _Scale, columns: int) -> list[Point]:
    """The vertices of the line: every point when few, else first/min/max/last of each pixel column."""
    ordered = sorted(points, key=lambda p: p.x)
    if len(ordered) <= columns * 2:
        return ordered
    out: list[Point] = []
    bucket: list[Point] = []
    current: int | None = None

    def flush() -> None:
        if not bucket:
            return
        keep = {
            id(bucket[0]),
            id(bucket[-1]),
            id(min(bucket, key=lambda p: p.y)),
            id(max(bucket, key=lambda p: p.y)),
        }
        out.extend(p for p in bucket if id(p) in keep)

    for p in ordered:
        column = int(scale(p.x))
        if column != current:
            flush()
            bucket, current = [], column
        bucket.append(p)
    flush()
    return out


def _safe_href(href: str | None) -> str | None:
    if not href or _NOT_XML.search(href) or "\\" in href or any(c.isspace() for c in href):
        return None
    return href if _SAFE_HREF.match(href) else None


def _open(width: int, height: int, css_class: str, title: str, count: int) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{_text(css_class)}" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" role="img" aria-label="{_text(title)}" data-points="{count}"'
        f' font-family="{_text(_FONT)}" font-size="12">',
        f"<title>{_text(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
    ]


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
    empty_text: str = "no data",
) -> str:
    """A standalone `<svg>` drawing `points` as a line with one circle each, and `markers` as
    dashed vertical lines labelled with their alias. `x_ticks` labels the x axis at given
    positions (version ids); without it the x axis gets round numbers."""
    width = max(160, min(4000, int(width)))
    height = max(120, min(3000, int(height)))
    kept = [p for p in points if _finite(p.x) and _finite(p.y)]
    marks = [m for m in markers if _finite(m.x)]
    out = _open(width, height, css_class, title, len(kept))
    left, right, top, bottom = 64, 16, 30, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    out.append(
        f'<text x="{width / 2:.1f}" y="18" text-anchor="middle" font-size="14" font-weight="600"'
        f' fill="{_TEXT}">{_text(_shorten(title, width - 16))}</text>'
    )
    if not kept:
        out.append(
            f'<text class="empty" x="{width / 2:.1f}" y="{height / 2:.1f}" text-anchor="middle"'
            f' fill="{_AXIS}">{_text(_shorten(empty_text, width - 16))}</text>'
        )
        out.append("</svg>")
        return "\n".join(out) + "\n"

    xs = [p.x for p in kept] + [m.x for m in marks]
    ys = [p.y for p in kept]
    given_ticks = [(float(x), str(t)) for x, t in (x_ticks or ()) if _finite(x)]
    x_lo, x_hi = min(xs), max(xs)
    if given_ticks:
        x_lo, x_hi = min(x_lo, *(x for x, _ in given_ticks)), max(x_hi, *(x for x, _ in given_ticks))
    if x_hi <= x_lo:
        x_lo, x_hi = _padded(x_lo, x_hi)
    else:  # a little room so the end points are not on the frame
        pad_x = _span(x_lo, x_hi) * 0.03
        if math.isfinite(pad_x) and math.isfinite(x_lo - pad_x) and math.isfinite(x_hi + pad_x):
            x_lo, x_hi = x_lo - pad_x, x_hi + pad_x
    y_ticks = nice_ticks(min(ys), max(ys))
    y_lo, y_hi = min(y_ticks[0], min(ys)), max(y_ticks[-1], max(ys))
    sx = _Scale(x_lo, x_hi, left, plot_w, flip=False)
    sy = _Scale(y_lo, y_hi, top, plot_h, flip=True)

    # Grid and y axis.
    out.append('<g class="y-axis">')
    for t in y_ticks:
        y = sy(t)
        out.append(f'<line x1="{left}" y1="{_num(y)}" x2="{left + plot_w}" y2="{_num(y)}" stroke="{_GRID}"/>')
        out.append(
            f'<text x="{left - 6}" y="{_num(y + 4)}" text-anchor="end" fill="{_AXIS}">'
            f"{_text(_tick_label(t, y_ticks))}</text>"
        )
    out.append("</g>")
    # x axis: given labels (thinned to fit) or round numbers.
    out.append('<g class="x-axis">')
    out.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="{_AXIS}"/>'
    )
    if given_ticks:
        labels = given_ticks
        room = max(_CHAR_W * 3, max(min(len(t), 12) for _, t in labels) * _CHAR_W + 8)
        every = max(1, math.ceil(len(labels) * room / plot_w))
        shown = labels[::every]
        if labels[-1] not in shown and every > 1:
            shown[-1] = labels[-1]
        max_label = max(room, plot_w / max(1, len(shown))) - 4
    else:
        ticks = [t for t in nice_ticks(x_lo, x_hi, 6) if x_lo <= t <= x_hi]
        shown = [(t, _tick_label(t, ticks)) for t in ticks]
        max_label = plot_w / max(1, len(shown)) - 4
    for x, label in shown:
        px = sx(x)
        out.append(
            f'<line x1="{_num(px)}" y1="{top + plot_h}" x2="{_num(px)}" y2="{top + plot_h + 4}" stroke="{_AXIS}"/>'
        )
        out.append(
            f'<text x="{_num(px)}" y="{top + plot_h + 16}" text-anchor="middle" fill="{_AXIS}">'
            f"<title>{_text(label)}</title>{_text(_shorten(label, max_label))}</text>"
        )
    out.append("</g>")
    out.append(
        f'<text class="x-label" x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle"'
        f' fill="{_TEXT}">{_text(_shorten(x_label, plot_w))}</text>'
    )
    out.append(
        f'<text class="y-label" x="14" y="{top + plot_h / 2:.1f}" text-anchor="middle" fill="{_TEXT}"'
        f' transform="rotate(-90 14 {top + plot_h / 2:.1f})">{_text(_shorten(y_label, plot_h))}</text>'
    )

    # Markers under the line, stacked labels when several aliases share a version.
    stacked: dict[str, int] = {}
    for m in marks:
        px = sx(m.x)
        level = stacked.get(_num(px), 0)
        stacked[_num(px)] = level + 1
        out.append(f'<g class="marker" data-alias="{_text(m.alias)}" data-version="{_text(m.version)}">')
        out.append(f"<title>{_text(m.label)}</title>")
        out.append(
            f'<line x1="{_num(px)}" y1="{top}" x2="{_num(px)}" y2="{top + plot_h}" stroke="{_MARKER}"'
            f' stroke-width="1.5" stroke-dasharray="4 3"/>'
        )
        anchor = "end" if px > left + plot_w * 0.8 else "start"
        dx = -3 if anchor == "end" else 3
        out.append(
            f'<text x="{_num(px + dx)}" y="{top + 11 + 12 * level}" text-anchor="{anchor}" font-size="11"'
            f' fill="{_MARKER}">{_text(_shorten(m.alias, 120))}</text>'
        )
        out.append("</g>")

    # The line (thinned) and one circle per point, in the caller's order.
    vertices = _thin(kept, sx, max(1, plot_w))
    if len(vertices) > 1:
        path = " ".join(f"{_num(sx(p.x))},{_num(sy(p.y))}" for p in vertices)
        out.append(
            f'<polyline class="line" points="{path}" fill="none" stroke="{_LINE}" stroke-width="2"'
            f' stroke-linejoin="round" stroke-linecap="round"/>'
        )
    radius = "3.5" if len(kept) <= 60 else "2" if len(kept) <= 300 else "1"
    out.append(f'<g class="points" fill="{_LINE}">')
    for p in kept:
        circle = (
            f'<circle class="point" cx="{_num(sx(p.x))}" cy="{_num(sy(p.y))}" r="{radius}"'
            f' data-key="{_text(p.key)}" data-x="{_value(p.x)}" data-value="{_value(p.y)}">'
            f"<title>{_text(p.label)}</title></circle>"
        )
        href = _safe_href(p.href)
        out.append(f'<a href="{_text(href)}">{circle}</a>' if href else circle)
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
