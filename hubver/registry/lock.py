"""`hubver lock` and what reads a lock on a handle: pin selected versions, check out a pinned one.

A lock is made from what the Hub proves: each selected version's tag commit is checked
(trust.py: hubver.json, manifest digest recomputed from the tree, index chain) before its
manifest is written into the lock; the base model's recorded revision is resolved to a commit.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..errors import HubverError, IntegrityError, LockError
from ..ids import is_hub_id
from ..lockfile import Lock, LockedBase, LockedFile, LockedVersion, manifest_matches
from ..redact import strip_url_credentials
from . import Connection, Registry, connect
from .browse import check_version, select_version

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack is 3.11+

    from .checkout import CheckoutResult


def lock(
    repo: str | None = None, selectors: list[str] | None = None, **connection: Unpack[Connection]
) -> Lock:
    """A lock pinning each of `selectors` (default `latest`) of `repo`: write it with `write_lock`."""
    with connect(repo, **connection) as registry:
        return registry.lock(selectors)


def lock_in(registry: Registry, selectors: list[str]) -> Lock:
    """`Registry.lock`: see `lock`."""
    client, r = registry.client, registry.repo
    listing = registry.listing()
    pinned: list[LockedVersion] = []
    for text in selectors:
        got = select_version(client, listing, text)
        check = check_version(client, listing, got.version, got.commit)
        check.raise_if_broken(r)
        meta = check.metadata or {}
        pinned.append(
            LockedVersion(
                repo=r,
                branch=registry.branch,
                selector=text,
                version=got.version,
                commit=got.commit,
                digest=meta.get("digest") if isinstance(meta.get("digest"), str) else None,
                base_model=_base(registry, meta),
                files=_files(meta, r, got.version),
            )
        )
    now = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    return Lock(
        strip_url_credentials(registry.settings.endpoint), now, f"hubver {__version__}", tuple(pinned)
    )


def _files(meta: dict[str, Any], repo: str, version: str) -> tuple[LockedFile, ...]:
    files = meta.get("files")
    out = []
    for f in files if isinstance(files, list) else []:
        path, sha, size = (
            (f.get(k) for k in ("path", "sha256", "size")) if isinstance(f, dict) else (None,) * 3
        )
        if not (isinstance(path, str) and isinstance(sha, str) and isinstance(size, int)):
            raise LockError(
                f"Version {version} of {repo} has a manifest entry without path, sha256 and size: {f!r}.",
                "A version published by hubver always has them; lock another version.",
            )
        out.append(LockedFile(path, sha, size))
    if not out:
        raise LockError(f"Version {version} of {repo} lists no files in its manifest: nothing to pin.")
    return tuple(sorted(out, key=lambda f: f.path))


def _base(registry: Registry, meta: dict[str, Any]) -> LockedBase | None:
    base = meta.get("base_model")
    if not isinstance(base, dict) or not isinstance(base.get("name"), str):
        return None
    name = base["name"]
    revision = base.get("revision") if isinstance(base.get("revision"), str) else None
    if not is_hub_id(name):
        return LockedBase(name, revision, None, "recorded as a local path, not a Hub id")
    try:
        commit, _ = registry.client.files(name, revision or "main")
    except HubverError as e:
        return LockedBase(name, revision, None, f"not resolved on {registry.client.endpoint}: {e.message}")
    return LockedBase(name, revision, commit)


def same_repo(registry: Registry, locked: LockedVersion) -> None:
    if locked.repo != registry.repo:
        raise LockError(
            f"The lock pins {locked.repo}, not {registry.repo}.",
            "Drop --repo, or pass the lock of this repo.",
        )


def check_pinned(registry: Registry, locked: LockedVersion) -> None:
    """The Hub still has `locked` where the lock says: same repo, the tag on the locked commit."""
    same_repo(registry, locked)
    tag = registry.client.refs(registry.repo).tags.get(locked.version)
    if tag != locked.commit:
        raise IntegrityError(
            f"{locked.repo} {locked.version} is locked at commit {locked.commit[:12]}, but "
            + (f"its tag now points at {tag[:12]}." if tag else "its tag is gone (pruned, or deleted)."),
            "Nothing was changed. Regenerate the lock with `hubver lock` if the new state is intended.",
        )


def checkout_locked(
    registry: Registry,
    locked: LockedVersion,
    to: str | Path | None = None,
    *,
    force: bool = False,
    cache_dir: str | Path | None = None,
    quiet: bool = False,
    source: str = "the lock",
    place: str = "auto",
) -> CheckoutResult:
    """Check out exactly what `locked` pins: the tag must still be on the locked commit, and the
    version's manifest must equal the lock's files (each file is sha256-checked by checkout)."""
    from ..jsonio import load_json
    from .checkout import _offline, checkout_into

    same_repo(registry, locked)
    if not _offline():
        check_pinned(registry, locked)
    result = checkout_into(
        registry, locked.version, to, force=force, cache_dir=cache_dir, quiet=quiet, place=place
    )
    meta_path = Path(result.path) / "hubver.json"
    differing = manifest_matches(load_json(meta_path) if meta_path.is_file() else {}, locked)
    if result.commit != locked.commit or differing:
        shutil.rmtree(result.path, ignore_errors=True)
        raise IntegrityError(
            f"{locked.repo} {locked.version} at {result.commit[:12]} is not what {source} pins "
            f"(commit {locked.commit[:12]}"
            + (f"; files differing: {', '.join(differing[:5])}" if differing else "")
            + "); the checkout was removed.",
            "Regenerate the lock with `hubver lock`, or find who changed the version.",
        )
    return result
