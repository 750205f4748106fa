"""`hubver hub gc`: delete the LFS objects no ref of a repository refers to any more.

An object is kept when the tree at the tip of any branch, tag or pull-request ref holds it,
or when it is younger than the grace period (an upload whose commit has not landed yet).
Everything else (what pruned versions and rewritten branches left behind) is deleted: the
old commits that referred to it can then no longer be downloaded. Only the store interface
is used (`oids`, `stat` for the size and the grace period, `delete`), so any LFS backend works.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from .names import REPO_TYPES
from .repos import Repo, RepoStore

DEFAULT_GRACE = 3600.0


@dataclass
class RepoGc:
    repo: str  # "<type>/<id>"
    objects: list[str] = field(default_factory=list)  # deleted (or, in a dry run, to delete)
    bytes: int = 0
    kept_recent: int = 0  # unreferenced but younger than the grace period


@dataclass
class GcReport:
    dry_run: bool
    grace_seconds: float
    repos: list[RepoGc] = field(default_factory=list)

    @property
    def objects(self) -> int:
        return sum(len(r.objects) for r in self.repos)

    @property
    def bytes(self) -> int:
        return sum(r.bytes for r in self.repos)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "objects": self.objects, "bytes": self.bytes}


def referenced(repo: Repo) -> set[str]:
    """The LFS objects the tip trees of every branch, tag and pull-request ref hold."""
    tips = {**repo.branches(), **repo.tags(), **repo.pull_requests()}
    held: set[str] = set()
    for sha in set(tips.values()):
        for entry in repo.snapshot(repo.peel(sha)).files.values():
            if entry.lfs_oid:
                held.add(entry.lfs_oid)
    return held


def collect_repo(repo: Repo, name: str, *, grace: float, dry_run: bool, now: float) -> RepoGc:
    out = RepoGc(name)
    with repo.refs.lock():  # no ref moves while the referenced set is read and objects go
        held = referenced(repo)
        for oid in repo.lfs.oids():
            if oid in held:
                continue
            found = repo.lfs.stat(oid)
            if found is None:
                continue  # deleted meanwhile
            size, stored = found
            if now - stored < grace:
                out.kept_recent += 1
                continue
            if dry_run or repo.lfs.delete(oid):
                out.objects.append(oid)
                out.bytes += size
    return out


def collect(
    store: RepoStore, *, grace: float = DEFAULT_GRACE, dry_run: bool = False, repo_id: str | None = None
) -> GcReport:
    """Garbage-collect every repository of the data dir (or only `repo_id`, a model)."""
    report = GcReport(dry_run, grace)
    now = time.time()
    for kind in sorted(REPO_TYPES.values()):
        for repo in store.list_repos(kind):
            if repo_id is not None and (kind, repo.meta.repo_id) != ("model", repo_id):
                continue
            found = collect_repo(repo, f"{kind}/{repo.meta.repo_id}", grace=grace, dry_run=dry_run, now=now)
            if found.objects or found.kept_recent:
                report.repos.append(found)
    return report
