"""The lockfile (`hubver.lock`): exactly which bytes a deployment loads, in a stable JSON format.

Written by `hubver lock` (registry/lock.py), read by `hubver checkout --lock`, `hubver verify
--lock` and `hubver.load(lock=...)`. The format is documented in docs/lockfile.md; a reader
refuses a `lock_version` it does not know. A lock holds no token and no URL credentials.

Checking a lock against the local Hugging Face cache (`verify_lock`) needs no Hub: each locked
version's snapshot is found by its commit sha and every file is hashed.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import ids
from .errors import IntegrityError, LockError, MetadataError
from .hashing import sha256_file
from .jsonio import dumps, parse_json

LOCK_VERSION = 1
DEFAULT_PATH = "hubver.lock"
_SHA1 = 40
_HINT = "Regenerate it with `hubver lock SELECTOR -o FILE`; docs/lockfile.md describes the format."


@dataclass(frozen=True)
class LockedFile:
    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class LockedBase:
    name: str
    revision: str | None  # as recorded at push time (a branch, tag, sha, or none)
    commit: str | None  # that revision resolved to a commit sha on the Hub; None if not on it
    note: str | None = None  # why `commit` is None


@dataclass(frozen=True)
class LockedVersion:
    repo: str
    branch: str
    selector: str
    version: str
    commit: str
    digest: str | None
    base_model: LockedBase | None
    files: tuple[LockedFile, ...]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["files"] = [asdict(f) for f in self.files]
        return out


@dataclass(frozen=True)
class Lock:
    endpoint: str
    created_at: str
    generated_by: str
    versions: tuple[LockedVersion, ...]
    lock_version: int = LOCK_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "lock_version": self.lock_version,
            "generated_by": self.generated_by,
            "created_at": self.created_at,
            "endpoint": self.endpoint,
            "versions": [v.to_dict() for v in self.versions],
        }

    def render(self) -> str:
        return dumps(self.to_dict()) + "\n"

    def pick(self, name: str | None = None, source: str = "the lock") -> LockedVersion:
        """The locked version called `name` (its version id or the selector it was locked from),
        or the only one."""
        if name is None:
            if len(self.versions) == 1:
                return self.versions[0]
            raise LockError(
                f"{source} pins {len(self.versions)} versions: "
                + ", ".join(f"{v.repo} {v.version}" for v in self.versions)
                + "; say which.",
                "Pass the version id (or the selector it was locked from) beside --lock.",
            )
        found = [v for v in self.versions if name in (v.version, v.selector)]
        if len(found) != 1:
            raise LockError(
                f"{source} pins {'no' if not found else 'more than one'} version called {name!r} "
                f"(it pins: {', '.join(v.version for v in self.versions)}).",
                "Name one of those, or lock it first with `hubver lock`.",
            )
        return found[0]


def write_lock(lock: Lock, path: str | Path) -> Path:
    """Write `lock` to `path` atomically (a reader never sees half a lock)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(lock.render())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def read_lock(path: str | Path) -> Lock:
    """Read and check a lockfile; LockError naming the file and the field when it is not one."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise LockError(f"Cannot read the lockfile {source}: {e.strerror or e}.", _HINT) from None
    try:
        data = parse_json(raw, source)
    except MetadataError as e:
        raise LockError(e.message, _HINT) from None
    return from_dict(data, source)


def from_dict(data: Any, source: str = "the lock") -> Lock:
    if not isinstance(data, dict):
        raise LockError(f"{source} is not a JSON object.", _HINT)
    version = data.get("lock_version")
    if version != LOCK_VERSION:
        raise LockError(
            f"{source} has lock_version {version!r}; this hubver reads lock_version {LOCK_VERSION}.",
            "Upgrade hubver, or regenerate the lock with this one (`hubver lock`).",
        )
    versions = data.get("versions")
    if not isinstance(versions, list) or not versions:
        raise LockError(f"{source}: 'versions' must be a non-empty list.", _HINT)
    return Lock(
        endpoint=_text(data, "endpoint", source),
        created_at=_text(data, "created_at", source),
        generated_by=_text(data, "generated_by", source),
        versions=tuple(_version(v, f"{source} versions[{i}]") for i, v in enumerate(versions)),
    )


def _version(data: Any, where: str) -> LockedVersion:
    if not isinstance(data, dict):
        raise LockError(f"{where} is not a JSON object.", _HINT)
    commit = _text(data, "commit", where)
    if len(commit) != _SHA1 or any(c not in "0123456789abcdef" for c in commit):
        raise LockError(f"{where}: commit {commit!r} is not a full commit sha.", _HINT)
    files = data.get("files")
    if not isinstance(files, list):
        raise LockError(f"{where}: 'files' must be a list.", _HINT)
    repo = _text(data, "repo", where)
    if not ids.is_repo_id(repo):  # it goes into Hub URLs, with the token
        raise LockError(f"{where}: repo {repo!r} is not a repository id (namespace/name).", _HINT)
    base = data.get("base_model")
    if base is not None and not isinstance(base, dict):
        raise LockError(f"{where}: 'base_model' must be an object or null.", _HINT)
    return LockedVersion(
        repo=repo,
        branch=_text(data, "branch", where),
        selector=_text(data, "selector", where),
        version=_text(data, "version", where),
        commit=commit,
        digest=_text(data, "digest", where, optional=True),
        base_model=None
        if base is None
        else LockedBase(
            name=_text(base, "name", f"{where} base_model"),
            revision=_text(base, "revision", f"{where} base_model", optional=True),
            commit=_text(base, "commit", f"{where} base_model", optional=True),
            note=_text(base, "note", f"{where} base_model", optional=True),
        ),
        files=tuple(_file(f, f"{where} files[{i}]") for i, f in enumerate(files)),
    )


def _file(data: Any, where: str) -> LockedFile:
    if not isinstance(data, dict):
        raise LockError(f"{where} is not a JSON object.", _HINT)
    path = _text(data, "path", where)
    parts = path.split("/")
    if path.startswith("/") or "\\" in path or any(p in ("", ".", "..") for p in parts):
        raise LockError(f"{where}: {path!r} is not a plain relative path.", _HINT)
    sha = _text(data, "sha256", where)
    size = data.get("size")
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise LockError(f"{where}: sha256 {sha!r} is not a sha256 hex digest.", _HINT)
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise LockError(f"{where}: size must be a non-negative integer.", _HINT)
    return LockedFile(path, sha, size)


def _text(data: dict[str, Any], key: str, where: str, *, optional: bool = False) -> Any:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise LockError(f"{where}: {key!r} must be a non-empty string.", _HINT)
    return value


# -- checking files against a lock ---------------------------------------------------------------


@dataclass
class FileCheck:
    path: str
    status: str  # "ok", "missing" or "modified"
    detail: str = ""


@dataclass
class LockCheck:
    repo: str
    version: str
    commit: str
    snapshot: str
    files: list[FileCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.status == "ok" for f in self.files)

    @property
    def bad(self) -> list[FileCheck]:
        return [f for f in self.files if f.status != "ok"]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def check_dir(directory: Path, locked: LockedVersion) -> list[FileCheck]:
    """Each locked file of `locked` in `directory`: ok, missing, or modified (size or sha256)."""
    out = []
    for f in locked.files:
        p = directory / f.path
        if not p.is_file():
            out.append(FileCheck(f.path, "missing"))
            continue
        size = p.stat().st_size
        if size != f.size:
            out.append(FileCheck(f.path, "modified", f"{size} bytes, the lock says {f.size}"))
            continue
        sha = sha256_file(p)
        if sha != f.sha256:
            out.append(FileCheck(f.path, "modified", f"sha256 {sha[:12]}, the lock says {f.sha256[:12]}"))
            continue
        out.append(FileCheck(f.path, "ok"))
    return out


def cache_snapshot(repo: str, commit: str, cache_dir: str | Path | None = None) -> Path:
    """Where the HF cache keeps `commit` of `repo` (it may not exist)."""
    from huggingface_hub import constants

    root = Path(cache_dir) if cache_dir else Path(constants.HF_HUB_CACHE)
    return root / f"models--{repo.replace('/', '--')}" / "snapshots" / commit


def verify_lock(lock: Lock, *, cache_dir: str | Path | None = None) -> list[LockCheck]:
    """Every locked version's files in the local HF cache, hashed: no Hub is asked."""
    out = []
    for v in lock.versions:
        snapshot = cache_snapshot(v.repo, v.commit, cache_dir)
        check = LockCheck(v.repo, v.version, v.commit, str(snapshot), check_dir(snapshot, v))
        if not snapshot.is_dir():
            check.notes.append(
                f"{v.repo} {v.version} ({v.commit[:12]}) is not in the cache: "
                f"run `hubver checkout --lock FILE {v.version}` while online."
            )
        if v.base_model and v.base_model.commit:
            base = cache_snapshot(v.base_model.name, v.base_model.commit, cache_dir)
            if not base.is_dir():
                check.notes.append(
                    f"base model {v.base_model.name}@{v.base_model.commit[:12]} is not in the cache "
                    "(hubver.load fetches it when online)."
                )
        out.append(check)
    return out


def refuse_unless_matches(directory: Path, locked: LockedVersion, source: str = "the lock") -> None:
    """IntegrityError naming every file of `directory` that is not what `locked` pins."""
    bad = [f for f in check_dir(directory, locked) if f.status != "ok"]
    if bad:
        shown = "; ".join(f"{f.path} {f.status}" + (f" ({f.detail})" if f.detail else "") for f in bad[:5])
        raise IntegrityError(
            f"{locked.repo} {locked.version} does not match {source}: {shown}.",
            "Delete the cached copy and fetch it again; if the lock is right, the files were tampered with.",
        )


def manifest_matches(meta: dict[str, Any], locked: LockedVersion) -> list[str]:
    """Paths where a version's hubver.json manifest and the lock disagree (none: they agree)."""
    listed = meta.get("files")
    have: dict[str, tuple[Any, Any]] = {}
    for f in listed if isinstance(listed, list) else []:
        if isinstance(f, dict) and isinstance(f.get("path"), str):
            have[f["path"]] = (f.get("sha256"), f.get("size"))
    want = {f.path: (f.sha256, f.size) for f in locked.files}
    return sorted(p for p in set(have) | set(want) if have.get(p) != want.get(p))
