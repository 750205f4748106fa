"""Aliases: branches such as `production` that resolve to exactly one version's content.

Promoting makes one commit on the alias branch (with `parent_commit`, so concurrent
promotions cannot interleave) whose files are exactly the version's, plus
`.hubver/alias.json`: the current version and every promotion so far (who, when,
from -> to). A failed promotion leaves the alias on the version it had. Rollback is
promoting an older version.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .. import ids, layout
from ..client import HubClient, Refs, RemoteFile
from ..errors import ConflictError, GateFailed, IntegrityError, RefConflict, VersionIdError, VersionNotFound
from ..gate import Requirement, Verdict, evaluate, parse_requirement
from ..jsonio import dumps
from ..provenance import current_user
from . import Connection, Registry, connect
from .browse import check_version, not_pruned, read_alias_records, read_listing, selected_name

MAX_ATTEMPTS = 8

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack is 3.11+


@dataclass
class Promotion:
    repo: str
    alias: str
    version: str
    commit: str | None
    previous: str | None
    promoted_by: str
    promoted_at: str
    changed: bool = True
    history: list[dict[str, Any]] = field(default_factory=list)
    gate: dict[str, Any] | None = None  # the verdict of a gated promotion (`Verdict.to_dict`)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_alias(alias: str, refs: Refs, branch: str) -> None:
    from ..selectors import RESERVED_NAMES

    ids.validate(alias, reserved=("main", branch), what="alias name")
    if alias in RESERVED_NAMES and alias not in refs.branches:
        raise VersionIdError(
            f"{alias!r} is a selector word (`{alias}` names the newest version), so it cannot be an alias.",
            "Pick another alias name.",
        )
    if alias in refs.tags:
        raise VersionIdError(
            f"{alias!r} is a version id, so it cannot also be an alias.", "Pick another alias name."
        )


def promote(
    repo: str | None = None,
    version: str = "",
    alias: str = "",
    *,
    require: Iterable[str] = (),
    require_better: Iterable[str] = (),
    **connection: Unpack[Connection],
) -> Promotion:
    """Point `alias` at `version`: after this, `revision=alias` loads exactly that version.

    `require` ('eval_loss<=1.2', ...) and `require_better` (metric names) gate it: unless every
    condition holds on the version's metrics and against the alias's current version, nothing
    changes and GateFailed says which condition failed, with the numbers."""
    with connect(repo, **connection) as registry:
        return registry.promote(version, alias, require=require, require_better=require_better)


def promote_in(
    registry: Registry,
    version: str,
    alias: str,
    *,
    require: Iterable[str] = (),
    require_better: Iterable[str] = (),
) -> Promotion:
    """`Registry.promote`: see `promote`."""
    from huggingface_hub import CommitOperationAdd, CommitOperationCopy, CommitOperationDelete

    client, r = registry.client, registry.repo
    version = selected_name(registry, version)
    requirements = [parse_requirement(t) for t in require]
    better = [m.strip() for m in require_better if m.strip()]
    verdict: Verdict | None = None

    for attempt in range(1, MAX_ATTEMPTS + 1):
        refs = client.refs(r)
        if version not in refs.tags:
            not_pruned(read_listing(client, r, registry.branch), version)  # says who pruned it, if so
            raise VersionNotFound(
                f"Version {version} not found in {r}.",
                f"Run `hubver list --repo {r}` to see the versions.",
            )
        _check_alias(alias, refs, registry.branch)
        target = refs.tags[version]
        if attempt == 1:  # never point an alias at a version that is not what was published
            listing = read_listing(client, r, registry.branch)
            # nor at one whose pruning is recorded (its tag may still be there, being deleted)
            not_pruned(listing, version, tagged_too=True)
            check_version(client, listing, version, target).raise_if_broken(r)
        now = _now().isoformat(timespec="seconds").replace("+00:00", "Z")
        who = current_user()
        if requirements or better:  # the gate, against the alias as it is at this attempt
            verdict = _gate(registry, refs, alias, version, requirements, better)
        if alias not in refs.branches:
            # Created at the version's own commit: right from the first instant.
            try:
                client.create_branch(r, alias, target)
            except RefConflict:
                continue
            head, record = target, None
        else:
            head = refs.branches[alias]
            record = read_alias_records(client, r, refs, registry.branch).get(alias)
        previous = (record or {}).get("version")
        history = list((record or {}).get("history") or [])
        if previous == version and history:
            return Promotion(
                r,
                alias,
                version,
                head,
                previous,
                who,
                now,
                changed=False,
                history=history,
                gate=_dict(verdict),
            )
        history.append({"from": previous, "to": version, "commit": target, "by": who, "at": now})
        new_record = {"alias": alias, "version": version, "commit": target, "history": history}
        _, target_files = client.files(r, target)
        _, alias_files = client.files(r, head)
        ops: list[Any] = []
        for path, f in sorted(target_files.items()):
            if path == layout.ALIAS_PATH:
                continue
            current = alias_files.get(path)
            if current is None or current.blob_id != f.blob_id:
                ops.append(CommitOperationCopy(src_path_in_repo=path, path_in_repo=path, src_revision=target))
        ops += [
            CommitOperationDelete(path_in_repo=p)
            for p in sorted(alias_files)
            if p not in target_files and p != layout.ALIAS_PATH
        ]
        ops.append(
            CommitOperationAdd(path_in_repo=layout.ALIAS_PATH, path_or_fileobj=dumps(new_record).encode())
        )
        try:
            commit = client.commit(
                r,
                alias,
                ops,
                message=f"hubver promote {alias}: {previous or '-'} -> {version}",
                description=dumps(history[-1]),
                parent=head,
            )
        except ConflictError:
            time.sleep(0.1 * attempt)
            continue
        _check_content(client, r, alias, version, commit, target_files)
        return Promotion(r, alias, version, commit, previous, who, now, history=history, gate=_dict(verdict))
    raise ConflictError(
        f"Gave up promoting {alias} after {MAX_ATTEMPTS} attempts: it kept changing.",
        "Retry the promotion.",
    )


def _now() -> datetime:
    """The promotion time recorded in the alias history (what ALIAS@DATE reads); one place, so a
    test can set the clock."""
    return datetime.now(timezone.utc)


def _dict(verdict: Verdict | None) -> dict[str, Any] | None:
    return verdict.to_dict() if verdict else None


def _gate(
    registry: Registry,
    refs: Refs,
    alias: str,
    version: str,
    requirements: list[Requirement],
    better: list[str],
) -> Verdict:
    """Evaluate the gate of promoting `version` to `alias`; GateFailed unless it passes."""
    client, r = registry.client, registry.repo
    listing = read_listing(client, r, registry.branch)
    # the current version's metrics even if it was pruned meanwhile (its index line stays)
    metrics = {v.version: v.metrics for v in [*listing.pruned, *listing.versions]}
    current = None
    if alias in refs.branches:
        record = read_alias_records(client, r, refs, registry.branch).get(alias)
        current = str(record["version"]) if record and record.get("version") else None
    verdict = evaluate(
        version,
        metrics.get(version, {}),
        requirements,
        better,
        current=current,
        current_metrics=metrics.get(current) if current else None,
    )
    if not verdict.passed:
        raise GateFailed(
            f"Not promoting {version} to {alias} in {r}: " + "; ".join(verdict.failures) + ".",
            f"{alias} stays on {current or 'nothing'}. Promote a version that meets the gate, or drop the "
            "condition that should not apply.",
            verdict={**verdict.to_dict(), "current": current},
        )
    return verdict


def _check_content(
    client: HubClient, repo: str, alias: str, version: str, commit: str, expected: dict[str, RemoteFile]
) -> None:
    _, now = client.files(repo, commit)
    got = {p: f.blob_id for p, f in now.items() if p != layout.ALIAS_PATH}
    want = {p: f.blob_id for p, f in expected.items() if p != layout.ALIAS_PATH}
    if got != want:
        differing = sorted(p for p in set(got) | set(want) if got.get(p) != want.get(p))
        raise IntegrityError(
            f"After promotion, {alias} in {repo} does not match version {version}: {', '.join(differing[:5])}.",
            f"Promote again with `hubver promote {version} {alias} --repo {repo}`.",
        )


def list_aliases(
    repo: str | None = None,
    **connection: Unpack[Connection],
) -> list[dict[str, Any]]:
    """Every alias with the version it points at and its latest promotion."""
    with connect(repo, **connection) as registry:
        return registry.aliases()


def aliases_in(registry: Registry) -> list[dict[str, Any]]:
    """`Registry.aliases`: see `list_aliases`."""
    client, r = registry.client, registry.repo
    records = read_alias_records(client, r, client.refs(r), registry.branch)
    out = []
    for alias, rec in sorted(records.items()):
        last = (rec.get("history") or [{}])[-1]
        out.append(
            {
                "alias": alias,
                "version": rec["version"],
                "commit": rec.get("head"),
                "promoted_by": last.get("by"),
                "promoted_at": last.get("at"),
            }
        )
    return out


def alias_history(
    repo: str | None = None,
    alias: str = "",
    **connection: Unpack[Connection],
) -> list[dict[str, Any]]:
    """Every promotion of `alias`, oldest first: {from, to, commit, by, at}."""
    with connect(repo, **connection) as registry:
        return registry.alias_history(alias)


def history_in(registry: Registry, alias: str) -> list[dict[str, Any]]:
    """`Registry.alias_history`: see `alias_history`."""
    client, r = registry.client, registry.repo
    refs = client.refs(r)
    if alias not in refs.branches:
        raise VersionNotFound(f"Alias {alias} not found in {r}.", f"Run `hubver aliases --repo {r}`.")
    record = read_alias_records(client, r, refs, registry.branch).get(alias)
    if record is None:
        raise VersionNotFound(
            f"{alias} is a branch of {r}, but not a hubver alias.", f"Run `hubver aliases --repo {r}`."
        )
    return list(
        record.get("history") or [{"from": None, "to": record["version"], "commit": record.get("commit")}]
    )
