"""One read policy for every surface: with `TUNEDOC_READ_REQUIRES_KEY=1` the chat at /ui and its Gradio API need the
key too, not only the REST routes.

API clients send `Authorization: Bearer KEY`; a browser signs in once at `/login` and gets an HttpOnly cookie that
holds an HMAC of the key (never the key). Everything under /ui without either is refused before Gradio sees it.
"""

from __future__ import annotations

import hashlib
import hmac
from html import escape
from urllib.parse import parse_qs

from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.errors import error_response
from service.config import Settings

COOKIE = "tunedoc_ui"
UI_PREFIX = "/ui"
LOGIN_PATH = "/login"
MAX_FORM_BYTES = 4096

_LOGIN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>tunedoc: sign in</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto}}
input,button{{font-size:1rem;padding:.4rem}}
</style></head><body><h1>tunedoc</h1><p>This server needs its API key to read. {message}</p>
<form method="post" action="/login"><label>API key <input type="password" name="key" autocomplete="current-password"
autofocus></label> <button type="submit">Sign in</button></form></body></html>"""


def session_token(key: str) -> str:
    return hmac.new(key.encode(), b"tunedoc-ui-session", hashlib.sha256).hexdigest()


def _cookies(scope: Scope) -> dict[str, str]:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            pairs = (part.strip().partition("=") for part in value.decode("latin-1").split(";"))
            return {k: v for k, _, v in pairs if k}
    return {}


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


def allowed(scope: Scope, key: str) -> bool:
    token = _bearer(scope)
    if token is not None and hmac.compare_digest(token.encode(), key.encode()):
        return True
    cookie = _cookies(scope).get(COOKIE, "")
    return hmac.compare_digest(cookie.encode(), session_token(key).encode())


class ReadKeyGuard:
    """ASGI middleware: /ui (and its Gradio API and websockets) follow the same read policy as the REST routes."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.key = settings.api_key if settings.read_requires_key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.key is None or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if scope["type"] == "http" and path == LOGIN_PATH:
            response = await self._login(scope, receive)
            await response(scope, receive, send)
            return
        if (path == UI_PREFIX or path.startswith(UI_PREFIX + "/")) and not allowed(scope, self.key):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 4401})
                return
            refusal: Response
            if scope.get("method") == "GET" and path in (UI_PREFIX, UI_PREFIX + "/"):
                refusal = RedirectResponse(LOGIN_PATH, status_code=303)
            else:
                refusal = error_response(401, "missing or wrong API key: sign in at /login or send "
                                               "`Authorization: Bearer <TUNEDOC_API_KEY>`")
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _login(self, scope: Scope, receive: Receive) -> Response:
        assert self.key is not None  # only called when the read key is on
        if scope.get("method") != "POST":
            return HTMLResponse(_LOGIN_PAGE.format(message=""))
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_FORM_BYTES:
                return error_response(413, "login form too large")
            if not message.get("more_body"):
                break
        key = parse_qs(body.decode("utf-8", "replace")).get("key", [""])[0]
        if not hmac.compare_digest(key.encode(), self.key.encode()):
            return HTMLResponse(_LOGIN_PAGE.format(message=escape("Wrong key.")), status_code=401)
        response = RedirectResponse(UI_PREFIX + "/", status_code=303)
        response.set_cookie(COOKIE, session_token(self.key), httponly=True, samesite="strict", path="/")
        return response
