"""The embedded hub's HTTP API: the subset of huggingface.co that the HF clients use.

The contract is `shared/docs/hub-api.md`. Routing is on the raw path, splitting before
decoding each segment, because clients send revisions quoted with `safe=""`
(`release%2F1.0`) while file paths keep their slashes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response

from . import names
from .api_files import FileEndpoints
from .api_repos import RepoEndpoints
from .api_uploads import XET_MESSAGE, XET_PATH, UploadEndpoints
from .auth import Signer, TokenStore
from .errors import (
    DISK_FULL_MESSAGE,
    BadRequest,
    HubHTTPError,
    InsufficientStorage,
    NotFound,
    is_disk_full,
)
from .httputil import MiB, error_response
from .names import RepoAddress
from .repos import RepoStore

log = logging.getLogger("hubver.server")


@dataclass
class HubConfig:
    """Settings of one embedded hub. Limits bound every request the server accepts."""

    data_dir: Path
    admin_token: str | None = None
    upload_url_ttl: float = 3600.0
    multipart_threshold: int = 512 * MiB  # objects above this are uploaded in parts
    multipart_chunk: int = 128 * MiB
    regular_file_limit: int = 5 * MiB  # larger files must go through LFS
    max_object_size: int = 1 << 40
    max_json_body: int = 16 * MiB
    max_commit_line: int = 8 * MiB
    max_commit_body: int = 256 * MiB
    page_size: int = 50
    tree_page_size: int = 1000
    # What a hostile or broken client may hold (enforced per connection by protocol.py).
    max_header_bytes: int = 64 * 1024  # request line plus all headers; 431 beyond
    header_timeout: float = 10.0  # to send the request line and headers; 408 after
    body_idle_timeout: float = 30.0  # a request body with no byte for this long is cut off
    keep_alive_timeout: float = 30.0
    max_connections: int = 256  # open connections; 503 + Retry-After beyond (and the fd limit)
    max_anonymous_body: int = 1 * MiB  # body of a request without a token or signed URL
    # The address clients reach the hub at, for the URLs it hands out (signed uploads, repo
    # URLs); default the address it is bound to. Never taken from the request's Host header.
    public_url: str | None = None
    # Tags of hubver versions cannot be deleted (so not moved), branches holding versions
    # cannot be deleted (so not rewound). Off only to test that clients detect such tampering.
    protect_versions: bool = True


class HubApp(RepoEndpoints, FileEndpoints, UploadEndpoints):
    """ASGI application of the embedded hub."""

    def __init__(self, config: HubConfig) -> None:
        self.config = config
        data = Path(config.data_dir)
        self.tokens = TokenStore(data, config.admin_token)
        self.admin_token_file = None if config.admin_token else self.tokens.ensure_admin_token()
        self.signer = Signer(data)
        self.store = RepoStore(data)
        self.store.sweep()
        self._card_cache: dict[str, dict] = {}

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        try:
            response = await self.dispatch(request)
        except HubHTTPError as e:
            response = error_response(e)
        except Exception as e:
            if not is_disk_full(e):
                log.exception("internal error on %s %s", scope["method"], scope["path"])
                response = error_response(
                    HubHTTPError("Internal server error.", status=500, code="InternalError")
                )
            else:
                # Writers stage in temp files and rename, so a full disk leaves nothing half-written;
                # reads go on. 507, not 500: clients must not retry until space is freed.
                log.error("disk full on %s %s: %s", scope["method"], scope["path"], e)
                response = error_response(
                    InsufficientStorage(DISK_FULL_MESSAGE.format(what=f"{scope['method']} {scope['path']}"))
                )
        await response(scope, receive, send)

    async def dispatch(self, request: Request) -> Response:
        raw = request.scope.get("raw_path") or request.scope["path"].encode()
        raw_path = raw.split(b"?", 1)[0].decode("latin-1")
        try:
            segs = [unquote(s, errors="strict") for s in raw_path.split("/")[1:]]
        except UnicodeDecodeError:
            raise BadRequest("The request path is not valid UTF-8.") from None
        if any("\x00" in s for s in segs):
            raise BadRequest("The request path contains a NUL byte.")
        method = request.method
        if segs and segs[0] == "api":
            return await self.dispatch_api(request, method, segs[1:])
        if segs and segs[0] in ("lfs-upload", "lfs-part", "lfs-complete"):
            return await self.signed_upload(request, method, segs)
        if segs and segs[0] == XET_PATH:
            raise BadRequest(XET_MESSAGE, code="XetNotSupported")
        return await self.dispatch_repo_path(request, method, segs)

    def _route(self, type_dir: str, ns: str, name: str, rest: list[str]) -> RepoAddress:
        repo_type = names.REPO_TYPES.get(type_dir)
        if repo_type is None:
            raise NotFound(f"Unknown repo type {type_dir!r}.")
        return RepoAddress(repo_type, names.check_repo_id(ns, name), rest)

    async def dispatch_api(self, request: Request, method: str, segs: list[str]) -> Response:
        simple: dict[tuple[str, ...], Callable[[Request], Awaitable[Response]]] = {
            ("GET", "whoami-v2"): self.whoami,
            ("GET", "agent-harnesses"): self.agent_harnesses,
            ("POST", "validate-yaml"): self.validate_yaml,
            ("POST", "repos", "create"): self.create_repo,
            ("DELETE", "repos", "delete"): self.delete_repo,
        }
        handler = simple.get((method, *segs))
        if handler is not None:
            return await handler(request)
        if len(segs) < 3 or segs[0] not in names.REPO_TYPES:
            raise NotFound(f"No API route for {method} /api/{'/'.join(segs)}.")
        route = self._route(segs[0], segs[1], segs[2], segs[3:])
        rest = route.rest
        action = rest[0] if rest else ""
        arg = rest[1] if len(rest) > 1 else ""
        if method == "GET" and not rest:
            return await self.repo_info(request, route, None)
        if method == "GET" and action == "revision" and len(rest) == 2:
            return await self.repo_info(request, route, arg)
        if method == "GET" and action == "refs" and len(rest) == 1:
            return await self.list_refs(request, route)
        if action == "tag" and len(rest) == 2 and method in ("POST", "DELETE"):
            return await (self.create_tag if method == "POST" else self.delete_tag)(request, route, arg)
        if action == "branch" and len(rest) == 2 and method in ("POST", "DELETE"):
            return await (self.create_branch if method == "POST" else self.delete_branch)(request, route, arg)
        if method == "GET" and action == "commits" and len(rest) == 2:
            return await self.list_commits(request, route, arg)
        if method == "GET" and action == "tree" and len(rest) >= 2:
            return await self.list_tree(request, route, arg, "/".join(rest[2:]))
        if method == "POST" and action == "paths-info" and len(rest) == 2:
            return await self.paths_info(request, route, arg)
        if method == "POST" and action == "preupload" and len(rest) == 2:
            return await self.preupload(request, route, arg)
        if method == "POST" and action == "commit" and len(rest) == 2:
            return await self.commit(request, route, arg)
        if method == "PUT" and action == "settings" and len(rest) == 1:
            return await self.settings(request, route)
        if action == "xet-write-token":
            return self.xet_write_token(request)
        if action == "xet-read-token":
            raise BadRequest(XET_MESSAGE, code="XetNotSupported")
        raise NotFound(f"No API route for {method} /api/{'/'.join(segs)}.")

    async def dispatch_repo_path(self, request: Request, method: str, segs: list[str]) -> Response:
        type_dir = "models"
        if segs and segs[0] in ("datasets", "spaces"):
            type_dir, segs = segs[0], segs[1:]
        if len(segs) >= 5 and segs[2] == "resolve" and method in ("GET", "HEAD"):
            route = self._route(type_dir, segs[0], segs[1], segs[3:])
            return await self.resolve(request, route, segs[3], "/".join(segs[4:]))
        if len(segs) == 6 and segs[1].endswith(".git") and segs[2:5] == ["info", "lfs", "objects"]:
            route = self._route(type_dir, segs[0], segs[1][:-4], [])
            if method == "POST" and segs[5] == "batch":
                return await self.lfs_batch(request, route)
            if method == "POST" and segs[5] == "verify":
                return await self.lfs_verify(request, route)
        raise NotFound(f"No route for {method} /{'/'.join(segs)}.")
