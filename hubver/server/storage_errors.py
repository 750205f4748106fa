"""What the hub's storage (repos.py, lfs.py, names.py) refuses with: domain errors, no HTTP.

The app maps each class to a status and `X-Error-Code` in one table, `errors.STORAGE_ERRORS`.
Names differ from the client's errors (hubver/errors.py) on purpose: the two sides never share one.
"""

from __future__ import annotations


class StorageError(Exception):
    """A storage operation refused; `message` says why, for the person who asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidName(StorageError):
    """A repo id, revision, ref name, file path or LFS oid that the hub never stores."""


class UnprocessablePath(InvalidName):
    """A file path the Hub answers 422 for rather than 400: one with a backslash (`..\\ddd`)."""


class InvalidOperation(StorageError):
    """A commit operation that cannot apply to the tree (a file where a folder is, ...)."""


class BadUpload(StorageError):
    """LFS bytes or parts that do not add up to the object announced."""


class TooLarge(StorageError):
    """More bytes than the object (or part) announced."""


class NoSuchRepo(StorageError):
    pass


class RepoMoved(NoSuchRepo):
    """A repository renamed or transferred away from the id asked for: `new_id` is where it is.
    A missing repo wherever no redirect can be given (the id is not in the request's path)."""

    def __init__(self, message: str, new_id: str) -> None:
        super().__init__(message)
        self.new_id = new_id


class NoSuchRevision(StorageError):
    """A revision, tag or branch that does not exist (or is not a commit)."""


class NoSuchEntry(StorageError):
    """A file or folder a commit deletes that is not in the tree."""


class RepoExists(StorageError):
    pass


class RefExists(StorageError):
    """A tag or branch that exists, or would shadow one of the other kind."""


class StaleParent(StorageError):
    """A commit whose expected parent is no longer the branch head."""


class ProtectedRef(StorageError):
    """A ref the hub never removes (the default branch)."""


class StoreUnavailable(StorageError):
    """The object store (S3) did not answer, or refused the hub's own request (credentials, bucket)."""


class StoreFull(StorageError):
    """The object store refused to keep more bytes (quota, storage full)."""
