"""HTML: the Jinja2 environment (autoescape on for every template) and the model card's markdown.

A card is markdown that anyone with write access wrote: markdown-it-py renders it (raw HTML
allowed, as on huggingface.co) and nh3 keeps only an allowlist of tags and attributes, so no
script, event handler, style or `javascript:` link survives. Relative images (`.hubver/charts/x.svg`)
point at the file at the card's revision; images on other hosts are dropped (the pages' CSP
allows images from the page's own origin only).
"""

from __future__ import annotations

import functools
import math
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import jinja2
import nh3
from markdown_it import MarkdownIt

from ..frontmatter import split_front_matter


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("hubver.web", "templates"),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["q"] = lambda s: quote(str(s), safe="")  # one path segment
    env.filters["qpath"] = lambda s: quote(str(s), safe="/")  # a file path
    env.filters["value"] = format_value
    env.filters["size"] = format_size
    env.filters["when"] = format_time
    return env


def render(template: str, context: dict[str, Any]) -> str:
    return environment().get_template(template).render(**context)


def format_value(value: Any) -> str:
    """A metric or setting as a table shows it: floats to 4 significant digits, None as '-'."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, (list, dict)):
        import json

        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def format_size(size: Any) -> str:
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return "-"
    try:
        n = float(size)
    except OverflowError:  # a 400-digit "size" in someone's document
        return "-"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{int(n)} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(size)


def format_time(ts: Any) -> str:
    if isinstance(ts, (int, float)) and not isinstance(ts, bool):
        try:
            return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        except (OverflowError, ValueError, OSError):  # out of the calendar's range
            return "-"
    return str(ts) if ts else "-"


_MD = MarkdownIt("commonmark", {"html": True, "linkify": False}).enable("table")


def _is_relative(url: str) -> bool:
    return not (url.startswith(("/", "#", "//")) or ":" in url.split("/", 1)[0])


MAX_CARD = 256 << 10  # characters of a card rendered: markdown-it needs ~1 s per 256 KiB of table


def render_card(text: str, resolve_base: str) -> str:
    """The card's body as sanitised HTML (front matter left out); relative image paths
    resolved against `resolve_base` (`/NS/NAME/resolve/REV`). A card longer than MAX_CARD is
    cut at a line end and ends with a note linking to the whole file (README.md)."""
    _, body = split_front_matter(text)
    cut = len(body) > MAX_CARD
    if cut:
        body = body[: body.rfind("\n", 0, MAX_CARD) + 1 or MAX_CARD]
    html = _MD.render(body)

    def keep(tag: str, attr: str, value: str) -> str | None:
        if tag == "img" and attr == "src":
            if _is_relative(value):
                return f"{resolve_base}/{quote(value.removeprefix('./'), safe='/')}"
            return value if value.startswith("/") and not value.startswith("//") else None
        return value

    html = nh3.clean(html, attribute_filter=keep)
    if cut:
        raw = f"{resolve_base}/README.md"
        html += (
            f'<p class="card-cut">This card is longer than {MAX_CARD >> 10} KiB: only its beginning is '
            f'shown. <a href="{raw}">The whole README.md</a>.</p>'
        )
    return html
