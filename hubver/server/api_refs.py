"""Handlers for refs: list them; create and delete tags and branches."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import names
from .context import ServerContext
from .errors import (
    HTTPBadRequest,
    HTTPForbidden,
)
from .gittext import check_text
from .httputil import flag
from .names import RepoAddress
from .repos import BRANCH, DEFAULT_BRANCH, TAG, RefKind, Repo

log = logging.getLogger("hubver.server")


class RefHandlers:
    """Refs: list them; create and delete tags and branches."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx

    async def list_refs(self, request: Request, address: RepoAddress) -> Response:
        repo = self.ctx.repo_for_read(request, address)

        def build() -> dict[str, Any]:
            def items(kind: str, refs: dict[str, str]) -> list[dict[str, Any]]:
                return [
                    {"name": n, "ref": f"refs/{kind}/{n}", "targetCommit": sha}
                    for n, sha in sorted(refs.items())
                ]

            out = {
                "branches": items("heads", repo.branches()),
                "tags": items("tags", repo.tags()),
                "converts": [],
            }
            if flag(request.query_params.get("include_prs")):
                out["pullRequests"] = [
                    {"name": n, "ref": n, "targetCommit": sha}
                    for n, sha in sorted(repo.pull_requests().items())
                ]
            return out

        return JSONResponse(await run_in_threadpool(build))

    async def create_tag(self, request: Request, address: RepoAddress, rev: str) -> Response:
        repo, user = self.ctx.repo_for_write(request, address)
        body = await self.ctx.read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("tag"), str):
            raise HTTPBadRequest("Expected a JSON body with 'tag'.")
        names.check_revision(rev)
        message = body.get("message") if isinstance(body.get("message"), str) else None
        if message is not None:
            check_text(message, "The tag message")
        await run_in_threadpool(
            partial(repo.create_ref, TAG, body["tag"], rev, message=message, tagger=user.name)
        )
        return JSONResponse({})

    async def create_branch(self, request: Request, address: RepoAddress, branch: str) -> Response:
        repo, _ = self.ctx.repo_for_write(request, address)
        body = await self.ctx.read_json(request, optional=True)
        start = body.get("startingPoint") if isinstance(body, dict) else None
        if start is not None:
            if not isinstance(start, str):
                raise HTTPBadRequest("'startingPoint' must be a string.")
            names.check_revision(start)
        await run_in_threadpool(repo.create_ref, BRANCH, branch, start or DEFAULT_BRANCH)
        return JSONResponse({})

    async def delete_tag(self, request: Request, address: RepoAddress, tag: str) -> Response:
        return await self._delete(request, address, TAG, tag)

    async def delete_branch(self, request: Request, address: RepoAddress, branch: str) -> Response:
        return await self._delete(request, address, BRANCH, branch)

    async def _delete(self, request: Request, address: RepoAddress, kind: RefKind, name: str) -> Response:
        repo, _ = self.ctx.repo_for_write(request, address)
        names.check_ref_name(name, f"{kind.word} name")
        if self.ctx.config.protect_versions:
            if kind is TAG and await run_in_threadpool(_protected_version, repo, name):
                raise HTTPForbidden(
                    f"Tag {name!r} marks a hubver version: versions are never deleted or moved on this hub "
                    "unless pruned (`hubver prune` records a tombstone in the branch's index first). "
                    "An administrator removes one with `hubver hub remove-version`, which keeps a record."
                )
            in_use = await run_in_threadpool(repo.version_in_use, name) if kind is TAG else None
            if in_use:
                raise HTTPForbidden(
                    f"Tag {name!r} marks a hubver version that is still in use: {in_use}. It stays "
                    "on this hub even though its pruning is recorded; move the alias (or publish a "
                    "newer version) first, then delete the tag."
                )
            if kind is BRANCH and await run_in_threadpool(repo.holds_versions, name):
                raise HTTPForbidden(
                    f"Branch {name!r} holds hubver versions (or an alias): it cannot be deleted, "
                    "rewound or re-created on this hub, so no version can disappear from its history."
                )
        await run_in_threadpool(repo.delete_ref, kind, name)
        return JSONResponse({})


def _protected_version(repo: Repo, tag: str) -> bool:
    """A version tag that may not be deleted: one whose branch records no pruning of it."""
    return repo.is_version_tag(tag) and not repo.is_pruned(tag)
