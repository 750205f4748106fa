"""`hubver ui`: the web pages on 127.0.0.1 for any hub, read through its API with the user's token.

The token stays in this process: pages are rendered here and the browser gets HTML only. So that
other local users, or pages from other sites, cannot read private repositories through this
port: the Host header must name 127.0.0.1/localhost and this port (no DNS rebinding), and every
request needs the session cookie that only the printed URL's one-time launch key gets
(HttpOnly, SameSite=Strict).
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..server.errors import HubHTTPError
from ..server.httputil import error_response
from ..server.routing import Router
from .http import SECURITY_HEADERS, WebPages, cookie, safe_next, web_routes
from .session import SESSION_COOKIE, Sessions
from .source import NotFound, Source

if TYPE_CHECKING:
    from ..client import HubClient


class UiSite:
    sign_in = False

    def __init__(self, source: Source, label: str, user: Callable[[], str | None]) -> None:
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
    """ASGI app of `hubver ui`: Host check, launch key, then the pages' routes."""

    def __init__(self, source: Source, label: str, user: Callable[[], str | None] = lambda: None) -> None:
        self.sessions: Sessions[bool] = Sessions()
        self.pages = WebPages(UiSite(source, label, user), self.sessions)
        self.router = Router(web_routes(self.pages, with_resolve=True))
        self.launch_key = secrets.token_urlsafe(24)
        self._launched = False
        self._lock = threading.Lock()
        self.port = 0  # set once bound: the Host header must name it

    def allowed_hosts(self) -> set[str]:
        return {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}

    def _launch(self, request: Request) -> Response:
        key = request.query_params.get("key", "")
        with self._lock:
            ok = not self._launched and hmac.compare_digest(key, self.launch_key)
            self._launched = self._launched or ok
        if not ok:
            return _plain(
                403, "This launch link was used already or is wrong: run `hubver ui` again for a new one."
            )
        response = Response(
            status_code=303,
            headers={"Location": safe_next(request.query_params.get("next")), **SECURITY_HEADERS},
        )
        response.headers.append("set-cookie", cookie(SESSION_COOKIE, self.sessions.open(True), secure=False))
        return response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        if request.headers.get("host", "") not in self.allowed_hosts():
            response = _plain(421, "hubver ui answers only at 127.0.0.1 or localhost on its own port.")
        elif request.url.path == "/launch":
            response = self._launch(request)
        elif not self.sessions.get(request.cookies.get(SESSION_COOKIE)):
            response = _plain(403, "Open the URL that `hubver ui` printed (it signs this browser in once).")
        else:
            try:
                response = await self.router.dispatch(request)
            except HubHTTPError as e:
                response = error_response(e, dict(SECURITY_HEADERS))
        await response(scope, receive, send)


@dataclass
class RunningUi:
    url: str  # the launch URL: opens `start` and signs the browser in
    base: str
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
    url = f"{base}/launch?key={app.launch_key}&next={quote(start, safe='')}"
    return RunningUi(url, base, app, server, thread)
