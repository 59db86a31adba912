"""Per-process engine state and the auth dependencies, written as `Annotated` aliases for the routes."""

from __future__ import annotations

import hmac
import threading
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from service.api.errors import ApiError
from service.config import Settings
from service.rules import RuleSet


@dataclass
class Engine:
    """What every request needs: the compiled rules and the retriever (opened once, in the lifespan)."""

    settings: Settings
    rules: RuleSet
    retriever: object | None = None
    startup_error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def require_retriever(self):  # noqa: ANN201 - service.retrieval.Retriever, imported lazily
        if self.retriever is None:
            raise ApiError(503, f"the search index is not ready: {self.startup_error or 'still starting'}")
        return self.retriever


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def _check_key(request: Request, key: str) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), key.encode()):
        raise ApiError(401, "missing or wrong API key: send `Authorization: Bearer <TUNEDOC_API_KEY>`")


def require_read_access(request: Request, engine: Annotated[Engine, Depends(get_engine)]) -> None:
    if engine.settings.read_requires_key and engine.settings.api_key:
        _check_key(request, engine.settings.api_key)


def require_admin(request: Request, engine: Annotated[Engine, Depends(get_engine)]) -> None:
    if not engine.settings.api_key:
        raise ApiError(403, "admin routes are disabled: set TUNEDOC_API_KEY on the server to enable them")
    _check_key(request, engine.settings.api_key)


EngineDep = Annotated[Engine, Depends(get_engine)]
ReadAccess = Depends(require_read_access)
AdminAccess = Depends(require_admin)
