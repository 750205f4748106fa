"""What the pages read, whoever serves them: the `Source` protocol and the records it returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class NotFound(Exception):
    """A repository, revision or file the reader cannot see (missing or private alike: a 404)."""


class Unavailable(Exception):
    """The source cannot be read at all (`hubver ui`: its hub is down or unreachable): a 503."""


@dataclass(frozen=True)
class RepoSummary:
    repo_type: str  # "model", "dataset"
    repo_id: str
    private: bool
    updated: float | None  # unix time of the default branch's head commit
    versions: int | None  # lines of the version index at the head (None: unknown)


@dataclass(frozen=True)
class RefSet:
    branches: dict[str, str]  # name -> commit
    tags: dict[str, str]  # name -> commit (peeled)


@dataclass(frozen=True)
class TreeItem:
    path: str
    is_dir: bool
    size: int
    lfs: bool


@dataclass(frozen=True)
class CommitItem:
    sha: str
    title: str
    author: str
    time: float


class Source(Protocol):
    """Read access to repositories, as one reader (signed in or not) may see them."""

    def list_repos(self, repo_type: str) -> list[RepoSummary]: ...

    def repo(self, repo_type: str, repo_id: str) -> RepoSummary:
        """The repository, NotFound if missing or not visible; its id as created."""
        ...

    def refs(self, repo_type: str, repo_id: str) -> RefSet: ...

    def resolve(self, repo_type: str, repo_id: str, rev: str) -> str:
        """The commit `rev` (branch, tag, commit id) names; NotFound otherwise."""
        ...

    def read_file(self, repo_type: str, repo_id: str, commit: str, path: str) -> bytes | None:
        """A small file's bytes at a commit; None if absent (or too large to be metadata)."""
        ...

    def tree(self, repo_type: str, repo_id: str, commit: str, path: str) -> list[TreeItem]:
        """The entries directly in the directory `path` ("" = root); NotFound if no such directory."""
        ...

    def commits(self, repo_type: str, repo_id: str, commit: str, limit: int) -> list[CommitItem]: ...
