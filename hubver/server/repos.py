"""Repositories of the embedded hub: one bare git repository each, under the data dir.

This module knows git and LFS, not HTTP: it resolves revisions, lists a commit's files,
applies commit operations and moves refs compare-and-swap. Everything derived from an
object id (commits, trees, blob sizes) is cached, since objects never change.
"""

from __future__ import annotations

import contextlib
import fnmatch
import heapq
import json
import logging
import os
import re
import secrets
import shutil
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pathspec.patterns.gitignore.spec import (  # _DIR_MARK: what match_file reads
    _DIR_MARK,
    GitIgnoreSpecPattern,
)

from . import gitstore as git
from . import storage_config
from .lfs import MAX_POINTER_SIZE, LfsStore, ObjectStore, parse_pointer, pointer
from .locks import dir_lock
from .names import TYPE_DIRS, check_ref_name, is_commit_id, is_short_commit_id
from .storage_config import StoreFactory
from .storage_errors import (
    InvalidName,
    InvalidOperation,
    NoSuchEntry,
    NoSuchRepo,
    NoSuchRevision,
    ProtectedRef,
    RefExists,
    RepoExists,
    RepoMoved,
    StaleParent,
    StorageError,
)

DEFAULT_BRANCH = "main"
# What huggingface.co puts in a new repo: these patterns are stored with LFS.
DEFAULT_GITATTRIBUTES = "".join(
    f"{pattern} filter=lfs diff=lfs merge=lfs -text\n"
    for pattern in (
        "*.7z *.arrow *.bin *.bz2 *.ckpt *.ftz *.gz *.h5 *.joblib *.lfs.* *.mlmodel *.model *.msgpack "
        "*.npy *.npz *.onnx *.ot *.parquet *.pb *.pickle *.pkl *.pt *.pth *.rar *.safetensors "
        "saved_model/**/* *.tar.* *.tar *.tflite *.tgz *.wasm *.xz *.zip *.zst *tfevents* *.gguf"
    ).split()
)


@dataclass(frozen=True)
class RefKind:
    """Tags or branches: where their refs live. A tag and a branch never share a name."""

    word: str  # "tag", "branch"
    prefix: str  # "refs/tags/"
    other_word: str

    @property
    def title(self) -> str:
        return self.word.capitalize()

    @property
    def other(self) -> RefKind:
        return TAG if self.other_word == "tag" else BRANCH


TAG = RefKind("tag", "refs/tags/", "branch")
BRANCH = RefKind("branch", "refs/heads/", "tag")


K = TypeVar("K")
V = TypeVar("V")


class _LRU(OrderedDict[K, V]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self.lock = threading.Lock()

    def get_or(self, key: K, make: Callable[[], V]) -> V:
        with self.lock:
            if key in self:
                self.move_to_end(key)
                return self[key]
        value = make()
        with self.lock:
            self[key] = value
            if len(self) > self.size:
                self.popitem(last=False)
        return value


@dataclass(frozen=True)
class FileEntry:
    path: str
    mode: str
    blob: str  # git blob sha1 (of the pointer, for LFS files)
    size: int  # the real content size (LFS object size for LFS files)
    lfs_oid: str | None = None
    pointer_size: int | None = None


@dataclass
class Snapshot:
    """The files and directories of one tree, flattened."""

    files: dict[str, FileEntry] = field(default_factory=dict)
    dirs: dict[str, str] = field(default_factory=dict)  # path -> tree sha ("" is the root)


@dataclass
class Op:
    """One commit operation, already validated, with its blob written."""

    kind: str  # "add" | "delete" | "delete_folder"
    path: str
    blob: str | None = None
    lfs: tuple[str, int] | None = None


@dataclass(frozen=True)
class PullRequest:
    """A pull request `refs/pr/N`: there are no discussions, only who opened it and its text."""

    number: int
    author: str
    title: str
    description: str
    base: str  # the branch it was opened onto
    created_at: float


@dataclass(frozen=True)
class LfsReference:
    """A file that refers to an LFS object: its path, pointer blob and a ref it is reachable from."""

    path: str
    blob: str
    ref: str | None


@dataclass
class RepoMeta:
    repo_type: str
    repo_id: str
    private: bool
    owner: str
    created_at: float


class Repo:
    def __init__(self, git_dir: Path, meta: RepoMeta, lfs: ObjectStore | None = None) -> None:
        self.git_dir = git_dir
        self.meta = meta
        self.objects = git.ObjectStore(git_dir / "objects")
        self.refs = git.Refs(git_dir)
        self.lfs: ObjectStore = lfs if lfs is not None else LfsStore(git_dir)
        self._commits: _LRU[str, git.Commit] = _LRU(4096)
        self._snapshots: _LRU[str, Snapshot] = _LRU(256)
        self._blobs: _LRU[str, tuple[int, str | None, int | None]] = _LRU(65536)

    # -- reading ---------------------------------------------------------------------------

    def commit(self, sha: str) -> git.Commit:
        def load() -> git.Commit:
            kind, data = self.objects.read(sha)
            if kind != "commit":
                raise NoSuchRevision(f"{sha} is not a commit.")
            return git.decode_commit(sha, data)

        return self._commits.get_or(sha, load)

    def peel(self, sha: str) -> str:
        """Follow annotated tags to the commit they name."""
        for _ in range(10):
            kind, data = self.objects.read(sha)
            if kind != "tag":
                return sha
            sha = git.decode_tag(sha, data).object
        return sha

    def resolve(self, rev: str) -> str:
        """Commit sha for a branch, tag or commit id; RevisionNotFound otherwise."""
        if is_commit_id(rev):
            if self.objects.exists(rev):
                with contextlib.suppress(git.ObjectMissing):
                    if self.objects.header(rev)[0] == "commit":
                        return rev
            raise NoSuchRevision(f"Invalid rev id: {rev}")
        # As git does: a tag wins over a branch of the same name (the hub also refuses to create
        # such pairs), so a branch named `v2` cannot shadow the version `v2`.
        if rev.startswith(("refs/pr/", "refs/tags/", "refs/heads/")):
            candidates = [rev]
        else:
            candidates = [f"refs/tags/{rev}", f"refs/heads/{rev}"]
        for ref in candidates:
            sha = self.refs.get(ref)
            if sha is not None:
                return self.peel(sha)
        if is_short_commit_id(rev):
            return self._expand(rev)
        raise NoSuchRevision(f"Invalid rev id: {rev}")

    def _expand(self, short: str) -> str:
        """The commit a unique abbreviation names (after refs, as in git: a branch `abc1234` wins)."""
        commits = []
        for sha in self.objects.with_prefix(short, limit=16):
            with contextlib.suppress(git.ObjectMissing):
                if self.objects.header(sha)[0] == "commit":
                    commits.append(sha)
        if len(commits) > 1:
            raise NoSuchRevision(
                f"Invalid rev id: {short} is ambiguous (it starts {len(commits)} commits, "
                f"{commits[0]} and {commits[1]}); give more characters of the commit id."
            )
        if not commits:
            raise NoSuchRevision(f"Invalid rev id: {short}")
        return commits[0]

    def pull_requests(self) -> dict[str, str]:
        """`refs/pr/N` -> commit, for the pull requests that commits with create_pr opened."""
        return self.refs.list("refs/pr/")

    def pull_request(self, ref: str) -> PullRequest | None:
        """The pull request `refs/pr/N`: who opened it, onto what (None if it does not exist)."""
        if not is_pr_ref(ref) or self.refs.get(ref) is None:
            return None
        try:
            records = json.loads((self.git_dir / PR_FILE).read_text())
        except (FileNotFoundError, ValueError):
            records = {}
        number = int(ref.removeprefix("refs/pr/"))
        raw = records.get(str(number)) if isinstance(records, dict) else None
        raw = raw if isinstance(raw, dict) else {}
        text = {k: v if isinstance(v, str) else "" for k, v in raw.items()}
        return PullRequest(
            number,
            text.get("author", ""),
            text.get("title", ""),
            text.get("description", ""),
            text.get("base") or DEFAULT_BRANCH,
            float(created) if isinstance(created := raw.get("created_at"), (int, float)) else 0.0,
        )

    def pr_author(self, ref: str) -> str | None:
        """Who opened the pull request `refs/pr/N` (None if it does not exist or is not recorded)."""
        pr = self.pull_request(ref)
        return pr.author if pr and pr.author else None

    def open_pull_request(self, base: str, author: str, title: str, description: str) -> int:
        """Open a pull request onto `base` with no commits yet (`refs/pr/N` at its head); N."""
        with self.refs.lock():
            head = self.refs.get(f"refs/heads/{base}")
            if head is None:
                raise NoSuchRevision(f"Branch {base!r} does not exist.")
            return self._new_pull_request(head, author, title, description, base)

    def _new_pull_request(self, sha: str, author: str, title: str, description: str, base: str) -> int:
        """Record and create the next `refs/pr/N` at `sha` (the record first: a PR never lacks
        its author). Hold the lock."""
        number = 1 + max((int(n.rsplit("/", 1)[1]) for n in self.pull_requests()), default=0)
        path = self.git_dir / PR_FILE
        try:
            records = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            records = {}
        records[str(number)] = {
            "author": author,
            "title": title,
            "description": description,
            "base": base,
            "created_at": time.time(),
        }
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        tmp.write_text(json.dumps(records))
        os.replace(tmp, path)
        self.refs.update(f"refs/pr/{number}", sha, None, create_only=True)
        return number

    def commit_target(self, rev: str) -> str:
        """The ref a commit to `rev` moves: a branch, or an open pull request `refs/pr/N`."""
        if is_pr_ref(rev):
            if self.refs.get(rev) is None:
                raise NoSuchRevision(f"Pull request {rev!r} does not exist.")
            return rev
        if is_commit_id(rev) or self.refs.get(f"refs/heads/{rev}") is None:
            if self.refs.get(f"refs/tags/{rev}") is not None:
                raise InvalidOperation(f"Commits go to a branch; {rev!r} is not one.")
            if is_commit_id(rev):
                # A commit id (a pull request "against" one too) is not a branch: the Hub's 404.
                raise NoSuchRevision(f"Invalid rev id: {rev} (commits and pull requests go to a branch).")
            raise NoSuchRevision(f"Branch {rev!r} does not exist.")
        return f"refs/heads/{rev}"

    def branches(self) -> dict[str, str]:
        return {k.removeprefix("refs/heads/"): v for k, v in self.refs.list("refs/heads/").items()}

    def tags(self) -> dict[str, str]:
        return {k.removeprefix("refs/tags/"): self.peel(v) for k, v in self.refs.list("refs/tags/").items()}

    def _blob_entry(self, path: str, mode: str, sha: str) -> FileEntry:
        def load() -> tuple[int, str | None, int | None]:
            _kind, size = self.objects.header(sha)
            if size <= MAX_POINTER_SIZE:
                parsed = parse_pointer(self.objects.read(sha)[1])
                if parsed:
                    return parsed[1], parsed[0], size
            return size, None, None

        size, oid, psize = self._blobs.get_or(sha, load)
        return FileEntry(path, mode, sha, size, oid, psize)

    def snapshot(self, commit_sha: str) -> Snapshot:
        tree = self.commit(commit_sha).tree

        def load() -> Snapshot:
            snap = Snapshot()
            stack = [("", tree)]
            while stack:
                prefix, sha = stack.pop()
                snap.dirs[prefix] = sha
                for e in git.decode_tree(self.objects.read(sha)[1]):
                    path = f"{prefix}/{e.name}" if prefix else e.name
                    if e.is_tree:
                        stack.append((path, e.sha))
                    elif e.mode != git.MODE_COMMIT:
                        snap.files[path] = self._blob_entry(path, e.mode, e.sha)
            return snap

        return self._snapshots.get_or(tree, load)

    def read_blob(self, sha: str) -> bytes:
        return self.objects.read(sha)[1]

    def log(self, start: str) -> Iterator[git.Commit]:
        """Commits reachable from `start`, newest first (like `git log`)."""
        seen = {start}
        first = self.commit(start)
        heap = [(-first.commit_time, 0, first)]
        counter = 1
        while heap:
            _, _, c = heapq.heappop(heap)
            yield c
            for p in c.parents:
                if p not in seen:
                    seen.add(p)
                    pc = self.commit(p)
                    heapq.heappush(heap, (-pc.commit_time, counter, pc))
                    counter += 1

    def lfs_patterns(self, snap: Snapshot) -> list[str]:
        entry = snap.files.get(".gitattributes")
        if entry is None or entry.lfs_oid:
            return []
        patterns = []
        for line in self.read_blob(entry.blob).decode("utf-8", "replace").splitlines():
            parts = line.split()
            if len(parts) >= 2 and "filter=lfs" in parts[1:]:
                patterns.append(parts[0])
        return patterns

    def gitignore(self, snap: Snapshot) -> str | None:
        """The text of the tree's top-level .gitignore, if it has one (and it is not an LFS file)."""
        entry = snap.files.get(".gitignore")
        if entry is None or entry.lfs_oid or entry.size > MAX_GITIGNORE:
            return None
        return self.read_blob(entry.blob).decode("utf-8", "replace")

    # -- writing ---------------------------------------------------------------------------

    def write_tree(self, files: dict[str, tuple[str, str]]) -> str:
        root: dict[str, Any] = {}
        for path, (mode, sha) in files.items():
            node = root
            *dirs, name = path.split("/")
            for d in dirs:
                node = node.setdefault(d, {})
            node[name] = (mode, sha)

        def write(node: dict[str, Any]) -> str:
            entries = []
            for name, value in node.items():
                if isinstance(value, dict):
                    entries.append(git.TreeEntry(git.MODE_TREE, name, write(value)))
                else:
                    entries.append(git.TreeEntry(value[0], name, value[1]))
            return self.objects.write("tree", git.encode_tree(entries))

        return write(root)

    def commit_ops(
        self,
        branch: str,
        ops: list[Op],
        *,
        parent: str | None,
        author: str,
        message: str,
        pull_request: bool = False,
    ) -> tuple[str, int | None]:
        """Apply `ops` on top of `branch` as one commit: (its sha, the pull request it opened).

        The branch (or the pull request `refs/pr/N` that `branch` names) moves to the commit,
        or with `pull_request` a new `refs/pr/N`, opened by `author`, points at it and the
        branch stays where it is.
        """
        ref = branch if is_pr_ref(branch) else f"refs/heads/{branch}"
        pull_request = pull_request and not is_pr_ref(branch)
        with self.refs.lock():
            head = self.refs.get(ref)
            if head is None:
                raise NoSuchRevision(f"Branch {branch!r} does not exist; commits go to a branch.")
            if parent is not None and parent != head:
                raise StaleParent(
                    "The branch was updated since you opened this page. Please refresh and try again. "
                    f"(Expected parent {parent}; the head of {branch!r} is now {head}.)"
                )
            snap = self.snapshot(head)
            files = {p: (e.mode, e.blob) for p, e in snap.files.items()}
            new_lfs: list[str] = []
            for op in ops:
                self._apply(files, op)
                if op.lfs:
                    new_lfs.append(op.path)
            self._track_lfs(files, snap, new_lfs)
            tree = self.write_tree(files)
            sig = git.signature(author, f"{author}@users.noreply.hubver")
            sha = self.objects.write("commit", git.encode_commit(tree, [head], sig, sig, message))
            if not pull_request:
                self.refs.update(ref, sha, head)
                return sha, None
            title, _, description = message.partition("\n\n")
            number = self._new_pull_request(sha, author, title, description, branch)
        return sha, number

    def _apply(self, files: dict[str, tuple[str, str]], op: Op) -> None:
        if op.kind == "add":
            parts = op.path.split("/")
            for i in range(1, len(parts)):
                if "/".join(parts[:i]) in files:
                    raise InvalidOperation(f"Cannot add {op.path!r}: {'/'.join(parts[:i])!r} is a file.")
            prefix = op.path + "/"
            if any(p.startswith(prefix) for p in files):
                raise InvalidOperation(f"Cannot add {op.path!r}: it is a directory.")
            files[op.path] = (git.MODE_FILE, op.blob or "")
        elif op.kind == "delete" and op.path in files:
            del files[op.path]
        else:
            # As the Hub: a deletedFile line naming a folder (no trailing slash) deletes the folder.
            prefix = op.path.rstrip("/") + "/"
            doomed = [p for p in files if p.startswith(prefix)]
            if not doomed:
                what = "file" if op.kind == "delete" else "folder"
                raise NoSuchEntry(f"A {what} with this name doesn't exist: {op.path}")
            for p in doomed:
                del files[p]

    def _track_lfs(self, files: dict[str, tuple[str, str]], snap: Snapshot, new_lfs: list[str]) -> None:
        """Add LFS files that no .gitattributes pattern covers, so `git lfs` clones see them."""
        if not new_lfs or ".gitattributes" not in files:
            return
        patterns = self.lfs_patterns(snap)
        missing = [p for p in new_lfs if not any(gitattr_match(pat, p) for pat in patterns)]
        if not missing:
            return
        blob = files[".gitattributes"][1]
        text = self.read_blob(blob).decode("utf-8", "replace")
        if text and not text.endswith("\n"):
            text += "\n"
        text += "".join(
            f"{p.replace(' ', '[[:space:]]')} filter=lfs diff=lfs merge=lfs -text\n" for p in missing
        )
        files[".gitattributes"] = (git.MODE_FILE, self.objects.write("blob", text.encode()))

    def write_blob(self, data: bytes) -> str:
        return self.objects.write("blob", data)

    def lfs_pointer_blob(self, oid: str, size: int) -> str:
        return self.objects.write("blob", pointer(oid, size))

    def create_ref(
        self, kind: RefKind, name: str, rev: str, *, message: str | None = None, tagger: str = ""
    ) -> str:
        """Point the new tag or branch `name` at `rev` (annotated if a tag has a `message`); the commit."""
        target = self.resolve(rev)  # first, as the Hub: a missing revision is a 404 whatever the name
        check_ref_name(name, f"{kind.word} name")
        obj = target
        if message and kind is TAG:
            sig = git.signature(tagger, f"{tagger}@users.noreply.hubver")
            obj = self.objects.write("tag", git.encode_tag(target, "commit", name, sig, message))
        ref = kind.prefix + name
        with self.refs.lock():
            if self.refs.get(kind.other.prefix + name) is not None:
                raise RefExists(
                    f"{kind.title} {name!r} would shadow the {kind.other.word} of the same name; pick another name."
                )
            try:
                self.refs.update(ref, obj, None, create_only=True)
            except git.RefConflict as e:
                if e.name == ref and e.current and len(e.current) == 40:
                    raise RefExists(f"Reference {ref} already exists") from None
                raise RefExists(
                    f"{kind.title} {name!r} conflicts with the existing ref {e.current!r}."
                ) from None
        return target

    def version_of(self, commit_sha: str) -> str | None:
        """The version id named by the `hubver.json` of a commit, if it has one."""
        entry = self.snapshot(commit_sha).files.get(VERSION_METADATA)
        if entry is None or entry.lfs_oid is not None or entry.size > (1 << 20):
            return None
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            meta = json.loads(self.read_blob(entry.blob))
            if isinstance(meta, dict) and isinstance(meta.get("version"), str):
                return str(meta["version"])
        return None

    def is_version_tag(self, tag: str) -> bool:
        """A tag that marks a hubver version: its commit's hubver.json names it."""
        sha = self.refs.get(f"refs/tags/{tag}")
        return sha is not None and self.version_of(self.peel(sha)) == tag

    def _index_lines(self, commit_sha: str) -> list[dict[str, Any]]:
        """The lines of hubver's version index at a commit (unreadable lines skipped)."""
        entry = self.snapshot(commit_sha).files.get(VERSION_INDEX)
        if entry is None:
            return []
        try:
            if entry.lfs_oid is not None:
                if not isinstance(self.lfs, LfsStore):
                    return []  # an index kept in LFS (a .gitattributes rule) on an object store: unread
                data = self.lfs.path(entry.lfs_oid).read_bytes()
            else:
                data = self.read_blob(entry.blob)
        except (OSError, InvalidOperation):
            return []
        lines = []
        for line in data.decode("utf-8", "replace").split("\n"):
            with contextlib.suppress(ValueError):
                value = json.loads(line)
                if isinstance(value, dict) and isinstance(value.get("version"), str):
                    lines.append(value)
        return lines

    def is_pruned(self, tag: str) -> bool:
        """A version tag whose branch records its pruning: the head of the branch the version was
        published on holds a tombstone line `{"version": tag, "pruned": {...}}` in its index,
        naming the very commit the tag points at. Only then may a writer delete the tag."""
        sha = self.refs.get(f"refs/tags/{tag}")
        if sha is None:
            return False
        commit = self.peel(sha)
        own = next((e for e in self._index_lines(commit) if e["version"] == tag and "pruned" not in e), None)
        branch = own.get("branch") if own else None
        heads = self.branches()
        candidates = [heads[branch]] if isinstance(branch, str) and branch in heads else list(heads.values())
        for head in candidates:
            for e in self._index_lines(head):
                record = e.get("pruned")
                if e["version"] == tag and isinstance(record, dict) and record.get("commit") == commit:
                    return True
        return False

    def _alias_record(self, commit_sha: str) -> dict[str, Any] | None:
        """The alias record (`.hubver/alias.json`) a branch head holds, if it has a readable one."""
        entry = self.snapshot(commit_sha).files.get(ALIAS_RECORD)
        if entry is None or entry.lfs_oid is not None or entry.size > (1 << 20):
            return None
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            record = json.loads(self.read_blob(entry.blob))
            return record if isinstance(record, dict) else None
        return None

    def version_in_use(self, tag: str) -> str | None:
        """Why the version tag `tag` must stay even when its pruning is recorded (None if it may
        go): a branch head is its commit, an alias branch's record points at it, or it is the
        latest version published on its branch (whose head holds its files)."""
        sha = self.refs.get(f"refs/tags/{tag}")
        if sha is None or not self.is_version_tag(tag):
            return None
        commit = self.peel(sha)
        heads = self.branches()
        for branch, head in sorted(heads.items()):
            if head == commit:
                return f"the branch {branch!r} is at its commit"
            record = self._alias_record(head)
            if record and (record.get("version") == tag or record.get("commit") == commit):
                return f"the alias {branch!r} points at it"
        own = next((e for e in self._index_lines(commit) if e["version"] == tag and "pruned" not in e), None)
        own_branch = own.get("branch") if own else None
        candidates = [own_branch] if isinstance(own_branch, str) and own_branch in heads else sorted(heads)
        for name in candidates:
            published = [e for e in self._index_lines(heads[name]) if "pruned" not in e]
            if published and published[-1]["version"] == tag:
                return f"it is the latest version of the branch {name!r}, whose head holds its files"
        return None

    def holds_versions(self, branch: str) -> bool:
        """A branch whose head carries hubver's index or metadata: versions (or an alias) live on it."""
        sha = self.refs.get(f"refs/heads/{branch}")
        if sha is None:
            return False
        files = self.snapshot(sha).files
        return VERSION_INDEX in files or VERSION_METADATA in files

    # -- LFS storage and history ----------------------------------------------------------

    def lfs_references(self) -> dict[str, LfsReference]:
        """Every stored LFS object with one file that refers to it (the newest, on some ref).

        Walks the history of every branch, tag and pull request: an object that no commit
        refers to is listed with an empty path, so that it can be found and deleted too.
        """
        refs = {**self.refs.list("refs/heads/"), **self.refs.list("refs/tags/"), **self.pull_requests()}
        found: dict[str, LfsReference] = {}
        seen_commits: set[str] = set()
        for ref, sha in sorted(refs.items()):
            for c in self.log(self.peel(sha)):
                if c.sha in seen_commits:
                    continue
                seen_commits.add(c.sha)
                for entry in self.snapshot(c.sha).files.values():
                    if entry.lfs_oid and entry.lfs_oid not in found:
                        found[entry.lfs_oid] = LfsReference(entry.path, entry.blob, ref)
        out: dict[str, LfsReference] = {}
        for oid in self.lfs.oids():
            out[oid] = found.get(oid) or LfsReference("", "", None)
        return out

    def version_lfs_objects(self) -> dict[str, str]:
        """LFS object -> the version tag whose commit holds it, for every hubver version tag."""
        held: dict[str, str] = {}
        for tag in sorted(self.refs.list("refs/tags/")):
            name = tag.removeprefix("refs/tags/")
            if self.is_version_tag(name):
                sha = self.peel(self.refs.get(tag) or "")
                for entry in self.snapshot(sha).files.values():
                    if entry.lfs_oid:
                        held.setdefault(entry.lfs_oid, name)
        return held

    def tip_lfs_objects(self) -> dict[str, str]:
        """LFS object -> a ref (branch, tag or pull request) whose tip commit holds it."""
        refs = {**self.refs.list("refs/heads/"), **self.refs.list("refs/tags/"), **self.pull_requests()}
        held: dict[str, str] = {}
        for ref, sha in sorted(refs.items()):
            for entry in self.snapshot(self.peel(sha)).files.values():
                if entry.lfs_oid:
                    held.setdefault(entry.lfs_oid, ref)
        return held

    def delete_lfs_objects(self, oids: list[str], *, protect_versions: bool) -> list[str]:
        """Delete stored LFS objects for good; the ones that were stored.

        With `protect_versions`, refuses (deleting nothing) if a version tag holds one of them
        (the version has to be removed first: `hubver hub remove-version`), or if the tip of any
        branch, tag or pull request holds one (what a ref serves stays downloadable; a pruned
        version's objects go once no alias or head holds them).
        """
        if protect_versions:
            held = self.version_lfs_objects()
            blocked = sorted({held[o] for o in oids if o in held})
            if blocked:
                raise ProtectedRef(
                    f"LFS objects of the protected version(s) {', '.join(blocked)} cannot be deleted: "
                    "remove the version first (hubver hub remove-version), then delete its files."
                )
            tips = self.tip_lfs_objects()
            refs = sorted({tips[o] for o in oids if o in tips})
            if refs:
                raise ProtectedRef(
                    f"LFS objects that {', '.join(refs[:5])}{' ...' if len(refs) > 5 else ''} still hold "
                    "cannot be deleted on this hub: what a branch, tag or pull request serves stays "
                    "downloadable. Delete only objects no ref's tip holds."
                )
        return [oid for oid in oids if self.lfs.delete(oid)]

    def squash(self, branch: str, message: str, author: str, *, protect_versions: bool) -> str:
        """Replace the history of `branch` with one commit of its current tree; the new commit.

        With `protect_versions`, a branch that holds versions, or whose history a version tag
        points into, is refused: squashing would cut the versions off the branch's history.
        """
        ref = f"refs/heads/{branch}"
        with self.refs.lock():
            head = self.refs.get(ref)
            if head is None:
                raise NoSuchRevision(f"Branch {branch!r} does not exist.")
            if protect_versions:
                history = {c.sha for c in self.log(head)}
                versions = sorted(
                    name for name, sha in self.tags().items() if sha in history and self.is_version_tag(name)
                )
                if versions or self.holds_versions(branch):
                    what = f"the versions {', '.join(versions)}" if versions else "hubver's version index"
                    raise ProtectedRef(
                        f"Branch {branch!r} holds {what}: squashing it would rewrite their history, "
                        "so it is refused. Squash a branch that holds no versions."
                    )
            sig = git.signature(author, f"{author}@users.noreply.hubver")
            tree = self.commit(head).tree
            sha = self.objects.write("commit", git.encode_commit(tree, [], sig, sig, message))
            self.refs.update(ref, sha, head)
        return sha

    def delete_ref(self, kind: RefKind, name: str) -> None:
        if kind is BRANCH and name == DEFAULT_BRANCH:
            raise ProtectedRef(f"Cannot delete refs/heads/{DEFAULT_BRANCH}: it is the default branch.")
        with self.refs.lock():
            if self.refs.get(kind.prefix + name) is None:
                raise NoSuchRevision(f"Invalid rev id: {name}")
            self.refs.delete(kind.prefix + name)


PR_FILE = "hubver-pull-requests.json"  # pull request number -> who opened it, onto what, why


def is_pr_ref(rev: str) -> bool:
    """`refs/pr/N`, the ref of a pull request."""
    return rev.startswith("refs/pr/") and rev[8:].isdigit() and not rev[8:].startswith("0")


VERSION_METADATA = "hubver.json"
VERSION_INDEX = ".hubver/versions.jsonl"
ALIAS_RECORD = ".hubver/alias.json"  # on an alias branch: the version it points at


# A .gitignore larger than this is not read (the client sends its own at most once a chunk).
MAX_GITIGNORE = 1 << 20
MAX_GITIGNORE_LINES = 1000
MAX_GITIGNORE_STAR_RUNS = 2
MAX_GITIGNORE_LINE = 256
_STAR_RUNS = re.compile(r"\*+")
_STARS = re.compile(r"\*{2,}")


def _fold_stars(line: str) -> str:
    """Consecutive `*` as git reads them: `**` where the run is a whole path component (any
    depth), one `*` elsewhere (`a**b` is `a*b` in git). Unfolded, a run of 40 stars becomes 40
    nested `[^/]*` in pathspec's regex, whose backtracking takes minutes on a long path."""
    return _STARS.sub(lambda m: "**" if _whole_component(line, m) else "*", line)


def _whole_component(line: str, m: re.Match[str]) -> bool:
    before = line[m.start() - 1] if m.start() > 0 else "/"
    after = line[m.end()] if m.end() < len(line) else "/"
    return before == "/" and after == "/"


def ignore_matcher(gitignore: str | None, budget: float = 2.0) -> Callable[[str], bool]:
    """Whether a path is ignored by the rules of a .gitignore (git's own semantics, via pathspec).

    The patterns become backtracking regexes, so a hostile .gitignore (`*a*a*a*a*b` against a
    1 KiB path) could hold a worker for minutes: patterns with more than two `*` runs are
    skipped (runs of stars are folded first, as git reads them), as are lines over 256 characters and lines
    that are no valid pattern (git skips those too), and after `budget`
    seconds of matching every further path counts as not ignored (the client then uploads it).
    """
    if not gitignore:
        return lambda path: False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # re's FutureWarning on `[[` in a pattern
        lines = []
        for line in gitignore.splitlines()[:MAX_GITIGNORE_LINES]:
            line = _fold_stars(line)
            if len(line) > MAX_GITIGNORE_LINE or len(_STAR_RUNS.findall(line)) > MAX_GITIGNORE_STAR_RUNS:
                continue
            try:
                GitIgnoreSpecPattern(line)
            except (ValueError, re.error):
                continue
            lines.append(line)
        patterns = [p for p in map(GitIgnoreSpecPattern, lines) if p.include is not None]
    deadline = time.monotonic() + budget

    def ignored(path: str) -> bool:
        # GitIgnoreSpec.match_file's rule (the last match wins; a file pattern outranks a
        # directory one unless the directory one re-includes), one pattern at a time so that the
        # budget holds inside one path too: 1000 slow patterns against one path stop at it.
        include, rank = False, 0
        for pattern in patterns:
            if time.monotonic() > deadline:
                return False
            found = pattern.match_file(path)
            if found is None:
                continue
            dir_mark = found.match.groupdict().get(_DIR_MARK)
            priority = 1 if dir_mark else 2
            if (pattern.include and dir_mark) or priority >= rank:
                include, rank = bool(pattern.include), priority
        return include

    return ignored


def gitattr_match(pattern: str, path: str) -> bool:
    if "/" not in pattern.rstrip("/"):
        return fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], pattern)
    return fnmatch.fnmatchcase(path, pattern.lstrip("/"))


def _listdir(path: Path) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []


class RepoStore:
    """All repositories under `<data_dir>/repos/<type>s/<namespace>/<name>.git`."""

    META_FILE = "hubver-repo.json"

    def __init__(self, data_dir: Path, lfs_store: StoreFactory | None = None) -> None:
        self.root = data_dir / "repos"
        self.root.mkdir(parents=True, exist_ok=True)
        # The LFS store of each repo: the one recorded for the data dir (storage_config.py).
        self.lfs_store: StoreFactory = lfs_store or storage_config.load(data_dir)
        self._repos: dict[Path, Repo] = {}
        self._lock = threading.Lock()

    def git_dir(self, repo_type: str, repo_id: str) -> Path:
        return self.root / TYPE_DIRS[repo_type] / f"{repo_id}.git"

    def canonical_id(self, repo_type: str, repo_id: str) -> str | None:
        """The stored id that `repo_id` names, compared without case as on the Hub, or None."""
        if (self.git_dir(repo_type, repo_id) / self.META_FILE).exists():
            return repo_id
        namespace, name = repo_id.split("/")
        want = (namespace.lower(), f"{name}.git".lower())
        type_dir = self.root / TYPE_DIRS[repo_type]
        for ns in _listdir(type_dir):
            if ns.lower() != want[0]:
                continue
            for entry in _listdir(type_dir / ns):
                if entry.lower() == want[1] and (type_dir / ns / entry / self.META_FILE).exists():
                    return f"{ns}/{entry[:-4]}"
        return None

    def get(self, repo_type: str, repo_id: str) -> Repo:
        repo_id = self.canonical_id(repo_type, repo_id) or repo_id
        path = self.git_dir(repo_type, repo_id)
        meta_path = path / self.META_FILE
        try:
            raw = json.loads(meta_path.read_text())
        except (FileNotFoundError, NotADirectoryError):
            with self._lock:
                self._repos.pop(path, None)
            new_id = self.moved_to(repo_type, repo_id)
            if new_id is not None:
                # The message is what anyone who may not follow the redirect sees: a private repo's
                # new name (or that it exists at all) is told only in the 307 to who may see it.
                raise RepoMoved("Repository not found", new_id) from None
            raise NoSuchRepo("Repository not found") from None
        meta = RepoMeta(
            repo_type, repo_id, bool(raw.get("private")), raw.get("owner", ""), raw.get("created_at", 0)
        )
        with self._lock:
            repo = self._repos.get(path)
            if repo is None:
                repo = self._repos[path] = Repo(path, meta, self.lfs_store(path))
            repo.meta = meta
        return repo

    def list_repos(self, repo_type: str) -> list[Repo]:
        """Every repository of a type, by id (half-created and half-deleted ones left out)."""
        repos = []
        for git_dir in sorted((self.root / TYPE_DIRS[repo_type]).glob("*/*.git")):
            if git_dir.name.startswith("."):
                continue
            repo_id = f"{git_dir.parent.name}/{git_dir.name.removesuffix('.git')}"
            with contextlib.suppress(NoSuchRepo, ValueError, OSError):
                repos.append(self.get(repo_type, repo_id))
        return repos

    def create(self, repo_type: str, repo_id: str, *, private: bool, owner: str) -> Repo:
        # Ids differ only in case or not at all: `Ns/Name` is refused while `ns/name` exists, so
        # the check and the rename happen under the store's lock.
        with dir_lock(self.root):
            existing = self.canonical_id(repo_type, repo_id)
            if existing is not None:
                raise RepoExists(f"You already created this {repo_type} repo")  # the Hub's words
            self._check_namespace_spelling(repo_id)
            return self._create(repo_type, repo_id, private=private, owner=owner)

    def _check_namespace_spelling(self, repo_id: str) -> None:
        """A namespace is one whatever its case, as ids are: `ALICE/x` beside `alice/y` would be a
        namespace its owner cannot reach (rights compare the spelling the repos were created with)."""
        namespace = repo_id.split("/")[0]
        for type_dir in TYPE_DIRS.values():
            for entry in _listdir(self.root / type_dir):
                if entry.lower() == namespace.lower() and entry != namespace:
                    raise InvalidName(
                        f"Namespace {namespace!r} is spelled {entry!r} on this hub: namespaces are "
                        f"case-insensitive; use {entry}/{repo_id.split('/', 1)[1]}."
                    )

    def _create(self, repo_type: str, repo_id: str, *, private: bool, owner: str) -> Repo:
        path = self.git_dir(repo_type, repo_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.parent / f".creating-{path.name}-{secrets.token_hex(4)}"
        git.init_bare(staging)
        now = time.time()
        (staging / self.META_FILE).write_text(
            json.dumps({"private": private, "owner": owner, "created_at": now, "type": repo_type})
        )
        repo = Repo(staging, RepoMeta(repo_type, repo_id, private, owner, now))
        blob = repo.write_blob(DEFAULT_GITATTRIBUTES.encode())
        tree = repo.write_tree({".gitattributes": (git.MODE_FILE, blob)})
        sig = git.signature(owner, f"{owner}@users.noreply.hubver")
        sha = repo.objects.write("commit", git.encode_commit(tree, [], sig, sig, "initial commit"))
        (staging / "refs" / "heads" / DEFAULT_BRANCH).write_text(sha + "\n")
        try:
            os.rename(staging, path)  # atomic; fails if another creator won the race
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            raise RepoExists(f"You already created this {repo_type} repo") from None
        return self.get(repo_type, repo_id)

    # -- renames ---------------------------------------------------------------------------
    # `redirects.json` maps `type/old-id` (lower-cased) to the id a repo was moved to; the old
    # id answers with a redirect until a repository is created there again.

    @property
    def _redirects_file(self) -> Path:
        return self.root / "redirects.json"

    def _redirects(self) -> dict[str, str]:
        try:
            raw = json.loads(self._redirects_file.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, str)}

    def moved_to(self, repo_type: str, repo_id: str) -> str | None:
        """The existing repository that `repo_id` was moved to (following later moves), or None."""
        redirects = self._redirects()
        target = repo_id
        for _ in range(16):  # moves back and forth make cycles; their end is never far
            nxt = redirects.get(f"{repo_type}/{target.lower()}")
            if nxt is None:
                return None
            target = nxt
            canonical = self.canonical_id(repo_type, target)
            if canonical is not None:
                return canonical
        return None

    def move(self, repo_type: str, from_id: str, to_id: str) -> str:
        """Rename or transfer a repository with its refs (versions) and LFS objects; the new id.

        Raises NoSuchRepo if `from_id` does not exist, RepoExists if `to_id` does (another
        casing of `from_id` itself is a rename of its casing).
        """
        with dir_lock(self.root):
            source = self.canonical_id(repo_type, from_id)
            if source is None:
                raise NoSuchRepo("Repository not found")
            existing = self.canonical_id(repo_type, to_id)
            if existing is not None and existing != source:
                raise RepoExists(f"A {repo_type} repository called {existing} already exists")
            if to_id.split("/")[0] != source.split("/")[0]:  # a rename within its namespace keeps it
                self._check_namespace_spelling(to_id)
            old, new = self.git_dir(repo_type, source), self.git_dir(repo_type, to_id)
            new.parent.mkdir(parents=True, exist_ok=True)
            repo = self.get(repo_type, source)
            with repo.refs.lock():  # no ref update is half-way through while the directory moves
                os.rename(old, new)
            with self._lock:
                self._repos.pop(old, None)
            redirects = self._redirects()
            redirects[f"{repo_type}/{source.lower()}"] = to_id
            tmp = self._redirects_file.with_name(f".redirects-{secrets.token_hex(4)}.json")
            tmp.write_text(json.dumps(redirects, indent=1, sort_keys=True))
            os.replace(tmp, self._redirects_file)
        return to_id

    def delete(self, repo_type: str, repo_id: str) -> None:
        # As move(): no creation or rename of the same id, and no ref update half-way through,
        # in any hub process sharing the data dir (a writer that waited then finds it gone).
        with dir_lock(self.root):
            canonical = self.canonical_id(repo_type, repo_id)
            if canonical is None:
                raise NoSuchRepo("Repository not found")
            path = self.git_dir(repo_type, canonical)
            trash = path.parent / f".deleting-{path.name}-{secrets.token_hex(4)}"
            with git.Refs(path).lock():
                os.rename(path, trash)
        with self._lock:
            self._repos.pop(path, None)
        try:
            self.lfs_store(trash).purge()  # objects kept outside the git dir (a bucket) go with it
        except StorageError as e:  # the repo is gone already; its objects stay behind, unreachable
            logging.getLogger("hubver.server").warning("LFS objects of deleted %s left: %s", canonical, e)
        shutil.rmtree(trash, ignore_errors=True)

    def set_private(self, repo_type: str, repo_id: str, private: bool) -> None:
        repo = self.get(repo_type, repo_id)
        meta_path = repo.git_dir / self.META_FILE
        with repo.refs.lock():  # the repo's lock: two hubs changing its settings lose neither
            raw = json.loads(meta_path.read_text())
            raw["private"] = private
            tmp = meta_path.with_name(f".{self.META_FILE}.{secrets.token_hex(4)}")
            tmp.write_text(json.dumps(raw))
            os.replace(tmp, meta_path)

    def fsck(self) -> list[tuple[str, str, str | None]]:
        """Re-hash every LFS object of every repository: (repo dir, oid, quarantined to) per damaged one."""
        damaged = []
        for git_dir in sorted(self.root.glob("*/*/*.git")):
            for oid, moved in self.lfs_store(git_dir).fsck():
                damaged.append((str(git_dir.relative_to(self.root)), oid, moved))
        return damaged

    def remove_version(self, repo_type: str, repo_id: str, version: str, *, by: str, reason: str) -> str:
        """Delete a version's tag on purpose, as an administrator, leaving a record of it.

        Versions are protected against the API; this is the one way to remove one. The record
        (`removals.jsonl` in the data dir: who, when, why, which commit) outlives the tag.
        """
        repo = self.get(repo_type, repo_id)
        sha = repo.refs.get(f"refs/tags/{version}")
        if sha is None:
            raise NoSuchRevision(f"Tag {version!r} does not exist in {repo_id}.")
        commit = repo.peel(sha)
        record = {
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "by": by,
            "repo": f"{repo_type}/{repo_id}",
            "version": version,
            "commit": commit,
            "reason": reason,
        }
        with (self.root.parent / "removals.jsonl").open("a") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        repo.delete_ref(TAG, version)
        return commit

    def sweep(self) -> None:
        """Clean what killed processes left: half-created repos and stale LFS temp files."""
        for pattern in (".creating-*", ".deleting-*"):
            for p in self.root.glob(f"*/*/{pattern}"):
                if time.time() - p.stat().st_mtime > 60:
                    shutil.rmtree(p, ignore_errors=True)
        for git_dir in self.root.glob("*/*/*.git"):
            self.lfs_store(git_dir).sweep()
            # A ref update killed between writing its temp file and renaming it; a git push
            # (receive-pack) killed while moving a ref (its lock file would refuse every later
            # push of that ref) or while receiving (its quarantine of not-yet-accepted objects).
            for tmp in [*(git_dir / "refs").rglob(".tmp-ref-*"), *(git_dir / "refs").rglob("*.lock")]:
                with contextlib.suppress(OSError):
                    if time.time() - tmp.stat().st_mtime > 60:
                        tmp.unlink()
            for incoming in (git_dir / "objects").glob("incoming-*"):
                with contextlib.suppress(OSError):
                    if time.time() - incoming.stat().st_mtime > 2 * 3600:  # longer than any push
                        shutil.rmtree(incoming)
