"""The pages mounted in the embedded hub: its store as the source, its tokens for sign-in.

Who reads: the user of the session cookie (signed in at /login with a token), else the user of
an Authorization header (as the API), else anonymous, who sees public repositories only.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request

from ..server.auth import User, hash_token
from ..server.context import ServerContext
from ..server.errors import HubHTTPError
from ..server.routing import Route
from .http import Login, WebPages, web_routes
from .session import SESSION_COOKIE, DirSessions
from .source import Source
from .store_source import StoreSource

SESSIONS_DIR = "web-sessions"  # under the data dir: one file per signed-in browser


class HubSite:
    sign_in = True
    label = "hubver hub"

    def __init__(self, ctx: ServerContext, sessions: DirSessions) -> None:
        self.ctx = ctx
        self.sessions = sessions

    root = ""

    def session_user(self, request: Request) -> User | None:
        # The session holds the token's digest, looked up again on every request: a token
        # revoked on the hub ends its sessions at once.
        digest = self.sessions.get(request.cookies.get(SESSION_COOKIE))
        return self.ctx.tokens.user_for_digest(digest) if digest else None

    def user(self, request: Request) -> User | None:
        user = self.session_user(request)
        if user is None and request.headers.get("authorization"):
            try:
                user = self.ctx.user(request)
            except HubHTTPError:
                return None
        return user

    def source(self, request: Request) -> Source:
        return StoreSource(self.ctx.store, self.user(request))

    def user_name(self, request: Request) -> str | None:
        user = self.user(request)
        return user.name if user else None

    def secure(self, request: Request) -> bool:
        return str(self.ctx.config.public_url or "").startswith("https:") or request.url.scheme == "https"


def hub_page_routes(ctx: ServerContext) -> list[Route]:
    sessions = DirSessions(Path(ctx.config.data_dir) / SESSIONS_DIR, ctx.signer.sign)

    def sign_in(token: str) -> str | None:
        return hash_token(token) if ctx.tokens.authenticate(token) is not None else None

    site = HubSite(ctx, sessions)
    ctx.session_user = site.session_user  # the API's resolve serves the pages' files to a session
    return web_routes(WebPages(site, sessions, Login(sign_in)))
