"""hubver's errors: one hierarchy, each with a message and a hint that says how to fix it.

The CLI turns any `HubverError` into `Error: <message>` plus the hint on stderr and exit 1
(`hubver/cli/__init__.py`); library users catch them like any exception.
"""

from __future__ import annotations


class HubverError(Exception):
    """Base of every error hubver raises on purpose."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class ConfigError(HubverError):
    """A setting is missing or invalid (repo, endpoint, token, config file)."""


class ArtifactError(HubverError):
    """The directory to push is missing, empty, unreadable or holds no model."""


class MetadataError(HubverError):
    """A JSON file (local or on the Hub) cannot be read: names the file and the line."""


class VersionIdError(HubverError):
    """A version id is invalid, or already taken."""


class VersionNotFound(HubverError):
    """The version is not in the repository."""


class SelectorError(VersionNotFound):
    """A version selector (`best:eval_loss`, `production@2026-01-31`, `v5~2`) that cannot be read,
    or that names no live version."""


class LockError(HubverError):
    """A lockfile that cannot be read or written, or that does not say which version to use."""


class VersionPruned(VersionNotFound):
    """The version was pruned on purpose (`hubver prune`): its index keeps who, when and why."""


class RepoNotFound(HubverError):
    """The repository does not exist, or the token cannot see it."""


class AuthError(HubverError):
    """No token, an invalid token, or a token without write access."""


class HubUnreachable(HubverError):
    """The endpoint cannot be reached."""


class HubError(HubverError):
    """The Hub refused or failed a request in a way not covered above."""


class RevisionMissing(HubError):
    """A branch, tag or commit does not exist (callers say which version it was)."""


class TransientError(HubError):
    """A 429/5xx or dropped connection on a request that was not retried (it may have landed)."""


class HubStorageFull(HubError):
    """The Hub answered 507: its disk is full. Not retried: only freeing space helps."""


class ConflictError(HubverError):
    """Someone else changed the repository at the same time and retries ran out."""


class RefConflict(ConflictError):
    """412/409 on one request: the branch moved under us, or a ref exists already.

    The callers retry on it; `ConflictError` itself is what they raise once retries ran out.
    """


class IntegrityError(HubverError):
    """A version's tag moved, or a file no longer matches its manifest."""


class CheckoutError(HubverError):
    """The checkout target cannot be used."""


class LoadError(HubverError):
    """A version cannot be loaded safely (e.g. pickle weights without allow_pickle)."""


class HistoriesDiffer(HubverError):
    """`hubver sync`: the two hubs disagree about a repository's versions (or an alias's history)."""


class GateFailed(HubverError):
    """A gated promotion refused: a `--require` / `--require-better` condition does not hold.

    `verdict` is the gate's verdict (`gate.Verdict.to_dict`): every condition and its numbers."""

    def __init__(self, message: str, hint: str | None = None, verdict: dict | None = None) -> None:
        super().__init__(message, hint)
        self.verdict = verdict or {}
