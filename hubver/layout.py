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
