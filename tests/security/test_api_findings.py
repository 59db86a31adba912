"""Findings 5-7 (issue 11) through the HTTP surfaces: one read policy for the API and the chat, inputs that used to
give 500s, two uploads with one name, query-string keys in the access log, strict types."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from service.api.server import QueryValueFilter
from service.api.ui_access import COOKIE
from tests.security.conftest import call_respond, chat_app

KEY = "read-key-for-tests-0123456789"
SEED = "bf16: true\n{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.1}\n"


@pytest.fixture(scope="module")
def locked(rules):
    with TestClient(chat_app(rules, api_key=KEY, read_requires_key=True)) as client:
        yield client


def test_the_chat_and_its_gradio_api_need_the_read_key(locked):
    assert locked.post("/v1/diagnose", json={"text": SEED}).status_code == 401
    started, stream = call_respond(locked, {"text": SEED, "files": []})
    assert started.status_code == 401 and stream is None
    page = locked.get("/ui/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login"
    assert locked.get("/ui/config").status_code == 401


def test_the_key_opens_the_chat_by_header_or_by_signing_in(locked):
    bearer = {"Authorization": f"Bearer {KEY}"}
    started, stream = call_respond(locked, {"text": SEED, "files": []}, headers=bearer)
    assert started.status_code == 200 and "bf16" in stream
    assert locked.post("/login", data={"key": "wrong"}).status_code == 401
    signed = locked.post("/login", data={"key": KEY}, follow_redirects=False)
    assert signed.status_code == 303 and KEY not in signed.headers["set-cookie"]
    locked.cookies.set(COOKIE, signed.cookies[COOKIE])
    try:
        assert locked.get("/ui/config").status_code == 200
    finally:
        locked.cookies.clear()


@pytest.mark.parametrize("route, body", [
    ("/v1/diagnose", {"text": "\ud800 x"}),
    ("/v1/diagnose", {"log": "loss nan \udfff", "config": "bf16: true"}),
    ("/v1/triage", {"reports": [{"id": "\ud800", "title": "\udc00 loss 0", "body": SEED}]}),
])
def test_a_lone_surrogate_gets_an_answer_not_a_500(client_app, route, body):
    response = client_app.post(route, content=json.dumps(body), headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("route", ["/v1/diagnose", "/v1/search", "/v1/triage"])
def test_deeply_nested_json_is_a_422(client_app, route):
    body = '{"text": ' + "[" * 5000 + "]" * 5000 + "}"
    response = client_app.post(route, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize("k", ["5", 5.0, True])
def test_search_k_takes_only_an_integer(client_app, k):
    assert client_app.post("/v1/search", json={"query": "loss nan", "k": k}).status_code == 422


def test_two_uploads_with_one_name_are_both_read(client_app):
    files = [("files", ("train.log", b"bf16: true\n", "text/plain")),
             ("files", ("train.log", b"{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.1}\n",
                        "text/plain")),
             ("log", (None, "first text field")), ("text", (None, "a paste")), ("log", (None, "second"))]
    response = client_app.post("/v1/diagnose", files=files)
    assert response.status_code == 200
    parts = {e["part"] for d in response.json()["diagnoses"] for e in d["evidence"]}
    assert {"train.log", "train.log (2)"} <= parts


def test_the_access_log_never_holds_query_values():
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", f"/v1/diagnoses?key={KEY}&token=abc", "1.1", 200), None)
    QueryValueFilter().filter(record)
    message = record.getMessage()
    assert KEY not in message and "abc" not in message and "/v1/diagnoses?key=" in message
