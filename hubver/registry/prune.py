"""Retention (`hubver prune`): keep the best and the last versions, drop the rest.

A plan decides, for every live version of the branch, whether it is kept and why: the latest
version (the branch head holds its files), versions an alias points at now (or, with
`keep_promoted_ever`, ever did), the last N, the best K by a metric (`direction.py` says which
way it improves), and versions younger than `older_than`. Everything else is pruned.

Applying a plan is one commit on the branch appending one tombstone line per pruned version
to the index (`index.tombstone`: who, when, why, which commit), then the deletion of their
tags: the ids stay used for good, and `list --all` still shows them. Pruning alone frees no
storage: the bytes that would be reclaimed are those of LFS objects only the pruned versions
referenced (no remaining tag, branch tip or pull-request ref holds them). `reclaim` deletes
those objects through the Hub's LFS-files API (the same calls on huggingface.co and the
embedded hub); the pruned commits can then no longer be downloaded.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from .. import index, layout
from ..client import HubClient
from ..direction import is_number, split
from ..errors import AuthError, ConfigError, ConflictError, HubverError, RepoNotFound
from ..jsonio import finite
from ..provenance import current_user
from . import Connection, Registry, connect
from .browse import read_alias_records
from .push import check_history, read_state

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack is 3.11+

MAX_ATTEMPTS = 6
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
MAX_DURATION = 1000 * 365 * 86400  # seconds; a datetime cannot go further back than year 1
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
RECLAIM_WARNING = (
    "Reclaiming deletes the LFS files only the pruned versions referenced, for good: their "
    "commits can no longer be downloaded (a checkout of them fails), and this cannot be undone."
)


def parse_duration(text: str) -> timedelta:
    """'30d', '12h', '90m', '2w', '45s' -> a timedelta; ConfigError otherwise."""
    m = _DURATION.match(text or "") if len(text or "") <= 40 else None
    if not m:
        raise ConfigError(
            f"Invalid duration {text!r}.",
            "Give a number and a unit: s, m, h, d or w (for example --older-than 30d or 12h).",
        )
    seconds = int(m.group(1)) * _UNITS[m.group(2)]
    if seconds > MAX_DURATION:
        raise ConfigError(
            f"Duration {text!r} is too long: more than {MAX_DURATION // (365 * 86400)} years.",
            "Give a duration of at most 1000 years (for example 52w for a year).",
        )
    return timedelta(seconds=seconds)


def parse_keep_best(spec: str) -> tuple[str, int]:
    """'eval_loss' -> ('eval_loss', 1); 'accuracy:3' -> ('accuracy', 3); 'min:latency_ms:2' ->
    ('min:latency_ms', 2) (`min:` / `max:` say which way the metric improves)."""
    how, body = ("", spec)
    if spec.startswith(("min:", "max:")):
        how, body = spec[:4], spec[4:]
    metric, _, k = body.rpartition(":") if ":" in body else (body, "", "1")
    metric = metric.strip()
    if metric:
        metric = how + metric
    if not metric or not k.strip().isdigit() or int(k) < 1:
        raise ConfigError(
            f"Invalid --keep-best {spec!r}.",
            "Give a metric and optionally how many to keep: --keep-best eval_loss or --keep-best eval_loss:3 "
            "(min:METRIC or max:METRIC says which way it improves, e.g. --keep-best min:latency_ms:2).",
        )
    return metric, int(k)


@dataclass
class PrunePolicy:
    """What to keep. A version is kept when any rule keeps it; the others are pruned."""

    keep_last: int | None = None
    keep_best: list[tuple[str, int]] = field(default_factory=list)
    older_than: timedelta | None = None  # only versions older than this may be pruned
    keep_promoted_ever: bool = False
    reason: str | None = None  # recorded in each tombstone (default: the policy itself)

    @classmethod
    def of(
        cls,
        *,
        keep_last: int | None = None,
        keep_best: str | list[str] | tuple[str, ...] | None = None,
        older_than: str | timedelta | None = None,
        keep_promoted_ever: bool = False,
        reason: str | None = None,
    ) -> PrunePolicy:
        """A policy from the options' spellings (`keep_best="eval_loss:2"`, `older_than="30d"`)."""
        specs = [keep_best] if isinstance(keep_best, str) else list(keep_best or [])
        if keep_last is not None and (isinstance(keep_last, bool) or keep_last < 0):
            raise ConfigError(
                f"Invalid keep_last {keep_last!r}.", "Give a whole number of versions, 0 or more."
            )
        return cls(
            keep_last=keep_last,
            keep_best=[parse_keep_best(s) for s in specs],
            older_than=parse_duration(older_than) if isinstance(older_than, str) else older_than,
            keep_promoted_ever=keep_promoted_ever,
            reason=reason,
        )

    def check(self) -> None:
        if self.keep_last is None and not self.keep_best and self.older_than is None:
            raise ConfigError(
                "Nothing says which versions to prune.",
                "Give --keep-last N, --keep-best METRIC[:K] and/or --older-than DURATION.",
            )

    def describe(self) -> str:
        parts = []
        if self.keep_last is not None:
            parts.append(f"keep-last {self.keep_last}")
        parts += [f"keep-best {m}:{k}" for m, k in self.keep_best]
        if self.older_than is not None:
            parts.append(f"older-than {_fmt_duration(self.older_than)}")
        if self.keep_promoted_ever:
            parts.append("keep-promoted-ever")
        return ", ".join(parts)


def _fmt_duration(d: timedelta) -> str:
    s = int(d.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if s and s % _UNITS[unit] == 0:
            return f"{s // _UNITS[unit]}{unit}"
    return f"{s}s"


@dataclass
class Decision:
    version: str
    commit: str | None
    keep: bool
    reasons: list[str]  # why it is kept, or why it is pruned
    created_at: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class PruneResult:
    repo: str
    branch: str
    policy: str
    kept: list[Decision]
    pruned: list[Decision]
    reclaimable_bytes: int  # LFS bytes only the pruned versions reference
    reclaimable_objects: list[str]  # their oids
    applied: bool = False
    commit: str | None = None  # the commit that appended the tombstones
    tags_deleted: list[str] = field(default_factory=list)
    reclaimed_bytes: int = 0
    reclaimed_objects: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def prune(
    repo: str | None = None,
    *,
    keep_last: int | None = None,
    keep_best: str | list[str] | None = None,
    older_than: str | timedelta | None = None,
    keep_promoted_ever: bool = False,
    reason: str | None = None,
    apply: bool = False,
    reclaim: bool = False,
    **connection: Unpack[Connection],
) -> PruneResult:
    """Plan (or with `apply`, carry out) the pruning of `repo`'s versions; see the module doc.

    >>> hubver.prune("me/my-adapter", keep_last=3, keep_best="eval_loss", apply=True)  # doctest: +SKIP
    """
    policy = PrunePolicy.of(
        keep_last=keep_last,
        keep_best=keep_best,
        older_than=older_than,
        keep_promoted_ever=keep_promoted_ever,
        reason=reason,
    )
    with connect(repo, **connection) as registry:
        return prune_in(registry, policy, apply=apply, reclaim=reclaim)


def prune_in(
    registry: Registry, policy: PrunePolicy, *, apply: bool = False, reclaim: bool = False
) -> PruneResult:
    """`Registry.prune`: see `prune`."""
    policy.check()
    client, r, branch = registry.client, registry.repo, registry.branch
    for attempt in range(1, MAX_ATTEMPTS + 1):
        state = read_state(client, r, branch)
        if state.head is None:
            raise RepoNotFound(
                f"{r} has no branch {branch!r} with versions.", f"Run `hubver list --repo {r}`."
            )
        check_history(client, r, branch, state)  # never tombstone on top of an index that lost versions
        result = _plan(client, r, branch, state, policy)
        unfinished = sorted(v for v in index.tombstones(state.entries) if v in state.tags)
        if not apply:
            if unfinished:
                result.warnings.append(
                    f"{', '.join(unfinished)} were pruned but still have a tag: apply to finish deleting it."
                )
            return result
        if result.pruned:
            now = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
            who = client.whoami() or current_user()  # the Hub account, not the OS user
            why = policy.reason or f"hubver prune ({policy.describe()})"
            stones = [
                index.tombstone(d.version, at=now, by=who, reason=why, commit=d.commit) for d in result.pruned
            ]
            from huggingface_hub import CommitOperationAdd

            names = ", ".join(d.version for d in result.pruned[:10])
            more = f" and {len(result.pruned) - 10} more" if len(result.pruned) > 10 else ""
            try:
                result.commit = client.commit(
                    r,
                    branch,
                    [
                        CommitOperationAdd(
                            path_in_repo=layout.INDEX_PATH,
                            path_or_fileobj=index.render(finite([*state.entries, *stones])),
                        )
                    ],
                    # Not "hubver v3: ...": that is the title of a version's commit (layout.titled_version).
                    message=f"hubver: prune {len(stones)} version(s): {names}{more}",
                    description=f"{why}\nby {who} at {now}",
                    parent=state.head,
                )
            except ConflictError:
                time.sleep(0.1 * attempt)
                continue  # the branch moved: plan again on what it holds now
        result.applied = True
        # Re-read the refs right before deleting: an alias promoted meanwhile (onto a version
        # this plan chose) keeps that version's tag and files; the next prune finishes it.
        in_use = _in_use(client, r, branch)
        for v in [*unfinished, *(d.version for d in result.pruned if d.commit)]:  # a lost tag: none to delete
            if v in in_use:
                result.warnings.append(
                    f"{v} is kept for now: {in_use[v]}. Its pruning is recorded, but its tag and files "
                    "stay until nothing points at it; a later prune deletes the tag."
                )
                continue
            try:
                client.delete_tag(r, v)
            except AuthError as e:  # a rule of the hub (an alias on it, a protected version)
                raise HubverError(
                    f"The pruning of {v} is recorded in {r}@{branch}, but the Hub refused to delete its "
                    f"tag: {e.message}",
                    "The version stays downloadable and nothing else is lost. Prune again once what "
                    "the Hub names no longer holds it.",
                ) from None
            except HubverError as e:
                raise HubverError(
                    f"The pruning of {v} is recorded in {r}@{branch}, but deleting its tag failed: {e.message}",
                    f"Run the same `hubver prune` again to finish; nothing else is lost ({e.hint or 'retry'}).",
                ) from None
            result.tags_deleted.append(v)
        if reclaim:
            result.warnings.append(RECLAIM_WARNING)
            _reclaim(client, r, branch, result)
        return result
    raise ConflictError(
        f"Gave up pruning after {MAX_ATTEMPTS} attempts: {r}@{branch} kept changing.", "Retry the prune."
    )


def _plan(client: HubClient, repo: str, branch: str, state: Any, policy: PrunePolicy) -> PruneResult:
    # Only the versions published on this branch: a branch made from another one carries the
    # other's index lines, which are not its to prune (lines from before `branch` was recorded count).
    live = [e for e in index.live(state.entries) if e.get("branch", branch) == branch]
    records = read_alias_records(client, repo, client.refs(repo), branch)
    now_aliased: dict[str, list[str]] = {}
    ever: dict[str, list[str]] = {}
    for alias, rec in sorted(records.items()):
        now_aliased.setdefault(str(rec.get("version")), []).append(alias)
        for h in rec.get("history") or []:
            if isinstance(h, dict) and isinstance(h.get("to"), str) and alias not in ever.get(h["to"], []):
                ever.setdefault(h["to"], []).append(alias)
    reasons: dict[str, list[str]] = {e["version"]: [] for e in live}
    if live:
        reasons[live[-1]["version"]].append("latest (the branch head holds its files)")
    for v, names in now_aliased.items():
        if v in reasons:
            reasons[v].append(f"alias {', '.join(names)}")
    if policy.keep_promoted_ever:
        for v, names in ever.items():
            if v in reasons and v not in now_aliased:
                reasons[v].append(f"was promoted to {', '.join(names)}")
    if policy.keep_last:
        for e in live[-policy.keep_last :]:
            reasons[e["version"]].append(f"last {policy.keep_last}")
    for spec, k in policy.keep_best:
        metric, how = split(spec)
        ranked = [e for e in live if is_number((e.get("metrics") or {}).get(metric))]
        if not ranked and live:
            recorded = sorted({m for e in live for m, x in (e.get("metrics") or {}).items() if is_number(x)})
            raise ConfigError(
                f"No live version of {repo}@{branch} has the metric {metric!r} (--keep-best {spec}).",
                "Metrics recorded: " + (", ".join(recorded) or "none") + ". Check the spelling.",
            )
        ranked.sort(key=lambda e: e["metrics"][metric], reverse=how == "max")
        for rank, e in enumerate(ranked[:k], start=1):
            value = e["metrics"][metric]
            reasons[e["version"]].append(
                f"best {metric} ({'lowest' if how == 'min' else 'highest'}: {value})"
                if k == 1
                else f"best {k} {metric} (#{rank}: {value})"
            )
    if policy.older_than is not None:
        cutoff = datetime.now(timezone.utc) - policy.older_than
        for e in live:
            created = _when(e.get("created_at"))
            if created is None or created > cutoff:
                reasons[e["version"]].append(f"younger than {_fmt_duration(policy.older_than)}")
    kept: list[Decision] = []
    pruned: list[Decision] = []
    for e in live:
        v = e["version"]
        d = Decision(
            v,
            state.tags.get(v),
            bool(reasons[v]),
            reasons[v] or [f"not kept by {policy.describe()}"],
            e.get("created_at") if isinstance(e.get("created_at"), str) else None,
            dict(e["metrics"]) if isinstance(e.get("metrics"), dict) else {},
        )
        (kept if d.keep else pruned).append(d)
    objects, size = _reclaimable(client, repo, state, [d for d in pruned if d.commit])
    return PruneResult(repo, branch, policy.describe(), kept, pruned, size, objects)


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _reclaimable(client: HubClient, repo: str, state: Any, pruned: list[Decision]) -> tuple[list[str], int]:
    """LFS objects (and their bytes) the pruned versions' commits hold that no remaining tag,
    branch tip or pull-request ref holds: what deleting them frees, nothing anyone still reads."""
    if not pruned:
        return [], 0
    gone = {d.version for d in pruned}
    tips = {sha for tag, sha in state.tags.items() if tag not in gone}
    tips |= set(state.branches.values())
    try:
        tips |= set(client.pull_request_refs(repo).values())
    except HubverError:
        pass  # a hub without pull requests
    held: set[str] = set()
    for sha in sorted(tips):
        _, files = client.files(repo, sha)
        held |= {f.sha256 for f in files.values() if f.sha256}
    sizes: dict[str, int] = {}
    for d in pruned:
        assert d.commit is not None
        _, files = client.files(repo, d.commit)
        for f in files.values():
            if f.sha256 and f.sha256 not in held:
                sizes[f.sha256] = f.size
    return sorted(sizes), sum(sizes.values())


def _in_use(client: HubClient, repo: str, branch: str) -> dict[str, str]:
    """version -> why it must stay, from the refs as they are now: an alias points at it, or a
    branch head is its commit."""
    refs = client.refs(repo)
    by_commit: dict[str, list[str]] = {}
    for tag, sha in refs.tags.items():
        by_commit.setdefault(sha, []).append(tag)
    out: dict[str, str] = {}
    for alias, rec in sorted(read_alias_records(client, repo, refs, branch).items()):
        out.setdefault(str(rec.get("version")), f"the alias {alias} now points at it")
    for name, sha in sorted(refs.branches.items()):
        for tag in by_commit.get(sha, []):
            out.setdefault(tag, f"the branch {name} is at its commit")
    return out


def _delete_lfs(
    client: HubClient, repo: str, files: list[Any]
) -> tuple[list[Any], tuple[list[str], str] | None]:
    """Delete `files` in batches; a batch the Hub refuses (an object some ref took meanwhile, e.g.
    a new version with the same bytes) is retried one object at a time, so the rest still go.
    Returns what was deleted, and the refused oids with the Hub's reason."""
    deleted: list[Any] = []
    refused: list[str] = []
    reason = ""
    for start in range(0, len(files), 1000):
        batch = files[start : start + 1000]
        try:
            client.delete_lfs_files(repo, batch)
            deleted += batch
            continue
        except HubverError as e:
            reason = e.message
        for f in batch:
            try:
                client.delete_lfs_files(repo, [f])
                deleted.append(f)
            except HubverError as e:
                refused.append(f.file_oid)
                reason = e.message
    return deleted, ((refused, reason) if refused else None)


def _reclaim(client: HubClient, repo: str, branch: str, result: PruneResult) -> None:
    """Delete, through the Hub's LFS-files API, the objects only the pruned versions referenced:
    recomputed from the refs as they are now (a version an alias took meanwhile, or a new
    version sharing a file, keeps what it holds)."""
    gone = [d for d in result.pruned if d.version in result.tags_deleted and d.commit]
    state = read_state(client, repo, branch)
    wanted, _ = _reclaimable(client, repo, state, gone)
    kept = set(result.reclaimable_objects) - set(wanted)
    if kept:
        result.warnings.append(
            f"{len(kept)} LFS object(s) of the plan are held by a ref now and were kept: "
            + ", ".join(sorted(o[:12] for o in kept)[:5])
        )
    if not wanted:
        return
    wanted_set = set(wanted)
    files = [f for f in client.lfs_files(repo) if getattr(f, "file_oid", None) in wanted_set]
    deleted, refused = _delete_lfs(client, repo, files)
    result.reclaimed_objects = sorted(f.file_oid for f in deleted)
    result.reclaimed_bytes = sum(int(f.size or 0) for f in deleted)
    if refused:
        oids, reason = refused
        result.warnings.append(
            f"{len(oids)} LFS object(s) were kept: the Hub refused to delete them ({reason}). The "
            "pruning itself is applied (tombstones and tags); run `hubver prune --reclaim` again "
            "later to reclaim what is no longer held: " + ", ".join(sorted(o[:12] for o in oids)[:5])
        )
    missing = wanted_set - set(result.reclaimed_objects)
    if missing:
        result.warnings.append(
            f"{len(missing)} LFS object(s) were not listed by the Hub (already deleted?): "
            + ", ".join(sorted(o[:12] for o in missing)[:5])
        )
