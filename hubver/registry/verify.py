"""`hubver verify`: every version is still what was published, and none has disappeared.

For each version: tag -> commit -> hubver.json -> manifest digest recomputed from the tree ->
index entry -> index chain (each entry's link to the one before). Then: no version tag of
this branch is missing from its index or its history, and every alias holds its version's
files. Commit titles are never trusted to locate a version. With `repair`, a missing tag is
recreated only on the commit the chain names, and only if its content matches the entry.
With `deep`, every file is downloaded and hashed too (damage at rest on the Hub's disk).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .. import index, layout
from ..client import HubClient, Refs, RemoteFile
from ..errors import HubverError
from ..layout import titled_version
from ..trust import ContentCheck, chain_problems, check_commit, published_commit, read_index
from . import Connection, Registry, connect
from .browse import read_alias_records

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack is 3.11+


@dataclass
class VerifyReport:
    version: str
    ok: bool
    tag_commit: str | None
    published_commit: str | None
    files_checked: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    repaired: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def fail(self, problem: str) -> None:
        self.ok = False
        self.problems.append(problem)


def verify(
    repo: str | None = None,
    version: str | None = None,
    *,
    repair: bool = False,
    deep: bool = False,
    **connection: Unpack[Connection],
) -> list[VerifyReport]:
    """One report per version (or for `version` only), plus reports for lost versions and aliases."""
    with connect(repo, **connection) as registry:
        return registry.verify(version, repair=repair, deep=deep)


def verify_in(
    registry: Registry, version: str | None = None, *, repair: bool = False, deep: bool = False
) -> list[VerifyReport]:
    """`Registry.verify`: see `verify`."""
    client, r = registry.client, registry.repo
    if version is not None:
        from ..selectors import parse

        # A bare id stays as it is (its tag may be the very thing that is missing); an alias or a
        # selector stands for the version it names.
        refs = client.refs(r)
        if version in refs.branches and version != registry.branch:
            record = read_alias_records(client, r, refs, registry.branch).get(version)
            if record is not None:  # read as it is, even on a pruned version (reported, not raised)
                return _Verifier(client, r, registry.branch, repair, deep).run(
                    str(record["version"]), version
                )
        if not parse(version).plain or version in refs.branches:
            version = registry.select(version).version
    return _Verifier(client, r, registry.branch, repair, deep).run(version)


class _Verifier:
    def __init__(self, client: HubClient, repo: str, branch: str, repair: bool, deep: bool) -> None:
        self.client, self.repo, self.branch, self.repair, self.deep = client, repo, branch, repair, deep
        self.stored: list[tuple[VerifyReport, dict[str, RemoteFile]]] = []  # LFS files to look for

    def run(self, only: str | None, alias: str | None = None) -> list[VerifyReport]:
        client, r = self.client, self.repo
        refs = client.refs(r)
        head = refs.branches.get(self.branch)
        entries: list[dict[str, Any]] = []
        reports: list[VerifyReport] = []
        history: dict[str, str] = {}  # commit id -> title
        if head is not None:
            entries, problems, exists = read_index(client, r, head)
            history = {c.commit_id: c.title or "" for c in client.commits(r, self.branch)}
            if problems or (not exists and refs.tags):
                general = VerifyReport(f"index of {self.branch}", True, head, None)
                for p in problems:
                    general.fail(f"INDEX DAMAGED: {p}")
                if not exists:
                    general.fail(
                        f"INDEX MISSING: {layout.INDEX_PATH} is gone from the head of {self.branch} "
                        f"({head[:12]}); the tags below say what it held."
                    )
                reports.append(general)
        chain = chain_problems(entries, refs.tags)
        names = {e["version"] for e in entries}
        pruned = index.tombstones(entries)
        if only is not None and only not in names:
            report = VerifyReport(only, False, refs.tags.get(only), None)
            report.problems.append(
                f"{only} is not a version of {r}@{self.branch}: it is not in the version index."
            )
            return [*reports, report]
        for i, entry in enumerate(entries):
            if index.is_tombstone(entry) or not (only is None or entry["version"] == only):
                continue
            if entry["version"] in pruned:
                reports.append(self._pruned(entry["version"], pruned[entry["version"]], refs, chain))
            else:
                reports.append(self._one(entries, i, refs, head, history, chain))
        if only is None:
            reports += self._lost(entries, refs, history)
            reports += self._aliases(entries, refs, pruned)
        elif alias is not None:  # `verify ALIAS`: its version, and the alias branch itself
            reports += [a for a in self._aliases(entries, refs, pruned) if a.version == f"alias {alias}"]
        self._stored()
        return reports

    def _stored(self) -> None:
        """Fail every report one of whose LFS files the Hub does not store (one LFS batch
        request per 1000 objects: existence only, nothing is downloaded)."""
        wanted = {f.sha256: f.size for _, files in self.stored for f in files.values() if f.sha256}
        oids = sorted(wanted)
        missing: set[str] = set()
        for start in range(0, len(oids), 1000):
            chunk = {o: wanted[o] for o in oids[start : start + 1000]}
            missing |= self.client.lfs_missing(self.repo, chunk)
        for report, files in self.stored:
            for path, f in sorted(files.items()):
                if f.sha256 in missing:
                    report.fail(
                        f"LFS OBJECT MISSING: {path} ({f.sha256[:12]}) is not stored on the Hub, so "
                        "downloading it fails (its files were deleted, e.g. by a reclaim)."
                    )

    def _one(
        self,
        entries: list[dict[str, Any]],
        i: int,
        refs: Refs,
        head: str | None,
        history: dict[str, str],
        chain: list[tuple[str, str]],
    ) -> VerifyReport:
        entry = entries[i]
        v = entry["version"]
        tag = refs.tags.get(v)
        named = published_commit(entries, i, head)
        report = VerifyReport(v, True, tag, named if i + 1 < len(entries) else None)
        for who, problem in chain:
            if who == v:
                report.fail(problem)
        if not isinstance(entry.get("prev"), dict) and i > 0 and not any(w == v for w, _ in chain):
            report.notes.append("recorded before hubver chained its index: accepted as the chain's start")
        position = entries[: i + 1]
        if tag is None:
            self._missing_tag(report, entry, named, position)
            return report
        if history and tag not in history:
            report.fail(
                f"NOT ON BRANCH: {v}'s commit {tag[:12]} is not in the history of {self.branch} "
                "(the branch was rewound or rewritten)."
            )
        self._content(report, entry, tag, position)
        if report.published_commit is None and report.ok:
            report.published_commit = tag  # the latest version: its commit is the one that checks out
        return report

    def _pruned(
        self, v: str, record: dict[str, Any], refs: Refs, chain: list[tuple[str, str]]
    ) -> VerifyReport:
        """A version pruned on purpose: its tag is gone and that is not tampering."""
        report = VerifyReport(v, True, refs.tags.get(v), record.get("commit"))
        report.notes.append(
            f"pruned by {record.get('by')} at {record.get('at')}: {record.get('reason')} (not checked)"
        )
        for who, problem in chain:
            if who == v and not problem.startswith("TAG MOVED"):
                report.fail(problem)
        if v in refs.tags:
            report.notes.append(
                f"its tag is still there: the pruning stopped before deleting it; run `hubver prune` "
                f"again or delete the tag {v}"
            )
        return report

    def _content(
        self, report: VerifyReport, entry: dict[str, Any], commit: str, position: list[dict[str, Any]]
    ) -> ContentCheck | None:
        try:
            check = check_commit(self.client, self.repo, entry["version"], commit, entry, position=position)
        except HubverError as e:
            report.fail(e.message)
            return None
        for p in check.problems:
            report.fail(p)
        report.files_checked = sum(1 for p in check.files if not layout.is_managed(p))
        self.stored.append((report, check.files))
        if self.deep and check.metadata is not None:
            for f in check.metadata.get("files") or []:
                path = f.get("path")
                if not isinstance(path, str) or path not in check.files:
                    continue
                actual = self.client.sha256_of(self.repo, path, commit)
                if actual != f.get("sha256"):
                    report.fail(
                        f"BYTES DAMAGED: {path} of {entry['version']} downloads with sha256 {actual[:12]}, "
                        f"the manifest says {str(f.get('sha256'))[:12]} (the Hub's stored copy is damaged)."
                    )
        return check

    def _missing_tag(
        self, report: VerifyReport, entry: dict[str, Any], named: str | None, position: list[dict[str, Any]]
    ) -> None:
        v = entry["version"]
        if named is None:
            report.fail(f"TAG MISSING: {v} has no tag, and the index chain names no commit for it.")
            return
        probe = VerifyReport(v, True, None, named)
        check = self._content(probe, entry, named, position)
        if check is None or not probe.ok:
            report.fail(
                f"TAG MISSING: {v} has no tag, and commit {named[:12]}, which the index chain names, does "
                "not hold it: " + " ".join(probe.problems) + " Not repaired."
            )
            return
        report.files_checked = probe.files_checked
        report.published_commit = named
        if not self.repair:
            report.fail(
                f"TAG MISSING: the tag {v} is missing (the push stopped after its commit {named[:12]}). "
                f"Run `hubver verify {v} --repair --repo {self.repo}`."
            )
            return
        self.client.create_tag(self.repo, v, named, message=f"hubver version {v} (tag repaired)")
        report.tag_commit, report.repaired = named, True

    def _lost(self, entries: list[dict[str, Any]], refs: Refs, history: dict[str, str]) -> list[VerifyReport]:
        """Versions of this branch that its index or history no longer shows."""
        listed = {e["version"] for e in entries}
        reports = []
        for tag, commit in sorted(refs.tags.items()):
            if tag in listed:
                continue
            try:
                theirs, _, _ = read_index(self.client, self.repo, commit)
            except HubverError:
                continue
            own = next((e for e in theirs if e["version"] == tag), None)
            if own is None or own.get("branch") != self.branch:
                continue  # not a hubver version, or one of another branch
            report = VerifyReport(tag, False, commit, commit)
            report.problems.append(
                f"VERSION MISSING: {tag} was published on {self.branch} (commit {commit[:12]}), but the "
                f"index at the head of {self.branch} no longer lists it "
                f"({'its commit is not in the history: the branch was rewound' if commit not in history else 'the index was shortened'})."
            )
            reports.append(report)
        tagged = set(refs.tags)
        for commit, title in history.items():
            titled = titled_version(title)
            if titled and titled not in listed and titled not in tagged:
                report = VerifyReport(titled, False, None, None)
                report.problems.append(
                    f"VERSION MISSING: commit {commit[:12]} ({title!r}) is in the history of {self.branch}, "
                    f"but {titled} has neither an index entry nor a tag (the index was shortened)."
                )
                reports.append(report)
        return reports

    def _aliases(
        self, entries: list[dict[str, Any]], refs: Refs, pruned: dict[str, dict[str, Any]]
    ) -> list[VerifyReport]:
        by_version = {e["version"]: e for e in index.versions(entries)}
        reports = []
        for alias, record in sorted(read_alias_records(self.client, self.repo, refs, self.branch).items()):
            v = str(record["version"])
            report = VerifyReport(f"alias {alias}", True, record.get("head"), refs.tags.get(v))
            entry = by_version.get(v)
            if v in pruned:
                stone = pruned[v]
                report.fail(
                    f"ALIAS ON A PRUNED VERSION: {alias} points at {v}, which was pruned by "
                    f"{stone.get('by') or 'someone'} at {stone.get('at') or 'an unrecorded time'}: "
                    f"{stone.get('reason') or 'no reason recorded'}. Promote a live version to {alias}."
                )
            if entry is None:
                report.notes.append(f"{v} is not a version of {self.branch}; not checked here")
                reports.append(report)
                continue
            if record.get("commit") and refs.tags.get(v) and record["commit"] != refs.tags[v]:
                report.fail(
                    f"ALIAS MOVED: {alias} records {v} at {str(record['commit'])[:12]}, but {v} is "
                    f"{refs.tags[v][:12]}."
                )
            try:
                check = check_commit(self.client, self.repo, v, str(record["head"]), entry, alias=True)
            except HubverError as e:
                report.fail(e.message)
            else:
                for p in check.problems:
                    report.fail(f"ALIAS {alias} does not hold {v}: {p}")
                report.files_checked = sum(1 for p in check.files if not layout.is_managed(p))
                self.stored.append((report, check.files))
            reports.append(report)
        return reports
