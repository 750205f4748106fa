"""A bare git repository read and written in-process: objects, trees, commits, refs.

The embedded hub keeps every repo as a real bare repository so that `git clone` of its
directory shows the same history, and commit ids are real git SHA-1s. Objects are written
loose (tmp file, then rename), so a killed process never leaves a half-written object;
packs written by a manual `git gc` are still read (through gitdb). Ref updates are
compare-and-swap under a per-repo lock that is a kernel `flock`, so it is released even
when the process holding it is killed, and it also serialises several hub processes
sharing one data dir.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .locks import dir_lock

MODE_FILE = "100644"
MODE_EXEC = "100755"
MODE_LINK = "120000"
MODE_TREE = "40000"
MODE_COMMIT = "160000"


class ObjectMissing(Exception):
    """A named object is not in the repository."""


class RefConflict(Exception):
    """A compare-and-swap ref update found another value than expected."""

    def __init__(self, name: str, current: str | None) -> None:
        super().__init__(f"{name} is at {current}")
        self.name = name
        self.current = current


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    name: str
    sha: str

    @property
    def is_tree(self) -> bool:
        return self.mode == MODE_TREE


@dataclass(frozen=True)
class Commit:
    sha: str
    tree: str
    parents: tuple[str, ...]
    author: str
    author_time: int
    committer: str
    commit_time: int
    message: str

    @property
    def title(self) -> str:
        return self.message.split("\n", 1)[0]

    @property
    def author_name(self) -> str:
        return self.author.split(" <", 1)[0]


@dataclass(frozen=True)
class Tag:
    sha: str
    object: str
    type: str
    name: str
    message: str


class ObjectStore:
    """Loose-object reads and writes, with a read-only fallback to packs."""

    def __init__(self, objects_dir: Path) -> None:
        self.dir = objects_dir
        self._packed: Any = None  # gitdb.db.PackedDB, imported only when packs exist

    def _loose_path(self, sha: str) -> Path:
        return self.dir / sha[:2] / sha[2:]

    def exists(self, sha: str) -> bool:
        if self._loose_path(sha).exists():
            return True
        return self._pack_info(sha) is not None

    def with_prefix(self, prefix: str, limit: int = 2) -> list[str]:
        """Ids of objects starting with the lowercase hex `prefix` (at least 2 characters), at
        most `limit` of them: enough to tell a unique abbreviation from an ambiguous one."""
        found: set[str] = set()
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for entry in sorted(os.listdir(self.dir / prefix[:2])):
                sha = prefix[:2] + entry
                if len(sha) == 40 and sha.startswith(prefix):
                    found.add(sha)
                    if len(found) >= limit:
                        break
        packs = self._packs()
        if packs is not None and len(found) < limit:
            for binsha in packs.sha_iter():
                sha = binsha.hex()
                if sha.startswith(prefix):
                    found.add(sha)
                    if len(found) >= limit:
                        break
        return sorted(found)

    def write(self, kind: str, data: bytes) -> str:
        raw = f"{kind} {len(data)}".encode() + b"\0" + data
        sha = hashlib.sha1(raw).hexdigest()
        path = self._loose_path(sha)
        if path.exists():
            return sha
        path.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="tmp_obj_")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(zlib.compress(raw, 1))
            os.chmod(tmp, 0o444)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return sha

    def read(self, sha: str) -> tuple[str, bytes]:
        try:
            raw = zlib.decompress(self._loose_path(sha).read_bytes())
        except FileNotFoundError:
            return self._pack_read(sha)
        header, _, data = raw.partition(b"\0")
        kind, _, _size = header.decode().partition(" ")
        return kind, data

    def header(self, sha: str) -> tuple[str, int]:
        """Type and size without inflating the whole object."""
        try:
            compressed = self._loose_path(sha).read_bytes()
        except FileNotFoundError:
            info = self._pack_info(sha)
            if info is None:
                raise ObjectMissing(sha) from None
            return info
        head = zlib.decompressobj().decompress(compressed, 64)
        header = head.partition(b"\0")[0].decode()
        kind, _, size = header.partition(" ")
        return kind, int(size)

    # -- packs (only present if someone ran git gc on the data dir) --------------------------

    def _packs(self) -> Any:
        pack_dir = self.dir / "pack"
        if not pack_dir.is_dir() or not any(pack_dir.glob("*.pack")):
            return None
        if self._packed is None:
            from gitdb.db import PackedDB

            self._packed = PackedDB(str(pack_dir))
        self._packed.update_cache(force=True)
        return self._packed

    def _pack_info(self, sha: str) -> tuple[str, int] | None:
        packs = self._packs()
        if packs is None:
            return None
        try:
            info = packs.info(bytes.fromhex(sha))
        except Exception:
            return None
        return info.type.decode(), info.size

    def _pack_read(self, sha: str) -> tuple[str, bytes]:
        packs = self._packs()
        if packs is None:
            raise ObjectMissing(sha)
        try:
            stream = packs.stream(bytes.fromhex(sha))
        except Exception:
            raise ObjectMissing(sha) from None
        return stream.type.decode(), stream.read()


# -- object encodings ----------------------------------------------------------------------


def _tree_sort_key(entry: TreeEntry) -> bytes:
    name = entry.name.encode()
    return name + b"/" if entry.is_tree else name


def encode_tree(entries: list[TreeEntry]) -> bytes:
    out = bytearray()
    for e in sorted(entries, key=_tree_sort_key):
        out += f"{e.mode} ".encode() + e.name.encode() + b"\0" + bytes.fromhex(e.sha)
    return bytes(out)


def decode_tree(data: bytes) -> list[TreeEntry]:
    entries = []
    i = 0
    while i < len(data):
        space = data.index(b" ", i)
        nul = data.index(b"\0", space)
        mode = data[i:space].decode()
        name = data[space + 1 : nul].decode("utf-8", "surrogateescape")
        sha = data[nul + 1 : nul + 21].hex()
        entries.append(TreeEntry(mode, name, sha))
        i = nul + 21
    return entries


def signature(name: str, email: str, when: int | None = None) -> str:
    when = int(time.time()) if when is None else when
    return f"{name} <{email}> {when} +0000"


def encode_commit(tree: str, parents: list[str], author: str, committer: str, message: str) -> bytes:
    lines = [f"tree {tree}"]
    lines += [f"parent {p}" for p in parents]
    lines += [f"author {author}", f"committer {committer}"]
    if not message.endswith("\n"):
        message += "\n"
    return ("\n".join(lines) + "\n\n" + message).encode()


def decode_commit(sha: str, data: bytes) -> Commit:
    head, _, message = data.decode("utf-8", "replace").partition("\n\n")
    tree = ""
    parents: list[str] = []
    author = committer = ""
    for line in head.split("\n"):
        key, _, value = line.partition(" ")
        if key == "tree":
            tree = value
        elif key == "parent":
            parents.append(value)
        elif key == "author":
            author = value
        elif key == "committer":
            committer = value

    def split(sig: str) -> tuple[str, int]:
        who, _, rest = sig.rpartition("> ")
        try:
            return who + ">", int(rest.split(" ")[0])
        except ValueError:
            return sig, 0

    author, author_time = split(author)
    committer, commit_time = split(committer)
    return Commit(
        sha, tree, tuple(parents), author, author_time, committer, commit_time, message.rstrip("\n")
    )


def encode_tag(target: str, kind: str, name: str, tagger: str, message: str) -> bytes:
    if not message.endswith("\n"):
        message += "\n"
    return f"object {target}\ntype {kind}\ntag {name}\ntagger {tagger}\n\n{message}".encode()


def decode_tag(sha: str, data: bytes) -> Tag:
    head, _, message = data.decode("utf-8", "replace").partition("\n\n")
    fields = dict(line.split(" ", 1) for line in head.split("\n") if " " in line)
    return Tag(
        sha, fields.get("object", ""), fields.get("type", ""), fields.get("tag", ""), message.rstrip("\n")
    )


# -- refs ------------------------------------------------------------------------------------


class Refs:
    """Loose refs plus `packed-refs`, updated compare-and-swap under the repo lock."""

    def __init__(self, git_dir: Path) -> None:
        self.git_dir = git_dir

    def lock(self) -> contextlib.AbstractContextManager[None]:
        return dir_lock(self.git_dir)

    def _packed(self) -> dict[str, str]:
        try:
            text = (self.git_dir / "packed-refs").read_text()
        except FileNotFoundError:
            return {}
        refs: dict[str, str] = {}
        for line in text.splitlines():
            if not line or line.startswith(("#", "^")):
                continue
            sha, _, name = line.partition(" ")
            refs[name] = sha
        return refs

    def get(self, name: str) -> str | None:
        try:
            value = (self.git_dir / name).read_text().strip()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return self._packed().get(name)
        if value.startswith("ref: "):
            return self.get(value[5:])
        return value or None

    def list(self, prefix: str) -> dict[str, str]:
        """All refs under `prefix` (e.g. 'refs/tags/'), name -> sha."""
        refs = {k: v for k, v in self._packed().items() if k.startswith(prefix)}
        root = self.git_dir / prefix
        if root.is_dir():
            for dirpath, _dirs, files in os.walk(root):
                for fname in files:
                    # No ref name component starts with '.': those are update() temp files, caught
                    # between write and rename (or left by a killed writer), not branches or tags.
                    if fname.endswith(".lock") or fname.startswith("."):
                        continue
                    full = Path(dirpath) / fname
                    name = full.relative_to(self.git_dir).as_posix()
                    with contextlib.suppress(OSError):
                        value = full.read_text().strip()
                        if value and not value.startswith("ref: "):
                            refs[name] = value
        return refs

    def _conflicting(self, name: str) -> str | None:
        """A ref that would make `name` impossible as a file (D/F conflict), if any."""
        existing = set(self._packed())
        parts = name.split("/")
        for i in range(2, len(parts)):
            parent = "/".join(parts[:i])
            if parent in existing or (self.git_dir / parent).is_file():
                return parent
        if (self.git_dir / name).is_dir() and any(p.is_file() for p in (self.git_dir / name).rglob("*")):
            return name + "/..."
        prefix = name + "/"
        for other in existing:
            if other.startswith(prefix):
                return other
        return None

    def update(self, name: str, new: str, expected: str | None, *, create_only: bool = False) -> None:
        """Point `name` at `new` if it currently is `expected` (None: must not exist). Hold `lock()`."""
        current = self.get(name)
        if create_only and current is not None:
            raise RefConflict(name, current)
        if not create_only and current != expected:
            raise RefConflict(name, current)
        if current is None:
            clash = self._conflicting(name)
            if clash is not None:
                raise RefConflict(name, clash)
        path = self.git_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-ref-")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(new + "\n")
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def delete(self, name: str) -> None:
        """Remove a ref (loose and packed). Hold `lock()`."""
        path = self.git_dir / name
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        packed = self._packed()
        if name in packed:
            lines = []
            text = (self.git_dir / "packed-refs").read_text().splitlines()
            skip_peel = False
            for line in text:
                if skip_peel and line.startswith("^"):
                    skip_peel = False
                    continue
                skip_peel = False
                if line.endswith(" " + name):
                    skip_peel = True
                    continue
                lines.append(line)
            fd, tmp = tempfile.mkstemp(dir=self.git_dir, prefix=".tmp-packed-")
            with os.fdopen(fd, "w") as f:
                f.write("\n".join(lines) + "\n")
            os.replace(tmp, self.git_dir / "packed-refs")
        # Drop now-empty parent directories so a later ref may use the name as a file.
        parent = path.parent
        stop = self.git_dir / "refs"
        while parent != stop and parent.is_dir() and stop in parent.parents:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent


def init_bare(git_dir: Path, default_branch: str = "main") -> None:
    """Lay out an empty bare repository, as `git init --bare` would."""
    for sub in ("objects/info", "objects/pack", "refs/heads", "refs/tags", "info", "hooks"):
        (git_dir / sub).mkdir(parents=True, exist_ok=True)
    (git_dir / "HEAD").write_text(f"ref: refs/heads/{default_branch}\n")
    (git_dir / "config").write_text(
        "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n"
    )
    (git_dir / "description").write_text("A repository of the hubver embedded hub.\n")
