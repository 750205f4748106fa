"""Values and tables as text: for the terminal (the CLI) and for Markdown (model card, CI summary).

Every value shown comes from files anyone with write access may have edited, so the terminal
form escapes control characters and the Markdown form keeps a table cell on one line.
A missing value is "-" in the terminal (what scripts and the CLI tests read) and an em dash
in Markdown, where it renders as the usual empty-cell mark.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MISSING = "-"
MISSING_MARKDOWN = "—"


def safe(value: Any) -> str:
    """`value` as text a terminal shows as it is: control characters (ESC, BEL, CR, newlines...)
    from data written by others are escaped (`\\x1b`), never sent raw."""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def markdown_cell(value: Any) -> str:
    """`value` in a Markdown table cell: a pipe or a newline (in a PR title, say) would break the table."""
    return " ".join(str(value).split()).replace("|", "\\|")


def fmt(value: Any, *, missing: str = MISSING, text: Callable[[Any], str] = safe) -> str:
    """A value as one short string: floats to 4 significant digits, None as `missing`."""
    if value is None:
        return missing
    if isinstance(value, float):
        return f"{value:.4g}"
    return text(value)


def fmt_markdown(value: Any) -> str:
    """`fmt` for Markdown tables."""
    return fmt(value, missing=MISSING_MARKDOWN, text=markdown_cell)


def table(rows: list[list[Any]], headers: list[str]) -> str:
    """Rows under headers in aligned columns (terminal-safe cells, None as empty)."""
    cells = [[("" if c is None else safe(c)) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)
