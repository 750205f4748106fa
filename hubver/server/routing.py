"""The hub's route table: (method, path template) -> handler, matched on the request's raw path.

Clients quote revisions with `safe=""` (`refs%2Fpr%2F1`, `release%2F1.0`) while file paths keep
their slashes, so a path is split into segments on its raw slashes *before* decoding. Patterns
match a normalised form of that split (each decoded segment with only `%` and `/` re-quoted), so a
`/` inside a segment never crosses a segment boundary; the captured values are decoded again.

Templates: `{x}` is one segment, `{x:path}` the rest of the path (slashes included), `[...]` an
optional part, and `{repo_type}` a type directory (`models`, `datasets`, `spaces`). A template
that starts with `[/{repo_type}]` is a repository path without `/api`: `datasets/` or `spaces/`
first, or a model repository whose namespace is none of the hub's reserved prefixes.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response

from . import names
from .errors import HTTPBadRequest, HTTPNotFound, HTTPRepoNotFound

Handler = Callable[..., Awaitable[Response]]

ANY = "*"  # a route that answers every method
# First segments that are never a model repository's namespace on a path without /api.
SIGNED_UPLOAD_PATHS = ("lfs-upload", "lfs-part", "lfs-complete")
_NOT_REPO_PATHS = ("api", *SIGNED_UPLOAD_PATHS, "datasets", "spaces")
# What follows a repository id in an API path: with one segment fewer, the id had no namespace.
_REPO_SUBPATHS = (
    "revision",
    "commits",
    "tree",
    "refs",
    "paths-info",
    "preupload",
    "commit",
    "tag",
    "branch",
    "settings",
)
_TOKEN = re.compile(r"\[/\{repo_type\}\]|\{(\w+)(:path)?\}|\[|\]|[^\[\]{]+")


def compile_template(template: str) -> re.Pattern[str]:
    """The regex of a path template (see the module docstring)."""
    out = []
    for m in _TOKEN.finditer(template):
        tok = m.group(0)
        if tok == "[/{repo_type}]":
            excluded = "|".join(re.escape(s) for s in _NOT_REPO_PATHS)
            out.append(f"(?:/(?P<repo_type>datasets|spaces)|(?!/(?:{excluded})(?:/|$)))")
        elif m.group(1) == "repo_type":
            out.append("(?P<repo_type>" + "|".join(names.REPO_TYPES) + ")")
        elif m.group(1):
            out.append(f"(?P<{m.group(1)}>" + (".*" if m.group(2) else "[^/]*") + ")")
        elif tok == "[":
            out.append("(?:")
        elif tok == "]":
            out.append(")?")
        else:
            out.append(re.escape(tok))
    return re.compile("".join(out) + r"\Z", re.DOTALL)


@dataclass(frozen=True)
class Route:
    """One entry of the table. A template with `{namespace}/{name}` hands the handler an
    `address` (validated `RepoAddress`); other fields are passed by name, decoded."""

    methods: tuple[str, ...]
    template: str
    handler: Handler
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", compile_template(self.template))

    def describe(self) -> list[str]:
        """`METHOD template` lines, as docs/hub-api.md lists them."""
        return [f"{m} {self.template}" for m in self.methods]


def route(methods: str, template: str, handler: Handler) -> Route:
    """A `Route` from `"GET HEAD"`-style methods (`*`: any)."""
    return Route(tuple(methods.split()), template, handler)


def split_path(request: Request) -> list[str]:
    """The request path's segments, each decoded; 400 if one is not UTF-8 or holds a NUL."""
    raw = request.scope.get("raw_path") or request.scope["path"].encode()
    raw_path = raw.split(b"?", 1)[0].decode("latin-1")
    try:
        segs = [unquote(s, errors="strict") for s in raw_path.split("/")[1:]]
    except UnicodeDecodeError:
        raise HTTPBadRequest("The request path is not valid UTF-8.") from None
    if any("\x00" in s for s in segs):
        raise HTTPBadRequest("The request path contains a NUL byte.")
    return segs


def repo_address(type_dir: str, namespace: str, name: str) -> names.RepoAddress:
    """The validated repository of a route (400 for an invalid id)."""
    repo_type = names.REPO_TYPES.get(type_dir)
    if repo_type is None:
        raise HTTPNotFound(f"Unknown repo type {type_dir!r}.")
    return names.RepoAddress(repo_type, names.check_repo_id(namespace, name))


class Router:
    """Finds the route of a request: the first entry whose method and pattern match, in order."""

    def __init__(self, routes: Sequence[Route]) -> None:
        self.routes = list(routes)
        # Per method, the routes that answer it, in table order: a request tries only those.
        methods = {m for r in self.routes for m in r.methods if m != ANY}
        self._by_method = {m: [r for r in self.routes if m in r.methods or ANY in r.methods] for m in methods}
        self._any = [r for r in self.routes if ANY in r.methods]

    async def dispatch(self, request: Request) -> Response:
        segs = split_path(request)
        path = "/" + "/".join(s.replace("%", "%25").replace("/", "%2F") for s in segs)
        method = request.method
        for r in self._by_method.get(method, self._any):
            m = r.pattern.match(path)
            if m is None:
                continue
            fields = {k: unquote(v) for k, v in m.groupdict().items() if v is not None}
            kwargs: dict[str, Any] = {}
            if "namespace" in fields:
                type_dir = fields.pop("repo_type", "models")
                kwargs["address"] = repo_address(type_dir, fields.pop("namespace"), fields.pop("name"))
            kwargs.update(fields)
            return await r.handler(request, **kwargs)
        raise no_route(method, segs)


def no_route(method: str, segs: list[str]) -> Exception:
    """The answer to a path no route takes: 404, after the repository id is checked where the
    path names one (an invalid id is a 400 whatever follows it)."""
    if segs and segs[0] == "api":
        rest = segs[1:]
        if (
            rest
            and rest[0] in names.REPO_TYPES
            and (len(rest) == 2 or rest[2:3] == [""] or (len(rest) >= 4 and rest[2] in _REPO_SUBPATHS))
        ):
            return no_such_canonical_repo(rest[0], rest[1])
        if len(rest) >= 3 and rest[0] in names.REPO_TYPES:
            repo_address(rest[0], rest[1], rest[2])
        return HTTPNotFound(f"No API route for {method} /api/{'/'.join(rest)}.")
    if segs and segs[0] in SIGNED_UPLOAD_PATHS:
        return HTTPNotFound(f"No route for {method} /{'/'.join(segs)}.")
    type_dir = "models"
    if segs and segs[0] in ("datasets", "spaces"):
        type_dir, segs = segs[0], segs[1:]
    if len(segs) >= 4 and segs[1] == "resolve":
        return no_such_canonical_repo(type_dir, segs[0])
    if len(segs) == 6 and segs[1].endswith(".git") and segs[2:5] == ["info", "lfs", "objects"]:
        repo_address("models", segs[0], segs[1][:-4])
    return HTTPNotFound(f"No route for {method} /{'/'.join(segs)}.")


def no_such_canonical_repo(type_dir: str, name: str) -> Exception:
    """The answer to a repository id without a namespace (`gpt2`): valid syntax, as on the Hub,
    where such ids name its canonical repositories; this hub holds none (every repository is
    created in a namespace), so it is a missing repository (400 if the name itself is invalid)."""
    names.check_name(name)
    if type_dir not in names.REPO_TYPES:
        return HTTPNotFound(f"Unknown repo type {type_dir!r}.")
    return HTTPRepoNotFound("Repository not found")
