"""Endpoints that write: preupload, LFS batch and signed uploads, and commits."""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import logging
import math
import secrets
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import names
from .api_git import lfs_download_batch
from .context import ServerContext
from .errors import (
    DISK_FULL_MESSAGE,
    HTTPBadRequest,
    HTTPForbidden,
    HTTPInsufficientStorage,
    HTTPNotFound,
    HTTPPayloadTooLarge,
    is_disk_full,
)
from .gittext import check_text
from .httputil import MiB, flag, is_size, loads_json
from .lfs import LfsStore
from .lfs_s3 import S3LfsStore
from .names import RepoAddress
from .repos import Op, Repo, gitattr_match, ignore_matcher

log = logging.getLogger("hubver.server")


XET_MESSAGE = (
    "This hub stores large files with plain git-LFS, not Xet. "
    "Set HF_HUB_DISABLE_XET=1 in the environment and retry (hubver does this by itself)."
)


# Where a Xet client is sent: the path itself says what to do, since hf_xet reports a failed
# storage request by its URL and status only, never the server's message.
XET_PATH = "xet-is-not-served-here--set-HF_HUB_DISABLE_XET=1-and-retry"


class UploadHandlers:
    """Preupload, the LFS batch API, signed uploads and commits."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx

    async def xet_write_token(self, request: Request, address: RepoAddress, rest: str = "") -> Response:
        """A client with hf_xet asks for Xet storage; point it at a URL that refuses with the fix.

        The hub speaks plain LFS only. Answering this request with an error would surface as a
        bare "400 Bad Request" for `.../xet-write-token/main`; the storage URL's refusal instead
        reads "... 400 Bad Request ... /xet-is-not-served-here--set-HF_HUB_DISABLE_XET=1-and-retry/...".
        """
        return JSONResponse(
            {
                "accessToken": "none",
                "exp": int(time.time()) + 60,
                "casUrl": f"{self.ctx.base_url(request)}/{XET_PATH}",
            }
        )

    async def preupload(self, request: Request, address: RepoAddress, rev: str) -> Response:
        new_pr = flag(request.query_params.get("create_pr"))
        repo, _ = self.ctx.repo_for_contribution(request, address, rev, new_pr=new_pr)
        names.check_revision(rev)
        body = await self.ctx.read_json(request)
        files = body.get("files") if isinstance(body, dict) else None
        if not isinstance(files, list):
            raise HTTPBadRequest("Expected a JSON body with a 'files' list.")
        sent_gitignore = body.get("gitIgnore")
        if sent_gitignore is not None and not isinstance(sent_gitignore, str):
            raise HTTPBadRequest("'gitIgnore' must be the text of a .gitignore file.")

        def build() -> list[dict[str, Any]]:
            snap = repo.snapshot(repo.resolve(rev))
            patterns = repo.lfs_patterns(snap)
            # The .gitignore of this commit (the client sends it) wins over the one at `rev`.
            ignored = ignore_matcher(sent_gitignore if sent_gitignore is not None else repo.gitignore(snap))
            out = []
            for f in files:
                if not isinstance(f, dict) or not isinstance(f.get("path"), str):
                    raise HTTPBadRequest("Each file needs a 'path'.")
                path = names.check_path(f["path"])
                if not is_size(f.get("size")):
                    raise HTTPBadRequest(f"Invalid size for {path}.")
                size: int = f["size"]
                try:
                    sample = base64.b64decode(f.get("sample") or "", validate=True)
                except (binascii.Error, ValueError, TypeError):  # TypeError: not a string
                    raise HTTPBadRequest(f"Invalid base64 sample for {path}.") from None
                lfs = size > 0 and (
                    size > self.ctx.config.regular_file_limit
                    or b"\0" in sample
                    or any(gitattr_match(p, path) for p in patterns)
                )
                item: dict[str, Any] = {
                    "path": path,
                    "uploadMode": "lfs" if lfs else "regular",
                    "shouldIgnore": ignored(path),
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

    def _signed_url(
        self, request: Request, kind: str, address: RepoAddress, oid: str, size: int, *extra: str
    ) -> str:
        expires = str(int(time.time() + self.ctx.config.upload_url_ttl))
        parts = [address.repo_type, address.repo_id, oid, str(size), *extra]
        sig = self.ctx.signer.sign(expires, kind, *parts)
        path = "/".join(quote(p, safe="") for p in [kind, *parts])
        return f"{self.ctx.base_url(request)}/{path}?expires={expires}&sig={sig}"

    async def lfs_batch(self, request: Request, address: RepoAddress) -> Response:
        body = await self.ctx.read_json(request)
        if isinstance(body, dict) and body.get("operation") == "download":  # git-lfs on a clone
            return await lfs_download_batch(self.ctx, request, address, body)
        # The batch names no pull request (a create_pr upload sends the base branch): objects
        # uploaded here are reachable only once a commit the uploader may make refers to them.
        repo, _ = self.ctx.repo_for_contribution(request, address, None, new_pr=False)
        if not isinstance(body, dict) or not isinstance(body.get("objects"), list):
            raise HTTPBadRequest("Expected an LFS batch request with 'objects'.")
        if body.get("operation", "upload") != "upload":
            raise HTTPBadRequest("The LFS batch operation is 'upload' or 'download'.")
        transfers = body.get("transfers") or ["basic"]
        if not isinstance(transfers, list) or not all(isinstance(t, str) for t in transfers):
            raise HTTPBadRequest("'transfers' must be a list of strings.")
        prefix = self.ctx.url_prefix(address)
        verify_href = f"{self.ctx.base_url(request)}/{prefix}{address.repo_id}.git/info/lfs/objects/verify"
        objects = []
        for obj in body["objects"]:
            oid = names.check_oid(obj.get("oid") if isinstance(obj, dict) else None)
            size = obj.get("size")
            if not is_size(size):
                raise HTTPBadRequest(f"Invalid size for object {oid}.")
            if size > self.ctx.config.max_object_size:
                objects.append(
                    {
                        "oid": oid,
                        "size": size,
                        "error": {
                            "code": 422,
                            "message": f"Objects are limited to {self.ctx.config.max_object_size} bytes.",
                        },
                    }
                )
                continue
            if await run_in_threadpool(repo.lfs.intact, oid, size):  # re-hashed, not just sized
                objects.append({"oid": oid, "size": size})
                continue
            verify = {"href": verify_href, "header": {}}
            if isinstance(repo.lfs, S3LfsStore):
                objects.append(
                    await self._s3_upload(request, address, repo.lfs, oid, size, transfers, verify)
                )
                continue
            if "multipart" in transfers and size > self.ctx.config.multipart_threshold:
                chunk = self.ctx.config.multipart_chunk
                count = math.ceil(size / chunk)
                upload_id = secrets.token_hex(8)
                header: dict[str, str] = {"chunk_size": str(chunk)}
                for n in range(1, count + 1):
                    header[str(n)] = self._signed_url(
                        request, "lfs-part", address, oid, size, upload_id, str(n)
                    )
                href = self._signed_url(request, "lfs-complete", address, oid, size, upload_id, str(count))
                objects.append(
                    {
                        "oid": oid,
                        "size": size,
                        "actions": {"upload": {"href": href, "header": header}, "verify": verify},
                    }
                )
            else:
                href = self._signed_url(request, "lfs-upload", address, oid, size)
                objects.append(
                    {"oid": oid, "size": size, "actions": {"upload": {"href": href}, "verify": verify}}
                )
        return JSONResponse(
            {"transfer": "basic", "objects": objects, "hash_algo": "sha256"},
            media_type="application/vnd.git-lfs+json",
        )

    async def _s3_upload(
        self,
        request: Request,
        address: RepoAddress,
        store: S3LfsStore,
        oid: str,
        size: int,
        transfers: list[str],
        verify: dict[str, Any],
    ) -> dict[str, Any]:
        """Presigned PUT (or parts) to a staging key; verify (with the ticket) accepts the object."""
        cfg = self.ctx.config
        multipart = "multipart" in transfers and size > cfg.multipart_threshold
        ticket, plan = await run_in_threadpool(
            functools.partial(
                store.upload_plan,
                oid,
                size,
                chunk=cfg.multipart_chunk if multipart else None,
                ttl=cfg.upload_url_ttl,
            )
        )
        verify = {**verify, "href": f"{verify['href']}?upload={ticket}"}
        if not multipart:
            upload = {"href": plan["href"], "expires_in": int(cfg.upload_url_ttl)}
        else:
            count = len(plan) - 1  # chunk_size, then one URL per part
            href = self._signed_url(request, "lfs-complete", address, oid, size, ticket, str(count))
            upload = {"href": href, "header": plan}
        return {"oid": oid, "size": size, "actions": {"upload": upload, "verify": verify}}

    async def lfs_verify(self, request: Request, address: RepoAddress) -> Response:
        repo, _ = self.ctx.repo_for_contribution(request, address, None, new_pr=False)
        body = await self.ctx.read_json(request)
        oid = names.check_oid(body.get("oid") if isinstance(body, dict) else None)
        size = body.get("size")
        if isinstance(repo.lfs, S3LfsStore):
            if not is_size(size):
                raise HTTPBadRequest(f"Invalid size for object {oid}.")
            # Re-reads the staged bytes from the store: only matching ones become the object.
            await run_in_threadpool(repo.lfs.accept, oid, size, request.query_params.get("upload"))
            return JSONResponse({"success": True})
        if not repo.lfs.has(oid, size):
            raise HTTPNotFound(f"Object {oid} of {size} bytes is not stored.")
        return JSONResponse({"success": True})

    def _signed_repo(self, request: Request, kind: str, type_name: str, repo_id: str, *signed: str) -> Repo:
        """The repository of a signed upload URL, once its signature and fields are checked."""
        q = request.query_params
        problem = self.ctx.signer.check(
            q.get("sig", ""), q.get("expires", ""), kind, type_name, repo_id, *signed
        )
        if problem:
            raise HTTPForbidden(f"Upload refused: {problem}.")
        if type_name not in names.TYPE_DIRS or repo_id.count("/") != 1:
            raise HTTPBadRequest("Malformed upload URL.")
        names.check_repo_id(*repo_id.split("/"))
        names.check_oid(signed[0])
        repo = self.ctx.store.get(type_name, repo_id)
        if isinstance(repo.lfs, S3LfsStore) and kind != "lfs-complete":
            raise HTTPBadRequest(
                "This hub keeps LFS objects in its object store: upload to the URLs the LFS batch answer gives."
            )
        return repo

    async def upload_object(
        self, request: Request, type_name: str, repo_id: str, oid: str, size: str
    ) -> Response:
        """PUT of a whole LFS object to the URL `lfs_batch` signed."""
        repo = self._signed_repo(request, "lfs-upload", type_name, repo_id, oid, size)
        if await run_in_threadpool(repo.lfs.intact, oid, int(size)):
            await self._drain(request)
            return Response(status_code=200)
        await self._receive(request, repo, int(size), oid)
        return Response(status_code=200)

    async def upload_part(
        self, request: Request, type_name: str, repo_id: str, oid: str, size: str, upload_id: str, number: str
    ) -> Response:
        """PUT of one part of a multipart LFS upload."""
        repo = self._signed_repo(request, "lfs-part", type_name, repo_id, oid, size, upload_id, number)
        n = int(number)
        chunk = self.ctx.config.multipart_chunk
        expected = min(chunk, int(size) - (n - 1) * chunk)
        if expected <= 0:
            raise HTTPBadRequest("Part number out of range.")
        writer = local_store(repo).open_part(upload_id, n, (n - 1) * chunk, expected)
        try:
            await self._stream_to(request, writer, expected)
            await run_in_threadpool(writer.commit)
        except BaseException:
            writer.abort()
            raise
        return Response(status_code=200, headers={"ETag": f'"{upload_id}-{n}-{expected}"'})

    async def complete_upload(
        self, request: Request, type_name: str, repo_id: str, oid: str, size: str, upload_id: str, count: str
    ) -> Response:
        """POST that assembles the parts of a multipart LFS upload."""
        repo = self._signed_repo(request, "lfs-complete", type_name, repo_id, oid, size, upload_id, count)
        if isinstance(repo.lfs, S3LfsStore):  # the parts are in the store: have it assemble them
            body = await self.ctx.read_json(request)
            parts = body.get("parts") if isinstance(body, dict) else None
            await run_in_threadpool(repo.lfs.complete, oid, int(size), upload_id, parts)
            return JSONResponse({"success": True})
        await self.ctx.read_body(request, self.ctx.config.max_json_body)  # parts were checked on arrival
        if repo.lfs.has(oid, int(size)):  # another upload of the same object finished first
            await run_in_threadpool(shutil.rmtree, local_store(repo).part_dir(upload_id), True)
        else:
            await run_in_threadpool(local_store(repo).assemble, oid, int(size), upload_id, int(count))
        return JSONResponse({"success": True})

    async def _drain(self, request: Request) -> None:
        async for _ in request.stream():
            pass

    async def _stream_to(self, request: Request, sink: Any, size: int) -> None:
        """Stream the body into `sink.write` in 4 MiB blocks, in a worker thread.

        Hashing and writing one block overlaps receiving the next (both release the GIL), so
        the transfer is not paid twice.
        """
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > size:
            raise HTTPPayloadTooLarge(
                f"The body ({declared} bytes) is larger than the announced {size} bytes."
            )
        try:
            await self._write_stream(request, sink)
        except OSError as e:
            if not is_disk_full(e):
                raise
            # Read the rest of the body (bounded by the signed size) and drop it: a client cut off
            # mid-body sees a dropped connection, and huggingface_hub retries those 5 times.
            await self._discard_body(request, size)
            raise HTTPInsufficientStorage(DISK_FULL_MESSAGE.format(what="this upload")) from e

    async def _discard_body(self, request: Request, limit: int) -> None:
        received = 0
        while received <= limit:
            message = await request.receive()
            if message["type"] != "http.request":
                return
            received += len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    async def _write_stream(self, request: Request, sink: Any) -> None:
        buf = bytearray()
        pending: asyncio.Future[Any] | None = None
        try:
            async for chunk in request.stream():
                buf += chunk
                if len(buf) >= 4 * MiB:
                    if pending is not None:
                        await pending
                    data, buf = buf, bytearray()
                    pending = asyncio.ensure_future(run_in_threadpool(sink.write, data))
            if pending is not None:
                await pending
                pending = None
            if buf:
                await run_in_threadpool(sink.write, buf)
        finally:
            if pending is not None:  # let the worker finish with the file before the caller cleans up
                await asyncio.gather(pending, return_exceptions=True)

    async def _receive(self, request: Request, repo: Repo, size: int, oid: str) -> Path:
        """Stream the body to disk, verify it against `oid` and store it as that object."""
        upload = local_store(repo).new_upload(oid, size)
        try:
            await self._stream_to(request, upload, size)
            return await run_in_threadpool(upload.commit)
        except BaseException:
            upload.abort()
            raise

    async def commit(self, request: Request, address: RepoAddress, rev: str) -> Response:
        pull_request = flag(request.query_params.get("create_pr"))
        repo, user = self.ctx.repo_for_contribution(request, address, rev, new_pr=pull_request)
        names.check_revision(rev)
        repo.commit_target(rev)  # a missing branch or pull request: 404 before the body is read
        header: dict[str, Any] | None = None
        ops: list[Op] = []
        total = 0
        buf = b""

        async def lines() -> AsyncIterator[bytes]:
            nonlocal buf, total
            async for chunk in request.stream():
                total += len(chunk)
                if total > self.ctx.config.max_commit_body:
                    raise HTTPPayloadTooLarge(
                        f"The commit body is larger than {self.ctx.config.max_commit_body} bytes."
                    )
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    yield line
                if len(buf) > self.ctx.config.max_commit_line:
                    raise HTTPPayloadTooLarge(
                        f"A commit line is larger than {self.ctx.config.max_commit_line} bytes; "
                        "upload large files through LFS."
                    )
            if buf:
                yield buf

        async for line in lines():
            if not line.strip():
                continue
            try:
                item = loads_json(line)
                key, value = item["key"], item["value"]
            except (HTTPBadRequest, KeyError, TypeError):
                raise HTTPBadRequest("Each commit line must be JSON with 'key' and 'value'.") from None
            if not isinstance(value, dict):
                raise HTTPBadRequest(f"The value of a {key!r} line must be an object.")
            if key == "header":
                header = value
            elif key == "file":
                ops.append(await run_in_threadpool(self._regular_op, repo, value))
            elif key == "lfsFile":
                ops.append(await run_in_threadpool(self._lfs_op, repo, value))
            elif key in ("deletedFile", "deletedFolder"):
                path = value.get("path")
                if not isinstance(path, str):
                    raise HTTPBadRequest(f"A {key} line needs a 'path'.")
                kind = "delete" if key == "deletedFile" else "delete_folder"
                ops.append(Op(kind, names.check_path(path.rstrip("/") if kind == "delete_folder" else path)))
            else:
                raise HTTPBadRequest(f"Unknown commit operation {key!r}.")
        if header is None:
            raise HTTPBadRequest("The commit has no header line.")
        summary = header.get("summary") or "Upload files with huggingface_hub"
        description = header.get("description") or ""
        parent = header.get("parentCommit")
        if parent is not None and not (isinstance(parent, str) and names.is_commit_id(parent)):
            raise HTTPBadRequest("'parentCommit' must be a 40-character commit id.")
        message = check_text(
            str(summary) + (f"\n\n{description}" if description else ""), "The commit message"
        )
        sha, number = await run_in_threadpool(
            functools.partial(
                repo.commit_ops,
                rev,
                ops,
                parent=parent,
                author=user.name,
                message=message,
                pull_request=pull_request,
            )
        )
        repo_url = f"{self.ctx.base_url(request)}/{self.ctx.url_prefix(address)}{address.repo_id}"
        return JSONResponse(
            {
                "success": True,
                "commitOid": sha,
                "commitUrl": f"{repo_url}/commit/{sha}",
                "commitMessage": message,
                "hookOutput": "",
                # The commit is reachable as revision refs/pr/N; there are no discussions here.
                "pullRequestUrl": f"{repo_url}/discussions/{number}" if number else None,
            }
        )

    def _regular_op(self, repo: Repo, value: dict[str, Any]) -> Op:
        path = names.check_path(_text(value.get("path")))
        content = value.get("content", "")
        if not isinstance(content, str):
            raise HTTPBadRequest(f"The content of {path} must be a string.")
        if value.get("encoding", "base64") == "base64":
            try:
                data = base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError):
                raise HTTPBadRequest(f"The content of {path} is not valid base64.") from None
        else:
            try:
                data = content.encode()
            except UnicodeEncodeError:  # a lone surrogate
                raise HTTPBadRequest(f"The content of {path} is not valid Unicode text.") from None
        if len(data) > self.ctx.config.regular_file_limit:
            raise HTTPPayloadTooLarge(
                f"{path} is {len(data)} bytes: files above 5 MiB must be uploaded through LFS."
            )
        return Op("add", path, repo.write_blob(data))

    def _lfs_op(self, repo: Repo, value: dict[str, Any]) -> Op:
        path = names.check_path(_text(value.get("path")))
        if value.get("algo", "sha256") != "sha256":
            raise HTTPBadRequest("Only sha256 LFS objects are supported.")
        oid = names.check_oid(value.get("oid"))
        stored = repo.lfs.size(oid)
        size = value.get("size", stored)
        if stored is None or not is_size(size) or size != stored:
            raise HTTPBadRequest(
                f"The LFS object {oid} for {path} was not uploaded (or has another size): "
                "upload it through the LFS batch API before committing."
            )
        return Op("add", path, repo.lfs_pointer_blob(oid, size), lfs=(oid, size))


def local_store(repo: Repo) -> LfsStore:
    """The repo's local store, for the hub's own upload URLs (`_signed_repo` refused the others)."""
    assert isinstance(repo.lfs, LfsStore)
    return repo.lfs


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
