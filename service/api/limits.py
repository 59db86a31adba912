"""Body-size limit as ASGI middleware: refuse over-size bodies with 413 before anything reads them.

Checks Content-Length up front and counts streamed (chunked) bodies as they arrive, so a client cannot get past the
limit by omitting the header. `overrides` gives a path prefix its own limit: the chat's file upload route takes logs
far over the API body limit (it streams them to disk; the chat then reads them like the CLI does).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CHAT_UPLOAD_MAX_BYTES = 513 * 1024 * 1024  # ui.uploads.MAX_UPLOAD_BYTES (512 MiB) plus the multipart framing


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, overrides: dict[str, int] | None = None) -> None:
        self.app, self.max_bytes = app, max_bytes
        self.overrides = dict(overrides or {})

    def _limit(self, scope: Scope) -> int:
        path = scope.get("path", "")
        return next((limit for prefix, limit in self.overrides.items() if path.startswith(prefix)), self.max_bytes)

    async def _reject(self, send: Send, max_bytes: int) -> None:
        hint = ("(TUNEDOC_MAX_BODY_BYTES); send a shorter excerpt of the log"
                if max_bytes == self.max_bytes else "for an upload")
        body = json.dumps({"error": {"code": "payload_too_large", "message":
                                     f"request body is over the {max_bytes} byte limit {hint}"}}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        max_bytes = self._limit(scope) if scope["type"] == "http" else 0
        if max_bytes <= 0:
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > max_bytes
                except ValueError:
                    too_big = False
                if too_big:
                    await self._reject(send, max_bytes)
                    return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._reject(send, max_bytes)
