"""`hubver checkout`: exactly one version's files in a directory, verified, all or nothing.

Files are fetched into the standard Hugging Face cache first (so `from_pretrained(repo,
revision=tag)` then works offline, and a second checkout downloads nothing), checked
against the version's manifest, assembled in a temporary directory beside the target
and renamed into place. A failure leaves no half-written target.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import layout
from ..client import HubClient
from ..errors import CheckoutError, HubverError, IntegrityError, MetadataError
from ..hashing import BLOCK, sha256_file
from ..jsonio import load_json
from ..trust import git_blob_sha
from . import Connection, Registry, connect
from .browse import check_version, read_listing, resolve_ref

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack is 3.11+


@dataclass
class CheckoutResult:
    repo: str
    version: str
    commit: str
    path: str
    files: list[str]
    verified: int
    cache_dir: str
    checked_against: str = "the Hub"  # or "the local cache only" (offline)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_target(repo: str, version: str) -> Path:
    return Path.cwd() / f"{repo.split('/')[-1]}-{version.replace('/', '-')}"


def _check_target(target: Path, force: bool) -> None:
    if target.exists() and not target.is_dir():
        raise CheckoutError(f"{target} exists and is not a directory.", "Pass another --to directory.")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise CheckoutError(
            f"{target} is not empty; checkout would mix versions.",
            "Pass an empty or new --to directory, or --force to replace its contents.",
        )


def checkout(
    repo: str | None = None,
    version: str = "",
    to: str | Path | None = None,
    *,
    force: bool = False,
    cache_dir: str | Path | None = None,
    quiet: bool = False,
    unchecked: bool = False,
    **connection: Unpack[Connection],
) -> CheckoutResult:
    """Download `version` into `to` (default `./<name>-<version>`), sha256-checked against its manifest."""
    with connect(repo, **connection) as registry:
        return registry.checkout(
            version, to, force=force, cache_dir=cache_dir, quiet=quiet, unchecked=unchecked
        )


def checkout_into(
    registry: Registry,
    version: str,
    to: str | Path | None = None,
    *,
    force: bool = False,
    cache_dir: str | Path | None = None,
    quiet: bool = False,
    unchecked: bool = False,
) -> CheckoutResult:
    """`Registry.checkout`: see `checkout`."""
    client, r = registry.client, registry.repo
    target = Path(to).expanduser() if to else default_target(r, version)
    _check_target(target, force)
    cache = Path(cache_dir) if cache_dir else None
    if _offline():
        snapshot, commit = _offline_cached(r, version, cache)
        checked_against = "the local cache only"
    else:
        snapshot, commit = fetch_checked(
            client, r, registry.branch, version, cache, quiet=quiet, unchecked=unchecked
        )
        checked_against = "the Hub"
    if snapshot.name != commit:
        raise IntegrityError(
            f"{version} of {r} moved while it was being downloaded ({commit[:12]} -> {snapshot.name[:12]}).",
            f"Run `hubver verify {version} --repo {r}`.",
        )
    meta_path = snapshot / layout.METADATA_PATH
    manifest = _manifest(meta_path, r, version) if meta_path.exists() else None
    if manifest is None:
        wanted = [p for p in _walk(snapshot) if not layout.is_managed(p) and not p.startswith(".hubver/")]
        expected: dict[str, str | None] = {p: None for p in wanted}
    else:
        expected = manifest
    extra = [p for p in (layout.METADATA_PATH, layout.CARD_PATH) if (snapshot / p).exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.hubver-", dir=target.parent))
    try:
        verified = 0
        for path, digest in sorted(expected.items()):
            src = snapshot / path
            if not src.exists():
                raise IntegrityError(f"{path} is in the manifest of {version} but not in its commit.")
            dest = staging / path
            dest.parent.mkdir(parents=True, exist_ok=True)
            actual = _copy_hashing(src, dest)
            if digest is not None:
                if actual != digest:
                    raise IntegrityError(
                        f"{path} of {version} does not match its manifest (sha256 {actual[:12]}, expected {digest[:12]}).",
                        f"Run `hubver verify {version} --repo {r}`; delete the cached copy and retry.",
                    )
                verified += 1
        for path in extra:
            shutil.copyfile(snapshot / path, staging / path)
        _place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return CheckoutResult(
        r, version, commit, str(target), sorted([*expected, *extra]), verified, str(snapshot), checked_against
    )


def fetch_checked(
    client: HubClient,
    repo: str,
    branch: str,
    version: str,
    cache: Path | None,
    *,
    quiet: bool = True,
    unchecked: bool = False,
) -> tuple[Path, str]:
    """The snapshot dir of `version` in the HF cache and its commit, checked against the Hub.

    The version is resolved to its commit sha first and read by that sha, so no branch of
    the same name can shadow it. Its tag's commit is checked (hubver.json names it, the tree
    recomputes the digest the index recorded), and a cached copy's hubver.json must be the
    very blob of that commit: the cache is not the authority. The files themselves are then
    sha256-checked against that hubver.json by the caller.
    """
    listing = read_listing(client, repo, branch)
    commit = resolve_ref(listing.refs, repo, version)
    cached = _cached_snapshot(repo, commit, cache)
    if not unchecked:
        meta_bytes = (cached / layout.METADATA_PATH).read_bytes() if cached else None
        check = check_version(client, listing, version, commit, metadata_bytes=meta_bytes)
        check.raise_if_broken(repo)
        expected_blob = check.files[layout.METADATA_PATH].blob_id
    snapshot = cached or client.snapshot(repo, commit, cache_dir=cache, quiet=quiet)
    meta_path = snapshot / layout.METADATA_PATH
    if not unchecked and (not meta_path.is_file() or git_blob_sha(meta_path.read_bytes()) != expected_blob):
        raise IntegrityError(
            f"The downloaded {layout.METADATA_PATH} of {version} is not the one in its commit {commit[:12]}.",
            f"Delete the cached copy and retry; run `hubver verify {version} --repo {repo}`.",
        )
    _remember_ref(repo, version, commit, cache)
    return snapshot, commit


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")


def _offline_cached(repo: str, version: str, cache: Path | None) -> tuple[Path, str]:
    """Offline: the snapshot the cache records for `version`, checked against itself only."""
    try:
        commit = (_cache_root(repo, cache) / "refs" / version).read_text().strip()
    except OSError:
        commit = ""
    snapshot = _cached_snapshot(repo, commit, cache) if commit else None
    if snapshot is None:
        raise CheckoutError(
            f"Version {version} of {repo} is not in the local cache, and HF_HUB_OFFLINE is set.",
            f"Run `hubver checkout {version} --repo {repo}` once while online.",
        )
    return snapshot, commit


def _cache_root(repo: str, cache_dir: Path | None) -> Path:
    from huggingface_hub import constants

    return Path(cache_dir or constants.HF_HUB_CACHE) / f"models--{repo.replace('/', '--')}"


def _remember_ref(repo: str, version: str, commit: str, cache_dir: Path | None) -> None:
    """Record tag -> commit in the cache as huggingface_hub does, so `revision=tag` works offline."""
    ref = _cache_root(repo, cache_dir) / "refs" / version
    with contextlib.suppress(OSError):
        if not ref.is_file() or ref.read_text().strip() != commit:
            ref.parent.mkdir(parents=True, exist_ok=True)
            ref.write_text(commit)


def _cached_snapshot(repo: str, commit: str, cache_dir: Path | None) -> Path | None:
    """The commit's snapshot in the HF cache if it is complete there (nothing to download)."""
    snapshot = _cache_root(repo, cache_dir) / "snapshots" / commit
    try:
        manifest = _manifest(snapshot / layout.METADATA_PATH, repo, commit[:12])
    except (OSError, HubverError):
        return None
    if manifest is None or not all((snapshot / p).is_file() for p in manifest):
        return None
    return snapshot


def check_snapshot(snapshot: Path, repo: str, version: str) -> int:
    """sha256-check every file of a snapshot against its hubver.json; the number checked."""
    manifest = _manifest(snapshot / layout.METADATA_PATH, repo, version) or {}
    for path, digest in sorted(manifest.items()):
        src = snapshot / path
        if not src.is_file():
            raise IntegrityError(f"{path} is in the manifest of {version} but not in its commit.")
        if digest is not None and sha256_file(src) != digest:
            raise IntegrityError(
                f"{path} of {version} does not match its manifest.",
                f"Run `hubver verify {version} --repo {repo}`; delete the cached copy and retry.",
            )
    return len(manifest)


def _copy_hashing(src: Path, dest: Path, chunk: int = BLOCK) -> str:
    """Copy `src` to `dest` and return the sha256 of what was written: one pass over the bytes."""
    digest = hashlib.sha256()
    with src.open("rb") as fin, dest.open("wb") as fout:
        while block := fin.read(chunk):
            digest.update(block)
            fout.write(block)
    return digest.hexdigest()


def _manifest(meta_path: Path, repo: str, version: str) -> dict[str, str | None] | None:
    """path -> sha256 from a version's hubver.json (None without a manifest), each path checked.

    The manifest comes from the Hub: a path like `../../x` would be copied from outside the
    snapshot to outside the target, so anything but a plain relative path is refused.
    """
    files = load_json(meta_path).get("files")
    if files is None:
        return None
    where = f"{layout.METADATA_PATH} of version {version} in {repo}"
    hint = f"Run `hubver verify {version} --repo {repo}`."
    if not isinstance(files, list) or not all(
        isinstance(f, dict) and isinstance(f.get("path"), str) for f in files
    ):
        raise MetadataError(f"{where} has a malformed 'files' list.", hint)
    out: dict[str, str | None] = {}
    for f in files:
        path, digest = f["path"], f.get("sha256")
        parts = path.split("/")
        if path.startswith("/") or "\\" in path or any(p in ("", ".", "..") for p in parts):
            raise IntegrityError(
                f"{where} names {path!r}, which is outside the checkout; nothing was written.", hint
            )
        out[path] = digest if isinstance(digest, str) else None
    return out


def _walk(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _place(staging: Path, target: Path) -> None:
    """Move the finished staging dir to `target`; an existing target is replaced only at the end."""
    os.chmod(staging, 0o755)
    if not target.exists():
        os.rename(staging, target)
        return
    if not any(target.iterdir()):
        target.rmdir()
        os.rename(staging, target)
        return
    backup = target.with_name(f".{target.name}.hubver-old-{os.getpid()}")
    os.rename(target, backup)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(backup, target)
        raise
    with contextlib.suppress(OSError):
        shutil.rmtree(backup)
