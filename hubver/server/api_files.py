"""Endpoints that read a revision: commits, trees, paths info and `/resolve/` downloads."""

from __future__ import annotations

import base64
import binascii
import html
import logging
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import names
from .context import ServerContext
from .errors import (
    HTTPBadRequest,
    HTTPEntryNotFound,
    HTTPRepoNotFound,
    HubHTTPError,
)
from .httputil import (
    IMAGE_HEADERS,
    BigFileResponse,
    bytes_response,
    error_response,
    flag,
    iso,
    loads_json,
    media_type,
)
from .lfs import LfsStore
from .names import RepoAddress
from .repos import FileEntry, Repo, Snapshot

log = logging.getLogger("hubver.server")


class FileHandlers:
    """History, trees, path info and file downloads."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx

    def _page(self, request: Request, default: int) -> tuple[int, int]:
        q = request.query_params
        try:
            limit = min(max(int(q.get("limit", default)), 1), 10 * default)
            if "cursor" in q:
                start = int(base64.urlsafe_b64decode(q["cursor"].encode()).decode())
            else:
                start = int(q.get("p", 0)) * limit
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise HTTPBadRequest("Invalid pagination parameters.") from None
        return max(start, 0), limit

    @staticmethod
    def _next_link(request: Request, **params: str) -> dict[str, str]:
        query = dict(request.query_params)
        query.update(params)
        qs = "&".join(f"{quote(k)}={quote(str(v))}" for k, v in query.items())
        return {"Link": f'<{request.url.replace(query=qs)}>; rel="next"'}

    async def list_commits(self, request: Request, address: RepoAddress, rev: str) -> Response:
        repo = self.ctx.repo_for_read(request, address)
        names.check_revision(rev)
        start, limit = self._page(request, self.ctx.config.page_size)
        formatted = "formatted" in request.query_params.getlist("expand[]")

        def build() -> tuple[list[dict[str, Any]], bool]:
            out: list[dict[str, Any]] = []
            more = False
            for i, c in enumerate(repo.log(repo.resolve(rev))):
                if i < start:
                    continue
                if len(out) == limit:
                    more = True
                    break
                title, _, body = c.message.partition("\n")
                item: dict[str, Any] = {
                    "id": c.sha,
                    "title": title,
                    "message": body.strip("\n"),
                    "date": iso(c.commit_time),
                    "authors": [{"user": c.author_name, "avatar": None}],
                }
                if formatted:
                    item["formatted"] = {
                        "title": html_text(title),
                        "message": html_paragraphs(item["message"]),
                    }
                out.append(item)
            return out, more

        items, more = await run_in_threadpool(build)
        headers = self._next_link(request, p=str(start // limit + 1), limit=str(limit)) if more else {}
        return JSONResponse(items, headers=headers)

    def _tree_items(
        self, repo: Repo, snap: Snapshot, paths: list[str], expand: bool, commit: str
    ) -> list[dict[str, Any]]:
        out = []
        for p in paths:
            if p in snap.files:
                out.append(file_item(snap.files[p]))
            else:
                out.append({"type": "directory", "oid": snap.dirs[p], "size": 0, "path": p})
        if expand:
            add_last_commits(repo, commit, out)
        return out

    async def list_tree(self, request: Request, address: RepoAddress, rev: str, path: str = "") -> Response:
        repo = self.ctx.repo_for_read(request, address)
        names.check_revision(rev)
        if path:
            names.check_path(path)
        expand = flag(request.query_params.get("expand"))
        recursive = flag(request.query_params.get("recursive"))
        start, limit = self._page(request, 50 if expand else self.ctx.config.tree_page_size)

        def build() -> tuple[list[dict[str, Any]], bool]:
            sha = repo.resolve(rev)
            snap = repo.snapshot(sha)
            if path and path not in snap.dirs:
                raise HTTPEntryNotFound(
                    f"{path!r} is not a directory at {rev}.", headers={"X-Repo-Commit": sha}
                )
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

    async def paths_info(self, request: Request, address: RepoAddress, rev: str) -> Response:
        repo = self.ctx.repo_for_read(request, address)
        names.check_revision(rev)
        body = await self.ctx.read_body(request, self.ctx.config.max_json_body)
        if request.headers.get("content-type", "").startswith("application/json"):
            data = loads_json(body)
            paths = data.get("paths", []) if isinstance(data, dict) else []
            expand = bool(data.get("expand")) if isinstance(data, dict) else False
        else:
            form = parse_qs(body.decode("utf-8", "replace"))
            paths = form.get("paths", [])
            expand = flag((form.get("expand") or [""])[0])
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise HTTPBadRequest("'paths' must be a list of strings.")
        for p in paths:
            names.check_path(p.rstrip("/") or ".")

        def build() -> list[dict[str, Any]]:
            sha = repo.resolve(rev)
            snap = repo.snapshot(sha)
            found = [
                p.rstrip("/") for p in paths if p.rstrip("/") in snap.files or p.rstrip("/") in snap.dirs
            ]
            return self._tree_items(repo, snap, list(dict.fromkeys(found)), expand, sha)

        return JSONResponse(await run_in_threadpool(build))

    async def resolve(self, request: Request, address: RepoAddress, rev: str, path: str) -> Response:
        repo = self.ctx.repo_for_read(request, address, session=True)  # the pages' images and links
        names.check_revision(rev)
        names.check_path(path)
        # A private file that a browser's session cookie opened: for that browser and this site only
        # (no shared cache keeps it; a page of another site or port cannot embed it).
        by_cookie = repo.meta.private and self.ctx.user(request) is None
        if by_cookie and request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            raise HTTPRepoNotFound("Repository not found")
        private_headers = COOKIE_READ_HEADERS if by_cookie else {}

        def lookup() -> tuple[str, FileEntry | None]:
            sha = repo.resolve(rev)
            return sha, repo.snapshot(sha).files.get(path)

        sha, entry = await run_in_threadpool(lookup)
        if entry is None:
            e = HTTPEntryNotFound("Entry not found")  # the Hub's words; the URL names path and revision
            return error_response(e, {"X-Repo-Commit": sha})
        headers = {
            "X-Repo-Commit": sha,
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(path.rsplit('/', 1)[-1])}",
            **private_headers,
        }
        if entry.lfs_oid:
            oid = entry.lfs_oid
            if await run_in_threadpool(repo.lfs.size, oid) != entry.size:
                raise HubHTTPError(
                    f"The stored object for {path} is missing or damaged; it must be uploaded again.",
                    status=500,
                    code="LfsObjectMissing",
                )
            etag = f'"{oid}"'
            headers.update({"ETag": etag, "X-Linked-Etag": etag, "X-Linked-Size": str(entry.size)})
            name = path.rsplit("/", 1)[-1]
            url = repo.lfs.download_url(oid, name, self.ctx.config.upload_url_ttl)
            if url is not None:
                # As huggingface.co: a redirect to the object store, with the file's commit, size
                # and sha256 on it (clients read them from this answer, not from the store's).
                return Response(status_code=302, headers={**headers, "Location": url})
            assert isinstance(repo.lfs, LfsStore)
            media = media_type(path)
            if media != "application/octet-stream":
                headers.update(IMAGE_HEADERS)
            return BigFileResponse(repo.lfs.path(oid), headers=headers, media_type=media)
        headers["ETag"] = f'"{entry.blob}"'
        headers["Accept-Ranges"] = "bytes"
        data = await run_in_threadpool(repo.read_blob, entry.blob)
        return bytes_response(request, data, headers, media_type(path))


COOKIE_READ_HEADERS = {
    "Cache-Control": "private, no-store",
    "Vary": "Cookie",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


def file_item(e: FileEntry) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "file", "oid": e.blob, "size": e.size, "path": e.path}
    if e.lfs_oid:
        item["lfs"] = {"oid": e.lfs_oid, "size": e.size, "pointerSize": e.pointer_size}
    return item


def add_last_commits(repo: Repo, head: str, items: list[dict[str, Any]]) -> None:
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
        last = {"id": c.sha, "title": c.title, "date": iso(c.commit_time)}
    for item in pending.values():
        item["lastCommit"] = last


def html_text(text: str) -> str:
    """A commit title as the Hub's `formatted` HTML: escaped (no markup from a commit message)."""
    return html.escape(text, quote=False)


def html_paragraphs(text: str) -> str:
    """A commit description as HTML paragraphs, escaped, line breaks kept."""
    paragraphs = [p.strip("\n") for p in text.split("\n\n") if p.strip()]
    return "".join(f"<p>{html_text(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
