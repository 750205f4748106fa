"""Errors the embedded hub answers with, shaped the way huggingface_hub reads them."""

from __future__ import annotations

import errno


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


class BadRequest(HubHTTPError):
    status = 400
    code = "BadRequest"


class Unauthorized(HubHTTPError):
    status = 401
    code = "Unauthorized"


class Forbidden(HubHTTPError):
    status = 403
    code = "Forbidden"


class RepoNotFound(HubHTTPError):
    status = 404
    code = "RepoNotFound"


class RevisionNotFound(HubHTTPError):
    status = 404
    code = "RevisionNotFound"


class EntryNotFound(HubHTTPError):
    status = 404
    code = "EntryNotFound"


class NotFound(HubHTTPError):
    status = 404
    code = "NotFound"


class Conflict(HubHTTPError):
    status = 409
    code = "Conflict"


class PreconditionFailed(HubHTTPError):
    status = 412
    code = "PreconditionFailed"


class PayloadTooLarge(HubHTTPError):
    status = 413
    code = "PayloadTooLarge"


class InsufficientStorage(HubHTTPError):
    """The hub's disk (or quota) is full: nothing of the request was stored."""

    status = 507
    code = "InsufficientStorage"


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
