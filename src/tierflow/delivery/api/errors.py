"""The one place where errors become HTTP: status from the domain error, body ``TierflowError.to_dict()``.

    TierflowError            → its http_status (422, 404, 409, 402, 403, 503, 502)
    RequestValidationError   → 422 InvalidInput naming the first bad field
    HTTPException (Starlette: unknown route, wrong method) → its status, same body shape
    a body over the limit    → 413 (see :class:`BodySizeLimit`)
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tierflow.domain.errors import InvalidInput, TierflowError

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 20 * 1024 * 1024
_LOCATIONS = {"body", "query", "path", "header", "cookie"}
_STATUS_KINDS = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 401: "unauthorized"}


def body(kind: str, message: str, *, field: str | None = None, fix: str | None = None) -> dict[str, Any]:
    """An error body in the shape of ``TierflowError.to_dict()`` for errors outside the domain tree."""
    detail = f"{field}: {message}" if field and not message.startswith(field) else message
    if fix:
        detail = f"{detail} — {fix}"
    return {"error": kind, "message": message, "field": field, "fix": fix, "detail": detail}


def validation_error(exc: RequestValidationError) -> InvalidInput:
    """FastAPI's list of problems → one InvalidInput naming the first bad field and a fix."""
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": ""}
    kind = first.get("type", "")
    if kind in ("union_tag_not_found", "union_tag_invalid"):
        return InvalidInput("stage must be 'draft' or 'final'", field="stage",
                            fix='send {"stage": "draft", ...} or {"stage": "final", ...}')
    # list/tuple positions (ints) are not field names: {"box": [0, 0, 1]} names "box", not "3"
    names = [str(p) for p in first.get("loc", ()) if str(p) not in _LOCATIONS and not isinstance(p, int)]
    # a discriminated union puts the tag ("draft") before the field name: keep the last part
    field = names[-1] if names else "body"
    if kind == "json_invalid":
        return InvalidInput("the body is not valid JSON", field="body", fix="send a JSON object")
    if kind == "missing":
        return InvalidInput(f"{field} is required", field=field, fix=f"add {field!r} to the request")
    if kind == "extra_forbidden":
        return InvalidInput(f"{field} is not a known field", field=field, fix="remove it (see /docs for the schema)")
    message = str(first.get("msg", "invalid value"))
    return InvalidInput(message.lower() if message[:1].isupper() else message, field=field,
                        fix="see /docs for the expected type and range")


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(TierflowError)
    async def _domain(_request: Request, exc: TierflowError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        err = validation_error(exc)
        return JSONResponse(err.to_dict(), status_code=err.http_status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = _STATUS_KINDS.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        fix = "see /docs for the routes" if exc.status_code in (404, 405) else None
        field = None
        if exc.status_code == 413:
            field, fix = "body", "send a smaller body"
        return JSONResponse(body(kind, message.lower(), field=field, fix=fix), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(body("internal", f"unexpected {type(exc).__name__}", fix="see the server log"),
                            status_code=500)


class _TooLarge(HTTPException):
    """Raised from inside ``receive``; an HTTPException so FastAPI's body parsing lets it through."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over {limit / (1024 * 1024):g} MB")


class BodySizeLimit:
    """ASGI middleware: a request body over ``limit`` bytes gets 413, whether it is declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._reject(send)
            return
        seen = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge(self.limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _TooLarge:
            if not started:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        mb = self.limit / (1024 * 1024)
        payload = json.dumps(body("payload_too_large", f"the request body is over {mb:g} MB", field="body",
                                  fix=f"send at most {mb:g} MB")).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})
