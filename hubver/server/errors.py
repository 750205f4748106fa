"""Errors the embedded hub answers with, shaped the way huggingface_hub reads them."""

from __future__ import annotations


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
