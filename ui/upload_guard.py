"""Refuse Gradio events that name server files the client did not upload.

A Gradio event's `FileData.path` is written by the client. A mounted Blocks app skips Gradio's own check (it runs
only after `launch()`), and Gradio then copies whatever path it is given into its cache before the chat's function
runs: `/etc/passwd` would be read, `/dev/zero` would hang the process. This ASGI middleware reads the JSON body of
every POST to the Gradio API and answers 400 when any file object points outside Gradio's upload folder or at
anything but a regular file there, before Gradio sees the request. `ui.uploads` checks again when reading.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.errors import error_response
from ui.uploads import upload_root

MAX_EVENT_BYTES = 8 * 1024 * 1024  # an event carries pastes and file references, never file contents


def _file_paths(value: object, depth: int = 0) -> list[object]:
    """Every `path` of a file-like object in a Gradio payload (FileData dicts, at any depth a payload uses)."""
    if depth > 32:
        return [None]  # deeper than any Gradio payload: refuse rather than walk it
    if isinstance(value, dict):
        found = [value.get("path")] if "path" in value else []
        for item in value.values():
            found.extend(_file_paths(item, depth + 1))
        return found
    if isinstance(value, list):
        return [p for item in value for p in _file_paths(item, depth + 1)]
    return []


def is_uploaded_file(path: object, root: Path) -> bool:
    if not isinstance(path, str) or not os.path.isabs(path):
        return False
    try:
        resolved = Path(path).resolve(strict=True)
        info = os.lstat(path)
    except (OSError, ValueError, RuntimeError):
        return False
    return resolved.is_relative_to(root) and resolved != root and stat.S_ISREG(info.st_mode)


class UploadPathGuard:
    def __init__(self, app: ASGIApp, prefix: str = "/ui/gradio_api/") -> None:
        self.app, self.prefix = app, prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or not scope.get("path", "").startswith(
                self.prefix) or scope["path"].startswith(self.prefix + "upload"):
            await self.app(scope, receive, send)
            return
        body, messages = b"", []
        while True:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            if len(body) > MAX_EVENT_BYTES:
                await error_response(413, "event too large")(scope, receive, send)
                return
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        refusal = self._refusal(body)
        if refusal:
            await error_response(400, refusal)(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    @staticmethod
    def _refusal(body: bytes) -> str | None:
        if b'"path"' not in body:
            return None
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            return None  # not JSON: Gradio answers it (it cannot name a file either)
        root = upload_root()
        if all(is_uploaded_file(path, root) for path in _file_paths(payload)):
            return None
        return "a file in this request was not uploaded to this server; upload it with the chat's file button"
