"""The pages' `Source` inside the embedded hub: its RepoStore, read directly, as one user may see it.

Visibility is the API's (`ServerContext.repo_for_read`): a private repository exists only for
who owns its namespace (or an administrator); for everyone else it is NotFound, like the API's 404.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
from pathlib import Path

from ..server.auth import User
from ..server.gitstore import ObjectMissing
from ..server.lfs import LfsStore
from ..server.repos import DEFAULT_BRANCH, Repo, RepoStore
from ..server.storage_errors import StorageError
from .source import CommitItem, NotFound, RefSet, RepoSummary, TreeItem

MAX_READ = 8 << 20  # the largest file the pages read (cards, hubver.json, the index)
INDEX_PATH = ".hubver/versions.jsonl"


# Refs of a repository, reused while its ref directories and packed-refs are unchanged: listing
# 500 loose tags reads 500 files, which alone would exceed a repo page's budget. A ref update
# renames a file into its directory (or deletes one), which changes that directory's mtime; a
# fingerprint younger than SETTLE seconds is not trusted (coarse clocks), so never a stale page.
SETTLE = 2.0
_refs_cache: dict[Path, tuple[tuple[object, ...], RefSet]] = {}
_peeled: dict[str, str] = {}  # tag object or commit -> the commit it names (objects never change)
_cache_lock = threading.Lock()


def _fingerprint(git_dir: Path) -> tuple[object, ...] | None:
    parts: list[object] = []
    newest = 0
    with contextlib.suppress(FileNotFoundError):
        st = os.stat(git_dir / "packed-refs")
        parts.append(("packed-refs", st.st_mtime_ns, st.st_size))
        newest = st.st_mtime_ns
    for dirpath, _dirs, _files in os.walk(git_dir / "refs"):
        try:
            mtime = os.stat(dirpath).st_mtime_ns
        except OSError:
            return None
        parts.append((dirpath, mtime))
        newest = max(newest, mtime)
    if time.time_ns() - newest < SETTLE * 1e9:
        return None
    return tuple(parts)


def _time(t: int) -> float:
    try:
        return float(t)
    except OverflowError:  # a forged commit's 400-digit time
        return 0.0


def may_read(repo: Repo, user: User | None) -> bool:
    """As `ServerContext.repo_for_read`: public, or private to who owns its namespace."""
    return not repo.meta.private or bool(user and user.owns(repo.meta.repo_id.split("/")[0]))


class StoreSource:
    def __init__(self, store: RepoStore, user: User | None) -> None:
        self.store = store
        self.user = user

    def _repo(self, repo_type: str, repo_id: str) -> Repo:
        try:
            repo = self.store.get(repo_type, repo_id)
        except (StorageError, ValueError, OSError):
            raise NotFound(f"Repository {repo_id} not found.") from None
        if not may_read(repo, self.user):
            raise NotFound(f"Repository {repo_id} not found.")
        return repo

    def _summary(self, repo: Repo) -> RepoSummary:
        head = repo.refs.get(f"refs/heads/{DEFAULT_BRANCH}")
        updated: float | None = None
        versions: int | None = None
        if head is not None:
            with contextlib.suppress(StorageError, ObjectMissing, ValueError, OSError, OverflowError):
                updated = float(repo.commit(head).commit_time)
                entry = repo.snapshot(head).files.get(INDEX_PATH)
                versions = 0
                if entry is not None and entry.lfs_oid is None and entry.size <= MAX_READ:
                    versions = sum(1 for line in repo.read_blob(entry.blob).split(b"\n") if line.strip())
        return RepoSummary(repo.meta.repo_type, repo.meta.repo_id, repo.meta.private, updated, versions)

    def list_repos(self, repo_type: str) -> list[RepoSummary]:
        return [self._summary(r) for r in self.store.list_repos(repo_type) if may_read(r, self.user)]

    def repo(self, repo_type: str, repo_id: str) -> RepoSummary:
        return self._summary(self._repo(repo_type, repo_id))

    def refs(self, repo_type: str, repo_id: str) -> RefSet:
        repo = self._repo(repo_type, repo_id)
        fingerprint = _fingerprint(repo.git_dir)
        with _cache_lock:
            cached = _refs_cache.get(repo.git_dir)
        if fingerprint is not None and cached is not None and cached[0] == fingerprint:
            return cached[1]
        tags = {}
        for ref, sha in repo.refs.list("refs/tags/").items():
            peeled = _peeled.get(sha)
            if peeled is None:
                with contextlib.suppress(StorageError, ObjectMissing):
                    peeled = repo.peel(sha)
                    with _cache_lock:
                        if len(_peeled) > 200_000:
                            _peeled.clear()
                        _peeled[sha] = peeled
            if peeled is not None:
                tags[ref.removeprefix("refs/tags/")] = peeled
        refs = RefSet(repo.branches(), tags)
        if fingerprint is not None:
            with _cache_lock:
                if len(_refs_cache) > 1000:
                    _refs_cache.clear()
                _refs_cache[repo.git_dir] = (fingerprint, refs)
        return refs

    def resolve(self, repo_type: str, repo_id: str, rev: str) -> str:
        repo = self._repo(repo_type, repo_id)
        try:
            return repo.resolve(rev)
        except (StorageError, ObjectMissing, ValueError, OSError):  # OSError: a 5000-byte name
            raise NotFound(f"Revision {rev} not found in {repo_id}.") from None

    def read_file(self, repo_type: str, repo_id: str, commit: str, path: str) -> bytes | None:
        repo = self._repo(repo_type, repo_id)
        try:
            entry = repo.snapshot(commit).files.get(path)
            if entry is None or entry.size > MAX_READ:
                return None
            if entry.lfs_oid is not None:
                if not isinstance(repo.lfs, LfsStore):
                    return None  # kept in an object store: the page links to the file instead
                lfs_path = repo.lfs.path(entry.lfs_oid)
                return lfs_path.read_bytes() if lfs_path.is_file() else None
            return repo.read_blob(entry.blob)
        except (StorageError, ObjectMissing, OSError):
            return None

    def tree(self, repo_type: str, repo_id: str, commit: str, path: str) -> list[TreeItem]:
        repo = self._repo(repo_type, repo_id)
        try:
            snap = repo.snapshot(commit)
        except (StorageError, ObjectMissing, ValueError, OSError) as e:
            raise NotFound(str(e)) from None
        path = path.strip("/")
        if path not in snap.dirs:
            raise NotFound(f"No directory {path!r} at {commit[:12]}.")
        prefix = f"{path}/" if path else ""
        items = [
            TreeItem(d, True, 0, False)
            for d in snap.dirs
            if d and d.startswith(prefix) and "/" not in d[len(prefix) :]
        ]
        items += [
            TreeItem(p, False, f.size, f.lfs_oid is not None)
            for p, f in snap.files.items()
            if p.startswith(prefix) and "/" not in p[len(prefix) :]
        ]
        return sorted(items, key=lambda i: (not i.is_dir, i.path))

    def commits(self, repo_type: str, repo_id: str, commit: str, limit: int) -> list[CommitItem]:
        repo = self._repo(repo_type, repo_id)
        try:
            return [
                CommitItem(c.sha, c.title, c.author_name, _time(c.author_time))
                for c in itertools.islice(repo.log(commit), limit)
            ]
        except (StorageError, ObjectMissing, ValueError, OSError) as e:
            raise NotFound(str(e)) from None
