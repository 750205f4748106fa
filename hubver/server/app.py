"""The embedded hub's HTTP API: the subset of huggingface.co that the HF clients use.

The contract is `shared/docs/hub-api.md`. Routing is on the raw path, splitting before
decoding each segment, because clients send revisions quoted with `safe=""`
(`release%2F1.0`) while file paths keep their slashes.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import secrets
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote

import yaml
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from . import names
from .auth import Signer, TokenStore, User
from .errors import (
    BadRequest,
    Conflict,
    EntryNotFound,
    Forbidden,
    HubHTTPError,
    NotFound,
    PayloadTooLarge,
    RepoNotFound,
    RevisionNotFound,
    Unauthorized,
)
from .repos import DEFAULT_BRANCH, FileEntry, Op, Repo, RepoStore, Snapshot

log = logging.getLogger("hubver.hub")

MiB = 1 << 20
XET_MESSAGE = (
    "This hub stores large files with plain git-LFS, not Xet. "
    "Set HF_HUB_DISABLE_XET=1 in the environment and retry (hubver does this by itself)."
)


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


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _header_safe(text: str) -> str:
    # A header value may hold only visible ASCII and spaces: one control character from the
    # request echoed here (a NUL, an ESC) and uvicorn drops the whole response.
    ascii_text = text.encode("ascii", "replace").decode()
    return " ".join("".join(c if c.isprintable() else " " for c in ascii_text).split())[:1000]


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


class BigFileResponse(FileResponse):
    # 1 MiB reads: far fewer thread hops than starlette's 64 KiB for multi-GB files.
    chunk_size = MiB


@dataclass
class Route:
    repo_type: str
    repo_id: str
    rest: list[str]


class HubApp:
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

    # -- ASGI entry ----------------------------------------------------------------------------

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
            response = self.error(e)
        except Exception:
            log.exception("internal error on %s %s", scope["method"], scope["path"])
            response = self.error(HubHTTPError("Internal server error.", status=500, code="InternalError"))
        await response(scope, receive, send)

    @staticmethod
    def error(e: HubHTTPError, headers: dict[str, str] | None = None) -> Response:
        h = {"X-Error-Message": _header_safe(e.message)}
        if e.code:
            h["X-Error-Code"] = e.code
        h.update(e.headers)
        h.update(headers or {})
        return JSONResponse({"error": e.message}, status_code=e.status, headers=h)

    # -- routing ---------------------------------------------------------------------------------

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
        return await self.dispatch_repo_path(request, method, segs)

    def _route(self, type_dir: str, ns: str, name: str, rest: list[str]) -> Route:
        repo_type = names.REPO_TYPES.get(type_dir)
        if repo_type is None:
            raise NotFound(f"Unknown repo type {type_dir!r}.")
        return Route(repo_type, names.check_repo_id(ns, name), rest)

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
        arg = rest[1] if len(rest) > 1 else None
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
        if action in ("xet-write-token", "xet-read-token"):
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

    # -- access ----------------------------------------------------------------------------------

    def user(self, request: Request) -> User | None:
        auth = request.headers.get("authorization", "")
        if not auth:
            return None
        scheme, _, token = auth.partition(" ")
        user = self.tokens.authenticate(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise Unauthorized("Invalid credentials in Authorization header")
        return user

    def require_user(self, request: Request) -> User:
        user = self.user(request)
        if user is None:
            raise Unauthorized(
                "Authentication required: send a token in the Authorization header "
                "(huggingface_hub: token=... or HF_TOKEN; hubver: --token or HF_TOKEN)."
            )
        return user

    def repo_for_read(self, request: Request, route: Route) -> Repo:
        user = self.user(request)
        repo = self.store.get(route.repo_type, route.repo_id)
        if repo.meta.private and not (user and user.owns(route.repo_id.split("/")[0])):
            raise RepoNotFound(f"Repository {route.repo_id!r} not found.")
        return repo

    def repo_for_write(self, request: Request, route: Route) -> tuple[Repo, User]:
        user = self.require_user(request)
        repo = self.store.get(route.repo_type, route.repo_id)
        owns = user.owns(route.repo_id.split("/")[0])
        if repo.meta.private and not owns:
            raise RepoNotFound(f"Repository {route.repo_id!r} not found.")
        if not owns:
            raise Forbidden(f"You ({user.name}) do not have write access to {route.repo_id}.")
        return repo, user

    # -- bodies ----------------------------------------------------------------------------------

    async def read_body(self, request: Request, limit: int) -> bytes:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        return bytes(body)

    async def read_json(self, request: Request, *, optional: bool = False) -> Any:
        body = await self.read_body(request, self.config.max_json_body)
        if not body.strip() and optional:
            return {}
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("The request body is not valid JSON.") from None

    def base_url(self, request: Request) -> str:
        return str(request.base_url).rstrip("/")

    @staticmethod
    def url_prefix(route: Route) -> str:
        return "" if route.repo_type == "model" else f"{names.TYPE_DIRS[route.repo_type]}/"

    # -- account and misc ------------------------------------------------------------------------

    async def whoami(self, request: Request) -> Response:
        user = self.require_user(request)
        return JSONResponse(
            {
                "type": "user",
                "id": user.name,
                "name": user.name,
                "fullname": user.name,
                "isPro": False,
                "canPay": False,
                "orgs": [{"type": "org", "name": o, "roleInOrg": "write"} for o in user.orgs],
                "auth": {"type": "access_token", "accessToken": {"displayName": "hubver", "role": "write"}},
            }
        )

    async def agent_harnesses(self, request: Request) -> Response:
        return JSONResponse({"standardEnvVars": [], "harnesses": {}})

    async def validate_yaml(self, request: Request) -> Response:
        body = await self.read_json(request)
        content = body.get("content", "") if isinstance(body, dict) else ""
        try:
            _card_metadata(content if isinstance(content, str) else "")
        except ValueError as e:
            return JSONResponse({"errors": [{"message": str(e)}], "warnings": []}, status_code=400)
        return JSONResponse({"errors": [], "warnings": []})

    # -- repos -------------------------------------------------------------------------------------

    def _repo_target(self, body: Any, user: User) -> tuple[str, str]:
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise BadRequest("Expected a JSON body with 'name' (and optionally 'organization', 'type').")
        type_name = body.get("type") or "model"
        # Checked as strings first: a list or a number here would be a 500 further down.
        if not isinstance(type_name, str) or type_name not in names.TYPE_DIRS:
            raise BadRequest(f"Invalid repo type {type_name!r}.")
        namespace = body.get("organization") or user.name
        if not isinstance(namespace, str):
            raise BadRequest(f"Invalid namespace {namespace!r}: expected a string.")
        return type_name, names.check_repo_id(namespace, body["name"])

    async def create_repo(self, request: Request) -> Response:
        user = self.require_user(request)
        body = await self.read_json(request)
        repo_type, repo_id = self._repo_target(body, user)
        prefix = "" if repo_type == "model" else f"{names.TYPE_DIRS[repo_type]}/"
        url = f"{self.base_url(request)}/{prefix}{repo_id}"
        if not user.owns(repo_id.split("/")[0]):
            raise Forbidden(f"You ({user.name}) cannot create repositories in {repo_id.split('/')[0]!r}.")
        private = body.get("visibility") == "private" or bool(body.get("private"))
        try:
            await run_in_threadpool(self.store.create, repo_type, repo_id, private=private, owner=user.name)
        except Conflict as e:
            return JSONResponse(
                {"error": e.message, "url": url},
                status_code=409,
                headers={"X-Error-Message": _header_safe(e.message)},
            )
        return JSONResponse({"url": url, "name": repo_id, "id": repo_id})

    async def delete_repo(self, request: Request) -> Response:
        user = self.require_user(request)
        body = await self.read_json(request)
        repo_type, repo_id = self._repo_target(body, user)
        route = Route(repo_type, repo_id, [])
        self.repo_for_write(request, route)
        await run_in_threadpool(self.store.delete, repo_type, repo_id)
        return JSONResponse({})

    async def settings(self, request: Request, route: Route) -> Response:
        self.repo_for_write(request, route)
        body = await self.read_json(request)
        if isinstance(body, dict) and ("private" in body or "visibility" in body):
            private = body.get("visibility") == "private" if "visibility" in body else bool(body["private"])
            self.store.set_private(route.repo_type, route.repo_id, private)
        return JSONResponse({})

    def _card(self, repo: Repo, snap: Snapshot) -> dict:
        entry = snap.files.get("README.md")
        if entry is None or entry.lfs_oid or entry.size > MiB:
            return {}
        if entry.blob not in self._card_cache:
            try:
                meta = _card_metadata(repo.read_blob(entry.blob).decode("utf-8", "replace"))
            except ValueError:
                meta = {}
            if len(self._card_cache) > 1024:
                self._card_cache.clear()
            self._card_cache[entry.blob] = meta
        return self._card_cache[entry.blob]

    async def repo_info(self, request: Request, route: Route, rev: str | None) -> Response:
        repo = self.repo_for_read(request, route)
        blobs = _flag(request.query_params.get("blobs"))

        def build() -> dict:
            target = rev or DEFAULT_BRANCH
            names.check_revision(target)
            try:
                sha = repo.resolve(target)
            except RevisionNotFound:
                if rev is not None:
                    raise
                sha = None
            info: dict[str, Any] = {
                "_id": route.repo_id,
                "id": route.repo_id,
                "modelId": route.repo_id,
                "author": route.repo_id.split("/")[0],
                "sha": sha,
                "private": repo.meta.private,
                "gated": False,
                "disabled": False,
                "downloads": 0,
                "likes": 0,
                "createdAt": _iso(repo.meta.created_at),
                "siblings": [],
                "tags": [],
            }
            if sha is None:
                return info
            commit = repo.commit(sha)
            snap = repo.snapshot(sha)
            card = self._card(repo, snap)
            info["lastModified"] = _iso(commit.commit_time)
            info["cardData"] = card
            info["tags"] = [t for t in card.get("tags", []) if isinstance(t, str)] if card else []
            for key in ("library_name", "pipeline_tag"):
                if isinstance(card.get(key), str):
                    info[key] = card[key]
            siblings = []
            for path in sorted(snap.files):
                e = snap.files[path]
                item: dict[str, Any] = {"rfilename": path}
                if blobs:
                    item.update(size=e.size, blobId=e.blob)
                    if e.lfs_oid:
                        item["lfs"] = {"sha256": e.lfs_oid, "size": e.size, "pointerSize": e.pointer_size}
                siblings.append(item)
            info["siblings"] = siblings
            info["usedStorage"] = sum(e.size for e in snap.files.values())
            return info

        return JSONResponse(await run_in_threadpool(build))

    async def list_refs(self, request: Request, route: Route) -> Response:
        repo = self.repo_for_read(request, route)

        def build() -> dict:
            def items(kind: str, refs: dict[str, str]) -> list[dict]:
                return [
                    {"name": n, "ref": f"refs/{kind}/{n}", "targetCommit": sha}
                    for n, sha in sorted(refs.items())
                ]

            out = {
                "branches": items("heads", repo.branches()),
                "tags": items("tags", repo.tags()),
                "converts": [],
            }
            if _flag(request.query_params.get("include_prs")):
                out["pullRequests"] = []
            return out

        return JSONResponse(await run_in_threadpool(build))

    async def create_tag(self, request: Request, route: Route, rev: str) -> Response:
        repo, user = self.repo_for_write(request, route)
        body = await self.read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("tag"), str):
            raise BadRequest("Expected a JSON body with 'tag'.")
        names.check_revision(rev)
        message = body.get("message") if isinstance(body.get("message"), str) else None
        await run_in_threadpool(repo.create_tag, body["tag"], rev, message=message, tagger=user.name)
        return JSONResponse({})

    async def delete_tag(self, request: Request, route: Route, tag: str) -> Response:
        repo, _ = self.repo_for_write(request, route)
        names.check_ref_name(tag, "tag name")
        await run_in_threadpool(repo.delete_tag, tag)
        return JSONResponse({})

    async def create_branch(self, request: Request, route: Route, branch: str) -> Response:
        repo, _ = self.repo_for_write(request, route)
        body = await self.read_json(request, optional=True)
        start = body.get("startingPoint") if isinstance(body, dict) else None
        if start is not None:
            if not isinstance(start, str):
                raise BadRequest("'startingPoint' must be a string.")
            names.check_revision(start)
        await run_in_threadpool(repo.create_branch, branch, start)
        return JSONResponse({})

    async def delete_branch(self, request: Request, route: Route, branch: str) -> Response:
        repo, _ = self.repo_for_write(request, route)
        names.check_ref_name(branch, "branch name")
        await run_in_threadpool(repo.delete_branch, branch)
        return JSONResponse({})

    # -- history and trees -----------------------------------------------------------------------

    def _page(self, request: Request, default: int) -> tuple[int, int]:
        q = request.query_params
        try:
            limit = min(max(int(q.get("limit", default)), 1), 10 * default)
            if "cursor" in q:
                start = int(base64.urlsafe_b64decode(q["cursor"].encode()).decode())
            else:
                start = int(q.get("p", 0)) * limit
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise BadRequest("Invalid pagination parameters.") from None
        return max(start, 0), limit

    @staticmethod
    def _next_link(request: Request, **params: str) -> dict[str, str]:
        query = dict(request.query_params)
        query.update(params)
        qs = "&".join(f"{quote(k)}={quote(str(v))}" for k, v in query.items())
        return {"Link": f'<{request.url.replace(query=qs)}>; rel="next"'}

    async def list_commits(self, request: Request, route: Route, rev: str) -> Response:
        repo = self.repo_for_read(request, route)
        names.check_revision(rev)
        start, limit = self._page(request, self.config.page_size)

        def build() -> tuple[list[dict], bool]:
            out = []
            more = False
            for i, c in enumerate(repo.log(repo.resolve(rev))):
                if i < start:
                    continue
                if len(out) == limit:
                    more = True
                    break
                title, _, body = c.message.partition("\n")
                out.append(
                    {
                        "id": c.sha,
                        "title": title,
                        "message": body.strip("\n"),
                        "date": _iso(c.commit_time),
                        "authors": [{"user": c.author_name, "avatar": None}],
                    }
                )
            return out, more

        items, more = await run_in_threadpool(build)
        headers = self._next_link(request, p=str(start // limit + 1), limit=str(limit)) if more else {}
        return JSONResponse(items, headers=headers)

    def _tree_items(self, repo: Repo, snap: Snapshot, paths: list[str], expand: bool, commit: str) -> list:
        out = []
        for p in paths:
            if p in snap.files:
                out.append(_file_item(snap.files[p]))
            else:
                out.append({"type": "directory", "oid": snap.dirs[p], "size": 0, "path": p})
        if expand:
            _add_last_commits(repo, commit, out)
        return out

    async def list_tree(self, request: Request, route: Route, rev: str, path: str) -> Response:
        repo = self.repo_for_read(request, route)
        names.check_revision(rev)
        if path:
            names.check_path(path)
        expand = _flag(request.query_params.get("expand"))
        recursive = _flag(request.query_params.get("recursive"))
        start, limit = self._page(request, 50 if expand else self.config.tree_page_size)

        def build() -> tuple[list, bool]:
            sha = repo.resolve(rev)
            snap = repo.snapshot(sha)
            if path and path not in snap.dirs:
                raise EntryNotFound(f"{path!r} is not a directory at {rev}.", headers={"X-Repo-Commit": sha})
            prefix = f"{path}/" if path else ""
            candidates = [p for p in list(snap.dirs) + list(snap.files) if p and p.startswith(prefix)]
            if not recursive:
                candidates = [p for p in candidates if "/" not in p[len(prefix) :]]
            candidates.sort()
            page = candidates[start : start + limit]
            return self._tree_items(repo, snap, page, expand, sha), start + limit < len(candidates)

        items, more = await run_in_threadpool(build)
        cursor = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
        headers = self._next_link(request, cursor=cursor) if more else {}
        return JSONResponse(items, headers=headers)

    async def paths_info(self, request: Request, route: Route, rev: str) -> Response:
        repo = self.repo_for_read(request, route)
        names.check_revision(rev)
        body = await self.read_body(request, self.config.max_json_body)
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                data = json.loads(body)
            except ValueError:
                raise BadRequest("The request body is not valid JSON.") from None
            paths = data.get("paths", []) if isinstance(data, dict) else []
            expand = bool(data.get("expand")) if isinstance(data, dict) else False
        else:
            form = parse_qs(body.decode("utf-8", "replace"))
            paths = form.get("paths", [])
            expand = _flag((form.get("expand") or [""])[0])
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise BadRequest("'paths' must be a list of strings.")
        for p in paths:
            names.check_path(p.rstrip("/") or ".")

        def build() -> list:
            sha = repo.resolve(rev)
            snap = repo.snapshot(sha)
            found = [
                p.rstrip("/") for p in paths if p.rstrip("/") in snap.files or p.rstrip("/") in snap.dirs
            ]
            return self._tree_items(repo, snap, list(dict.fromkeys(found)), expand, sha)

        return JSONResponse(await run_in_threadpool(build))

    # -- downloads -------------------------------------------------------------------------------

    async def resolve(self, request: Request, route: Route, rev: str, path: str) -> Response:
        repo = self.repo_for_read(request, route)
        names.check_revision(rev)
        names.check_path(path)

        def lookup() -> tuple[str, FileEntry | None]:
            sha = repo.resolve(rev)
            return sha, repo.snapshot(sha).files.get(path)

        sha, entry = await run_in_threadpool(lookup)
        if entry is None:
            e = EntryNotFound(f"{path} does not exist at revision {rev}.")
            return self.error(e, {"X-Repo-Commit": sha})
        headers = {
            "X-Repo-Commit": sha,
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(path.rsplit('/', 1)[-1])}",
        }
        if entry.lfs_oid:
            lfs_path = repo.lfs.path(entry.lfs_oid)
            if repo.lfs.size(entry.lfs_oid) != entry.size:
                raise HubHTTPError(
                    f"The stored object for {path} is missing or damaged; it must be uploaded again.",
                    status=500,
                    code="LfsObjectMissing",
                )
            etag = f'"{entry.lfs_oid}"'
            headers.update({"ETag": etag, "X-Linked-Etag": etag, "X-Linked-Size": str(entry.size)})
            return BigFileResponse(lfs_path, headers=headers, media_type="application/octet-stream")
        headers["ETag"] = f'"{entry.blob}"'
        headers["Accept-Ranges"] = "bytes"
        data = await run_in_threadpool(repo.read_blob, entry.blob)
        return _bytes_response(request, data, headers)

    # -- uploads ---------------------------------------------------------------------------------

    async def preupload(self, request: Request, route: Route, rev: str) -> Response:
        repo, _ = self.repo_for_write(request, route)
        names.check_revision(rev)
        if _flag(request.query_params.get("create_pr")):
            raise BadRequest("Pull requests are not supported by the embedded hub; commit to a branch.")
        body = await self.read_json(request)
        files = body.get("files") if isinstance(body, dict) else None
        if not isinstance(files, list):
            raise BadRequest("Expected a JSON body with a 'files' list.")

        def build() -> list[dict]:
            snap = repo.snapshot(repo.resolve(rev))
            patterns = repo.lfs_patterns(snap)
            out = []
            for f in files:
                if not isinstance(f, dict) or not isinstance(f.get("path"), str):
                    raise BadRequest("Each file needs a 'path'.")
                path = names.check_path(f["path"])
                size = f.get("size")
                if not isinstance(size, int) or size < 0:
                    raise BadRequest(f"Invalid size for {path}.")
                try:
                    sample = base64.b64decode(f.get("sample") or "", validate=True)
                except (binascii.Error, ValueError, TypeError):  # TypeError: not a string
                    raise BadRequest(f"Invalid base64 sample for {path}.") from None
                lfs = size > 0 and (
                    size > self.config.regular_file_limit
                    or b"\0" in sample
                    or any(_gitattr(p, path) for p in patterns)
                )
                item: dict[str, Any] = {
                    "path": path,
                    "uploadMode": "lfs" if lfs else "regular",
                    "shouldIgnore": False,
                }
                existing = snap.files.get(path)
                if existing is not None:
                    if lfs and existing.lfs_oid:
                        item["oid"] = existing.lfs_oid
                    elif not lfs and not existing.lfs_oid:
                        item["oid"] = existing.blob
                out.append(item)
            return out

        return JSONResponse({"files": await run_in_threadpool(build), "commitOid": None})

    def _signed_url(self, request: Request, kind: str, route: Route, oid: str, size: int, *extra: str) -> str:
        expires = str(int(time.time() + self.config.upload_url_ttl))
        parts = [route.repo_type, route.repo_id, oid, str(size), *extra]
        sig = self.signer.sign(expires, kind, *parts)
        path = "/".join(quote(p, safe="") for p in [kind, *parts])
        return f"{self.base_url(request)}/{path}?expires={expires}&sig={sig}"

    async def lfs_batch(self, request: Request, route: Route) -> Response:
        repo, _ = self.repo_for_write(request, route)
        body = await self.read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("objects"), list):
            raise BadRequest("Expected an LFS batch request with 'objects'.")
        if body.get("operation", "upload") != "upload":
            raise BadRequest("Only the 'upload' operation is served here; download files through /resolve/.")
        transfers = body.get("transfers") or ["basic"]
        prefix = self.url_prefix(route)
        verify_href = f"{self.base_url(request)}/{prefix}{route.repo_id}.git/info/lfs/objects/verify"
        objects = []
        for obj in body["objects"]:
            oid = names.check_oid(obj.get("oid") if isinstance(obj, dict) else None)
            size = obj.get("size")
            if not isinstance(size, int) or size < 0:
                raise BadRequest(f"Invalid size for object {oid}.")
            if size > self.config.max_object_size:
                objects.append(
                    {
                        "oid": oid,
                        "size": size,
                        "error": {
                            "code": 422,
                            "message": f"Objects are limited to {self.config.max_object_size} bytes.",
                        },
                    }
                )
                continue
            if repo.lfs.has(oid, size):
                objects.append({"oid": oid, "size": size})
                continue
            verify = {"href": verify_href, "header": {}}
            if "multipart" in transfers and size > self.config.multipart_threshold:
                chunk = self.config.multipart_chunk
                count = math.ceil(size / chunk)
                upload_id = secrets.token_hex(8)
                header: dict[str, str] = {"chunk_size": str(chunk)}
                for n in range(1, count + 1):
                    header[str(n)] = self._signed_url(
                        request, "lfs-part", route, oid, size, upload_id, str(n)
                    )
                href = self._signed_url(request, "lfs-complete", route, oid, size, upload_id, str(count))
                objects.append(
                    {
                        "oid": oid,
                        "size": size,
                        "actions": {"upload": {"href": href, "header": header}, "verify": verify},
                    }
                )
            else:
                href = self._signed_url(request, "lfs-upload", route, oid, size)
                objects.append(
                    {"oid": oid, "size": size, "actions": {"upload": {"href": href}, "verify": verify}}
                )
        return JSONResponse(
            {"transfer": "basic", "objects": objects, "hash_algo": "sha256"},
            media_type="application/vnd.git-lfs+json",
        )

    async def lfs_verify(self, request: Request, route: Route) -> Response:
        repo, _ = self.repo_for_write(request, route)
        body = await self.read_json(request)
        oid = names.check_oid(body.get("oid") if isinstance(body, dict) else None)
        size = body.get("size")
        if not repo.lfs.has(oid, size):
            raise NotFound(f"Object {oid} of {size} bytes is not stored.")
        return JSONResponse({"success": True})

    async def signed_upload(self, request: Request, method: str, segs: list[str]) -> Response:
        kind = segs[0]
        want = {"lfs-upload": (5, "PUT"), "lfs-part": (7, "PUT"), "lfs-complete": (7, "POST")}[kind]
        if len(segs) != want[0] or method != want[1]:
            raise NotFound(f"No route for {method} /{'/'.join(segs)}.")
        type_name, repo_id, oid, size_s, *extra = segs[1:]
        q = request.query_params
        problem = self.signer.check(
            q.get("sig", ""), q.get("expires", ""), kind, type_name, repo_id, oid, size_s, *extra
        )
        if problem:
            raise Forbidden(f"Upload refused: {problem}.")
        if type_name not in names.TYPE_DIRS or repo_id.count("/") != 1:
            raise BadRequest("Malformed upload URL.")
        names.check_repo_id(*repo_id.split("/"))
        names.check_oid(oid)
        size = int(size_s)
        repo = self.store.get(type_name, repo_id)
        if kind == "lfs-complete":
            upload_id, count = extra[0], int(extra[1])
            await self.read_body(request, self.config.max_json_body)  # parts were checked on arrival
            if repo.lfs.has(oid, size):  # another upload of the same object finished first
                await run_in_threadpool(shutil.rmtree, repo.lfs.part_dir(upload_id), True)
            else:
                await run_in_threadpool(repo.lfs.assemble, oid, size, upload_id, count)
            return JSONResponse({"success": True})
        if kind == "lfs-part":
            upload_id, number = extra[0], int(extra[1])
            chunk = self.config.multipart_chunk
            expected = min(chunk, size - (number - 1) * chunk)
            if expected <= 0:
                raise BadRequest("Part number out of range.")
            tmp = await self._receive(request, repo, expected, None)
            await run_in_threadpool(repo.lfs.write_part, upload_id, number, tmp)
            return Response(status_code=200, headers={"ETag": f'"{upload_id}-{number}-{expected}"'})
        if repo.lfs.has(oid, size):
            await self._drain(request)
            return Response(status_code=200)
        await self._receive(request, repo, size, oid)
        return Response(status_code=200)

    async def _drain(self, request: Request) -> None:
        async for _ in request.stream():
            pass

    async def _receive(self, request: Request, repo: Repo, size: int, oid: str | None) -> Path:
        """Stream the body to disk. With `oid`, verify and store it as that object."""
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > size:
            raise PayloadTooLarge(f"The body ({declared} bytes) is larger than the announced {size} bytes.")
        upload = repo.lfs.new_upload(oid or "0" * 64, size)
        buf = bytearray()
        try:
            async for chunk in request.stream():
                buf += chunk
                if len(buf) >= 8 * MiB:
                    data, buf = buf, bytearray()
                    await run_in_threadpool(upload.write, data)
            if buf:
                await run_in_threadpool(upload.write, buf)
            if oid is not None:
                await run_in_threadpool(upload.commit)
                return repo.lfs.path(oid)
            return await run_in_threadpool(upload.finish_unchecked)
        except BaseException:
            upload.abort()
            raise

    # -- commits -------------------------------------------------------------------------------

    async def commit(self, request: Request, route: Route, rev: str) -> Response:
        repo, user = self.repo_for_write(request, route)
        names.check_revision(rev)
        if _flag(request.query_params.get("create_pr")):
            raise BadRequest("Pull requests are not supported by the embedded hub; commit to a branch.")
        if names.is_commit_id(rev) or repo.refs.get(f"refs/heads/{rev}") is None:
            if repo.refs.get(f"refs/tags/{rev}") is not None or names.is_commit_id(rev):
                raise BadRequest(f"Commits go to a branch; {rev!r} is not one.")
            raise RevisionNotFound(f"Branch {rev!r} does not exist.")
        header: dict | None = None
        ops: list[Op] = []
        total = 0
        buf = b""

        async def lines():
            nonlocal buf, total
            async for chunk in request.stream():
                total += len(chunk)
                if total > self.config.max_commit_body:
                    raise PayloadTooLarge(
                        f"The commit body is larger than {self.config.max_commit_body} bytes."
                    )
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    yield line
                if len(buf) > self.config.max_commit_line:
                    raise PayloadTooLarge(
                        f"A commit line is larger than {self.config.max_commit_line} bytes; "
                        "upload large files through LFS."
                    )
            if buf:
                yield buf

        async for line in lines():
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                key, value = item["key"], item["value"]
            except (ValueError, KeyError, TypeError):
                raise BadRequest("Each commit line must be JSON with 'key' and 'value'.") from None
            if not isinstance(value, dict):
                raise BadRequest(f"The value of a {key!r} line must be an object.")
            if key == "header":
                header = value
            elif key == "file":
                ops.append(await run_in_threadpool(self._regular_op, repo, value))
            elif key == "lfsFile":
                ops.append(await run_in_threadpool(self._lfs_op, repo, value))
            elif key in ("deletedFile", "deletedFolder"):
                path = value.get("path")
                if not isinstance(path, str):
                    raise BadRequest(f"A {key} line needs a 'path'.")
                kind = "delete" if key == "deletedFile" else "delete_folder"
                ops.append(Op(kind, names.check_path(path.rstrip("/") if kind == "delete_folder" else path)))
            else:
                raise BadRequest(f"Unknown commit operation {key!r}.")
        if header is None:
            raise BadRequest("The commit has no header line.")
        summary = header.get("summary") or "Upload files with huggingface_hub"
        description = header.get("description") or ""
        parent = header.get("parentCommit")
        if parent is not None and not (isinstance(parent, str) and names.is_commit_id(parent)):
            raise BadRequest("'parentCommit' must be a 40-character commit id.")
        message = str(summary) + (f"\n\n{description}" if description else "")
        sha = await run_in_threadpool(
            repo.commit_ops, rev, ops, parent=parent, author=user.name, message=message
        )
        prefix = self.url_prefix(route)
        return JSONResponse(
            {
                "success": True,
                "commitOid": sha,
                "commitUrl": f"{self.base_url(request)}/{prefix}{route.repo_id}/commit/{sha}",
                "commitMessage": message,
                "hookOutput": "",
                "pullRequestUrl": None,
            }
        )

    def _regular_op(self, repo: Repo, value: dict) -> Op:
        path = names.check_path(value.get("path") if isinstance(value.get("path"), str) else "")
        content = value.get("content", "")
        if not isinstance(content, str):
            raise BadRequest(f"The content of {path} must be a string.")
        if value.get("encoding", "base64") == "base64":
            try:
                data = base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError):
                raise BadRequest(f"The content of {path} is not valid base64.") from None
        else:
            data = content.encode()
        if len(data) > self.config.regular_file_limit:
            raise PayloadTooLarge(
                f"{path} is {len(data)} bytes: files above 5 MiB must be uploaded through LFS."
            )
        return Op("add", path, repo.write_blob(data))

    def _lfs_op(self, repo: Repo, value: dict) -> Op:
        path = names.check_path(value.get("path") if isinstance(value.get("path"), str) else "")
        if value.get("algo", "sha256") != "sha256":
            raise BadRequest("Only sha256 LFS objects are supported.")
        oid = names.check_oid(value.get("oid"))
        stored = repo.lfs.size(oid)
        size = value.get("size", stored)
        if stored is None or size != stored:
            raise BadRequest(
                f"The LFS object {oid} for {path} was not uploaded (or has another size): "
                "upload it through the LFS batch API before committing."
            )
        return Op("add", path, repo.lfs_pointer_blob(oid, size), lfs=(oid, size))


# -- helpers ---------------------------------------------------------------------------------------


def _gitattr(pattern: str, path: str) -> bool:
    from .repos import _gitattr_match

    return _gitattr_match(pattern, path)


def _file_item(e: FileEntry) -> dict:
    item: dict[str, Any] = {"type": "file", "oid": e.blob, "size": e.size, "path": e.path}
    if e.lfs_oid:
        item["lfs"] = {"oid": e.lfs_oid, "size": e.size, "pointerSize": e.pointer_size}
    return item


def _add_last_commits(repo: Repo, head: str, items: list[dict]) -> None:
    """Fill `lastCommit` of each item: the newest commit whose tree changed that path."""
    pending = {item["path"]: item for item in items}
    previous: dict[str, str | None] = {}
    last = None
    for c in repo.log(head):
        snap = repo.snapshot(c.sha)
        for path in list(pending):
            e = snap.files.get(path)
            oid = e.blob if e else snap.dirs.get(path)
            if path in previous and previous[path] != oid:
                pending.pop(path)["lastCommit"] = last
            previous[path] = oid
        if not pending:
            break
        last = {"id": c.sha, "title": c.title, "date": _iso(c.commit_time)}
    for item in pending.values():
        item["lastCommit"] = last


def _card_metadata(content: str) -> dict:
    """The YAML front matter of a model card, or {}; ValueError if it is not valid YAML."""
    if not content.startswith("---"):
        return {}
    end = content.find("\n---", 3)
    if end < 0:
        return {}
    try:
        data = yaml.safe_load(content[3:end])
    except yaml.YAMLError as e:
        raise ValueError(f"Invalid YAML in the model card metadata: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError("The model card metadata must be a YAML mapping.")
    return data


def _bytes_response(request: Request, data: bytes, headers: dict[str, str]) -> Response:
    """Serve an in-memory file, honouring a single `Range: bytes=a-b` request."""
    rng = request.headers.get("range")
    if rng and rng.startswith("bytes=") and "," not in rng:
        start_s, _, end_s = rng[6:].partition("-")
        try:
            if start_s:
                start = int(start_s)
                end = min(int(end_s), len(data) - 1) if end_s else len(data) - 1
            else:
                start, end = max(len(data) - int(end_s), 0), len(data) - 1
        except ValueError:
            start, end = 0, -2
        if start > end or start >= len(data):
            return Response(status_code=416, headers={"Content-Range": f"bytes */{len(data)}", **headers})
        headers = {**headers, "Content-Range": f"bytes {start}-{end}/{len(data)}"}
        return _maybe_head(request, data[start : end + 1], headers, 206)
    return _maybe_head(request, data, headers, 200)


def _maybe_head(request: Request, data: bytes, headers: dict[str, str], status: int) -> Response:
    if request.method == "HEAD":
        return Response(status_code=status, headers={**headers, "Content-Length": str(len(data))})
    return Response(data, status_code=status, headers=headers, media_type="application/octet-stream")
