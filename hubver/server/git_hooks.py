"""The pre-receive hook of pushes over git HTTP: the hub's rules for API commits, applied to refs.

`git receive-pack` (run by api_git.py, under the repository's lock) calls
`python -m hubver.server.git_hooks pre-receive` with the pushed ref updates on stdin, before it
moves any ref; the pushed objects are visible to `git` (quarantine environment) but not yet in
the repository. A non-zero exit refuses the whole push; each stderr line reaches the user as
`remote: ...`. The rules: only branches, tags and existing pull-request refs; names git and the hub accept; a tag and a branch
never share a name; the default branch is never deleted; with version protection, a hubver
version's tag is never moved, nor deleted unless its branch's index records its pruning, and a branch holding versions is never deleted or
rewound; LFS pointers name objects the hub stores; other files stay under the regular-file limit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from . import storage_config
from .lfs import MAX_POINTER_SIZE, parse_pointer
from .names import check_ref_name
from .repos import BRANCH, DEFAULT_BRANCH, TAG, Repo, RepoMeta, RepoStore
from .storage_errors import InvalidName, InvalidOperation, ProtectedRef, RefExists, StorageError

ZERO = "0" * 40


@dataclass(frozen=True)
class RefUpdate:
    old: str
    new: str
    ref: str


def _git(*args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(["git", *args], input=data, capture_output=True, check=True).stdout


def check_ref(repo: Repo, u: RefUpdate, *, protect: bool) -> None:
    """Refuse (with a StorageError) one ref update the hub's API would refuse."""
    if u.ref.startswith("refs/pr/"):
        # As on the Hub: the git way to add commits to an open pull request is a push to its
        # ref; pull requests are opened (and their refs created) through the API only.
        if u.old == ZERO or u.new == ZERO:
            raise InvalidName(f"{u.ref}: pull-request refs are updated by a push, never created or deleted.")
        return
    if u.ref.startswith(TAG.prefix):
        kind = TAG
    elif u.ref.startswith(BRANCH.prefix):
        kind = BRANCH
    else:
        raise InvalidName(
            f"{u.ref}: only branches (refs/heads/), tags (refs/tags/) and open pull requests (refs/pr/N) can be pushed."
        )
    name = u.ref[len(kind.prefix) :]
    check_ref_name(name, f"{kind.word} name")
    if u.old == ZERO and repo.refs.get(kind.other.prefix + name) is not None:
        raise RefExists(f"{u.ref}: {kind.word} {name!r} would shadow the {kind.other.word} of the same name.")
    if kind is TAG:
        if u.old != ZERO and protect and repo.is_version_tag(name):
            if u.new == ZERO and repo.is_pruned(name):
                in_use = repo.version_in_use(name)
                if in_use:
                    raise ProtectedRef(
                        f"{u.ref}: tag {name!r} marks a pruned hubver version that is still in use: "
                        f"{in_use}. Move the alias (or publish a newer version) first."
                    )
                return  # pruned: the branch's index records who, when and why
            what = "deleted" if u.new == ZERO else "moved"
            raise ProtectedRef(
                f"{u.ref}: tag {name!r} marks a hubver version and cannot be {what}: versions are "
                "never deleted or moved on this hub."
            )
        return
    if u.new == ZERO:
        if name == DEFAULT_BRANCH:
            raise ProtectedRef(f"{u.ref}: the default branch {DEFAULT_BRANCH!r} cannot be deleted.")
        if protect and repo.holds_versions(name):
            raise ProtectedRef(f"{u.ref}: branch {name!r} holds hubver versions and cannot be deleted.")
        return
    if u.old != ZERO and protect and repo.holds_versions(name):
        ff = subprocess.run(["git", "merge-base", "--is-ancestor", u.old, u.new], capture_output=True)
        if ff.returncode != 0:
            raise ProtectedRef(
                f"{u.ref}: branch {name!r} holds hubver versions and cannot be rewound "
                "(non-fast-forward push refused); pull, and push on top of it."
            )


def check_new_files(repo: Repo, updates: list[RefUpdate], *, regular_limit: int) -> list[str]:
    """Problems with the files of the pushed commits: LFS pointers to objects the hub lacks, and
    regular files above the limit. Only objects new to the repository are looked at."""
    tips = [u.new for u in updates if u.new != ZERO]
    if not tips:
        return []
    listed = _git("rev-list", "--objects", *tips, "--not", "--all").decode("utf-8", "replace")
    paths: dict[str, str] = {}
    for line in listed.splitlines():
        sha, _, path = line.partition(" ")
        if path:
            paths.setdefault(sha, path)
    if not paths:
        return []
    checked = _git(
        "cat-file",
        "--batch-check=%(objectname) %(objecttype) %(objectsize)",
        data="\n".join(paths).encode() + b"\n",
    )
    small, problems = [], []
    for line in checked.decode().splitlines():
        sha, kind, size = line.split()
        if kind != "blob":
            continue
        if int(size) <= MAX_POINTER_SIZE:
            small.append(sha)
        elif int(size) > regular_limit:
            problems.append(
                f"{paths[sha]}: {size} bytes; files above {regular_limit} bytes must be stored with git-lfs "
                "(git lfs track, then commit again)."
            )
    for sha in small:
        parsed = parse_pointer(_git("cat-file", "blob", sha))
        if parsed and not repo.lfs.has(parsed[0], parsed[1]):
            problems.append(
                f"{paths[sha]}: its LFS object {parsed[0]} ({parsed[1]} bytes) is not on the hub; "
                "push it with git-lfs (git lfs push --all origin) first."
            )
    return problems


def pre_receive(git_dir: Path, lines: list[str], env: dict[str, str]) -> list[str]:
    """The reasons to refuse a push (none: accept it)."""
    raw = json.loads((git_dir / RepoStore.META_FILE).read_text())
    meta = RepoMeta(raw.get("type", "model"), "", bool(raw.get("private")), raw.get("owner", ""), 0)
    data_dir = env.get("HUBVER_HUB_DATA_DIR")
    try:  # pointers are checked against the data dir's own store (the bucket, if it has one)
        lfs = storage_config.load(Path(data_dir))(git_dir) if data_dir else None
    except StorageError as e:
        return [f"the hub cannot reach its LFS store: {e.message}"]
    repo = Repo(git_dir, meta, lfs)
    protect = env.get("HUBVER_PROTECT_VERSIONS", "1") != "0"
    regular_limit = int(env.get("HUBVER_REGULAR_FILE_LIMIT", str(5 << 20)))
    updates = []
    problems = []
    for line in lines:
        parts = line.split()
        if len(parts) != 3:
            continue
        u = RefUpdate(*parts)
        updates.append(u)
        try:
            check_ref(repo, u, protect=protect)
        except StorageError as e:
            problems.append(e.message)
    try:
        problems += check_new_files(repo, updates, regular_limit=regular_limit)
    except (subprocess.CalledProcessError, InvalidOperation) as e:
        problems.append(f"the pushed objects could not be read: {e}")
    except StorageError as e:  # the object store did not answer
        problems.append(f"the pushed LFS objects could not be checked: {e.message}")
    return problems


def main(argv: list[str]) -> int:
    if argv[1:] != ["pre-receive"]:
        print("usage: python -m hubver.server.git_hooks pre-receive", file=sys.stderr)
        return 2
    git_dir = Path(os.environ.get("GIT_DIR", ".")).resolve()
    problems = pre_receive(git_dir, sys.stdin.read().splitlines(), dict(os.environ))
    if problems:
        print("The hub refused this push:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
