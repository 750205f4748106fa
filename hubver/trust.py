"""What makes a commit a version: the checks every read, `verify` and tag repair share.

A version is its content, not its tag or its commit title. The commit a tag names must hold
a `hubver.json` naming that version, and the manifest digest recomputed from the commit's
tree (LFS oids, git blob ids, sizes: one tree listing) must equal the digest the version
index recorded at push time. The index itself is a chain: each entry records the hash of
the previous entry and the commit of the previous version, and the index blob in each
version's commit must be the index up to that version, so no earlier entry can be removed
or rewritten and no version can silently disappear from a branch.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from . import index, layout
from .artifact import manifest_digest
from .client import HubClient, RemoteFile
from .errors import IntegrityError, MetadataError
from .jsonio import parse_json

# Files up to this size may be stored in git rather than LFS: their git blob id is recorded.
GIT_ID_LIMIT = 16 << 20


def git_blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def entry_hash(entry: dict[str, Any]) -> str:
    """The hash the next index entry records for this one (over its rendered line)."""
    return hashlib.sha256(index.render([entry])).hexdigest()


@dataclass
class ContentCheck:
    """The outcome of checking one commit against one version's index entry."""

    version: str
    commit: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    files: dict[str, RemoteFile] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_if_broken(self, repo: str) -> None:
        if self.problems:
            raise IntegrityError(
                f"Version {self.version} of {repo} cannot be trusted: " + " ".join(self.problems),
                f"Run `hubver verify --repo {repo}` to see every finding; pass --unchecked to read it anyway.",
            )


def check_commit(
    client: HubClient,
    repo: str,
    version: str,
    commit: str,
    entry: dict[str, Any] | None,
    *,
    position: list[dict[str, Any]] | None = None,
    metadata_bytes: bytes | None = None,
    alias: bool = False,
) -> ContentCheck:
    """Check that `commit` holds `version` as the index `entry` recorded it (one tree listing,
    plus hubver.json unless `metadata_bytes` are given, e.g. from the HF cache).

    `position` is the index up to and including this version: the index blob in the commit
    must be exactly that. `alias` checks an alias branch head (its own record file allowed).
    """
    out = ContentCheck(version, commit)
    _, files = client.files(repo, commit)
    out.files = files
    meta_file = files.get(layout.METADATA_PATH)
    if meta_file is None:
        out.problems.append(f"commit {commit[:12]} has no {layout.METADATA_PATH}.")
        return out
    if metadata_bytes is None:
        metadata_bytes, _ = client.read_file(repo, layout.METADATA_PATH, commit)
    elif git_blob_sha(metadata_bytes) != meta_file.blob_id:
        out.problems.append(
            f"the cached {layout.METADATA_PATH} differs from the one in commit {commit[:12]} on the Hub."
        )
        return out
    try:
        meta = parse_json(metadata_bytes or b"", f"{layout.METADATA_PATH} of version {version} in {repo}")
    except MetadataError as e:
        out.problems.append(e.message)
        return out
    if not isinstance(meta, dict):
        out.problems.append(f"{layout.METADATA_PATH} at {commit[:12]} is not a JSON object.")
        return out
    out.metadata = meta
    if meta.get("version") != version:
        out.problems.append(
            f"commit {commit[:12]} holds {layout.METADATA_PATH} of version {meta.get('version')!r}, not {version}."
        )
    recorded_blob = (entry or {}).get("metadata_blob")
    if recorded_blob and meta_file.blob_id != recorded_blob:
        out.problems.append(
            f"{layout.METADATA_PATH} at {commit[:12]} is not the one {version} was published with."
        )
    recomputed, file_problems = _recompute(client, repo, commit, files, meta, alias=alias)
    digest = manifest_digest(recomputed)
    want = (entry or {}).get("digest") or meta.get("digest")
    if digest != want:
        out.problems.append(
            f"CONTENT CHANGED: the files at commit {commit[:12]} have digest {digest[:12]}, "
            f"{version} was published with {str(want)[:12]}."
            + (f" ({'; '.join(file_problems)})" if file_problems else "")
        )
    elif meta.get("digest") != want:
        out.problems.append(f"{layout.METADATA_PATH} at {commit[:12]} records another digest than the index.")
    out.problems += _picture_problems(files, (entry or {}).get("charts"), commit)
    if position is not None and not alias:
        blob = files.get(layout.INDEX_PATH)
        expected = git_blob_sha(index.render(position))
        if blob is None or blob.blob_id != expected:
            out.problems.append(
                f"INDEX REWRITTEN: the version index in commit {commit[:12]} is not the index at the "
                f"branch head up to {version} (an earlier entry was removed or changed)."
            )
    return out


def _picture_problems(files: dict[str, RemoteFile], recorded: object, commit: str) -> list[str]:
    """The card's pictures at `commit` against those the index entry recorded (entries from
    before #15 record none and are not checked)."""
    if not isinstance(recorded, dict):
        return []
    problems = []
    for path in sorted(p for p in files if layout.is_chart(p)):
        if path not in recorded:
            problems.append(
                f"EXTRA PICTURE: {path} at {commit[:12]} is not one the version was published with."
            )
        elif files[path].blob_id != recorded[path]:
            problems.append(
                f"PICTURE CHANGED: {path} at {commit[:12]} is not the one the version was published with."
            )
    problems += [f"PICTURE MISSING: {p}" for p in sorted(str(p) for p in recorded) if p not in files]
    return problems


def _recompute(
    client: HubClient,
    repo: str,
    commit: str,
    files: dict[str, RemoteFile],
    meta: dict[str, Any],
    *,
    alias: bool,
) -> tuple[list[dict[str, Any]], list[str]]:
    """The manifest the tree stands for: path, size and sha256 of each artifact file.

    LFS files carry their sha256 (the oid); a git-stored file is identified by its blob id,
    which hubver records at push time. Versions from before that are read and hashed.
    """
    listed = {f.get("path"): f for f in meta.get("files") or [] if isinstance(f, dict)}
    out: list[dict[str, Any]] = []
    problems: list[str] = []
    for path, remote in sorted(files.items()):
        if layout.is_managed(path):
            continue
        want = listed.get(path)
        if want is None:
            problems.append(f"EXTRA FILE: {path}")
        if remote.sha256 is not None:
            sha = remote.sha256
        elif want is not None and want.get("git"):
            sha = str(want.get("sha256")) if want.get("git") == remote.blob_id else f"git:{remote.blob_id}"
        elif remote.size <= GIT_ID_LIMIT:
            data, _ = client.read_file(repo, path, commit)
            sha = hashlib.sha256(data or b"").hexdigest()
        else:
            sha = f"git:{remote.blob_id}"
        if want is not None and (sha != want.get("sha256") or remote.size != want.get("size")):
            problems.append(f"FILE CHANGED: {path}")
        out.append({"path": path, "size": remote.size, "sha256": sha})
    problems += [f"FILE MISSING: {p}" for p in sorted(str(p) for p in set(listed) - set(files))]
    return out, problems


def chain_problems(entries: list[dict[str, Any]], tags: dict[str, str]) -> list[tuple[str, str]]:
    """Breaks in the index chain: an entry whose recorded predecessor is not the one before it.

    Entries written before the chain existed have no `prev`; they are accepted as the chain's
    start, and only there. Returns (version, problem) pairs.
    """
    problems: list[tuple[str, str]] = []
    chained = False
    for i, e in enumerate(entries):
        prev = e.get("prev")
        if not isinstance(prev, dict):
            if chained:
                problems.append(
                    (
                        e["version"],
                        f"INDEX CHAIN BROKEN: the entry of {e['version']} has no link to the one before.",
                    )
                )
            continue
        chained = True
        if i == 0:
            problems.append(
                (
                    e["version"],
                    f"INDEX CHAIN BROKEN: {e['version']} follows {prev.get('version')}, whose entry is gone "
                    "(entries were removed from the start of the index).",
                )
            )
            continue
        before = entries[i - 1]
        if prev.get("hash") != entry_hash(before) or prev.get("version") != before["version"]:
            problems.append(
                (
                    e["version"],
                    f"INDEX CHAIN BROKEN: {e['version']} was published after {prev.get('version')}, but the "
                    f"index now puts {before['version']} (or another entry for it) before it.",
                )
            )
        commit = tags.get(before["version"])
        if prev.get("commit") and commit and prev["commit"] != commit:
            problems.append(
                (
                    before["version"],
                    f"TAG MOVED: {before['version']} points at {commit[:12]}, but {e['version']} was "
                    f"published on top of {str(prev['commit'])[:12]}.",
                )
            )
    return problems


def published_commit(entries: list[dict[str, Any]], i: int, head: str | None) -> str | None:
    """The commit the chain says published entry `i`: the next entry's link, or the head for the last."""
    if i + 1 < len(entries):
        prev = entries[i + 1].get("prev")
        return prev.get("commit") if isinstance(prev, dict) else None
    return head


def read_index(client: HubClient, repo: str, head: str) -> tuple[list[dict[str, Any]], list[str], bool]:
    """Entries at `head`, problems reading them, and whether the index exists at all."""
    raw, _ = client.read_file(repo, layout.INDEX_PATH, head)
    entries, problems = index.parse(raw)
    return entries, problems, raw is not None
