"""The grammar of ids: repository ids (`namespace/name`) and version ids (validate, sort, pick
the next one for a scheme).

Schemes:
- ``counter`` (default): ``v1``, ``v2``, ... one more than the highest ``vN`` ever used;
- ``timestamp``: ``v_YYYYMMDD_HHMMSS`` in UTC, as in the tutorial hubver grew from;
- ``semver``: ``vMAJOR.MINOR.PATCH``, bumping the highest semver id (``--bump``).

Ids become git tags, so they follow git's ref rules and the Hub's, and never look like a
commit id or a branch name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timezone

from .errors import VersionIdError

SCHEMES = ("counter", "timestamp", "semver")
BUMPS = ("major", "minor", "patch")
MAX_LENGTH = 128

# A Hub repository id, `namespace/name`: what --repo accepts and what a card may name as a base.
REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
MAX_HUB_ID = 200

_ALLOWED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/+-]*$")
_COUNTER = re.compile(r"^v(\d+)$")
_SEMVER = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
_TIMESTAMP = re.compile(r"^v_\d{8}_\d{6}(?:_(\d+))?$")
_COMMIT_LIKE = re.compile(r"^[0-9a-f]{7,40}$")


def is_repo_id(repo: str) -> bool:
    """True for an id --repo accepts (`namespace/name`, no `..`, not ending in .git)."""
    return bool(REPO_ID.fullmatch(repo)) and ".." not in repo and not repo.endswith(".git")


def is_hub_id(name: object) -> bool:
    """True for `namespace/name`; False for anything else, whatever its type (cards are edited by hand)."""
    return (
        isinstance(name, str)
        and len(name) <= MAX_HUB_ID
        and bool(REPO_ID.fullmatch(name))
        and not name.startswith("/")
    )


_HINT = "Pick another with --version ID, or let hubver number it (--scheme counter|timestamp|semver)."


# Selector words (`latest` names the newest version): a version called so would make the word
# name an older version once a newer one exists.
SELECTOR_WORDS = ("latest",)


def validate(version_id: str, *, reserved: Iterable[str] = ("main",), what: str = "version id") -> str:
    """Return `version_id` if it can be a version tag (or, `what` says, an alias or branch
    name); raise VersionIdError saying why not."""
    problem = None
    if not version_id:
        problem = "it is empty"
    elif len(version_id) > MAX_LENGTH:
        problem = f"it is longer than {MAX_LENGTH} characters"
    elif not _ALLOWED.fullmatch(version_id):
        problem = "use letters, digits and . _ - + / only, starting with a letter or digit"
    elif ".." in version_id or "//" in version_id or version_id.endswith(("/", ".", ".lock")):
        problem = "it contains '..' or '//', or ends with '/', '.' or '.lock'"
    elif any(part.startswith(".") or part.endswith(".lock") for part in version_id.split("/")):
        problem = "a '/'-separated part starts with '.' or ends with '.lock'"
    elif version_id == "refs" or version_id.startswith("refs/"):
        problem = "it starts with 'refs/', git's own namespace (refs/pr/1 is a pull request)"
    elif _COMMIT_LIKE.fullmatch(version_id):
        problem = "it looks like a commit id"
    elif version_id in set(reserved) or version_id == "HEAD":
        problem = "it is the name of a branch"
    elif what == "version id" and version_id.lower() in SELECTOR_WORDS:
        problem = f"{version_id!r} is a selector word (`latest` always names the newest version)"
    if problem:
        hint = _HINT if what == "version id" else f"Pick another {what}."
        raise VersionIdError(f"Invalid {what} {version_id!r}: {problem}.", hint)
    return version_id


def ref_clash(version_id: str, tags: Iterable[str], branches: Iterable[str]) -> str | None:
    """Why `version_id` cannot become a tag beside these refs, or None.

    git keeps refs as paths: the tag v1/x cannot exist beside v1 (nor v1 beside v1/x), and a
    tag named like a branch (an alias) makes every revision lookup ambiguous.
    """
    for kind, names in (("branch", branches), ("tag", tags)):
        for name in names:
            if name == version_id:
                return f"it is the name of a {kind}{' (an alias)' if kind == 'branch' else ''}"
            if version_id.startswith(name + "/"):
                return f"the {kind} {name} exists, and git cannot keep {version_id} beside it"
            if name.startswith(version_id + "/"):
                return f"the {kind} {name} exists, and git cannot keep {version_id} beside it"
    return None


def sort_key(version_id: str) -> tuple[tuple[tuple[int, int, str], ...], str]:
    """Natural order: v2 < v10, v1.9.0 < v1.10.0. The id itself breaks ties (v01 vs v1), so
    distinct ids never compare equal and a listing's order never depends on its input's."""
    parts = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in re.split(r"(\d+)", version_id)
        if part
    )
    return parts, version_id


def sort(ids: Iterable[str]) -> list[str]:
    return sorted(ids, key=sort_key)


def parse_semver(version_id: str) -> tuple[int, int, int] | None:
    m = _SEMVER.match(version_id)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def next_id(
    existing: Iterable[str],
    scheme: str = "counter",
    *,
    bump: str | None = None,
    now: datetime | None = None,
) -> str:
    """The id the next version gets, given every id ever used in the repo."""
    taken = set(existing)
    if scheme == "counter":
        highest = max((int(m.group(1)) for i in taken if (m := _COUNTER.match(i))), default=0)
        return f"v{highest + 1}"
    if scheme == "timestamp":
        base = f"v_{(now or datetime.now(timezone.utc)).strftime('%Y%m%d_%H%M%S')}"
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            candidate = f"{base}_{n}"
        return candidate
    if scheme == "semver":
        bump = bump or "patch"
        if bump not in BUMPS:
            raise VersionIdError(f"Invalid bump {bump!r}.", f"Use one of: {', '.join(BUMPS)}.")
        major, minor, patch = max((v for i in taken if (v := parse_semver(i))), default=(0, 0, 0))
        if bump == "major":
            return f"v{major + 1}.0.0"
        if bump == "minor":
            return f"v{major}.{minor + 1}.0"
        return f"v{major}.{minor}.{patch + 1}"
    raise VersionIdError(f"Unknown version scheme {scheme!r}.", f"Use one of: {', '.join(SCHEMES)}.")
