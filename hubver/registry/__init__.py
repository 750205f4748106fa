"""A handle on one model repository, and the verbs on it, one module each.

    with hubver.connect("me/my-adapter") as registry:
        registry.push("out/", message="r=8")
        registry.list_versions()
        registry.promote("v3", "production")

`connect()` resolves the settings once and opens the client once, on first use (for `local`,
that starts the embedded hub); every verb of the handle shares it. The module-level functions
(`hubver.push`, `hubver.list_versions`, ...) open a handle and call one verb.

The verbs live in modules named for them (`push`, `checkout`, `verify`, `load`, `aliases`,
`browse`), imported when first called: `import hubver.registry` imports no Hub client.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypedDict

from ..settings import Settings, resolve_settings

if TYPE_CHECKING:
    from ..client import HubClient
    from ..lockfile import Lock, LockedVersion
    from .aliases import Promotion
    from .browse import Listing, Selected, VersionDetail, VersionDiff, VersionInfo
    from .checkout import CheckoutResult
    from .prune import PrunePolicy, PruneResult
    from .push import PushResult
    from .request import PushRequest
    from .verify import VerifyReport


class Connection(TypedDict, total=False):
    """The keyword arguments every module-level verb (`hubver.push`, `hubver.list_versions`, ...)
    passes on to `connect`: where the repository is and who asks."""

    endpoint: str | None
    local: bool
    token: str | None
    branch: str | None
    settings: Settings | None
    client: HubClient | None
    hub: HubClient | None  # what earlier hubvers called `client`: deprecated


class Registry:
    """One repository on one Hub, with the client every verb uses.

    Use it as a context manager (`hubver.connect` returns one); `close()` stops what the
    client started (the embedded hub of `local`).
    """

    def __init__(
        self, settings: Settings, client: HubClient | None = None, *, secrets: Iterable[str | None] = ()
    ) -> None:
        if not isinstance(settings, Settings):
            raise TypeError(
                f"Registry takes resolved Settings, not {type(settings).__name__}: "
                "open one with hubver.connect(repo, endpoint=..., token=...)."
            )
        self.settings = settings
        self.repo = settings.require_repo()
        self.secrets = tuple(secrets)  # tokens passed beside `settings`: scrubbed like its own
        self._client = client
        self._stack = contextlib.ExitStack()
        self._closed = False

    @property
    def branch(self) -> str:
        return self.settings.branch

    @property
    def client(self) -> HubClient:
        """The client, opened on first use and kept until `close()`."""
        if self._closed:
            from ..errors import ConfigError

            raise ConfigError(
                f"This handle on {self.repo} is closed: its `with hubver.connect(...)` block has ended.",
                "Call its verbs inside the block, or open a new one with hubver.connect(...).",
            )
        if self._client is None:
            from ..client import open_client

            self._client = self._stack.enter_context(open_client(self.settings))
        return self._client

    def close(self) -> None:
        """Stop what the client started; the handle refuses every verb afterwards."""
        self._closed = True
        self._stack.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Registry({self.repo!r}, endpoint={self.settings.endpoint!r}, branch={self.branch!r})"

    # Publishing

    def push(self, path: str | Path, request: PushRequest | None = None, **options: Any) -> PushResult:
        """Publish `path` as a new version, as `request` says (or `options`, those of `hubver.push`;
        given both, `options` override the request's)."""
        from .push import push_to
        from .request import PushRequest

        _no_connection_options("push", options)
        if isinstance(request, dict):
            request = PushRequest.from_json(request, "push request")
        elif request is not None and not isinstance(request, PushRequest):
            raise TypeError(
                f"Registry.push takes a PushRequest (or its JSON dict), not {type(request).__name__}."
            )
        if request is None:
            request = PushRequest(**options)
        elif options:
            request = request.replace(**options)
        return push_to(self, path, request)

    # Reading

    def listing(self) -> Listing:
        """The versions, aliases and refs of the branch, as one listing (the index at its head)."""
        from .browse import read_listing

        return read_listing(self.client, self.repo, self.branch)

    def list_versions(self, *, sort: str | None = None, limit: int | None = None) -> list[VersionInfo]:
        """Every version on the branch, oldest first (or by `sort`: a metric, '-metric' for descending)."""
        from .browse import sort_versions

        return sort_versions(self.listing().versions, sort, limit)

    def resolve(self, version: str) -> str:
        """The commit sha a version id, an alias or a selector (`best:eval_loss`, ...) stands for;
        VersionNotFound when it names none."""
        from ..selectors import parse
        from .browse import resolve_ref

        refs = self.client.refs(self.repo)
        if version in refs.tags or version in refs.branches or parse(version).plain:
            return resolve_ref(refs, self.repo, version)
        return self.select(version).commit

    def select(self, selector: str) -> Selected:
        """What `selector` names (`latest`, `best:METRIC`, `ALIAS@DATE`, `SEL~N`, an id or alias):
        the version, its commit and how it was reached; SelectorError when it names none."""
        from .browse import select_version

        return select_version(self.client, self.listing(), selector)

    def lock(self, selectors: list[str] | None = None) -> Lock:
        """A lockfile pinning each selected version (default `latest`): see hubver/lockfile.py."""
        from .lock import lock_in

        return lock_in(self, selectors or ["latest"])

    def get_version(self, version: str, *, unchecked: bool = False) -> VersionDetail:
        """One version: its index entry, its hubver.json and its card's front matter (checked)."""
        from .browse import read_version

        return read_version(self, version, unchecked=unchecked)

    show = get_version

    def diff(self, a: str, b: str, *, unchecked: bool = False) -> VersionDiff:
        """What changed from version `a` to version `b`."""
        from .browse import diff_versions

        return diff_versions(self, a, b, unchecked=unchecked)

    def checkout(
        self,
        version: str,
        to: str | Path | None = None,
        *,
        force: bool = False,
        cache_dir: str | Path | None = None,
        quiet: bool = False,
        unchecked: bool = False,
        lock: str | Path | Lock | None = None,
        place: str = "auto",
    ) -> CheckoutResult:
        """Download `version` into `to` (default `./<name>-<version>`), sha256-checked; with `lock`
        (a lockfile or `Lock`), exactly the version it pins (`version` picks one of several).
        `place`: "auto", "link" or "copy" (see `hubver.registry.checkout.place_file`)."""
        from .checkout import checkout_into

        if lock is not None:
            from .lock import checkout_locked

            locked, source = _locked(lock, version)
            return checkout_locked(
                self, locked, to, force=force, cache_dir=cache_dir, quiet=quiet, source=source, place=place
            )
        return checkout_into(
            self, version, to, force=force, cache_dir=cache_dir, quiet=quiet, unchecked=unchecked, place=place
        )

    def verify(
        self, version: str | None = None, *, repair: bool = False, deep: bool = False
    ) -> list[VerifyReport]:
        """One report per version (or for `version` only), plus lost versions and aliases."""
        from .verify import verify_in

        return verify_in(self, version, repair=repair, deep=deep)

    def load(self, version: str, **options: Any) -> Any:
        """Load `version` as a model; `options` are those of `hubver.load` but where the repo is."""
        from .load import load_from

        _no_connection_options("load", options)
        return load_from(self, version, **options)

    # Retention

    def prune(self, policy: PrunePolicy, *, apply: bool = False, reclaim: bool = False) -> PruneResult:
        """Plan (or with `apply`, carry out) pruning by `policy`; `reclaim` also deletes the LFS
        files only the pruned versions referenced."""
        from .prune import prune_in

        return prune_in(self, policy, apply=apply, reclaim=reclaim)

    # Aliases

    def promote(
        self,
        version: str,
        alias: str,
        *,
        require: Iterable[str] = (),
        require_better: Iterable[str] = (),
    ) -> Promotion:
        """Point `alias` at `version`; with `require` ('eval_loss<=1.2') or `require_better`
        (metrics that must beat the alias's current version), only if every condition holds
        (GateFailed otherwise, naming the failed condition with the numbers)."""
        from .aliases import promote_in

        return promote_in(self, version, alias, require=require, require_better=require_better)

    def aliases(self) -> list[dict[str, Any]]:
        """Every alias with the version it points at and its latest promotion."""
        from .aliases import aliases_in

        return aliases_in(self)

    def alias_history(self, alias: str) -> list[dict[str, Any]]:
        """Every promotion of `alias`, oldest first."""
        from .aliases import history_in

        return history_in(self, alias)

    history = alias_history


def _locked(lock: str | Path | Lock, version: str | None) -> tuple[LockedVersion, str]:
    """The locked version `version` names in `lock` (a path or a `Lock`), and where it came from."""
    from ..lockfile import Lock, read_lock

    source = "the lock" if isinstance(lock, Lock) else f"the lockfile {lock}"
    found = lock if isinstance(lock, Lock) else read_lock(lock)
    return found.pick(version or None, source), source


_CONNECTION_OPTIONS = ("endpoint", "local", "token", "branch", "settings", "client", "hub")


def _no_connection_options(verb: str, options: dict[str, Any]) -> None:
    """A handle is bound to one repo, hub and branch: those options belong to `connect`."""
    given = [name for name in _CONNECTION_OPTIONS if name in options]
    if given:
        raise TypeError(
            f"Registry.{verb}() does not take {', '.join(given)}: a handle is bound to its repository, "
            f"hub and branch. Pass {'it' if len(given) == 1 else 'them'} to hubver.connect(...) instead."
        )


def connect(
    repo: str | None = None,
    *,
    endpoint: str | None = None,
    local: bool = False,
    token: str | None = None,
    branch: str | None = None,
    settings: Settings | None = None,
    client: HubClient | None = None,
    hub: HubClient | None = None,
) -> Registry:
    """A `Registry` for `repo` (settings from the arguments, then HUBVER_* and the config file).

    Use it in a `with` block: the client it opens is closed at its end. Raises ConfigError when
    no repository is given anywhere. `settings` (already resolved) takes the place of the
    other arguments; `client` reuses a client the caller owns (it is not closed).

    >>> with hubver.connect("me/my-adapter") as registry:  # doctest: +SKIP
    ...     registry.list_versions()
    """
    if hub is not None:  # earlier hubvers called the client `hub=`
        import warnings

        warnings.warn("hub= is now client=", DeprecationWarning, stacklevel=3)
        client = client or hub
    settings = settings or resolve_settings(
        repo=repo, endpoint=endpoint, local=local, token=token, branch=branch
    )
    return Registry(settings, client, secrets=[token])


__all__ = ["Connection", "Registry", "connect"]
