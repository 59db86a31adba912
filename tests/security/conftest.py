"""Shared pieces of the security regression suite (issue 11): an app with the chat, a Gradio API caller."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.api.deps import Engine
from service.config import get_settings


def chat_app(rules, retriever=None, **overrides):
    settings = replace(get_settings(), **overrides)
    app = create_app(settings, with_ui=True)
    app.state.engine = Engine(settings=settings, rules=rules, retriever=retriever)
    return app


def call_respond(client: TestClient, message: dict, headers: dict | None = None):
    """The chat's Gradio API as a client script would call it: POST the event, then read its result stream."""
    started = client.post("/ui/gradio_api/call/respond", json={"data": [message, [], []]}, headers=headers or {})
    if started.status_code != 200:
        return started, None
    stream = client.get(f"/ui/gradio_api/call/respond/{started.json()['event_id']}", headers=headers or {})
    return started, stream.text


def upload(client: TestClient, name: str, data: bytes, headers: dict | None = None) -> str:
    response = client.post("/ui/gradio_api/upload", files=[("files", (name, data, "text/plain"))],
                           headers=headers or {})
    assert response.status_code == 200, response.text
    return response.json()[0]


@pytest.fixture(scope="module")
def chat(rules):
    with TestClient(chat_app(rules)) as client:
        yield client


@pytest.fixture(scope="module")
def client_app(rules, retriever):
    with TestClient(chat_app(rules, retriever)) as client:
        yield client
