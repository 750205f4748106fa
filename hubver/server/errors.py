"""Errors the embedded hub answers with, shaped the way huggingface_hub reads them.

Handlers raise these; storage raises `storage_errors`, turned into these by `STORAGE_ERRORS`.
"""

from __future__ import annotations

import errno

from .storage_errors import (
    BadUpload,
    InvalidName,
    InvalidOperation,
    NoSuchEntry,
    NoSuchRepo,
    NoSuchRevision,
    ProtectedRef,
    RefExists,
    RepoExists,
    StaleParent,
    StorageError,
    StoreFull,
    StoreUnavailable,
    TooLarge,
    UnprocessablePath,
)


class HubHTTPError(Exception):
    """An HTTP error response: status, the `X-Error-Code` the client maps, and a message."""

    status = 400
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code


class HTTPBadRequest(HubHTTPError):
    status = 400
    code = "BadRequest"


class HTTPUnauthorized(HubHTTPError):
    status = 401
    code = "Unauthorized"


class HTTPForbidden(HubHTTPError):
    status = 403
    code = "Forbidden"


class HTTPRepoNotFound(HubHTTPError):
    status = 404
    code = "RepoNotFound"


class HTTPRevisionNotFound(HubHTTPError):
    status = 404
    code = "RevisionNotFound"


class HTTPEntryNotFound(HubHTTPError):
    status = 404
    code = "EntryNotFound"


class HTTPNotFound(HubHTTPError):
    status = 404
    code = "NotFound"


class HTTPConflict(HubHTTPError):
    status = 409
    code = "Conflict"


class HTTPPreconditionFailed(HubHTTPError):
    status = 412
    code = "PreconditionFailed"


class HTTPPayloadTooLarge(HubHTTPError):
    status = 413
    code = "PayloadTooLarge"


class HTTPUnprocessable(HubHTTPError):
    status = 422
    code = "UnprocessableEntity"


class HTTPInsufficientStorage(HubHTTPError):
    """The hub's disk (or quota) is full: nothing of the request was stored."""

    status = 507
    code = "InsufficientStorage"


class HTTPServiceUnavailable(HubHTTPError):
    """A service the hub relies on (its object store) did not answer: retry later."""

    status = 503
    code = "StoreUnavailable"


DISK_FULL_MESSAGE = (
    "The hub's disk is full: the data of {what} was not stored (nothing of it was kept). "
    "Free space in the hub's data directory, then retry."
)


def is_disk_full(e: BaseException | None) -> bool:
    """True if `e`, or an error it was raised from or during, is ENOSPC or EDQUOT."""
    seen = 0
    while e is not None and seen < 20:
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        e = e.__cause__ or e.__context__
        seen += 1
    return False


# The one table from a storage refusal to its answer: status and `X-Error-Code` come from the
# HTTP class, the message from the storage error. Looked up along the class's MRO.
STORAGE_ERRORS: dict[type[StorageError], type[HubHTTPError]] = {
    InvalidName: HTTPBadRequest,
    UnprocessablePath: HTTPUnprocessable,
    InvalidOperation: HTTPBadRequest,
    BadUpload: HTTPBadRequest,
    TooLarge: HTTPPayloadTooLarge,
    NoSuchRepo: HTTPRepoNotFound,
    NoSuchRevision: HTTPRevisionNotFound,
    NoSuchEntry: HTTPEntryNotFound,
    RepoExists: HTTPConflict,
    RefExists: HTTPConflict,
    StaleParent: HTTPPreconditionFailed,
    ProtectedRef: HTTPForbidden,
    StoreUnavailable: HTTPServiceUnavailable,
    StoreFull: HTTPInsufficientStorage,
}


def http_error(e: StorageError) -> HubHTTPError:
    """The HTTP answer to a storage refusal (400 for a class the table does not list)."""
    for cls in type(e).__mro__:
        answer = STORAGE_ERRORS.get(cls)
        if answer is not None:
            return answer(e.message)
    return HTTPBadRequest(e.message)
