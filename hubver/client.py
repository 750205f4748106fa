"""The one place that talks to the Hub through huggingface_hub.

`HubClient` wraps `HfApi` for one endpoint and token, retries what is safe to retry within a
bounded time, and turns the client's HTTP and network errors into hubver's own errors.
`open_client(settings)` also starts the embedded hub in-process for `--local`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from . import __version__
from .errors import (
    AuthError,
    HubError,
    HubStorageFull,
    HubUnreachable,
    HubverError,
    MetadataError,
    RefConflict,
    RepoNotFound,
    RevisionMissing,
    TransientError,
)
from .settings import HF_ENDPOINT_DEFAULT, Settings

T = TypeVar("T")
MAX_SMALL_FILE = 32 << 20  # hubver.json, the index, alias records: refuse anything larger
TRANSIENT = (429, 500, 502, 503, 504)
DOWNLOAD_BLOCK = 1 << 20


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int
    blob_id: str
    sha256: str | None  # LFS files only


@dataclass(frozen=True)
class Refs:
    branches: dict[str, str]
    tags: dict[str, str]


def http_timeout() -> float:
    """Seconds a request may wait to connect, or between bytes of its answer ($HUBVER_HTTP_TIMEOUT).

    huggingface_hub's own client waits forever: a hub that accepts a connection and then
    stops answering would hang a push (and a training run's end) for good.
    """
    try:
        value = float(os.environ.get("HUBVER_HTTP_TIMEOUT", "120"))
    except ValueError:
        return 120.0
    return value if value > 0 else 120.0


_TIMEOUTS_SET = False


def _use_timeouts() -> None:
    """Give huggingface_hub's HTTP client connect, read and write timeouts (once per process)."""
    global _TIMEOUTS_SET
    if _TIMEOUTS_SET:
        return
    import httpx2
    from huggingface_hub import set_client_factory
    from huggingface_hub.utils._http import hf_request_event_hook

    limit = http_timeout()

    def factory() -> httpx2.Client:
        return httpx2.Client(
            event_hooks={"request": [hf_request_event_hook]},
            follow_redirects=True,
            timeout=httpx2.Timeout(limit, connect=min(limit, 15.0)),
        )

    set_client_factory(factory)
    logging.getLogger("huggingface_hub.utils._http").addFilter(_scrub_log_record)
    _TIMEOUTS_SET = True


def _scrub_log_record(record: logging.LogRecord) -> bool:
    """huggingface_hub's retry warnings name the URL requested, for an LFS upload a presigned
    one (X-Amz-Signature, X-Amz-Credential): strip its credentials before anything prints it."""
    from .redact import known_secrets, scrub

    with contextlib.suppress(Exception):
        record.msg = scrub(record.getMessage(), known_secrets())
        record.args = None
    return True


def retry_budget() -> float:
    """Seconds hubver keeps retrying a transient failure ($HUBVER_RETRY_SECONDS, default 30)."""

    try:
        return float(os.environ.get("HUBVER_RETRY_SECONDS", "30"))
    except ValueError:
        return 30.0


class HubClient:
    """huggingface_hub's `HfApi`, for one endpoint, with hubver's errors and retries."""

    def __init__(self, endpoint: str, token: str | None = None) -> None:
        from huggingface_hub import constants

        self.endpoint = endpoint.rstrip("/")
        self.token = token
        self.local_dir: Path | None = None  # set for the in-process embedded hub
        # How the user names this client's token and address in hints: push's options by
        # default; `hubver sync` names its SRC/DST ones.
        self.token_option = "--token or HF_TOKEN"
        self.endpoint_option = "--endpoint, HUBVER_ENDPOINT or HF_ENDPOINT"
        self._whoami: tuple[str | None] | None = None  # the account the token names, once asked
        if not _is_huggingface_co(self.endpoint):
            # Other hubs (the embedded one included) serve plain LFS; Xet uploads would fail.
            constants.HF_HUB_DISABLE_XET = True
            # With telemetry on, huggingface_hub's first request headers fetch an "agent
            # harnesses" list from the global endpoint (huggingface.co): a private or offline
            # hub's user must not contact a third host, nor wait for it.
            constants.HF_HUB_DISABLE_TELEMETRY = True

    @functools.cached_property
    def api(self) -> Any:
        """The `HfApi` client, imported on first use: listing versions does not need it."""
        from huggingface_hub import HfApi

        _use_timeouts()
        return HfApi(
            endpoint=self.endpoint, token=self.token, library_name="hubver", library_version=__version__
        )

    def _get(self, url: str, extra_headers: dict[str, str] | None = None) -> Any:
        """A streamed GET with the client's session, headers and error mapping (the caller reads it)."""
        from huggingface_hub.utils import build_hf_headers, get_session

        _use_timeouts()
        headers = build_hf_headers(token=self.token, library_name="hubver", library_version=__version__)
        headers.update(extra_headers or {})
        # huggingface.co may redirect a large file to its CDN; httpx drops the token cross-origin.
        return get_session().stream(
            "GET", url, headers=headers, timeout=http_timeout(), follow_redirects=True
        )

    # -- error translation and retries --------------------------------------------------------

    def call(self, what: str, fn: Callable[[], T], *, repo: str | None = None, retry: bool = True) -> T:
        """Run `fn`, retrying 429/5xx and dropped connections while the budget lasts."""
        import httpx2
        from huggingface_hub.errors import HfHubHTTPError

        deadline = time.monotonic() + retry_budget()
        connect_failures = 0
        delay = 0.5
        while True:
            try:
                with self.translate(what, repo):
                    return fn()
            except _Transient as t:
                wait = t.retry_after if t.retry_after is not None else delay
                if isinstance(t.cause, httpx2.ConnectError):
                    connect_failures += 1
                    if connect_failures > 2:  # a dead endpoint must fail within seconds
                        raise self._unreachable(t.cause) from None
                if not retry:
                    raise self._transient_error(what, t.cause, repo) from None
                if time.monotonic() + wait > deadline:
                    if isinstance(t.cause, HfHubHTTPError):
                        raise self._http_error(what, t.cause, repo) from None
                    raise self._unreachable(t.cause) from None
                time.sleep(wait + random.uniform(0, 0.1))
                delay = min(delay * 2, 8.0)

    @contextlib.contextmanager
    def translate(self, what: str, repo: str | None = None) -> Iterator[None]:
        import httpx2
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled

        try:
            yield
        except HubverError:
            raise
        except OfflineModeIsEnabled:
            raise HubUnreachable(
                f"{what} needs the Hub, but HF_HUB_OFFLINE is set.", "Unset HF_HUB_OFFLINE, or use --local."
            ) from None
        except HfHubHTTPError as e:
            status = e.response.status_code if e.response is not None else None
            if status in TRANSIENT:
                raise _Transient(e, _retry_after(e)) from None
            raise self._http_error(what, e, repo) from None
        except httpx2.TransportError as e:
            raise _Transient(e, None) from None
        except RuntimeError as e:
            # create_commit wraps a failed LFS upload: "Error while uploading 'x' to the Hub." The
            # HTTP error it was raised from says what happened.
            cause = e.__cause__
            if isinstance(cause, HfHubHTTPError):
                status = cause.response.status_code if cause.response is not None else None
                if status in TRANSIENT:
                    raise _Transient(cause, _retry_after(cause)) from None
                raise self._http_error(what, cause, repo) from None
            if isinstance(cause, httpx2.TransportError):
                raise _Transient(cause, None) from None
            raise
        except ValueError as e:
            if "Invalid metadata in README.md" not in str(e):
                raise
            # huggingface_hub validates the card with the Hub before uploading anything.
            raise HubError(
                f"{self.endpoint} refused the model card's metadata: {_short(e)} {str(e).splitlines()[-1]}",
                "Check --base-model (it must name a model on that Hub) and your --template's front matter.",
            ) from None
        except LocalEntryNotFoundError as e:
            # snapshot_download and hf_hub_download report a failed request as "not in the local
            # cache"; what failed is the cause: an HTTP error, or a connection.
            cause = e.__cause__
            if isinstance(cause, HfHubHTTPError) and cause.response is not None:
                if cause.response.status_code in TRANSIENT:
                    raise _Transient(cause, _retry_after(cause)) from None
                raise self._http_error(what, cause, repo) from None
            raise _Transient(cause if isinstance(cause, httpx2.TransportError) else e, None) from None

    def _transient_error(self, what: str, cause: BaseException, repo: str | None) -> TransientError:
        """A 5xx or dropped connection, in the hub's words where it gave some (X-Error-Message),
        scrubbed: a failed upload's URL is presigned, and its signature must not be printed."""
        from huggingface_hub.errors import HfHubHTTPError

        where = f"{repo} on {self.endpoint}" if repo else self.endpoint
        if isinstance(cause, HfHubHTTPError) and cause.response is not None:
            server = _server_message(cause)
            text = f"{what} failed: HTTP {cause.response.status_code} from {where}. {server}".strip()
        else:
            text = f"{what} failed: {_short(cause)}"
        return TransientError(
            self.scrub(text),
            "Nothing was published. Run the command again once the Hub is back "
            "(this may be its storage, not another writer).",
        )

    def _unreachable(self, cause: BaseException) -> HubUnreachable:
        return HubUnreachable(
            f"Cannot reach the Hub at {self.endpoint}: {_short(cause)}.",
            f"Check the address ({self.endpoint_option}) and your network; "
            "`hubver --local ...` uses the embedded hub instead.",
        )

    def _http_error(self, what: str, e: Any, repo: str | None) -> HubverError:
        from huggingface_hub.errors import (
            EntryNotFoundError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )

        status = e.response.status_code if e.response is not None else None
        server = _server_message(e)
        where = f"{repo} on {self.endpoint}" if repo else self.endpoint
        if isinstance(e, RevisionNotFoundError):
            return RevisionMissing(f"{what}: revision not found in {where}.")
        if isinstance(e, EntryNotFoundError):
            return HubError(f"{what}: file not found in {where}.")
        if status == 401 and not self._has_token():
            return AuthError(
                f"{what} needs a token, and none was found for {self.endpoint}.",
                f"Pass {self.token_option}, or run `hf auth login`.",
            )
        if status == 401:
            return AuthError(
                f"The token was refused by {self.endpoint} ({what}).",
                f"Check that it is valid and not expired; pass another with {self.token_option}.",
            )
        if (
            isinstance(e, RepositoryNotFoundError)
            or status == 404
            and "RepoNotFound" in str(e.response.headers.get("X-Error-Code", ""))
        ):
            return RepoNotFound(
                f"Repository {repo or ''} not found on {self.endpoint}.".replace("  ", " "),
                "Check the name with --repo; if it is private, use a token that can read it. "
                "`hubver push` creates the repository.",
            )
        if status == 403 and server and not _PERMISSION_WORDS.search(server):
            # Refused by a rule of the hub (a protected version, an alias still on it), not
            # for lack of write access: say what the hub said.
            return AuthError(f"{what} was refused by {where}: {server}", "Nothing was changed by this call.")
        if status == 403:
            return AuthError(
                f"{what} was refused: this token has no write access to {where}. {server}".strip(),
                f"Use a token with write access to that namespace ({self.token_option}).",
            )
        if status == 507:
            return HubStorageFull(
                f"{what} failed: the Hub at {self.endpoint} has no disk space left (HTTP 507); "
                "nothing was published.",
                "Free space on the hub's disk (or ask its administrator to), then run the command again.",
            )
        if status in (409, 412):
            return RefConflict(f"{what}: {server or 'the repository changed meanwhile'}")
        return HubError(f"{what} failed: HTTP {status} from {where}. {server}".strip())

    def _has_token(self) -> bool:
        if self.token:
            return True
        from huggingface_hub import get_token

        return get_token() is not None

    # -- reading ----------------------------------------------------------------------------

    def refs(self, repo: str) -> Refs:
        """Branches and tags (name -> commit), in one request."""
        from huggingface_hub.utils import hf_raise_for_status

        def fetch() -> Refs:
            with self._get(f"{self.endpoint}/api/models/{repo}/refs") as r:
                r.read()
                hf_raise_for_status(r)
                data = r.json()
            return Refs(
                branches={b["name"]: b["targetCommit"] for b in data.get("branches", [])},
                tags={t["name"]: t["targetCommit"] for t in data.get("tags", [])},
            )

        return self.call("Listing tags and branches", fetch, repo=repo)

    def files(self, repo: str, revision: str) -> tuple[str, dict[str, RemoteFile]]:
        """Commit sha of `revision` and the files at it (one request)."""

        from urllib.parse import quote

        from huggingface_hub.utils import hf_raise_for_status

        # Read as JSON rather than through `HfApi.model_info`: its `ModelInfo` parses the card's
        # front matter too, and crashes on a card anyone may edit on the Hub (`tags: 5`).
        url = f"{self.endpoint}/api/models/{repo}/revision/{quote(revision, safe='')}?blobs=true"

        def fetch() -> Any:
            with self._get(url) as r:
                r.read()
                hf_raise_for_status(r)
                return r.json()

        info = self.call(f"Reading {revision}", fetch, repo=repo)
        files = {}
        for s in info.get("siblings") or [] if isinstance(info, dict) else []:
            if not isinstance(s, dict) or not isinstance(s.get("rfilename"), str):
                continue
            lfs = s.get("lfs") if isinstance(s.get("lfs"), dict) else None
            files[s["rfilename"]] = RemoteFile(
                s["rfilename"], s.get("size") or 0, s.get("blobId") or "", lfs.get("sha256") if lfs else None
            )
        sha = info.get("sha") if isinstance(info, dict) else None
        if not isinstance(sha, str):
            raise HubError(f"Reading {revision} of {repo} on {self.endpoint}: the answer names no commit.")
        return sha, files

    def read_file(self, repo: str, path: str, revision: str) -> tuple[bytes | None, str | None]:
        """A small file's bytes at `revision` (None if absent) and the commit it was read at."""
        from urllib.parse import quote

        from huggingface_hub.utils import hf_raise_for_status

        # As huggingface_hub builds it: the revision quoted whole, the path keeping its slashes.
        url = f"{self.endpoint}/{repo}/resolve/{quote(revision, safe='')}/{quote(path)}"

        def fetch() -> tuple[bytes | None, str | None]:
            with self._get(url) as r:
                commit = r.headers.get("X-Repo-Commit")
                if r.status_code == 404 and r.headers.get("X-Error-Code") == "EntryNotFound":
                    return None, commit
                if r.status_code >= 400:
                    r.read()
                    hf_raise_for_status(r)
                declared = r.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > MAX_SMALL_FILE:
                    raise HubError(
                        f"{path} at {revision} in {repo} is {declared} bytes: too large to be hubver metadata."
                    )
                body = bytearray()
                for chunk in r.iter_bytes():
                    body += chunk
                    if len(body) > MAX_SMALL_FILE:
                        raise HubError(f"{path} at {revision} in {repo} is too large to be hubver metadata.")
                return bytes(body), commit

        return self.call(f"Reading {path}", fetch, repo=repo)

    def sha256_of(self, repo: str, path: str, revision: str) -> str:
        """sha256 of a file's bytes as the Hub serves them (streamed: any size)."""
        from urllib.parse import quote

        from huggingface_hub.utils import hf_raise_for_status

        url = f"{self.endpoint}/{repo}/resolve/{quote(revision, safe='')}/{quote(path)}"

        def fetch() -> str:
            h = hashlib.sha256()
            with self._get(url) as r:
                if r.status_code >= 400:
                    r.read()
                    hf_raise_for_status(r)
                for chunk in r.iter_bytes():
                    h.update(chunk)
            return h.hexdigest()

        return self.call(f"Downloading {path}", fetch, repo=repo)

    def download(self, repo: str, path: str, revision: str, dest: Path, size: int) -> str:
        """Stream a file into `dest`, hashing as it arrives; the sha256 of the whole file.

        One pass over the bytes: no second read to hash them. A `dest` left by an interrupted
        download is resumed with a Range request (its bytes are hashed first); a hub that
        answers the whole file instead restarts it.
        """
        from urllib.parse import quote

        from huggingface_hub.utils import hf_raise_for_status

        url = f"{self.endpoint}/{repo}/resolve/{quote(revision, safe='')}/{quote(path)}"

        def fetch() -> str:
            h = hashlib.sha256()
            have = dest.stat().st_size if dest.exists() else 0
            if have > size:
                dest.unlink()
                have = 0
            if have:
                with dest.open("rb") as f:
                    while block := f.read(DOWNLOAD_BLOCK):
                        h.update(block)
            ranged = 0 < have < size
            with self._get(url, {"Range": f"bytes={have}-"} if ranged else None) as r:
                if r.status_code >= 400:
                    r.read()
                    hf_raise_for_status(r)
                if have and (r.status_code != 206 or not ranged):  # whole file (or nothing) again
                    h, have = hashlib.sha256(), 0
                with dest.open("ab" if have else "wb") as f:
                    for chunk in r.iter_bytes(DOWNLOAD_BLOCK):
                        h.update(chunk)
                        f.write(chunk)
            got = dest.stat().st_size
            if got != size:
                raise HubError(f"Downloading {path} from {repo}: got {got} bytes, expected {size}.")
            return h.hexdigest()

        return self.call(f"Downloading {path}", fetch, repo=repo)

    def commits(self, repo: str, revision: str) -> list[Any]:
        return self.call(
            f"Listing the commits of {revision}",
            lambda: self.api.list_repo_commits(repo, revision=revision),
            repo=repo,
        )

    def safetensors_tensors(self, repo: str, path: str, revision: str) -> dict[str, list[int]]:
        """Tensor name -> shape, from the remote header alone (HTTP range requests)."""

        from huggingface_hub.errors import SafetensorsParsingError

        def fetch() -> Any:
            try:
                return self.api.parse_safetensors_file_metadata(repo, path, revision=revision)
            except (SafetensorsParsingError, ValueError, TypeError, KeyError, RecursionError) as e:
                # huggingface_hub's parser meets whatever bytes were published under that name.
                raise MetadataError(
                    f"{path} at {revision} in {repo} has no readable safetensors header ({_short(e)})."
                ) from None

        meta = self.call(f"Reading the header of {path}", fetch, repo=repo)
        return {name: list(info.shape) for name, info in meta.tensors.items()}

    def snapshot(
        self, repo: str, revision: str, *, cache_dir: Path | None = None, quiet: bool = False
    ) -> Path:
        """Download `revision` into the HF cache (only what is missing); returns the snapshot dir."""

        from huggingface_hub.utils import (
            are_progress_bars_disabled,
            disable_progress_bars,
            enable_progress_bars,
        )

        def fetch() -> str:
            return self.api.snapshot_download(repo, revision=revision, cache_dir=cache_dir)

        silence = quiet and not are_progress_bars_disabled()
        if silence:
            disable_progress_bars()
        try:
            return Path(self.call(f"Downloading {revision}", fetch, repo=repo))
        finally:
            if silence:
                enable_progress_bars()

    # -- writing ----------------------------------------------------------------------------

    def scrub(self, text: str) -> str:
        """`text` without the token in use, the environment's secrets or URL credentials."""
        from .redact import known_secrets, scrub

        return scrub(text, known_secrets([self.token]))

    def ensure_repo(self, repo: str, *, private: bool = False) -> None:
        self.call(
            "Creating the repository",
            lambda: self.api.create_repo(repo, private=private, exist_ok=True),
            repo=repo,
        )

    def commit(
        self,
        repo: str,
        branch: str,
        operations: list[Any],
        *,
        message: str,
        description: str = "",
        parent: str | None,
    ) -> str:
        """One atomic commit on `branch`; `Conflict` if `parent` is no longer its head.

        The title and description reach git history, which is never rewritten: they are
        scrubbed of known secrets and URL credentials here, whoever composed them.
        """
        message, description = self.scrub(message), self.scrub(description)

        def send() -> Any:
            return self.api.create_commit(
                repo,
                operations,
                commit_message=message,
                commit_description=description,
                revision=branch,
                parent_commit=parent,
            )

        # Not retried here: the caller re-reads the branch to learn whether it landed.
        return self.call("Committing", send, repo=repo, retry=False).oid

    def preupload(self, repo: str, branch: str, operations: list[Any]) -> None:
        """Send the LFS files of `operations` to the store now; the commit then skips them."""
        self.call(
            "Uploading",
            lambda: self.api.preupload_lfs_files(repo, additions=operations, revision=branch),
            repo=repo,
            retry=False,
        )

    def create_tag(self, repo: str, tag: str, commit: str, message: str | None = None) -> None:
        message = self.scrub(message) if message else message
        self.call(
            f"Tagging {tag}",
            lambda: self.api.create_tag(repo, tag=tag, revision=commit, tag_message=message),
            repo=repo,
        )

    def delete_tag(self, repo: str, tag: str) -> None:
        self.call(f"Deleting tag {tag}", lambda: self.api.delete_tag(repo, tag=tag), repo=repo, retry=False)

    def lfs_missing(self, repo: str, objects: dict[str, int]) -> set[str]:
        """The LFS objects (oid -> size) the Hub does not store: one LFS batch "download"
        request (the git-lfs protocol, answered by huggingface.co and the embedded hub alike),
        which names each object it cannot serve with an error and transfers nothing."""
        if not objects:
            return set()
        from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

        body = {
            "operation": "download",
            "transfers": ["basic"],
            "objects": [{"oid": o, "size": n} for o, n in sorted(objects.items())],
            "hash_algo": "sha256",
        }
        headers = {
            **build_hf_headers(token=self.token, library_name="hubver", library_version=__version__),
            "Accept": "application/vnd.git-lfs+json",
            "Content-Type": "application/vnd.git-lfs+json",
        }

        def ask() -> set[str]:
            _use_timeouts()
            r = get_session().post(
                f"{self.endpoint}/{repo}.git/info/lfs/objects/batch",
                json=body,
                headers=headers,
                timeout=http_timeout(),
            )
            hf_raise_for_status(r)
            answer = r.json()
            listed = answer.get("objects") if isinstance(answer, dict) else None
            if not isinstance(listed, list):
                return set()
            served = {
                o.get("oid")
                for o in listed
                if isinstance(o, dict) and not o.get("error") and isinstance(o.get("actions"), dict)
            }
            return set(objects) - served

        return self.call("Checking the LFS objects", ask, repo=repo)

    def whoami(self) -> str | None:
        """The name of the account the token authenticates (None without a token, or when the
        Hub does not say): what hubver records as who did something, rather than the OS user."""
        if not self._has_token():
            return None
        if self._whoami is None:
            try:
                info = self.call("Reading who you are", lambda: self.api.whoami())
            except HubverError:
                return None
            name = info.get("name") if isinstance(info, dict) else None
            self._whoami = (name if isinstance(name, str) and name else None,)
        return self._whoami[0]

    def pull_request_refs(self, repo: str) -> dict[str, str]:
        """refs/pr/N -> commit, for every pull request of the repo."""

        def fetch() -> dict[str, str]:
            refs = self.api.list_repo_refs(repo, include_pull_requests=True)
            return {r.ref: r.target_commit for r in refs.pull_requests or []}

        return self.call("Listing pull requests", fetch, repo=repo)

    def lfs_files(self, repo: str) -> list[Any]:
        """Every LFS file stored for the repo (`HfApi.list_lfs_files`: file_oid, size, ...)."""
        return self.call("Listing LFS files", lambda: list(self.api.list_lfs_files(repo)), repo=repo)

    def delete_lfs_files(self, repo: str, files: list[Any]) -> None:
        """Delete LFS files for good (`HfApi.permanently_delete_lfs_files`), history left as it is:
        the commits that refer to them stay, and can no longer be downloaded."""
        self.call(
            "Deleting LFS files",
            lambda: self.api.permanently_delete_lfs_files(repo, files, rewrite_history=False),
            repo=repo,
            retry=False,
        )

    def create_branch(self, repo: str, branch: str, commit: str) -> None:
        self.call(
            f"Creating branch {branch}",
            lambda: self.api.create_branch(repo, branch=branch, revision=commit),
            repo=repo,
        )


class _Transient(Exception):
    def __init__(self, cause: BaseException, retry_after: float | None) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.retry_after = retry_after


def _retry_after(e: Any) -> float | None:
    value = e.response.headers.get("Retry-After") if e.response is not None else None
    try:
        return min(float(value), 60.0) if value is not None else None
    except ValueError:
        return None


# Words of a 403 that is about the token's rights (huggingface.co and the embedded hub).
_PERMISSION_WORDS = re.compile(r"permission|rights|access|authori[sz]|token|not allowed", re.IGNORECASE)


def _server_message(e: Any) -> str:
    if e.response is None:
        return ""
    msg = e.response.headers.get("X-Error-Message")
    if not msg:
        with contextlib.suppress(Exception):
            body = e.response.json()
            msg = body.get("error") if isinstance(body, dict) else None
    return str(msg or "").strip()


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:200]


def _is_huggingface_co(endpoint: str) -> bool:
    from urllib.parse import urlparse

    host = urlparse(endpoint).hostname or ""
    return (
        host in ("huggingface.co", "hf.co")
        or host.endswith(".huggingface.co")
        or endpoint == HF_ENDPOINT_DEFAULT
    )


@contextlib.contextmanager
def open_client(settings: Settings) -> Iterator[HubClient]:
    """A `HubClient` for the settings' endpoint; for `local`, the embedded hub runs meanwhile."""
    if not settings.is_local:
        yield HubClient(settings.endpoint, settings.token)
        return
    from .server import HubConfig, start_in_thread

    data_dir = settings.home / "hub"
    running = start_in_thread(HubConfig(data_dir=data_dir))
    try:
        token = settings.token or (data_dir / "admin.token").read_text().strip()
        client = HubClient(running.url, token)
        client.local_dir = data_dir
        yield client
    finally:
        running.stop()
