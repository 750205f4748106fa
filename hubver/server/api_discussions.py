"""Handlers for pull requests opened without a commit (create_pull_request) and their details.

The hub has no discussions: a pull request is a ref `refs/pr/N` with who opened it, a title and
a description. Commits reach it through the commit endpoint with `revision="refs/pr/N"`.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .context import ServerContext
from .errors import HTTPBadRequest, HTTPNotFound
from .gittext import check_text
from .httputil import iso
from .names import RepoAddress
from .repos import DEFAULT_BRANCH

log = logging.getLogger("hubver.server")


class DiscussionHandlers:
    """create_pull_request and get_discussion_details, for pull requests only."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx

    async def create(self, request: Request, address: RepoAddress) -> Response:
        """`{title, description, pullRequest}`: open a pull request onto the default branch."""
        repo, user = self.ctx.repo_for_contribution(request, address, None, new_pr=True)
        body = await self.ctx.read_json(request)
        if not isinstance(body, dict) or not body.get("pullRequest"):
            raise HTTPBadRequest("This hub has no discussions: only pull requests (pullRequest: true).")
        title, description = body.get("title"), body.get("description") or ""
        if not isinstance(title, str) or not title.strip() or not isinstance(description, str):
            raise HTTPBadRequest("A pull request needs a 'title' (and an optional 'description') string.")
        number = await run_in_threadpool(
            functools.partial(
                repo.open_pull_request,
                DEFAULT_BRANCH,
                user.name,
                check_text(title.strip(), "The title"),
                check_text(description, "The description"),
            )
        )
        repo_url = f"{self.ctx.base_url(request)}/{self.ctx.url_prefix(address)}{address.repo_id}"
        return JSONResponse({"num": number, "pullRequest": True, "url": f"{repo_url}/discussions/{number}"})

    async def details(self, request: Request, address: RepoAddress, num: str) -> Response:
        """The fields `get_discussion_details` reads, for pull request `num`."""
        repo = self.ctx.repo_for_read(request, address)
        pr = repo.pull_request(f"refs/pr/{num}") if num.isdigit() else None
        if pr is None:
            raise HTTPNotFound(f"Pull request {num!r} does not exist in {address.repo_id}.")
        created = iso(pr.created_at)
        author = {"name": pr.author or "deleted"}
        events: list[dict[str, Any]] = [
            {
                "id": f"pr-{pr.number}-opened",
                "type": "comment",
                "createdAt": created,
                "author": author,
                "data": {"edited": False, "hidden": False, "latest": {"raw": pr.description}},
            }
        ]
        return JSONResponse(
            {
                "num": pr.number,
                "title": pr.title,
                "author": author,
                "createdAt": created,
                "status": "open",
                "repo": {"name": address.repo_id, "type": address.repo_type},
                "isPullRequest": True,
                "events": events,
                "changes": {"base": f"refs/heads/{pr.base}"},
                "filesWithConflicts": [],
                "diff": None,
            }
        )
