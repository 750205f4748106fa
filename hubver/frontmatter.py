"""Front matter: the YAML block a model card (README.md) opens with, between `---` lines.

Split here only, for hubver's own cards (card.py) and for the metadata the embedded hub
serves; each side parses the YAML with its own bounds.
"""

from __future__ import annotations


def split_front_matter(text: str) -> tuple[str | None, str]:
    """(the YAML after the opening `---` up to the next line starting with `---`, the text after
    that line); (None, text) when `text` has no front matter."""
    if not text.startswith("---"):
        return None, text
    end = text.find("\n---", 3)
    if end < 0:
        return None, text
    return text[3:end], text[end + 4 :]
