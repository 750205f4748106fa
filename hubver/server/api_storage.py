"""Handlers for a repository's storage: its LFS objects (list, delete for good) and squashing history."""

from __future__ import annotations

import functools
import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import names
from .context import ServerContext
from .errors import HTTPBadRequest
from .gittext import check_text
from .httputil import iso, next_link, offset_page
from .names import RepoAddress

log = logging.getLogger("hubver.server")

LFS_PAGE = 1000


class StorageHandlers:
    """LFS files (list_lfs_files, permanently_delete_lfs_files) and super_squash_history."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx

    async def list_lfs_files(self, request: Request, address: RepoAddress) -> Response:
        """Every stored LFS object with a file that refers to it, paged by Link headers."""
        repo, _ = self.ctx.repo_for_write(request, address)
        start, limit = offset_page(request, LFS_PAGE, LFS_PAGE)

        def build() -> list[dict[str, Any]]:
            items = []
            for oid, ref in repo.lfs_references().items():
                st = repo.lfs.stat(oid)
                if st is None:  # deleted meanwhile
                    continue
                items.append(
                    {
                        "fileOid": oid,
                        "oid": ref.blob,
                        "filename": ref.path,
                        "ref": ref.ref,
                        "size": st[0],
                        "pushedAt": iso(st[1]),
                    }
                )
            return items

        items = await run_in_threadpool(build)
        page = items[start : start + limit]
        headers = next_link(request, start + limit) if start + limit < len(items) else {}
        return JSONResponse(page, headers=headers)

    async def delete_lfs_files(self, request: Request, address: RepoAddress) -> Response:
        """`{"deletions": {"sha": [...], "rewriteHistory": bool}}`: delete LFS objects for good."""
        repo, user = self.ctx.repo_for_write(request, address)
        body = await self.ctx.read_json(request)
        deletions = body.get("deletions") if isinstance(body, dict) else None
        shas = deletions.get("sha") if isinstance(deletions, dict) else None
        if not isinstance(shas, list) or len(shas) > LFS_PAGE:
            raise HTTPBadRequest(f"Expected {{'deletions': {{'sha': [...]}}}} with at most {LFS_PAGE} oids.")
        oids = [names.check_oid(s) for s in shas]
        deleted = await run_in_threadpool(
            functools.partial(
                repo.delete_lfs_objects, oids, protect_versions=self.ctx.config.protect_versions
            )
        )
        log.info("%s deleted %d LFS object(s) of %s for good", user.name, len(deleted), address.repo_id)
        return JSONResponse({"deleted": deleted})

    async def super_squash(self, request: Request, address: RepoAddress, branch: str) -> Response:
        """Squash a branch's history into one commit (branches that hold no versions)."""
        repo, user = self.ctx.repo_for_write(request, address)
        names.check_ref_name(branch, "branch name")
        body = await self.ctx.read_json(request, optional=True)
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, str) or not message.strip():
            message = f"Super-squash branch '{branch}'"
        message = check_text(message, "The commit message")
        sha = await run_in_threadpool(
            functools.partial(
                repo.squash, branch, message, user.name, protect_versions=self.ctx.config.protect_versions
            )
        )
        return JSONResponse({"commitOid": sha})
