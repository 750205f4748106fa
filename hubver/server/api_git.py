"""Git over HTTP on the repository URL (`/NS/NAME`, `/NS/NAME.git`), as on huggingface.co.

The smart protocol is git's own: `git upload-pack` / `git receive-pack --stateless-rpc` run on
the bare repository (in a worker thread, so the event loop never waits on them). Pushes run
under the repository's lock (the one API commits take), so a push and a commit never interleave,
and through a pre-receive hook (`hubver.server.git_hooks`) that applies the hub's rules to the
pushed ref updates: its refusals reach the git user as `remote: ...` lines. git-lfs reaches the
LFS batch API at `NS/NAME.git/info/lfs/objects/batch`; downloads are answered here.

Credentials: a token as the password of HTTP Basic (any user name), or Bearer. An anonymous
request for a private or missing repository is answered 401 with a Basic challenge, so git asks
for (or sends the URL's) credentials; with a token that cannot see it, 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shlex
import subprocess
import sys
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from . import names
from .auth import User
from .context import ServerContext
from .errors import (
    HTTPBadRequest,
    HTTPForbidden,
    HTTPNotFound,
    HTTPPayloadTooLarge,
    HTTPRepoNotFound,
    HTTPUnauthorized,
    HubHTTPError,
)
from .httputil import BigFileResponse
from .lfs import LfsStore
from .names import RepoAddress
from .repos import Repo
from .storage_errors import NoSuchRepo

log = logging.getLogger("hubver.server")

SERVICES = ("git-upload-pack", "git-receive-pack")
CHALLENGE = {"WWW-Authenticate": 'Basic realm="hubver hub"'}
_GIT_PROTOCOL = re.compile(r"[A-Za-z0-9=:., -]{0,200}")
HOOKS_DIR = "git-hooks"
NO_CACHE = {"Cache-Control": "no-cache, max-age=0, must-revalidate", "Pragma": "no-cache"}
STREAM_CHUNK = 1 << 20


def _pkt_line(text: str) -> bytes:
    data = text.encode()
    return f"{len(data) + 4:04x}".encode() + data


def repo_for_git(ctx: ServerContext, request: Request, address: RepoAddress, *, write: bool) -> Repo:
    """The repository a git or git-lfs request may reach (see the module docstring)."""
    user: User | None = ctx.user(request)
    if write and user is None:
        raise HTTPUnauthorized(
            "Pushing needs a token with write access: use it as the password (any user name).",
            headers=CHALLENGE,
        )
    try:
        repo: Repo | None = ctx.store.get(address.repo_type, address.repo_id)
    except NoSuchRepo:
        repo = None
    # Rights follow the repository's own namespace, never the casing a URL spells it with.
    namespace = (repo.meta.repo_id if repo is not None else address.repo_id).split("/")[0]
    if repo is None or (repo.meta.private and not (user and user.owns(namespace))):
        if user is None:
            raise HTTPUnauthorized(
                f"Repository {address.repo_id!r} not found; if it is private, authenticate "
                "with a token as the password (any user name).",
                headers=CHALLENGE,
            )
        raise HTTPRepoNotFound(f"Repository {address.repo_id!r} not found.")
    if write and user is not None and not user.owns(namespace):
        raise HTTPForbidden(f"You ({user.name}) do not have write access to {address.repo_id}.")
    return repo


class GitHandlers:
    """info/refs, git-upload-pack, git-receive-pack; LFS object downloads for git-lfs."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.hooks_dir = install_hooks(Path(ctx.config.data_dir) / HOOKS_DIR)

    def _env(self, request: Request) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        proto = request.headers.get("git-protocol", "")
        if proto and _GIT_PROTOCOL.fullmatch(proto):
            env["GIT_PROTOCOL"] = proto
        return env

    async def _body(self, request: Request, limit: int) -> bytes:
        body = await self.ctx.read_body(request, limit)
        encoding = request.headers.get("content-encoding", "").lower()
        if encoding in ("gzip", "x-gzip"):
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                out = inflater.decompress(body, limit + 1)
            except zlib.error:
                raise HTTPBadRequest("The gzip request body is corrupt.") from None
            if len(out) > limit or inflater.unconsumed_tail:
                raise HTTPPayloadTooLarge(f"The request body inflates to more than {limit} bytes.")
            return out
        if encoding not in ("", "identity"):
            raise HTTPBadRequest(f"Unsupported Content-Encoding {encoding!r}.")
        return body

    # -- smart HTTP ------------------------------------------------------------------------

    async def info_refs(self, request: Request, address: RepoAddress) -> Response:
        service = request.query_params.get("service", "")
        if service not in SERVICES:
            raise HTTPForbidden(
                "Only git's smart HTTP protocol is served: ?service=git-upload-pack or git-receive-pack."
            )
        repo = repo_for_git(self.ctx, request, address, write=service == "git-receive-pack")
        cmd = ["git", service[4:], "--stateless-rpc", "--advertise-refs", str(repo.git_dir)]
        out = await run_in_threadpool(self._run, cmd, b"", self._env(request), self.ctx.config.git_timeout)
        body = _pkt_line(f"# service={service}\n") + b"0000" + out
        return self._git_response(body, f"application/x-{service}-advertisement")

    async def upload_pack(self, request: Request, address: RepoAddress) -> Response:
        """The pack of a clone or fetch, streamed from git as it writes it (a clone of a big repo
        is never held in memory); the negotiation the client sends is small and read whole."""
        repo = repo_for_git(self.ctx, request, address, write=False)
        data = await self._body(request, self.ctx.config.max_json_body)
        proc = await asyncio.create_subprocess_exec(
            "git", "upload-pack", "--stateless-rpc", str(repo.git_dir),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=self._env(request),
        )  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        stdin, stdout = proc.stdin, proc.stdout

        async def feed() -> None:
            with contextlib.suppress(OSError):  # git may stop reading early (a bad request)
                stdin.write(data)
                await stdin.drain()
            stdin.close()

        feeder = asyncio.create_task(feed())
        errors = asyncio.create_task(proc.stderr.read())
        first = await stdout.read(STREAM_CHUNK)
        if not first:
            await feeder
            code = await proc.wait()
            message = (await errors)[-2000:].decode("utf-8", "replace")
            log.warning("git upload-pack failed (%d): %s", code, message)
            raise HTTPBadRequest("git could not process the request.", code="GitError")

        async def stream() -> AsyncIterator[bytes]:
            try:
                chunk = first
                while chunk:
                    yield chunk
                    chunk = await stdout.read(STREAM_CHUNK)
                await proc.wait()
            finally:  # the client went away, or git is done
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
                feeder.cancel()
                errors.cancel()

        return StreamingResponse(
            stream(), media_type="application/x-git-upload-pack-result", headers=NO_CACHE
        )

    async def receive_pack(self, request: Request, address: RepoAddress) -> Response:
        repo = repo_for_git(self.ctx, request, address, write=True)
        data = await self._body(request, self.ctx.config.max_commit_body)
        env = self._env(request)
        env["HUBVER_PROTECT_VERSIONS"] = "1" if self.ctx.config.protect_versions else "0"
        env["HUBVER_REGULAR_FILE_LIMIT"] = str(self.ctx.config.regular_file_limit)
        env["HUBVER_HUB_DATA_DIR"] = str(self.ctx.config.data_dir)  # the hook asks its LFS store
        cmd = [
            "git",
            "-c", f"core.hooksPath={self.hooks_dir}",
            "-c", "receive.autogc=false",
            "-c", "receive.fsckObjects=true",
            "-c", "receive.denyDeleteCurrent=true",
            "receive-pack", "--stateless-rpc", str(repo.git_dir),
        ]  # fmt: skip

        def run_locked() -> bytes:
            # The lock API commits take: a push's ref updates and a commit's compare-and-swap
            # never interleave. The hook runs inside it and takes no lock itself.
            with repo.refs.lock():
                return self._run(cmd, data, env, self.ctx.config.git_timeout)

        out = await run_in_threadpool(run_locked)
        return self._git_response(out, "application/x-git-receive-pack-result")

    @staticmethod
    def _run(cmd: list[str], data: bytes, env: dict[str, str], timeout: float) -> bytes:
        try:
            proc = subprocess.run(cmd, input=data, capture_output=True, env=env, check=False, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise HubHTTPError("git took too long on this request.", status=504, code="GitTimeout") from None
        if proc.returncode != 0 and not proc.stdout:
            log.warning(
                "%s failed (%d): %s",
                cmd[-3:],
                proc.returncode,
                proc.stderr[-2000:].decode("utf-8", "replace"),
            )
            raise HTTPBadRequest("git could not process the request.", code="GitError")
        return proc.stdout

    @staticmethod
    def _git_response(body: bytes, media_type: str) -> Response:
        return Response(body, media_type=media_type, headers=NO_CACHE)

    # -- git-lfs downloads -----------------------------------------------------------------

    async def lfs_object(self, request: Request, address: RepoAddress, oid: str) -> Response:
        """GET of one LFS object, the href that a download batch hands out."""
        repo = repo_for_git(self.ctx, request, address, write=False)
        names.check_oid(oid)
        size = await run_in_threadpool(repo.lfs.size, oid)
        if size is None:
            raise HTTPNotFound(f"Object {oid} is not stored.")
        url = repo.lfs.download_url(oid, None, self.ctx.config.upload_url_ttl)
        if url is not None:  # the object store serves the bytes
            return Response(status_code=302, headers={"Location": url, "X-Linked-Size": str(size)})
        assert isinstance(repo.lfs, LfsStore)
        return BigFileResponse(repo.lfs.path(oid), media_type="application/octet-stream")


async def lfs_download_batch(
    ctx: ServerContext, request: Request, address: RepoAddress, body: dict[str, Any]
) -> Response:
    """The LFS batch answer to operation "download": an href per stored object, 404 per missing one."""
    repo = repo_for_git(ctx, request, address, write=False)
    objects_in = body.get("objects")
    if not isinstance(objects_in, list):
        raise HTTPBadRequest("Expected an LFS batch request with 'objects'.")
    base = f"{ctx.base_url(request)}/{ctx.url_prefix(address)}{address.repo_id}.git/info/lfs/objects"
    header = {}
    if request.headers.get("authorization"):
        # The client's own credentials, for the GET it makes next (never logged).
        header["Authorization"] = request.headers["authorization"]
    objects = []
    for obj in objects_in:
        oid = names.check_oid(obj.get("oid") if isinstance(obj, dict) else None)
        size = obj.get("size")
        stored = await run_in_threadpool(repo.lfs.size, oid)
        if stored is None or stored != size:
            objects.append(
                {"oid": oid, "size": size, "error": {"code": 404, "message": "Object does not exist"}}
            )
            continue
        url = repo.lfs.download_url(oid, None, ctx.config.upload_url_ttl)
        if url is not None:  # presigned: no credentials of the client go to the object store
            action = {"href": url, "header": {}, "expires_in": int(ctx.config.upload_url_ttl)}
            objects.append({"oid": oid, "size": size, "actions": {"download": action}})
            continue
        action = {"href": f"{base}/{oid}", "header": header, "expires_in": 3600}
        objects.append({"oid": oid, "size": size, "authenticated": True, "actions": {"download": action}})
    return JSONResponse(
        {"transfer": "basic", "objects": objects, "hash_algo": "sha256"},
        media_type="application/vnd.git-lfs+json",
    )


def install_hooks(hooks_dir: Path) -> Path:
    """Write the pre-receive hook that runs `hubver.server.git_hooks` with this interpreter."""
    hooks_dir.mkdir(parents=True, exist_ok=True)
    root = Path(__file__).resolve().parents[2]  # the directory that holds the hubver package
    script = (
        "#!/bin/sh\n"
        f"PYTHONPATH={shlex.quote(str(root))}${{PYTHONPATH:+:$PYTHONPATH}}\n"
        "export PYTHONPATH\n"
        f"exec {shlex.quote(sys.executable)} -m hubver.server.git_hooks pre-receive\n"
    )
    hook = hooks_dir / "pre-receive"
    if not hook.exists() or hook.read_text() != script:
        tmp = hooks_dir / ".pre-receive.tmp"
        tmp.write_text(script)
        tmp.chmod(0o755)
        os.replace(tmp, hook)
    return hooks_dir
