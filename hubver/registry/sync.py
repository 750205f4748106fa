"""Copying versions between hubs (`hubver sync SRC DST`): backups, and offline runs published later.

Each version DST lacks is copied in SRC's order as one commit on DST's branch, then its tag,
as `hubver push` makes them: the same files (so the same manifest digest), the same
`hubver.json` but for `parent.commit`, which names the parent's commit on DST, and an index
entry whose chain link (`prev`) is rebuilt over DST's own commits. A sync killed between a
commit and its tag is finished by the next one (the tag is repaired, as push does); a version
is never half there, since the commit is atomic.

The two histories must agree: a version id on both sides with different content, or versions
on DST that SRC lacks placed where SRC's next version would go, refuse the sync and name them.
Every SRC version is checked (tag -> commit -> manifest digest -> index chain) before it is
copied. LFS files are streamed through a temporary file, never held in memory, and not even
downloaded when DST already holds the object (the LFS batch answer says so).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import card, ids, index, layout
from ..client import HubClient, RemoteFile, open_client
from ..errors import (
    ConfigError,
    ConflictError,
    HistoriesDiffer,
    HubError,
    IntegrityError,
    RepoNotFound,
    TransientError,
    VersionIdError,
)
from ..jsonio import dumps, finite, parse_json
from ..layout import commit_title
from ..redact import strip_url_credentials
from ..settings import HF_ENDPOINT_DEFAULT, LOCAL, Settings, resolve_settings, validate_repo
from ..sync_tmp import sync_temp_dir
from ..trust import chain_problems, check_commit, entry_hash, git_blob_sha
from .browse import read_alias_records
from .push import BranchState, _tag, check_history, read_state, repair_tags

MAX_ATTEMPTS = 6
CHUNK = 1 << 20
SLOW_ENV = "HUBVER_SYNC_SLOW"  # seconds to wait between a version's commit and its tag (tests)


@dataclass
class CopiedVersion:
    version: str
    src_commit: str
    commit: str | None  # on DST; None in a dry run
    digest: str
    uploaded: list[str] = field(default_factory=list)  # sent to DST
    present: list[str] = field(default_factory=list)  # LFS objects DST already had: not downloaded
    unchanged: list[str] = field(default_factory=list)  # same file as DST's previous version
    deleted: list[str] = field(default_factory=list)
    bytes_sent: int = 0


@dataclass
class CopiedAlias:
    alias: str
    version: str
    promotions: int  # entries of its history after the sync
    changed: bool
    commit: str | None = None


@dataclass
class RepoSync:
    repo: str
    to_repo: str
    branch: str
    dry_run: bool
    copied: list[CopiedVersion] = field(default_factory=list)
    already: list[str] = field(default_factory=list)  # versions DST had, with the same content
    only_on_dst: list[str] = field(default_factory=list)  # versions DST has and SRC lacks (kept)
    repaired: list[str] = field(default_factory=list)  # tags an interrupted sync or push left missing
    aliases: list[CopiedAlias] = field(default_factory=list)
    created_repo: bool = False

    @property
    def nothing_to_do(self) -> bool:
        return not (self.copied or self.repaired or any(a.changed for a in self.aliases) or self.created_repo)


@dataclass
class SyncResult:
    src: str
    dst: str
    dry_run: bool
    repos: list[RepoSync] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for r, d in zip(self.repos, out["repos"], strict=True):
            d["nothing_to_do"] = r.nothing_to_do
        return out


@dataclass(frozen=True)
class _Route:
    """One repository's way: from `repo` on SRC to `target` on DST, the versions on `branch`."""

    src: HubClient
    dst: HubClient
    repo: str
    target: str
    branch: str


def endpoint_settings(spec: str, token: str | None, repo: str, branch: str | None, side: str) -> Settings:
    """Settings for one side: `local`, `hf` / `huggingface.co`, or an http(s) URL."""
    value = spec.strip()
    if value == LOCAL:
        return resolve_settings(repo=repo, local=True, token=token, branch=branch)
    if value.lower() in ("hf", "huggingface", "huggingface.co", "hf.co"):
        value = HF_ENDPOINT_DEFAULT
    if "://" not in value:
        raise ConfigError(
            f"Invalid {side} endpoint {strip_url_credentials(spec)!r}: expected 'local', 'hf' or an http(s) URL.",
            "For example: hubver sync local https://huggingface.co --repo me/my-adapter",
        )
    return resolve_settings(repo=repo, endpoint=value, token=token, branch=branch)


def sync(
    src: str,
    dst: str,
    repos: list[str],
    *,
    to_repo: str | None = None,
    aliases: bool = False,
    dry_run: bool = False,
    src_token: str | None = None,
    dst_token: str | None = None,
    branch: str | None = None,
) -> SyncResult:
    """Copy to `dst` every version of each of `repos` on `src` that `dst` lacks (see the module)."""
    src_token = src_token or os.environ.get("HUBVER_SRC_TOKEN") or None
    dst_token = dst_token or os.environ.get("HUBVER_DST_TOKEN") or None
    if not repos:
        repos = [resolve_settings().require_repo()]
    if to_repo and len(repos) != 1:
        raise ConfigError(
            "--to-repo needs exactly one --repo.", "Run one sync per repository to rename them."
        )
    if src.strip() == dst.strip() and not to_repo:
        raise ConfigError(
            f"SRC and DST are the same hub ({strip_url_credentials(src)}).",
            "Name two different hubs, or pass --to-repo to copy into another repository.",
        )
    first_src = endpoint_settings(src, src_token, repos[0], branch, "SRC")
    first_dst = endpoint_settings(dst, dst_token, to_repo or repos[0], branch, "DST")
    result = SyncResult(_shown(first_src), _shown(first_dst), dry_run)
    with contextlib.ExitStack() as stack:
        src_client = stack.enter_context(open_client(first_src))
        # One hub on both sides (--to-repo): one client, so `local` starts one embedded hub, not two.
        same = src.strip() == dst.strip() and first_src.token == first_dst.token
        dst_client = src_client if same else stack.enter_context(open_client(first_dst))
        if not same:  # hints name sync's own options, not push's --token/--endpoint
            src_client.token_option = "--src-token or HUBVER_SRC_TOKEN"
            src_client.endpoint_option = "the SRC argument"
            dst_client.token_option = "--dst-token or HUBVER_DST_TOKEN"
            dst_client.endpoint_option = "the DST argument"
        else:
            src_client.token_option = "--src-token/--dst-token or HUBVER_SRC_TOKEN/HUBVER_DST_TOKEN"
            src_client.endpoint_option = "the SRC and DST arguments"
        for repo in repos:
            target = validate_repo(to_repo) if to_repo else validate_repo(repo)
            result.repos.append(
                _sync_repo(
                    _Route(src_client, dst_client, validate_repo(repo), target, first_src.branch),
                    aliases=aliases,
                    dry_run=dry_run,
                )
            )
    return result


def _shown(settings: Settings) -> str:
    return settings.endpoint if settings.is_local else strip_url_credentials(settings.endpoint)


def _sync_repo(route: _Route, *, aliases: bool, dry_run: bool) -> RepoSync:
    src, dst, repo, target, branch = route.src, route.dst, route.repo, route.target, route.branch
    out = RepoSync(repo, target, branch, dry_run)
    src_refs = src.refs(repo)
    source = read_state(src, repo, branch, refs=src_refs)
    _check_source(repo, branch, source)
    private = _is_private(src, repo)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        state = _target_state(dst, target, branch, dry_run=dry_run, out=out)
        try:
            _copy_versions(route, source, state, out, dry_run=dry_run, private=private)
        except (ConflictError, TransientError):
            # DST moved under us (a push, another sync) or an answer was lost: re-read and re-plan.
            time.sleep(0.2 * attempt)
            continue
        break
    else:
        raise ConflictError(
            f"Gave up after {MAX_ATTEMPTS} attempts: {target}@{branch} kept changing during the sync.",
            "Run the sync again; what was copied stays copied.",
        )
    if aliases:
        out.aliases = _sync_aliases(route, src_refs, dry_run=dry_run)
    return out


def _check_source(repo: str, branch: str, source: BranchState) -> None:
    if source.head is None:
        raise RepoNotFound(
            f"{repo} has no branch {branch!r} on SRC: there is nothing to sync.",
            "Check --repo and --branch.",
        )
    broken = source.problems + [p for _, p in chain_problems(source.entries, source.tags)]
    if broken:
        raise IntegrityError(
            f"The version index of {repo}@{branch} on SRC is not intact: {' '.join(broken)}",
            f"Nothing was copied. Run `hubver verify --repo {repo}` against SRC.",
        )


def _is_private(client: HubClient, repo: str) -> bool:
    from huggingface_hub.utils import hf_raise_for_status

    def fetch() -> bool:
        with client._get(f"{client.endpoint}/api/models/{repo}") as r:
            r.read()
            hf_raise_for_status(r)
            data = r.json()
        return bool(data.get("private")) if isinstance(data, dict) else True

    return client.call("Reading the repository", fetch, repo=repo)


def _target_state(dst: HubClient, target: str, branch: str, *, dry_run: bool, out: RepoSync) -> BranchState:
    """DST's branch as it is (nothing created yet), with the tags an interrupted run left missing repaired."""
    try:
        refs = dst.refs(target)
    except RepoNotFound:
        return BranchState(None, {}, [], [], {}, {}, None)
    state = read_state(dst, target, branch, refs=refs)
    check_history(dst, target, branch, state)
    if state.problems:
        raise IntegrityError(
            f"The version index of {target}@{branch} on DST is not readable: {' '.join(state.problems)}",
            f"Nothing was copied. Run `hubver verify --repo {target}` against DST.",
        )
    if not dry_run:
        out.repaired += repair_tags(dst, target, branch, state)
    return state


def _create_target(dst: HubClient, target: str, branch: str, *, private: bool, out: RepoSync) -> None:
    """The repository (as private as SRC's) and the versions branch, started from main, as push does."""
    try:
        refs = dst.refs(target)
    except RepoNotFound:
        dst.ensure_repo(target, private=private)
        out.created_repo = True
        refs = dst.refs(target)
    if branch not in refs.branches:
        start = refs.branches.get("main")
        if start is None:
            raise HubError(f"{target} on DST has no 'main' branch to start branch {branch!r} from.")
        dst.create_branch(target, branch, start)


def plan(
    repo: str, target: str, source: BranchState, state: BranchState
) -> tuple[list[str], list[str], list[str]]:
    """(versions DST already has, versions to copy in order, versions only on DST), or HistoriesDiffer."""
    src_ids = [e["version"] for e in source.entries]
    dst_ids = [e["version"] for e in state.entries]
    dst_by_id = {e["version"]: e for e in state.entries}
    differ = [
        f"{e['version']} (SRC {str(e.get('digest'))[:12]}, DST {str(dst_by_id[e['version']].get('digest'))[:12]})"
        for e in source.entries
        if e["version"] in dst_by_id and dst_by_id[e["version"]].get("digest") != e.get("digest")
    ]
    if differ:
        raise HistoriesDiffer(
            f"SRC {repo} and DST {target} disagree: the same version id holds different content: "
            f"{', '.join(differ)}. Nothing was copied.",
            "Versions are never overwritten. Decide which side is right; sync into a new repository "
            "with --to-repo to keep both.",
        )
    k = 0
    while k < min(len(src_ids), len(dst_ids)) and src_ids[k] == dst_ids[k]:
        k += 1
    to_copy, dst_only = src_ids[k:], dst_ids[k:]
    if to_copy and dst_only:
        after = f"after {src_ids[k - 1]}" if k else "first"
        raise HistoriesDiffer(
            f"SRC {repo} and DST {target} have diverged: {after}, SRC has {', '.join(to_copy)} but DST has "
            f"{', '.join(dst_only)}. Copying would put versions in another order than SRC's. Nothing was copied.",
            "Sync into a new repository with --to-repo, or push DST's versions to SRC first.",
        )
    for v in to_copy:  # an id made before a rule reserved it (`latest`) is not copied on
        try:
            ids.validate(v, reserved=("main",))
        except VersionIdError as e:
            raise HistoriesDiffer(
                f"SRC {repo} has a version DST cannot take: {e.message} Nothing was copied.",
                "Sync into a repository without that version, or remove it from SRC (hubver prune).",
            ) from None
    clash = [
        v
        for v in to_copy
        if v in state.tags or v in state.history_ids or ids.ref_clash(v, state.tags, state.branches)
    ]
    if clash:
        raise HistoriesDiffer(
            f"DST {target} already uses {', '.join(clash)} as a tag, branch or commit title, but not as a "
            "version of its index. Nothing was copied.",
            f"Run `hubver verify --repo {target}` against DST and remove or rename those refs.",
        )
    return src_ids[:k], to_copy, [v for v in dst_ids if v not in set(src_ids)]


def _copy_versions(
    route: _Route, source: BranchState, state: BranchState, out: RepoSync, *, dry_run: bool, private: bool
) -> None:
    src, dst, repo, target, branch = route.src, route.dst, route.repo, route.target, route.branch
    already, to_copy, out.only_on_dst = plan(repo, target, source, state)
    copied_before = {c.version for c in out.copied}  # by an earlier attempt of this sync
    out.already = [v for v in already if v not in copied_before]
    position = {e["version"]: i for i, e in enumerate(source.entries)}
    # Every version to copy is checked on SRC first: a broken one stops the sync before anything moves.
    checks = {}
    for version in to_copy:
        i = position[version]
        src_commit = source.tags.get(version)
        if src_commit is None:
            raise IntegrityError(
                f"Version {version} of {repo} on SRC has no tag, so it cannot be copied. Nothing was copied.",
                f"Run `hubver verify --repair --repo {repo}` against SRC, then sync again.",
            )
        check = check_commit(
            src, repo, version, src_commit, source.entries[i], position=source.entries[: i + 1]
        )
        if not check.ok:
            raise IntegrityError(
                f"Version {version} of {repo} on SRC cannot be trusted: {' '.join(check.problems)} "
                "Nothing was copied.",
                f"Run `hubver verify --repo {repo}` against SRC; sync copies intact versions only.",
            )
        checks[version] = (src_commit, check.files)
    if to_copy and not dry_run and state.head is None:
        _create_target(dst, target, branch, private=private, out=out)
        state = read_state(dst, target, branch)
    for version in to_copy:
        src_commit, files = checks[version]
        entry = source.entries[position[version]]
        out.copied.append(_copy_one(route, entry, src_commit, files, state, dry_run))
        if dry_run:
            state = _as_if_copied(state, entry, version)
        else:
            state = read_state(dst, target, branch)


def _as_if_copied(state: BranchState, entry: dict[str, Any], version: str) -> BranchState:
    """A dry run's idea of DST after `version` landed (enough to plan the next one)."""
    return BranchState(
        state.head,
        state.files,
        [*state.entries, entry],
        [],
        {**state.tags, version: ""},
        state.branches,
        None,
    )


def _copy_one(
    route: _Route,
    entry: dict[str, Any],
    src_commit: str,
    src_files: dict[str, RemoteFile],
    state: BranchState,
    dry_run: bool,
) -> CopiedVersion:
    """One version onto DST's branch: one commit on top of `state.head`, then its tag."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    src, dst, repo, target, branch = route.src, route.dst, route.repo, route.target, route.branch
    version = entry["version"]
    result = CopiedVersion(version, src_commit, None, str(entry.get("digest")))
    meta, meta_bytes, entries, readme_bytes = _hubver_files(route, entry, src_commit, state)
    artifact = {p: f for p, f in src_files.items() if p not in layout.MANAGED_PATHS}
    result.deleted = sorted(p for p in state.files if p not in artifact and p not in layout.MANAGED_PATHS)
    changed = []
    for path, f in sorted(artifact.items()):
        if _same(f, state.files.get(path)):
            result.unchanged.append(path)
        else:
            changed.append(f)
    present = _objects_on(dst, target, [f for f in changed if f.sha256]) if changed and not dry_run else set()
    if dry_run:
        result.uploaded = [f.path for f in changed]
        return result

    with sync_temp_dir() as tmp:  # under $HUBVER_HOME, swept of killed runs
        ops: list[Any] = []
        for f in changed:
            if f.sha256 and f.sha256 in present:
                ops.append(_already_uploaded(f))
                result.present.append(f.path)
                continue
            if f.sha256:
                local = Path(tmp) / hashlib.sha256(f.path.encode()).hexdigest()
                _download(src, repo, src_commit, f, local)
                op = CommitOperationAdd(path_in_repo=f.path, path_or_fileobj=str(local))
                op.upload_info.sha256 = bytes.fromhex(f.sha256)  # checked while streaming
            else:
                data, _ = src.read_file(repo, f.path, src_commit)
                if data is None or git_blob_sha(data) != f.blob_id:
                    raise IntegrityError(
                        f"{f.path} of {version} in {repo} on SRC changed while it was read; nothing was committed.",
                        "Run the sync again.",
                    )
                op = CommitOperationAdd(path_in_repo=f.path, path_or_fileobj=data)
            ops.append(op)
            result.uploaded.append(f.path)
            result.bytes_sent += f.size
        ops += [CommitOperationDelete(path_in_repo=p) for p in result.deleted]
        ops += [
            CommitOperationAdd(path_in_repo=layout.METADATA_PATH, path_or_fileobj=meta_bytes),
            CommitOperationAdd(path_in_repo=layout.INDEX_PATH, path_or_fileobj=index.render(finite(entries))),
        ]
        if readme_bytes is not None:
            ops.append(CommitOperationAdd(path_in_repo=layout.CARD_PATH, path_or_fileobj=readme_bytes))
        commit = dst.commit(
            target,
            branch,
            ops,
            message=commit_title(version, meta.get("message")),
            description=f"hubver sync {version} from {repo}@{src_commit}",
            parent=state.head,
        )
    with contextlib.suppress(ValueError):
        time.sleep(max(0.0, float(os.environ.get(SLOW_ENV) or 0)))
    _tag(dst, target, version, commit)
    result.commit = commit
    return result


def _hubver_files(
    route: _Route, entry: dict[str, Any], src_commit: str, state: BranchState
) -> tuple[dict[str, Any], bytes, list[dict[str, Any]], bytes | None]:
    """The version's hubver.json (object and bytes), DST's index with it, and its card, for DST.

    hubver.json stays byte for byte SRC's unless its parent's commit differs on DST; the index
    entry is SRC's with its chain link over DST's entries and commits. The card is SRC's, or,
    for another repository name (--to-repo), rendered anew around SRC's own text.
    """
    src, repo, version = route.src, route.repo, entry["version"]
    meta_bytes, _ = src.read_file(repo, layout.METADATA_PATH, src_commit)
    meta = parse_json(meta_bytes or b"", f"{layout.METADATA_PATH} of {version} in {repo} on SRC")
    if not isinstance(meta, dict) or meta_bytes is None:  # check_commit has read it already
        raise IntegrityError(f"{layout.METADATA_PATH} of {version} in {repo} on SRC changed while syncing.")
    previous = state.entries[-1] if state.entries else None
    parent = meta.get("parent")
    if isinstance(parent, dict) and parent.get("version") and previous is not None:
        local_parent = {**parent, "commit": state.tags.get(str(parent["version"])) or None}
        if local_parent != parent:
            meta = {**meta, "parent": local_parent}
            meta_bytes = dumps(meta).encode()
    new_entry = {**entry, "branch": route.branch, "metadata_blob": git_blob_sha(meta_bytes)}
    if isinstance(entry.get("prev"), dict) and previous is not None:
        new_entry["prev"] = {
            "version": previous["version"],
            "hash": entry_hash(previous),
            "commit": state.tags.get(previous["version"]),
        }
    entries = [*state.entries, new_entry]
    readme_bytes, _ = src.read_file(repo, layout.CARD_PATH, src_commit)
    if route.target != repo and readme_bytes is not None:
        readme_bytes = card.render(
            meta,
            repo=route.target,
            history=entries,
            previous=previous,
            existing=readme_bytes.decode("utf-8", "replace"),
        ).encode()
    return meta, meta_bytes, entries, readme_bytes


def _same(f: RemoteFile, remote: RemoteFile | None) -> bool:
    if remote is None or remote.size != f.size:
        return False
    if f.sha256 or remote.sha256:
        return f.sha256 == remote.sha256
    return f.blob_id == remote.blob_id


def _objects_on(dst: HubClient, target: str, files: list[RemoteFile]) -> set[str]:
    """The sha256 of those LFS objects DST already holds (the LFS batch answer asks for no upload)."""
    if not files:
        return set()
    from huggingface_hub.lfs import UploadInfo, post_lfs_batch_info

    infos = [UploadInfo(size=f.size, sample=b"", sha256=bytes.fromhex(str(f.sha256))) for f in files]

    def ask() -> set[str]:
        actions, _, _ = post_lfs_batch_info(
            upload_infos=infos, token=dst.token, repo_type="model", repo_id=target, endpoint=dst.endpoint
        )
        return {a["oid"] for a in actions if not a.get("actions")}

    return dst.call("Asking DST which LFS objects it has", ask, repo=target)


def _already_uploaded(f: RemoteFile) -> Any:
    """An LFS addition of an object DST holds: committed by its oid, nothing read or uploaded."""
    from huggingface_hub import CommitOperationAdd
    from huggingface_hub.lfs import UploadInfo

    op = CommitOperationAdd(path_in_repo=f.path, path_or_fileobj=b"")
    op.upload_info = UploadInfo(size=f.size, sample=b"", sha256=bytes.fromhex(str(f.sha256)))
    op._upload_mode = "lfs"
    op._should_ignore = False
    op._is_uploaded = True
    return op


def _download(src: HubClient, repo: str, commit: str, f: RemoteFile, local: Path) -> None:
    """Stream one LFS file from SRC into `local`, checking its size and sha256 on the way."""
    from urllib.parse import quote

    from huggingface_hub.utils import hf_raise_for_status

    url = f"{src.endpoint}/{repo}/resolve/{commit}/{quote(f.path)}"

    def fetch() -> None:
        digest, size = hashlib.sha256(), 0
        with src._get(url) as r, open(local, "wb") as out:
            if r.status_code >= 400:
                r.read()
                hf_raise_for_status(r)
            for chunk in r.iter_bytes(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        if size != f.size or digest.hexdigest() != f.sha256:
            raise IntegrityError(
                f"{f.path} of {repo}@{commit[:12]} on SRC did not arrive intact ({size} bytes, sha256 "
                f"{digest.hexdigest()[:12]}; expected {f.size}, {str(f.sha256)[:12]}); nothing was committed.",
                "Run the sync again; if it persists, run `hubver verify --deep` against SRC.",
            )

    src.call(f"Downloading {f.path}", fetch, repo=repo)


def _sync_aliases(route: _Route, src_refs: Any, *, dry_run: bool) -> list[CopiedAlias]:
    """Each SRC alias onto DST: the version's files and SRC's record, its commits mapped to DST's tags.

    DST's alias history must be a start of SRC's (promotions are only ever appended); otherwise
    the two disagree about who promoted what, and the sync refuses, naming the alias.
    """
    src, dst, repo, target, branch = route.src, route.dst, route.repo, route.target, route.branch
    records = read_alias_records(src, repo, src_refs, branch)
    dst_refs = dst.refs(target) if _exists(dst, target) else None
    dst_records = read_alias_records(dst, target, dst_refs, branch) if dst_refs else {}
    tags = dict(dst_refs.tags) if dst_refs else {}
    out = []
    for alias, record in sorted(records.items()):
        version = str(record["version"])
        history = [
            {**h, "commit": tags.get(str(h.get("to")))}
            for h in (record.get("history") or [])
            if isinstance(h, dict)
        ]
        mine = dst_records.get(alias)
        if mine is None and dst_refs is not None and (alias in dst_refs.branches or alias in dst_refs.tags):
            raise HistoriesDiffer(
                f"{alias} is an alias on SRC {repo}, but a branch or tag that is not a hubver alias on DST "
                f"{target}; it was not overwritten.",
                f"Rename or delete {alias} on DST, or sync without --aliases.",
            )
        theirs = [_promotion_key(h) for h in history]
        ours = [_promotion_key(h) for h in (mine or {}).get("history") or []]
        if ours != theirs[: len(ours)]:
            raise HistoriesDiffer(
                f"The alias {alias} has another history on DST {target} than on SRC {repo}; it was not synced.",
                f"Compare `hubver history {alias}` on both sides; promote on one side only.",
            )
        if mine and ours == theirs and mine.get("version") == version:
            out.append(CopiedAlias(alias, version, len(history), changed=False, commit=mine.get("head")))
            continue
        if dry_run:
            out.append(CopiedAlias(alias, version, len(history), changed=True))
            continue
        if version not in tags:
            raise HistoriesDiffer(
                f"The alias {alias} points at {version}, which DST {target} does not have.",
                f"Sync the versions of {branch} first (or pass --branch).",
            )
        commit = _write_alias(dst, target, alias, version, tags[version], history)
        out.append(CopiedAlias(alias, version, len(history), changed=True, commit=commit))
    return out


def _promotion_key(h: dict[str, Any]) -> tuple[Any, ...]:
    return (h.get("from"), h.get("to"), h.get("by"), h.get("at"))


def _exists(client: HubClient, repo: str) -> bool:
    with contextlib.suppress(RepoNotFound):
        client.refs(repo)
        return True
    return False


def _write_alias(
    dst: HubClient,
    target: str,
    alias: str,
    version: str,
    commit: str,
    history: list[dict[str, Any]],
) -> str:
    """One commit on DST's alias branch: the version's files plus the alias record (as promote writes)."""
    from huggingface_hub import CommitOperationAdd, CommitOperationCopy, CommitOperationDelete

    record = {"alias": alias, "version": version, "commit": commit, "history": history}
    head = dst.refs(target).branches.get(alias)
    if head is None:
        dst.create_branch(target, alias, commit)
        head = commit
    _, target_files = dst.files(target, commit)
    _, alias_files = dst.files(target, head)
    ops: list[Any] = [
        CommitOperationCopy(src_path_in_repo=p, path_in_repo=p, src_revision=commit)
        for p, f in sorted(target_files.items())
        if p != layout.ALIAS_PATH and (p not in alias_files or alias_files[p].blob_id != f.blob_id)
    ]
    ops += [
        CommitOperationDelete(path_in_repo=p)
        for p in sorted(alias_files)
        if p not in target_files and p != layout.ALIAS_PATH
    ]
    ops.append(CommitOperationAdd(path_in_repo=layout.ALIAS_PATH, path_or_fileobj=dumps(record).encode()))
    last = history[-1] if history else {}
    return dst.commit(
        target,
        alias,
        ops,
        message=f"hubver promote {alias}: {last.get('from') or '-'} -> {version} (synced)",
        description=dumps(last),
        parent=head,
    )


__all__ = ["CopiedAlias", "CopiedVersion", "RepoSync", "SyncResult", "plan", "sync"]
