"""Where hubver keeps things in a model repository, and how its commits are titled.

A version is a commit on the branch (tagged with its id) holding the model files plus
`hubver.json`, the model card and the version index; an alias branch also holds its record.
"""

from __future__ import annotations

import re

INDEX_PATH = ".hubver/versions.jsonl"
METADATA_PATH = "hubver.json"
CARD_PATH = "README.md"
ALIAS_PATH = ".hubver/alias.json"
MANAGED_PATHS = {INDEX_PATH, METADATA_PATH, CARD_PATH, ".gitattributes", ALIAS_PATH}
# The card's pictures (`hubver.card_charts`): written by each push, never model files.
CHARTS_DIR = ".hubver/charts/"
LOSS_CHART_PATH = CHARTS_DIR + "loss.svg"


_CHART_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\.svg")


def is_chart(path: str) -> bool:
    """A picture of the card: `.hubver/charts/NAME.svg`, nothing deeper and no other kind of file
    (so a model file slipped under that folder is still an extra file to `verify`)."""
    return path.startswith(CHARTS_DIR) and bool(_CHART_NAME.fullmatch(path[len(CHARTS_DIR) :]))


def is_managed(path: str) -> bool:
    """True for the files hubver writes into a version's commit (not part of the model)."""
    return path in MANAGED_PATHS or is_chart(path)


# The title of the commit that publishes a version: "hubver v3" or "hubver v3: message".
_COMMIT_TITLE = re.compile(r"^hubver (\S+)(?::|$)")
MAX_TITLE_MESSAGE = 200


def commit_title(version: str, message: str | None) -> str:
    """The title of the commit that publishes `version`: its id and the message's first line."""
    return f"hubver {version}" + (f": {message.splitlines()[0][:MAX_TITLE_MESSAGE]}" if message else "")


def titled_version(title: str | None) -> str | None:
    """The version a commit title says it published (see `commit_title`); None for other commits."""
    m = _COMMIT_TITLE.match(title or "")
    return m.group(1) if m else None
