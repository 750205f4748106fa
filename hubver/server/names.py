"""Validation of everything a request names: repo ids, revisions, file paths, LFS oids.

Whatever passes here is safe to join onto a data-dir path or to use as a git ref name;
everything else is a 400 before the filesystem is touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .storage_errors import InvalidName, UnprocessablePath

REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
TYPE_DIRS = {v: k for k, v in REPO_TYPES.items()}
# Path prefixes that can never be a namespace, so /datasets/x/y is never read as model "datasets/x".
RESERVED_NAMESPACES = {"api", "datasets", "spaces", "models", "lfs-upload", "lfs-part", "lfs-complete"}

_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?$")
# The Hub (and huggingface_hub's id check) also take namespaces that start with '_'.
_NAMESPACE = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?$")
_SHA1 = re.compile(r"^[0-9a-f]{40}$")
_SHORT_SHA1 = re.compile(r"^[0-9a-f]{7,40}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_BAD_REF_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
_IGNORABLE = re.compile("[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]")
_GITMODULES_SHORT = re.compile(r"^gi7eba~\d$|^gitmod~\d$")
MAX_PATH_LENGTH = 1024
MAX_REF_LENGTH = 200


@dataclass
class RepoAddress:
    """The repository a request is about: its type (`model`, `dataset`, `space`) and `namespace/name`."""

    repo_type: str
    repo_id: str


def check_name(part: str, what: str = "repository name") -> str:
    pattern = _NAMESPACE if what == "namespace" else _NAME
    if not pattern.fullmatch(part) or ".." in part or "--" in part or part.endswith(".git"):
        raise InvalidName(
            f"Invalid {what} {part!r}: use letters, digits, '-', '_' and '.', start with a letter or digit "
            "(a namespace also with '_'), end with a letter, digit or '_', at most 96 characters, "
            "no '..' or '--', no '.git' suffix."
        )
    return part


def check_repo_id(namespace: str, name: str) -> str:
    check_name(namespace, "namespace")
    check_name(name)
    if namespace.lower() in RESERVED_NAMESPACES:
        raise InvalidName(f"Invalid namespace {namespace!r}: it is reserved.")
    return f"{namespace}/{name}"


def is_commit_id(rev: str) -> bool:
    return bool(_SHA1.fullmatch(rev))


def is_short_commit_id(rev: str) -> bool:
    """An abbreviated commit id, as git and the Hub accept them: 7 to 40 lowercase hex digits."""
    return bool(_SHORT_SHA1.fullmatch(rev))


def check_ref_name(rev: str, what: str = "revision") -> str:
    """Apply git's check-ref-format rules (and a length cap) to a branch or tag name."""
    problem = None
    if not rev:
        problem = "it is empty"
    elif len(rev) > MAX_REF_LENGTH:
        problem = f"it is longer than {MAX_REF_LENGTH} characters"
    elif _BAD_REF_CHARS.search(rev):
        problem = "it contains a space, a control character or one of ~ ^ : ? * [ \\"
    elif ".." in rev or "@{" in rev or rev == "@":
        problem = "it contains '..' or '@{'"
    elif rev.startswith("/") or rev.endswith("/") or "//" in rev:
        problem = "it starts or ends with '/' or contains '//'"
    elif rev.endswith("."):
        problem = "it ends with '.'"
    elif any(part.startswith(".") or part.endswith(".lock") for part in rev.split("/")):
        problem = "a component starts with '.' or ends with '.lock'"
    elif rev.startswith("-"):
        problem = "it starts with '-'"
    elif not _encodable(rev):
        problem = "it is not valid UTF-8"
    if problem:
        raise InvalidName(f"Invalid {what} {rev!r}: {problem}.")
    return rev


def _encodable(text: str) -> bool:
    # Lone surrogates ("\ud800" in a JSON body) cannot become a file name or a git object.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_git_control_name(part: str) -> bool:
    """True for '.git' and '.gitmodules' as git itself sees them on any file system.

    git fsck refuses trees with such entries, and a clone onto a case-insensitive (macOS,
    Windows) or NTFS file system would write them into its own .git: case is ignored,
    macOS ignores some invisible code points, NTFS ignores trailing dots and spaces and
    anything after a ':' and knows short names like GIT~1.
    """
    name = _IGNORABLE.sub("", part).lower().split(":", 1)[0].rstrip(". ")
    return name in (".git", ".gitmodules", "git~1") or bool(_GITMODULES_SHORT.fullmatch(name))


def check_revision(rev: str) -> str:
    """A revision is a commit id or a valid ref name."""
    if is_commit_id(rev):
        return rev
    return check_ref_name(rev)


def check_path(path: str) -> str:
    """A file path inside a repo: relative, '/'-separated, no '.', '..' or empty parts."""
    problem = None
    if not path:
        problem = "it is empty"
    elif len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_LENGTH:
        problem = f"it is longer than {MAX_PATH_LENGTH} bytes"
    elif "\\" in path:
        problem = "it contains a backslash"
    elif any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        problem = "it contains a control character"
    elif path.startswith("/"):
        problem = "it is absolute"
    else:
        parts = path.split("/")
        if any(p in ("", ".", "..") for p in parts):
            problem = "it has an empty, '.' or '..' component"
        elif any(is_git_control_name(p) for p in parts):
            problem = "it names a '.git' directory or a '.gitmodules' file (or a variant of them)"
    if problem:
        # The Hub answers 422 to `..\\ddd`-style (Windows) paths, 400 to the rest.
        error = UnprocessablePath if "backslash" in problem else InvalidName
        raise error(f"Invalid file path {path!r}: {problem}.")
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidName(f"Invalid file path {path!r}: it is not valid UTF-8.") from None
    return path


def check_oid(oid: object) -> str:
    if not isinstance(oid, str) or not _SHA256.fullmatch(oid):
        raise InvalidName(f"Invalid LFS oid {oid!r}: expected 64 lowercase hex characters (sha256).")
    return oid
