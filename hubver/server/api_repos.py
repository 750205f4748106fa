"""Handlers for repositories: create, delete, settings, repo info."""

from __future__ import annotations

import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import names
from .auth import User
from .cards import card_metadata
from .context import ServerContext
from .errors import (
    HTTPBadRequest,
    HTTPForbidden,
)
from .httputil import MiB, flag, header_safe, iso, next_link, offset_page
from .names import RepoAddress
from .repos import DEFAULT_BRANCH, Repo, Snapshot
from .storage_errors import NoSuchRevision, RepoExists

log = logging.getLogger("hubver.server")

LIST_PAGE = 1000
# `?sort=` of list_models and friends -> the item field it orders by (always descending, as the Hub).
# No downloads, likes or trends here: those scores are all 0, so the order is the ids'.
LIST_SORTS = ("createdAt", "lastModified", "downloads", "likes", "trendingScore")


def cannot_create(repo_type: str, namespace: str) -> str:
    # The Hub's words; the client shows "403 Forbidden: <this>." (it adds the full stop).
    return f'You don\'t have the rights to create a {repo_type} under the namespace "{namespace}"'


class RepoHandlers:
    """Repositories: create, delete, settings, info."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self._card_cache: dict[str, dict[str, Any]] = {}  # README front matter by blob id

    def _repo_target(self, body: Any, user: User) -> tuple[str, str]:
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise HTTPBadRequest("Expected a JSON body with 'name' (and optionally 'organization', 'type').")
        type_name = body.get("type") or "model"
        # Checked as strings first: a list or a number here would be a 500 further down.
        if not isinstance(type_name, str) or type_name not in names.TYPE_DIRS:
            raise HTTPBadRequest(f"Invalid repo type {type_name!r}.")
        namespace = body.get("organization") or user.name
        if not isinstance(namespace, str):
            raise HTTPBadRequest(f"Invalid namespace {namespace!r}: expected a string.")
        return type_name, names.check_repo_id(namespace, body["name"])

    async def create_repo(self, request: Request) -> Response:
        user = self.ctx.require_user(request)
        body = await self.ctx.read_json(request)
        repo_type, repo_id = self._repo_target(body, user)
        prefix = "" if repo_type == "model" else f"{names.TYPE_DIRS[repo_type]}/"
        url = f"{self.ctx.base_url(request)}/{prefix}{repo_id}"
        if not user.owns(repo_id.split("/")[0]):
            raise HTTPForbidden(cannot_create(repo_type, repo_id.split("/")[0]))
        private = body.get("visibility") == "private" or bool(body.get("private"))
        try:
            await run_in_threadpool(
                self.ctx.store.create, repo_type, repo_id, private=private, owner=user.name
            )
        except RepoExists as e:
            # The URL of the repo that exists, in its own casing: exist_ok=True hands it back.
            existing = self.ctx.store.canonical_id(repo_type, repo_id) or repo_id
            return JSONResponse(
                {"error": e.message, "url": f"{self.ctx.base_url(request)}/{prefix}{existing}"},
                status_code=409,
                headers={"X-Error-Message": header_safe(e.message)},
            )
        return JSONResponse({"url": url, "name": repo_id, "id": repo_id})

    async def delete_repo(self, request: Request) -> Response:
        user = self.ctx.require_user(request)
        body = await self.ctx.read_json(request)
        repo_type, repo_id = self._repo_target(body, user)
        address = RepoAddress(repo_type, repo_id)
        self.ctx.repo_for_write(request, address)
        await run_in_threadpool(self.ctx.store.delete, repo_type, repo_id)
        return JSONResponse({})

    async def move_repo(self, request: Request) -> Response:
        """Rename or transfer a repository: its refs (versions) and files go with it, and the old
        id redirects to the new one."""
        user = self.ctx.require_user(request)
        body = await self.ctx.read_json(request)
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) for k in ("fromRepo", "toRepo")
        ):
            raise HTTPBadRequest("Expected a JSON body with 'fromRepo', 'toRepo' (and optionally 'type').")
        type_name = body.get("type") or "model"
        if not isinstance(type_name, str) or type_name not in names.TYPE_DIRS:
            raise HTTPBadRequest(f"Invalid repo type {type_name!r}.")
        ids = []
        for key in ("fromRepo", "toRepo"):
            parts = body[key].split("/")
            if len(parts) != 2:
                raise HTTPBadRequest(f"Invalid {key} {body[key]!r}: expected namespace/name.")
            ids.append(names.check_repo_id(*parts))
        source = RepoAddress(type_name, ids[0])
        self.ctx.repo_for_write(request, source)
        to_namespace = ids[1].split("/")[0]
        if not user.owns(to_namespace):
            raise HTTPForbidden(cannot_create(type_name, to_namespace))
        await run_in_threadpool(self.ctx.store.move, type_name, source.repo_id, ids[1])
        return JSONResponse({})

    async def settings(self, request: Request, address: RepoAddress) -> Response:
        self.ctx.repo_for_write(request, address)
        body = await self.ctx.read_json(request)
        if isinstance(body, dict) and ("private" in body or "visibility" in body):
            private = body.get("visibility") == "private" if "visibility" in body else bool(body["private"])
            self.ctx.store.set_private(address.repo_type, address.repo_id, private)
        return JSONResponse({})

    def _card(self, repo: Repo, snap: Snapshot) -> dict[str, Any]:
        entry = snap.files.get("README.md")
        if entry is None or entry.lfs_oid or entry.size > MiB:
            return {}
        if entry.blob not in self._card_cache:
            try:
                meta = card_metadata(repo.read_blob(entry.blob).decode("utf-8", "replace"))
            except ValueError:
                meta = {}
            if len(self._card_cache) > 1024:
                self._card_cache.clear()
            self._card_cache[entry.blob] = meta
        return self._card_cache[entry.blob]

    async def repo_info(self, request: Request, address: RepoAddress, rev: str | None = None) -> Response:
        repo = self.ctx.repo_for_read(request, address)
        blobs = flag(request.query_params.get("blobs"))

        def build() -> dict[str, Any]:
            target = rev or DEFAULT_BRANCH
            names.check_revision(target)
            try:
                sha = repo.resolve(target)
            except NoSuchRevision:
                if rev is not None:
                    raise
                sha = None
            info: dict[str, Any] = {
                "_id": address.repo_id,
                "id": address.repo_id,
                "modelId": address.repo_id,
                "author": address.repo_id.split("/")[0],
                "sha": sha,
                "private": repo.meta.private,
                "gated": False,
                "disabled": False,
                "downloads": 0,
                "likes": 0,
                "createdAt": iso(repo.meta.created_at),
                "siblings": [],
                "tags": [],
            }
            if sha is None:
                return info
            commit = repo.commit(sha)
            snap = repo.snapshot(sha)
            card = self._card(repo, snap)
            info["lastModified"] = iso(commit.commit_time)
            info["cardData"] = card
            tags = card.get("tags")
            tags = [tags] if isinstance(tags, str) else tags if isinstance(tags, list) else []
            info["tags"] = [t for t in tags if isinstance(t, str)]
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

    async def list_repos(self, request: Request, repo_type: str) -> Response:
        """`GET /api/models?author=&search=&sort=&limit=`: the repos the caller may read, Link-paged."""
        user = self.ctx.user(request)
        type_name = names.REPO_TYPES[repo_type]
        q = request.query_params
        author, search, sort = q.get("author"), (q.get("search") or "").lower(), q.get("sort")
        if sort is not None and sort not in LIST_SORTS:
            raise HTTPBadRequest(f"Invalid sort {sort!r}: expected one of {', '.join(LIST_SORTS)}.")
        start, limit = offset_page(request, LIST_PAGE, LIST_PAGE)

        def build() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = []
            keys: dict[str, float] = {}  # sort key by id: exact times, not the second-rounded ISO text
            for repo in self.ctx.store.list_repos(type_name):
                namespace = repo.meta.repo_id.split("/")[0]
                if repo.meta.private and not (user and user.owns(namespace)):
                    continue
                if (author and namespace != author) or (search and search not in repo.meta.repo_id.lower()):
                    continue
                head = repo.refs.get(f"refs/heads/{DEFAULT_BRANCH}")
                commit = repo.commit(head) if head else None
                items.append(
                    {
                        "_id": repo.meta.repo_id,
                        "id": repo.meta.repo_id,
                        "modelId": repo.meta.repo_id,
                        "author": namespace,
                        "sha": head,
                        "private": repo.meta.private,
                        "gated": False,
                        "disabled": False,
                        "downloads": 0,
                        "likes": 0,
                        "tags": [],
                        "createdAt": iso(repo.meta.created_at),
                        "lastModified": iso(commit.commit_time if commit else repo.meta.created_at),
                    }
                )
                if sort == "createdAt":
                    keys[repo.meta.repo_id] = repo.meta.created_at
                elif sort == "lastModified":
                    keys[repo.meta.repo_id] = commit.commit_time if commit else repo.meta.created_at
            if keys:
                items.sort(key=lambda item: keys[item["id"]], reverse=True)  # stable: ties stay by id
            return items

        items = await run_in_threadpool(build)
        headers = next_link(request, start + limit) if start + limit < len(items) else {}
        return JSONResponse(items[start : start + limit], headers=headers)

    async def auth_check(self, request: Request, address: RepoAddress) -> Response:
        """`auth_check`: 200 if the caller may read the repo (404 for a private one they cannot)."""
        self.ctx.repo_for_read(request, address)
        return JSONResponse({"access": "read"})

    async def auth_check_write(self, request: Request, address: RepoAddress) -> Response:
        """`auth_check(write=True)`: 200 if the caller may write the repo, else 401/403/404."""
        self.ctx.repo_for_write(request, address)
        return JSONResponse({"access": "write"})
