"""What every group of handlers is given: the hub's config and stores, access checks, request bodies."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from starlette.requests import Request

from . import names
from .auth import Signer, TokenStore, User
from .errors import (
    HTTPForbidden,
    HTTPPayloadTooLarge,
    HTTPRepoNotFound,
    HTTPUnauthorized,
    HubHTTPError,
)
from .httputil import loads_json
from .names import RepoAddress
from .repos import Repo, RepoStore, is_pr_ref
from .storage_errors import RepoMoved

if TYPE_CHECKING:
    from .app import HubConfig

log = logging.getLogger("hubver.server")


def basic_password(credentials: str) -> str:
    """The password of HTTP Basic credentials (`base64(user:password)`); "" if malformed."""
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return ""
    return decoded.partition(":")[2]


class ServerContext:
    """Passed to every handler group: who asks, which repository they may touch, request bodies."""

    def __init__(self, config: HubConfig, tokens: TokenStore, signer: Signer, store: RepoStore) -> None:
        self.config = config
        self.tokens = tokens
        self.signer = signer
        self.store = store
        # The user of a web-page session cookie (set by hubver/web/hub.py): file downloads
        # (GET/HEAD resolve) take it too, so a signed-in owner's pages show private pictures.
        self.session_user: Callable[[Request], User | None] | None = None

    def user(self, request: Request) -> User | None:
        auth = request.headers.get("authorization", "")
        if not auth:
            return None
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "basic":
            # git and git-lfs: the token is the password, the user name is ignored (as on the Hub).
            token = basic_password(token.strip())
        elif scheme.lower() != "bearer":
            token = ""
        user = self.tokens.authenticate(token.strip()) if token.strip() else None
        if user is None:
            raise HTTPUnauthorized("Invalid credentials in Authorization header")
        return user

    def require_user(self, request: Request) -> User:
        user = self.user(request)
        if user is None:
            raise HTTPUnauthorized(
                "Authentication required: send a token in the Authorization header "
                "(huggingface_hub: token=... or HF_TOKEN; hubver: --token or HF_TOKEN)."
            )
        return user

    def repo(self, request: Request, address: RepoAddress) -> Repo:
        """The repository `address` names; a moved one redirects (307) the request to its new id."""
        try:
            return self.store.get(address.repo_type, address.repo_id)
        except RepoMoved as e:
            location = moved_location(request, address.repo_id, e.new_id)
            if location is None or not self._may_see(request, e.new_id, address.repo_type):
                raise  # a missing repo: a private one's new name is not told to who cannot see it
            raise HubHTTPError(
                f"Repository {address.repo_id!r} was moved to {e.new_id!r}.",
                status=307,
                code="RepoMoved",
                headers={"Location": location},
            ) from None

    def _may_see(self, request: Request, repo_id: str, repo_type: str) -> bool:
        target = self.store.get(repo_type, repo_id)
        user = self.user(request)
        return not target.meta.private or bool(user and user.owns(repo_id.split("/")[0]))

    def repo_for_read(self, request: Request, address: RepoAddress, *, session: bool = False) -> Repo:
        """The repository if `request` may read it (`session`: a read-only GET that a signed-in
        browser's session cookie may also authorise, when no Authorization header is given)."""
        user = self.user(request)
        if user is None and session and self.session_user is not None and request.method in ("GET", "HEAD"):
            user = self.session_user(request)
        repo = self.repo(request, address)
        address.repo_id = repo.meta.repo_id  # the id as created: what every answer shows
        if repo.meta.private and not (user and user.owns(address.repo_id.split("/")[0])):
            raise HTTPRepoNotFound("Repository not found")
        return repo

    def repo_for_write(self, request: Request, address: RepoAddress) -> tuple[Repo, User]:
        user = self.require_user(request)
        repo = self.repo(request, address)
        address.repo_id = repo.meta.repo_id
        owns = user.owns(address.repo_id.split("/")[0])
        if repo.meta.private and not owns:
            raise HTTPRepoNotFound("Repository not found")
        if not owns:
            raise HTTPForbidden(
                "You have read access but not the required permissions for this operation "
                f"({user.name} cannot write to {address.repo_id})"
            )
        return repo, user

    def repo_for_contribution(
        self, request: Request, address: RepoAddress, rev: str | None, *, new_pr: bool
    ) -> tuple[Repo, User]:
        """As `repo_for_write`, but also let a reader of a public repo contribute a pull request.

        As on the Hub: anyone signed in may open a pull request (`new_pr`) on a repo they can
        read, and commit to one they opened (`rev` = `refs/pr/N`); the rest needs write access.
        `rev` None stands for an LFS upload, which moves no ref, so any contributor may make it.
        """
        user = self.require_user(request)
        repo = self.repo(request, address)
        address.repo_id = repo.meta.repo_id
        if user.owns(address.repo_id.split("/")[0]):
            return repo, user
        if repo.meta.private:
            raise HTTPRepoNotFound("Repository not found")
        if rev is not None and is_pr_ref(rev):
            new_pr = False  # create_pr onto a pull request commits to that pull request
        if new_pr or rev is None or (rev is not None and is_pr_ref(rev) and repo.pr_author(rev) == user.name):
            return repo, user
        raise HTTPForbidden(
            "You have read access but not the required permissions for this operation "
            f"({user.name} cannot write to {address.repo_id}: open a pull request instead, create_pr=True)"
        )

    async def read_body(self, request: Request, limit: int) -> bytes:
        """The whole body, at most `limit` bytes (`max_anonymous_body` without a token or signature)."""
        if not request.headers.get("authorization") and "sig" not in request.query_params:
            limit = min(limit, self.config.max_anonymous_body)
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise HTTPPayloadTooLarge(f"The request body is larger than {limit} bytes.")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise HTTPPayloadTooLarge(f"The request body is larger than {limit} bytes.")
        return bytes(body)

    async def read_json(self, request: Request, *, optional: bool = False) -> Any:
        body = await self.read_body(request, self.config.max_json_body)
        if not body.strip() and optional:
            return {}
        return loads_json(body)

    def base_url(self, request: Request) -> str:
        # From the configuration, never the Host header: a client must not choose where the
        # signed upload URLs handed to other clients point.
        if self.config.public_url:
            return str(self.config.public_url).rstrip("/")
        server = request.scope.get("server") or ("127.0.0.1", 80)
        host = f"[{server[0]}]" if ":" in str(server[0]) else server[0]
        return f"http://{host}:{server[1]}"

    @staticmethod
    def url_prefix(address: RepoAddress) -> str:
        return "" if address.repo_type == "model" else f"{names.TYPE_DIRS[address.repo_type]}/"


def moved_location(request: Request, old_id: str, new_id: str) -> str | None:
    """The request's path and query with the repo id `old_id` replaced by `new_id` (relative, as
    the Hub sends it: huggingface_hub follows relative redirects only), or None if the path does
    not name the repo (a body does, as for DELETE /api/repos/delete)."""
    raw = request.scope.get("raw_path") or request.scope["path"].encode()
    path = raw.split(b"?", 1)[0].decode("latin-1")
    segs = path.split("/")
    old_ns, old_name = (unquote(p).lower() for p in old_id.split("/"))
    for i in range(len(segs) - 1):
        name, dot_git = unquote(segs[i + 1]), ""
        if name.endswith(".git"):
            name, dot_git = name[:-4], ".git"
        if unquote(segs[i]).lower() == old_ns and name.lower() == old_name:
            segs[i : i + 2] = [*new_id.split("/")[:1], new_id.split("/")[1] + dot_git]
            query = request.scope.get("query_string", b"").decode("latin-1")
            return "/".join(segs) + (f"?{query}" if query else "")
    return None
