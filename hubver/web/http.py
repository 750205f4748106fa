"""The pages over HTTP: handlers for the hub's route table (and `hubver ui`'s), headers, sign-in.

Every HTML answer carries the Content-Security-Policy below (no inline script or style, nothing
from another host, no framing), `nosniff` and a same-origin referrer policy. Handlers run the
page builders in a worker thread: a `Source` reads files or makes HTTP requests.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs, quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..server.httputil import IMAGE_HEADERS, media_type
from ..server.names import RepoAddress
from ..server.routing import Route, route
from .session import CSRF_COOKIE, SESSION_COOKIE, Sessions
from .source import NotFound, Source, Unavailable

if TYPE_CHECKING:
    from . import pages

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
MAX_FORM = 64 * 1024
STATIC_FILES = ("hubver.css", "hubver.js")


def _pages() -> Any:
    """hubver.web.pages, imported on the first page served: the hub starts without Jinja2,
    markdown-it and nh3 loaded (every `--local` command starts one in-process)."""
    from . import pages

    return pages


class Site(Protocol):
    """Who serves the pages: the embedded hub (sign-in, its store) or `hubver ui` (a Hub's API)."""

    sign_in: bool  # offer /login (the hub); `hubver ui` has no sign-in and sets no cookie
    label: str  # shown in the header
    root: str  # the path every page URL starts with: "" (the hub), `/s/<key>` (`hubver ui`)

    def source(self, request: Request) -> Source: ...

    def user_name(self, request: Request) -> str | None: ...

    def secure(self, request: Request) -> bool:
        """Cookies get `Secure` (the pages are served over https)."""
        ...


@dataclass
class Login:
    """The hub's sign-in: a token -> the session principal (None for a wrong token)."""

    authenticate: Callable[[str], Any]


def cookie(name: str, value: str, *, secure: bool, max_age: int | None = None) -> str:
    parts = [f"{name}={value}", "HttpOnly", "SameSite=Strict", "Path=/"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def safe_next(target: str | None) -> str:
    """A same-site path to go to after signing in ("/" for anything else)."""
    t = target or "/"
    # Browsers drop tabs and newlines from a URL and read a backslash as a slash, so `/\t/host`
    # or `/\\host` would leave the site: no control character, backslash or space at all.
    if not t.startswith("/") or t.startswith("//") or any(c <= " " or c in "\\\x7f" for c in t):
        return "/"
    # A Location header is latin-1: a path with other characters goes percent-encoded (`/€`).
    return quote(t, safe="/?&=%#:@!$'()*+,;~-._")


class WebPages:
    def __init__(self, site: Site, sessions: Sessions[Any], login: Login | None = None) -> None:
        self.site = site
        self.sessions = sessions
        self.login_with = login

    # -- plumbing ----------------------------------------------------------------------------

    def _browser(self, request: Request) -> tuple[str, bool]:
        """The browser's CSRF cookie value, and whether it has to be set now."""
        value = request.cookies.get(CSRF_COOKIE, "")
        if len(value) >= 16 and value.isascii() and value.replace("-", "").replace("_", "").isalnum():
            return value, False
        return secrets.token_urlsafe(18), True

    def html(
        self,
        request: Request,
        template: str,
        context: dict[str, Any],
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Response:
        # Only a site with sign-in has forms to protect; `hubver ui` sets no cookie at all.
        browser, new = self._browser(request) if self.site.sign_in else ("", False)
        full = {
            "user": self.site.user_name(request),
            "sign_in": self.site.sign_in,
            "site_label": self.site.label,
            "root": self.site.root,
            "csrf": self.sessions.csrf_token(browser) if browser else "",
            "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            **context,
        }
        from .render import render

        response = Response(render(template, full), status_code=status, media_type="text/html")
        for k, v in {**SECURITY_HEADERS, "Cache-Control": "no-store", **(headers or {})}.items():
            response.headers[k] = v
        if new:
            response.headers.append(
                "set-cookie", cookie(CSRF_COOKIE, browser, secure=self.site.secure(request))
            )
        return response

    def error(self, request: Request, status: int, message: str, **extra: Any) -> Response:
        titles = {
            400: "Bad request",
            401: "Sign-in failed",
            403: "Forbidden",
            404: "Not found",
            503: "Hub unreachable",
        }
        return self.html(
            request,
            "error.html",
            {"title": titles.get(status, "Error"), "status": status, "message": message, **extra},
            status,
        )

    async def page(
        self, request: Request, template: str, build: Callable[[Source], dict[str, Any]]
    ) -> Response:
        source = self.site.source(request)
        try:
            context = await run_in_threadpool(build, source)
        except NotFound as e:
            return self.error(request, 404, str(e) or "Not found.")
        except _pages().BadRequest as e:
            return self.error(request, 400, str(e))
        except Unavailable as e:
            return self.error(request, 503, str(e))
        return self.html(request, template, context, 404 if context.get("missing") else 200)

    def _ref(self, address: RepoAddress) -> pages.RepoRef | None:
        p = _pages()
        ref: pages.RepoRef = p.RepoRef(address.repo_type, address.repo_id, self.site.root)
        return ref if address.repo_type in p.TYPE_DIRS else None

    async def _repo_page(
        self,
        request: Request,
        address: RepoAddress,
        template: str,
        build: Callable[[Source, pages.RepoRef], dict[str, Any]],
    ) -> Response:
        ref = self._ref(address)
        if ref is None:
            return self.error(request, 404, "hubver shows model and dataset repositories only.")
        return await self.page(request, template, lambda s: build(s, ref))

    # -- pages -------------------------------------------------------------------------------

    async def static(self, request: Request, path: str) -> Response:
        if path not in STATIC_FILES:
            return self.error(request, 404, "No such file.")
        data = resources.files("hubver.web").joinpath("static").joinpath(path).read_bytes()
        kind = "text/css" if path.endswith(".css") else "text/javascript"
        return Response(data, media_type=kind, headers={**SECURITY_HEADERS, "Cache-Control": "max-age=3600"})

    async def home(self, request: Request) -> Response:
        q = request.query_params.get("q", "")
        return await self.page(request, "home.html", lambda s: _pages().home_page(s, q, self.site.root))

    async def repo(self, request: Request, address: RepoAddress) -> Response:
        sort, q = request.query_params.get("sort", ""), request.query_params.get("q", "")
        return await self._repo_page(
            request, address, "repo.html", lambda s, r: _pages().repo_page(s, r, sort=sort, q=q)
        )

    async def tree(self, request: Request, address: RepoAddress, rev: str, path: str = "") -> Response:
        return await self._repo_page(
            request, address, "tree.html", lambda s, r: _pages().tree_page(s, r, rev, path)
        )

    async def commits(self, request: Request, address: RepoAddress, rev: str) -> Response:
        return await self._repo_page(
            request, address, "commits.html", lambda s, r: _pages().commits_page(s, r, rev)
        )

    async def version(self, request: Request, address: RepoAddress, version: str) -> Response:
        return await self._repo_page(
            request, address, "version.html", lambda s, r: _pages().version_page(s, r, version)
        )

    async def chart(self, request: Request, address: RepoAddress) -> Response:
        metric = request.query_params.get("metric", "")
        return await self._repo_page(
            request, address, "chart.html", lambda s, r: _pages().chart_page(s, r, metric)
        )

    async def compare(self, request: Request, address: RepoAddress, spec: str) -> Response:
        return await self._repo_page(
            request, address, "compare.html", lambda s, r: _pages().compare_page(s, r, spec)
        )

    async def aliases(self, request: Request, address: RepoAddress) -> Response:
        return await self._repo_page(
            request, address, "aliases.html", lambda s, r: _pages().aliases_page(s, r)
        )

    async def resolve(self, request: Request, address: RepoAddress, rev: str, path: str) -> Response:
        """A file's bytes through the pages' source (`hubver ui`: card images, small files)."""
        ref = self._ref(address)
        if ref is None:
            return self.error(request, 404, "Not found.")
        source = self.site.source(request)

        def read() -> bytes | None:
            commit = source.resolve(ref.repo_type, ref.repo_id, rev)
            return source.read_file(ref.repo_type, ref.repo_id, commit, path)

        try:
            data = await run_in_threadpool(read)
        except NotFound as e:
            return self.error(request, 404, str(e))
        except Unavailable as e:
            return self.error(request, 503, str(e))
        if data is None:
            return self.error(
                request,
                404,
                f"{path} at {rev} is absent or too large to show here; download it with `hubver checkout`.",
            )
        # As the hub serves them: a picture as what it is, under a sandboxing CSP (a repository's
        # SVG is someone's markup on this origin); anything else a download.
        kind = media_type(path)
        if kind.startswith("image/"):
            headers = dict(IMAGE_HEADERS)
        else:
            name = quote(path.rsplit("/", 1)[-1], safe="")
            headers = {**SECURITY_HEADERS, "Content-Disposition": f"attachment; filename*=UTF-8''{name}"}
        return Response(data, media_type=kind, headers=headers)

    # -- sign-in (the embedded hub) -----------------------------------------------------------

    async def _form(self, request: Request) -> dict[str, str] | None:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM:
                return None
        try:
            parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
        except (UnicodeDecodeError, ValueError):
            return None
        return {k: v[0] for k, v in parsed.items()}

    def _csrf_ok(self, request: Request, form: dict[str, str]) -> bool:
        return self.sessions.check_csrf(request.cookies.get(CSRF_COOKIE), form.get("csrf"))

    async def login_form(self, request: Request) -> Response:
        if self.login_with is None:
            return self.error(request, 404, "No sign-in here.")
        return self.html(
            request,
            "login.html",
            {
                "title": "Sign in",
                "next": safe_next(request.query_params.get("next")),
                "failed": None,
                "on_login_page": True,
            },
        )

    async def login(self, request: Request) -> Response:
        if self.login_with is None:
            return self.error(request, 404, "No sign-in here.")
        form = await self._form(request)
        if form is None or not self._csrf_ok(request, form):
            return self.error(
                request,
                403,
                "The form expired or did not come from this site: reload the sign-in page and try again.",
            )
        nxt = safe_next(form.get("next"))
        token = form.get("token", "").strip()
        principal = await run_in_threadpool(self.login_with.authenticate, token) if token else None
        if principal is None:
            return self.html(
                request,
                "login.html",
                {
                    "title": "Sign in",
                    "next": nxt,
                    "on_login_page": True,
                    "failed": "That token is not valid on this hub: paste a token of your account (its administrator makes one with `hubver hub add-user`).",
                },
                401,
            )
        value = self.sessions.open(principal)
        response = Response(status_code=303, headers={"Location": nxt, **SECURITY_HEADERS})
        response.headers.append("set-cookie", cookie(SESSION_COOKIE, value, secure=self.site.secure(request)))
        return response

    async def logout(self, request: Request) -> Response:
        form = await self._form(request)
        if form is None or not self._csrf_ok(request, form):
            return self.error(
                request,
                403,
                "The form expired or did not come from this site: reload the page and try again.",
            )
        self.sessions.close(request.cookies.get(SESSION_COOKIE))
        response = Response(status_code=303, headers={"Location": "/", **SECURITY_HEADERS})
        response.headers.append(
            "set-cookie", cookie(SESSION_COOKIE, "", secure=self.site.secure(request), max_age=0)
        )
        return response


REPO = "[/{repo_type}]/{namespace}/{name}"


def web_routes(web: WebPages, *, with_resolve: bool = False, with_sign_in: bool = True) -> list[Route]:
    """The pages' routes, for a route table (docs/hub-api.md lists them after the API's)."""
    table = [route("GET", "/static/{path}", web.static), route("GET", "/", web.home)]
    if with_sign_in:
        table += [
            route("GET", "/login", web.login_form),
            route("POST", "/login", web.login),
            route("POST", "/logout", web.logout),
        ]
    table += [
        route("GET", REPO, web.repo),
        route("GET", REPO + "/tree/{rev}[/{path:path}]", web.tree),
        route("GET", REPO + "/commits/{rev}", web.commits),
        route("GET", REPO + "/versions/{version}", web.version),
        route("GET", REPO + "/chart", web.chart),
        route("GET", REPO + "/compare/{spec}", web.compare),
        route("GET", REPO + "/aliases", web.aliases),
    ]
    if with_resolve:
        table.append(route("GET", REPO + "/resolve/{rev}/{path:path}", web.resolve))
    return table
