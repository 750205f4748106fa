"""`hubver ui`: the web pages on 127.0.0.1 for any hub, read through its API with the user's token.

The token stays in this process: pages are rendered here and the browser gets HTML only. Who
else could ask this port for a private page: other local users, a web page in the user's browser
(another site, or a server on another port of 127.0.0.1: browsers send a host's cookies to all of
its ports, so a cookie would reach it), a DNS-rebinding page. So there is no cookie at all: every
page lives under `/s/<key>/` (a random 256-bit key, the capability; every link the pages make is
under it, the referrer policy `same-origin` keeps it from other origins), any other path is a
403, and the Host header must name 127.0.0.1/localhost and this port (421 otherwise). The key
reaches the user's terminal (stdout) and the browser through a 0600 file, never a command line.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..errors import HubverError
from ..server.errors import HubHTTPError, http_error
from ..server.httputil import error_response
from ..server.routing import Router
from ..server.storage_errors import StorageError
from .http import SECURITY_HEADERS, WebPages, web_routes
from .session import Sessions, same
from .source import NotFound, Source

if TYPE_CHECKING:
    from ..client import HubClient


class UiSite:
    sign_in = False

    def __init__(self, source: Source, label: str, user: Callable[[], str | None], root: str) -> None:
        self.root = root
        self._source = source
        self.label = label
        self._user = user

    def source(self, request: Request) -> Source:
        return self._source

    def user_name(self, request: Request) -> str | None:
        return self._user()

    def secure(self, request: Request) -> bool:
        return False  # plain http on the loopback interface


def _plain(status: int, text: str) -> Response:
    return Response(text + "\n", status_code=status, media_type="text/plain", headers=dict(SECURITY_HEADERS))


class UiApp:
    """ASGI app of `hubver ui`: Host check, the key in the path, then the pages' routes."""

    def __init__(self, source: Source, label: str, user: Callable[[], str | None] = lambda: None) -> None:
        self.key = secrets.token_urlsafe(32)
        self.root = f"/s/{self.key}"
        self.pages = WebPages(UiSite(source, label, user, self.root), Sessions())
        self.router = Router(web_routes(self.pages, with_resolve=True, with_sign_in=False))
        self.port = 0  # set once bound: the Host header must name it

    def allowed_hosts(self) -> set[str]:
        return {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}

    def _inside(self, scope: Scope) -> Scope | None:
        """The request with `/s/<key>` taken off its path; None without the right key."""
        raw: bytes = scope.get("raw_path") or scope["path"].encode()
        path, sep, query = raw.partition(b"?")
        parts = path.split(b"/", 3)
        if len(parts) < 3 or parts[0] != b"" or parts[1] != b"s":
            return None
        if not same(parts[2].decode("latin-1"), self.key):
            return None
        rest = b"/" + (parts[3] if len(parts) > 3 else b"")
        inner = dict(scope)
        inner["raw_path"] = rest + sep + query
        inner["path"] = "/" + scope["path"].split("/", 3)[3] if scope["path"].count("/") >= 3 else "/"
        inner["root_path"] = ""
        return inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        inner = self._inside(scope)
        if request.headers.get("host", "") not in self.allowed_hosts():
            response = _plain(421, "hubver ui answers only at 127.0.0.1 or localhost on its own port.")
        elif inner is None:
            response = _plain(
                403, "Open the URL that `hubver ui` printed: every page's address starts with its key."
            )
        else:
            try:
                response = await self.router.dispatch(Request(inner, receive))
            except HubHTTPError as e:
                response = error_response(e, dict(SECURITY_HEADERS))
            except StorageError as e:  # a name the hub's grammar refuses (`a--b`, `..%2F..`)
                response = error_response(http_error(e), dict(SECURITY_HEADERS))
            except HubverError as e:  # the hub refused what the page asked it for (a bad revision)
                response = _plain(400, f"The hub refused this request: {e.message}")
        await response(scope, receive, send)


@dataclass
class RunningUi:
    url: str  # the page to open, with the key: the capability (print it to the user only)
    base: str  # http://127.0.0.1:PORT, without the key
    app: UiApp
    _server: Any
    _thread: threading.Thread

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)

    def wait(self) -> None:
        while self._thread.is_alive():
            self._thread.join(0.5)


def start_ui(
    client: HubClient, *, repo: str | None = None, port: int = 0, host: str = "127.0.0.1"
) -> RunningUi:
    """Serve the pages for `client`'s hub on `host:port` (0: a free port) in a daemon thread."""
    import uvicorn

    from ..server.run import base_url, bind
    from .api_source import ApiSource

    if host not in ("127.0.0.1", "localhost"):
        raise ValueError("hubver ui serves on the loopback interface only")
    source = ApiSource(client, [repo] if repo else [])
    if repo:
        try:
            source.repo("model", repo)
        except NotFound:
            from ..errors import RepoNotFound

            raise RepoNotFound(
                f"Repository {repo} not found on {client.endpoint}.",
                "Check the name with --repo; if it is private, use a token that can read it (--token or HF_TOKEN).",
            ) from None
    whoami: list[str | None] = []

    def user() -> str | None:
        if not whoami:
            name = None
            try:
                me = source._json("Reading who you are", f"{client.endpoint}/api/whoami-v2", None)
                name = me.get("name") if isinstance(me, dict) and isinstance(me.get("name"), str) else None
            except Exception:  # anonymous, or a hub without whoami: no name in the header
                name = None
            whoami.append(name)
        return whoami[0]

    app = UiApp(source, f"hubver ui · {client.endpoint}", user)
    sock = bind("127.0.0.1", port)
    app.port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
    thread = threading.Thread(target=lambda: server.run(sockets=[sock]), name="hubver-ui", daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        thread.join(0.01)
    if not server.started:
        raise RuntimeError("hubver ui failed to start")
    base = base_url(sock)
    start = f"/{quote(repo, safe='/')}" if repo else "/"
    return RunningUi(f"{base}{app.root}{start}", base, app, server, thread)


def launch_file(url: str) -> tuple[Path, Path]:
    """A 0600 HTML file, in a new 0700 directory, that sends the browser on to `url`: the browser
    is opened at this file, so the key is never on a command line (which `ps` shows to every
    user). (file, directory): the caller removes the directory when the ui stops."""
    import html
    import os
    import tempfile

    directory = Path(tempfile.mkdtemp(prefix="hubver-ui-"))  # 0700
    path = directory / "open.html"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        u = html.escape(url, quote=True)
        f.write(
            '<!doctype html><meta charset="utf-8"><meta name="referrer" content="no-referrer">'
            f'<meta http-equiv="refresh" content="0; url={u}"><title>hubver ui</title>'
            f'<p><a href="{u}">Open hubver ui</a></p>\n'
        )
    return path, directory
