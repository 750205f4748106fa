"""`hubver verify`: a version's tag still points at the commit that published it, and its files
still match the manifest recorded in that commit.

The commit that published a version is found in the branch history by its title
(`hubver <id>...`); the next version's `hubver.json` also records it. With `repair`,
tags that a crashed push never created are created; a moved tag is only reported.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

from . import index
from .errors import HubverError
from .hub import Hub
from .settings import Settings
from .versions import load_remote_metadata, session


@dataclass
class VerifyReport:
    version: str
    ok: bool
    tag_commit: str | None
    published_commit: str | None
    files_checked: int = 0
    problems: list[str] = field(default_factory=list)
    repaired: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _published_commits(hub: Hub, repo: str, branch: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for c in hub.commits(repo, branch):
        m = index.COMMIT_TITLE.match(c.title or "")
        if m and m.group(1) not in found:
            found[m.group(1)] = c.commit_id
    return found


def verify(
    repo: str | None = None,
    version: str | None = None,
    *,
    repair: bool = False,
    endpoint: str | None = None,
    local: bool = False,
    token: str | None = None,
    settings: Settings | None = None,
    hub: Hub | None = None,
) -> list[VerifyReport]:
    """Check one version (or every version on the branch); returns one report per version."""
    with session(settings, hub, repo=repo, endpoint=endpoint, local=local, token=token) as (s, r, h):
        refs = h.refs(r)
        head = refs.branches.get(s.branch)
        raw, _ = h.read_file(r, index.INDEX_PATH, head) if head else (None, None)
        entries, _ = index.parse(raw)
        by_version = {e["version"]: e for e in entries}
        published = _published_commits(h, r, s.branch) if head else {}
        names = [version] if version else [e["version"] for e in entries]
        reports = []
        for name in names:
            reports.append(
                _verify_one(
                    h, r, name, refs.tags.get(name), published.get(name), by_version.get(name), repair
                )
            )
        return reports


def _verify_one(
    h: Hub, repo: str, version: str, tag: str | None, published: str | None, entry: dict | None, repair: bool
) -> VerifyReport:
    report = VerifyReport(version, True, tag, published)
    if tag is None:
        report.ok = False
        if published is None:
            report.problems.append(f"{version} is not a version of {repo}: no tag and no publishing commit.")
            return report
        if not repair:
            report.problems.append(
                f"The tag {version} is missing (the push stopped after its commit {published[:12]}). "
                f"Run `hubver verify {version} --repair --repo {repo}`."
            )
            return report
        h.create_tag(repo, version, published, message=f"hubver version {version} (tag repaired)")
        report.ok, report.tag_commit, report.repaired = True, published, True
        tag = published
    if published is not None and tag != published:
        report.ok = False
        report.problems.append(
            f"TAG MOVED: {version} points at {tag[:12]}, but the version was published as {published[:12]}."
        )
    try:
        meta = load_remote_metadata(h, repo, version, tag)
    except HubverError as e:
        report.ok = False
        report.problems.append(e.message)
        return report
    if entry is not None and entry.get("digest") and meta.get("digest") != entry.get("digest"):
        report.ok = False
        report.problems.append(
            f"hubver.json of {version} no longer matches the version index (digest changed)."
        )
    _, files = h.files(repo, tag)
    for f in meta.get("files") or []:
        path, want = f.get("path"), f.get("sha256")
        remote = files.get(path)
        if remote is None:
            report.ok = False
            report.problems.append(f"FILE MISSING: {path} is in the manifest but not in the commit.")
            continue
        if remote.sha256 is not None:
            actual = remote.sha256
        else:
            data, _ = h.read_file(repo, path, tag)
            actual = hashlib.sha256(data or b"").hexdigest()
        report.files_checked += 1
        if actual != want or remote.size != f.get("size"):
            report.ok = False
            report.problems.append(
                f"FILE CHANGED: {path} has sha256 {actual[:12]}, the manifest says {str(want)[:12]}."
            )
    listed = {f.get("path") for f in meta.get("files") or []}
    for path in sorted(set(files) - listed - index.MANAGED_PATHS):
        report.ok = False
        report.problems.append(f"EXTRA FILE: {path} is in the commit but not in the manifest.")
    return report
