"""Checks on text that goes into git objects (commit and tag messages, authors)."""

from __future__ import annotations

from .errors import HTTPBadRequest


def check_text(text: str, what: str) -> str:
    """Text that goes into a git object: no NUL (git fsck refuses it), and encodable as UTF-8."""
    if "\x00" in text:
        raise HTTPBadRequest(f"{what} contains a NUL character.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, e.g. "\ud800" in the JSON
        raise HTTPBadRequest(f"{what} is not valid Unicode text.") from None
    return text
