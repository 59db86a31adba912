"""The FastAPI application: middleware, error handling, routers, and the engine opened once per process.

`create_app()` is the factory uvicorn runs (`tunedoc serve`); tests call it in-process.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from service.api import errors
from service.api.batching import freeze_loaded_heap
from service.api.deps import Engine
from service.api.limits import CHAT_UPLOAD_MAX_BYTES, BodySizeLimit
from service.api.routes import admin, article_page, diagnose, diagnoses, health, search, triage
from service.api.server import install_log_filters
from service.api.ui_access import ReadKeyGuard
from service.config import Settings, apply_offline_env, get_settings
from service.pipeline import load_rules

log = logging.getLogger("tunedoc.api")

DESCRIPTION = """\
Diagnose LLM fine-tuning failures from pasted logs, configs and environment blocks.

Rules decide, retrieval supports: a cause is diagnosed only when the input supports its rules; evidence lines are
1-based and relative to the part they came from, so an editor can highlight them. Errors always have the body
`{"error": {"code", "message"}}`.
"""


def open_engine(settings: Settings, *, retrieval: bool = True) -> Engine:
    engine = Engine(settings=settings, rules=load_rules(str(settings.kb_dir)))
    engine.rules.warm()
    if retrieval:
        engine.reload()  # freezes the loaded heap itself
    else:
        freeze_loaded_heap()
    return engine


def create_app(settings: Settings | None = None, *, retrieval: bool = True, with_ui: bool | None = None) -> FastAPI:
    apply_offline_env()
    install_log_filters()
    if with_ui is None:
        with_ui = not (settings or get_settings()).no_ui
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if getattr(app.state, "engine", None) is None:
            app.state.engine = open_engine(settings, retrieval=retrieval)
        yield

    app = FastAPI(title="tunedoc", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.engine = None
    errors.install(app)
    for router in (diagnose.router, search.router, diagnoses.router, triage.router, health.router, admin.router,
                   article_page.router):
        app.include_router(router)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes,  # the chat's uploads are streamed
                       overrides={"/ui/gradio_api/upload": CHAT_UPLOAD_MAX_BYTES} if with_ui else None)
    app.add_middleware(ReadKeyGuard, settings=settings)  # the chat follows the API's read policy
    if with_ui:
        try:
            from ui.chat import mount_ui
        except ImportError:  # the chat is optional for the API (issue: Gradio chat)
            pass
        else:
            mount_ui(app)
    return app
