"""`hubver checkout`: exactly one version's files in a directory, verified, all or nothing.

Files are fetched into the standard Hugging Face cache first (so `from_pretrained(repo,
revision=tag)` then works offline, and a second checkout downloads nothing), checked
against the version's manifest, assembled in a temporary directory beside the target
and renamed into place. A failure leaves no half-written target.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import layout
from ..client import HubClient, RemoteFile
from ..errors import CheckoutError, HubverError, IntegrityError, MetadataError
from ..hashcache import open_cache, stat_key
from ..hashing import hash_threads, sha256_file, sha256_files
from ..jsonio import load_json
from ..lockfile import Lock
from ..trust import git_blob_sha
from . import Connection, Registry, connect
from .browse import check_version, not_pruned, read_listing, resolve_ref, selected_name

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
    placed: str = "copy"  # how the files are in the target: "hardlink", "reflink", "copy" (or a mix)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_target(repo: str, version: str) -> Path:
    return Path.cwd() / f"{repo.split('/')[-1]}-{version.replace('/', '-')}"


def _check_target(target: Path, force: bool) -> None:
    """Refuse a target that cannot be a checkout directory before anything is downloaded."""
    hint = "Pass another --to directory."
    try:
        resolved = target.resolve(strict=False)
    except (OSError, RuntimeError) as e:  # a symlink loop
        raise CheckoutError(f"--to {target} cannot be used: {e}.", hint) from None
    if target.is_symlink() and not target.exists():
        raise CheckoutError(f"{target} is a symlink to {os.readlink(target)}, which does not exist.", hint)
    ancestor = resolved.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise CheckoutError(f"{ancestor} is not a directory, so {target} cannot be made in it.", hint)
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
    lock: str | Path | Lock | None = None,
    place: str = "auto",
    **connection: Unpack[Connection],
) -> CheckoutResult:
    """Download `version` into `to` (default `./<name>-<version>`), sha256-checked against its manifest.

    `version` may be a selector (`best:eval_loss`, `production~1`, ...). With `lock` (a lockfile
    or a `Lock`), exactly what it pins, `repo` defaulting to the lock's. `place` is how files
    get from the HF cache into `to`: "auto", "link" or "copy" (see `place_file`).
    """
    if lock is not None:
        from ..lockfile import read_lock

        pinned = lock if isinstance(lock, Lock) else read_lock(lock)
        repo = repo or pinned.pick(version or None, f"the lockfile {lock}").repo
    with connect(repo, **connection) as registry:
        return registry.checkout(
            version,
            to,
            force=force,
            cache_dir=cache_dir,
            quiet=quiet,
            unchecked=unchecked,
            lock=lock,
            place=place,
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
    place: str = "auto",
) -> CheckoutResult:
    """`Registry.checkout`: see `checkout`."""
    check_place(place)
    client, r = registry.client, registry.repo
    version = selected_name(registry, version, offline=_offline())
    target = Path(to).expanduser() if to else default_target(r, version)
    _check_target(target, force)
    if target.is_symlink():
        target = target.resolve()  # the directory it names: the link itself stays as it is
    cache = Path(cache_dir) if cache_dir else None
    hashed: dict[str, str] = {}  # path -> sha256 of the files downloaded by this checkout
    if _offline():
        snapshot, commit = _offline_cached(r, version, cache)
        checked_against = "the local cache only"
    else:
        snapshot, commit = fetch_checked(
            client, r, registry.branch, version, cache, quiet=quiet, unchecked=unchecked, hashed=hashed
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
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.hubver-", dir=target.parent))
    except PermissionError:
        raise CheckoutError(
            f"Cannot write in {target.parent}: a checkout is assembled beside its target and "
            "renamed into place, so that a failure leaves no half-written directory.",
            f"Pass a --to directory whose parent you can write, e.g. --to {target.parent}/... of your own.",
        ) from None
    except OSError as e:  # a read-only filesystem, /proc, ...
        raise CheckoutError(
            f"Cannot create the checkout beside {target}: {e.strerror or e}.", "Pass another --to directory."
        ) from None
    try:
        verified, placed = _fill(staging, snapshot, expected, hashed, r, version, place)
        for path in extra:
            shutil.copyfile(snapshot / path, staging / path)
        _place(staging, target, force)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return CheckoutResult(
        r,
        version,
        commit,
        str(target),
        sorted([*expected, *extra]),
        verified,
        str(snapshot),
        checked_against,
        "+".join(sorted(placed)) or "copy",
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
    hashed: dict[str, str] | None = None,
) -> tuple[Path, str]:
    """The snapshot dir of `version` in the HF cache and its commit, checked against the Hub.

    The version is resolved to its commit sha first and read by that sha, so no branch of
    the same name can shadow it. Its tag's commit is checked (hubver.json names it, the tree
    recomputes the digest the index recorded), and a cached copy's hubver.json must be the
    very blob of that commit: the cache is not the authority. The files themselves are then
    sha256-checked against that hubver.json by the caller; `hashed` receives the sha256 of
    each file downloaded now (hashed as it arrived, so the caller need not read it again).
    """
    listing = read_listing(client, repo, branch)
    not_pruned(listing, version)
    commit = resolve_ref(listing.refs, repo, version)
    cached = _cached_snapshot(repo, commit, cache)
    if not unchecked:
        meta_bytes = (cached / layout.METADATA_PATH).read_bytes() if cached else None
        check = check_version(client, listing, version, commit, metadata_bytes=meta_bytes)
        check.raise_if_broken(repo)
        expected_blob = check.files[layout.METADATA_PATH].blob_id
    if cached is None:
        remote = check.files if not unchecked else client.files(repo, commit)[1]
        snapshot = download_snapshot(client, repo, commit, remote, cache, hashed)
    else:
        snapshot = cached
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
    for path in manifest:
        if not (snapshot / path).is_file():
            raise IntegrityError(f"{path} is in the manifest of {version} but not in its commit.")
    cache = open_cache()
    paths = sorted(p for p, d in manifest.items() if d is not None)
    try:
        digests = sha256_files([snapshot / p for p in paths], cache.sha256 if cache else None)
    finally:
        if cache:
            cache.save()
    for path, actual in zip(paths, digests, strict=True):
        if actual != manifest[path]:
            raise IntegrityError(
                f"{path} of {version} does not match its manifest.",
                f"Run `hubver verify {version} --repo {repo}`; delete the cached copy and retry.",
            )
    return len(manifest)


def _fill(
    staging: Path,
    snapshot: Path,
    expected: dict[str, str | None],
    hashed: dict[str, str],
    repo: str,
    version: str,
    place: str = "auto",
) -> tuple[int, set[str]]:
    """Check each file of the snapshot against the manifest and put it in `staging`, files in
    parallel threads; the number checked and how they were placed. Nothing of a file that
    fails its check is kept.

    A file downloaded by this checkout was hashed as it arrived (`hashed`); one already in the
    cache is hashed again unless the hash cache knows it unchanged (see hubver.hashcache).
    """
    for path in expected:
        if not (snapshot / path).exists():
            raise IntegrityError(f"{path} is in the manifest of {version} but not in its commit.")
    cache = open_cache()
    placed: set[str] = set()

    def one(path: str) -> bool:
        src = Path(os.path.realpath(snapshot / path))
        seen = os.stat(src)
        digest = expected[path]
        if digest is not None:
            actual = hashed.get(path) or (cache.sha256(src) if cache else sha256_file(src))
            if actual != digest:
                raise IntegrityError(
                    f"{path} of {version} does not match its manifest (sha256 {actual[:12]}, expected {digest[:12]}): "
                    f"the copy in the HF cache, {src}, was changed (a write through a hard-linked checkout?).",
                    f"Delete it (rm {src}) and check out again: it is downloaded afresh. "
                    f"`hubver verify {version} --repo {repo}` checks the Hub's copy.",
                )
        # Written while it was hashed? Then what was hashed is not what is placed (the red team
        # wrote into a blob mid-hash and put its mtime back): refuse, nothing is recorded.
        checked = os.stat(src)
        if stat_key(checked) != stat_key(seen):
            raise _changed_meanwhile(path, version, src)
        dest = staging / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        how = place_file(src, dest, place)
        placed.add(how)
        if how != "hardlink" and stat_key(os.stat(src)) != stat_key(checked):
            raise _changed_meanwhile(path, version, src)  # the copy may hold unchecked bytes
        if cache and digest is not None and (how == "hardlink" or path in hashed):
            # the link moved the blob's ctime; a fresh download is known: keep the entry usable
            cache.remember(src, digest, checked, written_here=path in hashed)
        return digest is not None

    try:
        with ThreadPoolExecutor(max_workers=hash_threads(len(expected))) as pool:
            checked = list(pool.map(one, sorted(expected)))
    finally:
        if cache:
            cache.save()
    return sum(checked), placed


def _changed_meanwhile(path: str, version: str, src: Path) -> IntegrityError:
    return IntegrityError(
        f"{path} of {version} changed in the HF cache ({src}) while it was being checked; "
        "nothing was checked out.",
        "Check out again; if it happens again, find what writes to the HF cache.",
    )


PLACES = ("auto", "link", "copy")


def check_place(place: str) -> None:
    if place not in PLACES:
        raise CheckoutError(f"Invalid place={place!r}.", f"Use one of: {', '.join(PLACES)}.")


def place_file(src: Path, dest: Path, place: str = "auto") -> str:
    """Put the cached blob `src` at `dest`; returns "reflink", "hardlink" or "copy".

    - "copy": a copy the user can edit: a reflink (copy-on-write clone: btrfs, XFS, bcachefs)
      where the filesystem allows, otherwise a copy inside the kernel (`copy_file_range`).
    - "link": a hard link to the blob (no byte written), made read-only (0444, the blob too:
      it is one file), a copy if the link cannot be made (another filesystem).
    - "auto": a reflink where possible, else a hard link, except for root, who gets a copy.

    Why read-only, and why not for root: `torch.save` and safetensors' `save_file` rewrite a
    file in place (open with O_TRUNC, same inode). Through a hard link that would rewrite the
    HF cache's blob, which `from_pretrained(repo, revision=tag)` then serves unchecked. A
    read-only file makes such a write fail with "Permission denied" instead; root is not
    stopped by file modes, so root gets copies unless it asks for links (`--link`). hubver
    itself notices a rewritten blob (its mtime moves) and hashes it again before trusting it.
    """
    if place in ("auto", "copy") and _clone(src, dest):
        return "reflink"
    if place == "link" or (place == "auto" and _links_are_safe()):
        try:
            os.link(src, dest)  # first: a link that cannot be made must not touch the blob
        except OSError:
            pass  # another filesystem, or links not allowed here: copy
        else:
            if os.stat(src).st_mode & 0o222:
                os.chmod(src, 0o444)  # one inode: the target is read-only too
            return "hardlink"
    shutil.copyfile(src, dest)
    return "copy"


def _links_are_safe() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() != 0


def _clone(src: Path, dest: Path) -> bool:
    if not _REFLINK_OK:
        return False
    with src.open("rb") as fin, dest.open("wb") as fout:
        if _reflink(fin.fileno(), fout.fileno()):
            return True
    dest.unlink()
    return False


_FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
_REFLINK_OK = sys.platform == "linux"


def _reflink(src_fd: int, dest_fd: int) -> bool:
    global _REFLINK_OK
    if not _REFLINK_OK:
        return False
    import fcntl

    try:
        fcntl.ioctl(dest_fd, _FICLONE, src_fd)
        return True
    except OSError as e:
        if e.errno in (errno.EOPNOTSUPP, errno.ENOTTY, errno.EINVAL, errno.ENOSYS):
            _REFLINK_OK = False  # this filesystem cannot: do not ask again for every file
        return False


def download_snapshot(
    client: HubClient,
    repo: str,
    commit: str,
    remote: dict[str, RemoteFile],
    cache_dir: Path | None,
    hashed: dict[str, str] | None = None,
) -> Path:
    """Download the files of `commit` missing from the HF cache, laid out as huggingface_hub
    lays it out (`blobs/<etag>`, `snapshots/<commit>/<path>` -> blob), so `from_pretrained`
    and `hf_hub_download` find them. Files in parallel; each hashed while it arrives (its
    sha256 into `hashed`); an interrupted download resumes from its `.incomplete` part.
    An LFS file whose bytes do not match their LFS sha256 is refused and not kept.
    """
    from huggingface_hub.utils import WeakFileLock

    root = _cache_root(repo, cache_dir)
    snapshot = root / "snapshots" / commit
    locks = root.parent / ".locks" / root.name
    for d in (root / "blobs", snapshot, locks):
        d.mkdir(parents=True, exist_ok=True)
    out = hashed if hashed is not None else {}

    def one(f: RemoteFile) -> None:
        blob_name = f.sha256 or f.blob_id
        if not blob_name or "/" in blob_name or blob_name.startswith("."):
            raise IntegrityError(f"The Hub names no usable blob id for {f.path} in {repo}@{commit[:12]}.")
        blob = root / "blobs" / blob_name
        pointer = snapshot / f.path
        _manifest_path_ok(f.path, repo, commit)
        with WeakFileLock(locks / f"{blob_name}.lock"):
            if not blob.is_file():
                part = blob.with_name(blob_name + ".incomplete")
                digest = client.download(repo, f.path, commit, part, f.size)
                if f.sha256 and digest != f.sha256:
                    part.unlink(missing_ok=True)
                    raise IntegrityError(
                        f"{f.path} of {repo} arrived with sha256 {digest[:12]}, not its LFS id {f.sha256[:12]}.",
                        "Retry; if it persists, run `hubver verify` and tell the hub's administrator.",
                    )
                os.chmod(part, 0o644)
                os.replace(part, blob)
                out[f.path] = digest
        pointer.parent.mkdir(parents=True, exist_ok=True)
        if not pointer.is_file():
            with contextlib.suppress(FileNotFoundError):
                pointer.unlink()
            os.symlink(os.path.relpath(blob, pointer.parent), pointer)

    files = [f for f in remote.values() if not (snapshot / f.path).is_file()]
    with ThreadPoolExecutor(max_workers=min(8, max(1, len(files)))) as pool:
        list(pool.map(one, files))
    return snapshot


def _is_plain(path: str) -> bool:
    """A relative path that stays inside its folder (no `..`, no absolute or Windows path)."""
    parts = path.split("/")
    return not (path.startswith("/") or "\\" in path or any(p in ("", ".", "..") for p in parts))


def _manifest_path_ok(path: str, repo: str, commit: str) -> None:
    if not _is_plain(path):
        raise IntegrityError(
            f"{repo}@{commit[:12]} lists {path!r}, which is outside the cache; nothing was written."
        )


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
        if not _is_plain(path):
            raise IntegrityError(
                f"{where} names {path!r}, which is outside the checkout; nothing was written.", hint
            )
        out[path] = digest if isinstance(digest, str) else None
    return out


def _walk(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _place(staging: Path, target: Path, force: bool = False) -> None:
    """Move the finished staging dir to `target`; an existing target is replaced only at the end,
    and only with `force`: another checkout may have filled it since this one started."""
    os.chmod(staging, 0o755)
    if not target.exists():
        try:
            os.rename(staging, target)
            return
        except OSError as e:
            if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise  # else: another checkout got there first (checked below)
    if not any(target.iterdir()):
        target.rmdir()
        os.rename(staging, target)
        return
    if not force:
        raise CheckoutError(
            f"{target} was filled by another checkout while this one ran; it was left as it is.",
            "Check out into another --to directory, or pass --force to replace it.",
        )
    backup = target.with_name(f".{target.name}.hubver-old-{os.getpid()}")
    os.rename(target, backup)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(backup, target)
        raise
    with contextlib.suppress(OSError):
        shutil.rmtree(backup)
