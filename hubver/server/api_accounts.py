"""Handlers for who the caller is and the endpoints the HF clients probe (whoami, validate-yaml)."""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .cards import validate_card
from .context import ServerContext

log = logging.getLogger("hubver.server")


class AccountHandlers:
    """Who the caller is, and the small endpoints the HF clients probe."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx

    async def whoami(self, request: Request) -> Response:
        user = self.ctx.require_user(request)
        return JSONResponse(
            {
                "type": "user",
                "id": user.name,
                "name": user.name,
                "fullname": user.fullname or user.name,
                "isPro": False,
                "canPay": False,
                # The hub keeps no organisation records: an org's full name is its name.
                "orgs": [{"type": "org", "name": o, "fullname": o, "roleInOrg": "write"} for o in user.orgs],
                "auth": {"type": "access_token", "accessToken": {"displayName": "hubver", "role": "write"}},
            }
        )

    async def agent_harnesses(self, request: Request) -> Response:
        return JSONResponse({"standardEnvVars": [], "harnesses": {}})

    async def validate_yaml(self, request: Request) -> Response:
        body = await self.ctx.read_json(request)
        content = body.get("content", "") if isinstance(body, dict) else ""
        # In a worker thread: a large card takes a while, and must not hold up other requests.
        report = await run_in_threadpool(validate_card, content if isinstance(content, str) else "")
        return JSONResponse(
            {
                "errors": [{"message": m} for m in report.errors],
                "warnings": [{"message": m} for m in report.warnings],
            },
            status_code=400 if report.errors else 200,
        )
