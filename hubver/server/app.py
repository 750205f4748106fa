"""The embedded hub's HTTP API: the subset of huggingface.co that the HF clients use.

The contract is `docs/hub-api.md`; `routes()` below is its table of contents (a test checks that
the two agree). Routing is on the raw path (see routing.py): clients send revisions quoted with
`safe=""` (`release%2F1.0`) while file paths keep their slashes.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from ..web.hub import hub_page_routes
from .api_accounts import AccountHandlers
from .api_discussions import DiscussionHandlers
from .api_files import FileHandlers
from .api_git import GitHandlers
from .api_refs import RefHandlers
from .api_repos import RepoHandlers
from .api_storage import StorageHandlers
from .api_uploads import XET_MESSAGE, XET_PATH, UploadHandlers
from .auth import Signer, TokenStore
from .context import ServerContext
from .errors import (
    DISK_FULL_MESSAGE,
    HTTPBadRequest,
    HTTPInsufficientStorage,
    HubHTTPError,
    http_error,
    is_disk_full,
)
from .httputil import MiB, error_response
from .names import RepoAddress
from .repos import RepoStore
from .routing import Route, Router, route
from .storage_errors import StorageError

log = logging.getLogger("hubver.server")
_CLIENT_TRACE_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def new_request_id(client_trace_id: str | None) -> str:
    """The `X-Request-Id` of a response, shaped like the Hub's (`Root=1-<time>-<random>`, then
    `;<id>` the client sent as X-Amzn-Trace-Id when it is a plain token): huggingface_hub puts
    it in every error it raises ("(Request ID: ...)") and it appears in the hub's error log."""
    rid = f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    if client_trace_id and _CLIENT_TRACE_ID.match(client_trace_id):
        rid += f";{client_trace_id}"
    return rid


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
    git_timeout: float = 3600.0  # one git receive-pack (a push) or ref advertisement; 504 after
    # The address clients reach the hub at, for the URLs it hands out (signed uploads, repo
    # URLs); default the address it is bound to. Never taken from the request's Host header.
    public_url: str | None = None
    # Tags of hubver versions cannot be deleted (so not moved), branches holding versions
    # cannot be deleted (so not rewound). Off only to test that clients detect such tampering.
    protect_versions: bool = True


class HubApp:
    """ASGI application of the embedded hub: the route table over the handler groups."""

    def __init__(self, config: HubConfig) -> None:
        self.config = config
        data = Path(config.data_dir)
        self.tokens = TokenStore(data, config.admin_token)
        self.admin_token_file = None if config.admin_token else self.tokens.ensure_admin_token()
        self.signer = Signer(data)
        self.store = RepoStore(data)
        self.store.sweep()
        ctx = ServerContext(config, self.tokens, self.signer, self.store)
        self.router = Router(routes(ctx))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
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
        request_id = new_request_id(request.headers.get("x-amzn-trace-id"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            response = await self.dispatch(request)
        except HubHTTPError as e:
            response = error_response(e)
        except StorageError as e:
            response = error_response(http_error(e))
        except Exception as e:
            if not is_disk_full(e):
                log.exception("internal error on %s %s (%s)", scope["method"], scope["path"], request_id)
                response = error_response(
                    HubHTTPError("Internal server error.", status=500, code="InternalError")
                )
            else:
                # Writers stage in temp files and rename, so a full disk leaves nothing half-written;
                # reads go on. 507, not 500: clients must not retry until space is freed.
                log.error("disk full on %s %s: %s", scope["method"], scope["path"], e)
                response = error_response(
                    HTTPInsufficientStorage(
                        DISK_FULL_MESSAGE.format(what=f"{scope['method']} {scope['path']}")
                    )
                )
        await response(scope, receive, send_with_id)

    async def dispatch(self, request: Request) -> Response:
        """The response of the route `request` takes (tests wrap this on the instance to watch requests)."""
        return await self.router.dispatch(request)


async def _xet_refused(request: Request, address: RepoAddress | None = None, **_: str) -> Response:
    raise HTTPBadRequest(XET_MESSAGE, code="XetNotSupported")


def routes(ctx: ServerContext) -> list[Route]:
    """The route table, in matching order: every endpoint the hub serves (docs/hub-api.md)."""
    accounts, repos, refs = AccountHandlers(ctx), RepoHandlers(ctx), RefHandlers(ctx)
    files, uploads, git = FileHandlers(ctx), UploadHandlers(ctx), GitHandlers(ctx)
    storage, discussions = StorageHandlers(ctx), DiscussionHandlers(ctx)
    git_repo = "[/{repo_type}]/{namespace}/{name}"
    repo = "/api/{repo_type}/{namespace}/{name}"
    return [
        route("*", f"/{XET_PATH}[/{{rest:path}}]", _xet_refused),
        route("GET", "/api/whoami-v2", accounts.whoami),
        route("GET", "/api/agent-harnesses", accounts.agent_harnesses),
        route("POST", "/api/validate-yaml", accounts.validate_yaml),
        route("POST", "/api/repos/create", repos.create_repo),
        route("DELETE", "/api/repos/delete", repos.delete_repo),
        route("POST", "/api/repos/move", repos.move_repo),
        route("GET", "/api/{repo_type}", repos.list_repos),
        route("GET", repo, repos.repo_info),
        route("GET", repo + "/auth-check", repos.auth_check),
        route("GET", repo + "/auth-check/write", repos.auth_check_write),
        route("GET", repo + "/revision/{rev}", repos.repo_info),
        route("PUT", repo + "/settings", repos.settings),
        route("GET", repo + "/refs", refs.list_refs),
        route("POST", repo + "/tag/{rev}", refs.create_tag),
        route("DELETE", repo + "/tag/{tag}", refs.delete_tag),
        route("POST", repo + "/branch/{branch}", refs.create_branch),
        route("DELETE", repo + "/branch/{branch}", refs.delete_branch),
        route("GET", repo + "/commits/{rev}", files.list_commits),
        route("GET", repo + "/tree/{rev}[/{path:path}]", files.list_tree),
        route("POST", repo + "/paths-info/{rev}", files.paths_info),
        route("POST", repo + "/preupload/{rev}", uploads.preupload),
        route("POST", repo + "/commit/{rev}", uploads.commit),
        route("POST", repo + "/discussions", discussions.create),
        route("GET", repo + "/discussions/{num}", discussions.details),
        route("GET", repo + "/lfs-files", storage.list_lfs_files),
        route("POST", repo + "/lfs-files/batch", storage.delete_lfs_files),
        route("POST", repo + "/super-squash/{branch}", storage.super_squash),
        route("*", repo + "/xet-write-token[/{rest:path}]", uploads.xet_write_token),
        route("*", repo + "/xet-read-token[/{rest:path}]", _xet_refused),
        route("GET HEAD", "[/{repo_type}]/{namespace}/{name}/resolve/{rev}/{path:path}", files.resolve),
        route("POST", "[/{repo_type}]/{namespace}/{name}.git/info/lfs/objects/batch", uploads.lfs_batch),
        route("POST", "[/{repo_type}]/{namespace}/{name}.git/info/lfs/objects/verify", uploads.lfs_verify),
        route("GET", git_repo + ".git/info/lfs/objects/{oid}", git.lfs_object),
        route("GET", git_repo + ".git/info/refs", git.info_refs),
        route("POST", git_repo + ".git/git-upload-pack", git.upload_pack),
        route("POST", git_repo + ".git/git-receive-pack", git.receive_pack),
        route("GET", git_repo + "/info/refs", git.info_refs),
        route("POST", git_repo + "/git-upload-pack", git.upload_pack),
        route("POST", git_repo + "/git-receive-pack", git.receive_pack),
        route("PUT", "/lfs-upload/{type_name}/{repo_id}/{oid}/{size}", uploads.upload_object),
        route(
            "PUT", "/lfs-part/{type_name}/{repo_id}/{oid}/{size}/{upload_id}/{number}", uploads.upload_part
        ),
        route(
            "POST",
            "/lfs-complete/{type_name}/{repo_id}/{oid}/{size}/{upload_id}/{count}",
            uploads.complete_upload,
        ),
        # The web pages (hubver/web): after every API route, at the Hub's own page URLs.
        *hub_page_routes(ctx),
    ]
