"""HTTP helpers of the hub's handlers: JSON bodies, header values, range and error responses."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from .errors import HTTPBadRequest, HubHTTPError

log = logging.getLogger("hubver.server")


MiB = 1 << 20


class BigFileResponse(FileResponse):
    # 1 MiB reads: far fewer thread hops than starlette's 64 KiB for multi-GB files.
    chunk_size = MiB


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def loads_json(data: bytes) -> Any:
    try:
        return json.loads(data)
    # RecursionError: '[[[[...' a few thousand deep overflows the decoder's stack.
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise HTTPBadRequest("The request body is not valid JSON (or it is nested too deeply).") from None


def header_safe(text: str) -> str:
    # A header value may hold only visible ASCII and spaces: one control character from the
    # request echoed here (a NUL, an ESC) and uvicorn drops the whole response.
    ascii_text = text.encode("ascii", "replace").decode()
    return " ".join("".join(c if c.isprintable() else " " for c in ascii_text).split())[:1000]


def is_size(value: Any) -> bool:
    # JSON true is a Python int (== 1): it would end up as "size True" in a pointer or URL.
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


def bytes_response(
    request: Request, data: bytes, headers: dict[str, str], media: str = "application/octet-stream"
) -> Response:
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
        return maybe_head(request, data[start : end + 1], headers, 206, media)
    return maybe_head(request, data, headers, 200, media)


# Pictures a card may show (`![...](path)` resolves to /NS/NAME/resolve/REV/path): served as what
# they are so a browser draws them; every other file stays a download. A repository's SVG is
# someone's markup on the hub's origin, so image answers carry a sandboxing CSP: opened on its
# own, an SVG can run no script and load nothing (inside <img> a browser runs none anyway).
IMAGE_TYPES = {
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
IMAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
    "X-Content-Type-Options": "nosniff",
}


def media_type(path: str) -> str:
    """The Content-Type of a file served from a repository: an image type by extension, else binary."""
    name = path.rsplit("/", 1)[-1]
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    return IMAGE_TYPES.get(suffix, "application/octet-stream")


def maybe_head(
    request: Request,
    data: bytes,
    headers: dict[str, str],
    status: int,
    media: str = "application/octet-stream",
) -> Response:
    if media != "application/octet-stream":
        headers = {**headers, **IMAGE_HEADERS}
    if request.method == "HEAD":
        return Response(
            status_code=status, headers={**headers, "Content-Length": str(len(data)), "Content-Type": media}
        )
    return Response(data, status_code=status, headers=headers, media_type=media)


def error_response(e: HubHTTPError, headers: dict[str, str] | None = None) -> Response:
    """The JSON error answer, with the `X-Error-Code`/`X-Error-Message` the HF client maps."""
    h = {"X-Error-Message": header_safe(e.message)}
    if e.code:
        h["X-Error-Code"] = e.code
    h.update(e.headers)
    h.update(headers or {})
    return JSONResponse({"error": e.message}, status_code=e.status, headers=h)


def offset_page(request: Request, default: int, maximum: int) -> tuple[int, int]:
    """(start, limit) of a listing paged by `?limit=` and the opaque `?cursor=` of `next_link`."""
    q = request.query_params
    try:
        limit = min(max(int(q.get("limit", default)), 1), maximum)
        start = int(base64.urlsafe_b64decode(q["cursor"].encode()).decode()) if "cursor" in q else 0
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise HTTPBadRequest("Invalid pagination parameters.") from None
    return max(start, 0), limit


def next_link(request: Request, start: int) -> dict[str, str]:
    """The `Link: <...>; rel="next"` header huggingface_hub's `paginate` follows, for a page at `start`."""
    query = dict(request.query_params)
    query["cursor"] = base64.urlsafe_b64encode(str(start).encode()).decode()
    qs = "&".join(f"{quote(k)}={quote(str(v))}" for k, v in query.items())
    return {"Link": f'<{request.url.replace(query=qs)}>; rel="next"'}
