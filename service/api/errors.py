"""One error body for every 4xx/5xx: `{"error": {"code", "message"}}`, and the handlers that produce it."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from service.errors import InputError, KnowledgeBaseError, TunedocError
from service.redact import redact

log = logging.getLogger("tunedoc.api")


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          413: "payload_too_large", 415: "unsupported_media_type", 422: "invalid_request", 500: "internal_error",
          503: "not_ready"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        self.status, self.message, self.code = status, message, code or _CODES.get(status, "error")


def error_response(status: int, message: str, code: str | None = None, headers: dict | None = None) -> JSONResponse:
    body = {"error": {"code": code or _CODES.get(status, "error"), "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def _field(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, redact(exc.message), exc.code)  # messages may name user-sent keys

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):  # FastAPI's JSON decode failure
            return error_response(422, "body: not valid JSON (malformed or nested too deeply)")
        return error_response(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{_field(tuple(e.get('loc', ())))}: {e.get('msg', 'invalid')}" for e in exc.errors()[:5]]
        return error_response(422, redact("; ".join(problems)) or "invalid request")  # field names are user text

    @app.exception_handler(InputError)
    async def _input_error(_: Request, exc: InputError) -> JSONResponse:
        return error_response(422, str(exc))

    @app.exception_handler(KnowledgeBaseError)
    async def _kb_error(_: Request, exc: KnowledgeBaseError) -> JSONResponse:
        return error_response(503, f"knowledge base is broken: {exc}", "kb_error")

    @app.exception_handler(TunedocError)
    async def _tunedoc_error(_: Request, exc: TunedocError) -> JSONResponse:
        return error_response(503, str(exc), "not_ready")

    @app.exception_handler(RecursionError)
    async def _too_deep(_: Request, exc: RecursionError) -> JSONResponse:
        return error_response(422, "body: JSON nested too deeply")

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> JSONResponse:
        log.info("client disconnected before its request was read: %s", request.url.path)  # routine, no traceback
        return error_response(400, "client disconnected")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")  # the traceback goes to the server log, never to the client
        return error_response(500, "internal error; the server log has the details")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "Malformed multipart body"), (401, "Missing or wrong API key"),
        (403, "Route disabled (no API key configured)"),
        (413, "Request body over the size limit"), (415, "Upload is not text"),
        (422, "Malformed JSON or a field of the wrong type (the message names it)"),
        (500, "Unexpected server error"), (503, "Index or knowledge base not available"),
    )
}
