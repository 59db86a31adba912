"""The REST API through the in-process client: every route, every documented error code, the auth rules."""

from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.api.deps import Engine
from service.client import TunedocAPIError, TunedocClient
from service.config import get_settings
from service.docs import article_page
from tests.unit.test_engine_acceptance import SEED


def make_client(rules, retriever=None, **overrides) -> TestClient:
    settings = replace(get_settings(), **overrides)
    app = create_app(settings, with_ui=False)
    app.state.engine = Engine(settings=settings, rules=rules, retriever=retriever)
    return TestClient(app)


@pytest.fixture(scope="module")
def client(rules, retriever):
    with make_client(rules, retriever) as c:
        yield c


@pytest.fixture(scope="module")
def typed(client):
    return TunedocClient(http=client)


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return body["error"]


def test_diagnose_json_paste(typed):
    result = typed.diagnose(text=SEED)
    top = result.diagnoses[0]
    assert top.id == "bf16-numerical-instability"
    assert top.fix.patch == {"train-config": {"bf16": False, "fp16": True}}
    assert top.fix.snippets["train-config"] == "bf16: false\nfp16: true"
    assert [(e.part, e.line) for e in top.fix.locations] == [("input", SEED.splitlines().index("bf16: true") + 1)]
    assert result.related


def test_diagnose_parts_number_lines_per_part(typed):
    log = "{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.1}\n" * 3
    result = typed.diagnose(log=log, config="model_name_or_path: Qwen/Qwen2.5-7B\nbf16: true\n")
    evidence = {(e.part, e.line, e.signal) for e in result.diagnoses[0].evidence}
    assert ("config", 2, "precision") in evidence and ("log", 1, "metrics.grad_norm_nan") in evidence


def test_diagnose_multipart_files(client, tmp_path: Path):
    files = [("files", ("train.log", b"{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.1}\n" * 2,
                        "text/plain")),
             ("files", ("train.yaml", "bf16: true\n".encode("utf-16"), "application/x-yaml"))]
    response = client.post("/v1/diagnose", files=files)
    assert response.status_code == 200, response.text
    top = response.json()["diagnoses"][0]
    assert top["id"] == "bf16-numerical-instability"
    assert {"train.log", "train.yaml"} <= {e["part"] for e in top["evidence"]}


def test_non_text_upload_is_415(client):
    response = client.post("/v1/diagnose", files=[("files", ("model.bin", b"\x00\x01\x02\x00" * 100, "application/octet-stream"))])
    assert response.status_code == 415 and "not text" in error_of(response)["message"]
    response = client.post("/v1/diagnose", content=b"bf16: true", headers={"content-type": "text/plain"})
    assert response.status_code == 415 and error_of(response)["code"] == "unsupported_media_type"


@pytest.mark.parametrize("body, field", [
    (b"{not json", "body"), (b'{"text": 5}', "text"), (b"{}", "body"), (b'{"text": "x", "extra": 1}', "extra"),
    (b"[1, 2]", "body"),
])
def test_malformed_or_wrong_types_are_422_naming_the_field(client, body, field):
    response = client.post("/v1/diagnose", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert error_of(response)["message"].startswith(field)


def test_text_that_parses_as_nothing_still_gets_a_best_effort_answer(typed):
    for text in ("", "!!!@@@###", "\x00\x01 binary junk", "a" * 100_000):
        assert typed.diagnose(text=text).diagnoses == []


def test_body_size_limit(rules):
    limit = 4096
    with make_client(rules, max_body_bytes=limit) as c:
        over = c.post("/v1/diagnose", content=b'{"text": "' + b"a" * limit + b'"}',
                      headers={"content-type": "application/json"})
        assert over.status_code == 413 and "limit" in error_of(over)["message"]

        def chunks():  # no Content-Length: the middleware must count as it reads
            yield b'{"text": "'
            for _ in range(10):
                yield b"a" * 1000
            yield b'"}'
        streamed = c.post("/v1/diagnose", content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413
        payload = b'{"text": "' + b"a" * (limit - 12) + b'"}'
        assert len(payload) == limit
        assert c.post("/v1/diagnose", content=payload, headers={"content-type": "application/json"}).status_code == 200


def test_search(client, typed):
    results = typed.search("多张4090显卡训练卡住", k=3)
    assert "nccl-p2p-hang" in [r["id"] for r in results]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in results[0]["title"])
    for body in ({"query": ""}, {"query": "x", "k": 0}, {"query": "x", "k": 99}, {"k": 3}):
        response = client.post("/v1/search", json=body)
        assert response.status_code == 422, body


def test_catalogue_routes(client, typed, rules):
    cards = typed.diagnoses()
    assert len(cards) == len(rules.catalogue.articles)
    page = typed.diagnosis("fp16-overflow")
    assert page["page"] == article_page(rules.catalogue.by_id["fp16-overflow"], rules.catalogue)
    with pytest.raises(TunedocAPIError) as excinfo:
        typed.diagnosis("no-such-id")
    assert excinfo.value.status == 404 and excinfo.value.code == "not_found"


def test_triage_route(client, typed, rules):
    results = typed.triage([{"id": 1, "title": "loss 0", "body": SEED}, {"id": "b", "title": "hello", "body": ""}])
    assert [r["id"] for r in results] == [1, "b"]
    assert results[0]["diagnoses"][0]["id"] == "bf16-numerical-instability" and results[1]["diagnoses"] == []
    with make_client(rules, max_triage_reports=2) as small:
        response = small.post("/v1/triage", json={"reports": [{"id": i} for i in range(3)]})
        assert response.status_code == 422 and error_of(response)["message"].startswith("reports")
    assert client.post("/v1/triage", json={"reports": []}).status_code == 422


def test_health_and_readiness(client, rules, tmp_path):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["model_loaded"] is True
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the data dir should be: the index cannot be opened")
    with make_client(rules, retriever=None, data_dir=blocked) as c:
        not_ready = c.get("/readyz")
        assert not_ready.status_code == 503 and not_ready.json()["status"] == "not_ready"
        assert c.post("/v1/search", json={"query": "x"}).status_code == 503
        assert c.post("/v1/diagnose", json={"text": SEED}).status_code == 200  # rules need no index


def test_admin_routes_are_off_without_a_key_and_need_the_key(rules, retriever, tmp_path):
    with make_client(rules, api_key=None) as c:
        response = c.post("/v1/admin/reindex")
        assert response.status_code == 403 and error_of(response)["code"] == "forbidden"
    with make_client(rules, retriever, api_key="s3cret-key") as c:
        assert c.post("/v1/admin/reindex").status_code == 401
        assert c.post("/v1/admin/reindex", headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = c.post("/v1/admin/reindex", headers={"Authorization": "Bearer s3cret-key"})
        assert ok.status_code == 200 and ok.json()["added"] == 0  # the index is current: nothing re-embedded
        assert c.post("/v1/diagnose", json={"text": "x"}).status_code == 200  # reads stay open by default


def test_read_routes_can_require_the_key(rules):
    with make_client(rules, api_key="k3y", read_requires_key=True) as c:
        assert c.post("/v1/diagnose", json={"text": "x"}).status_code == 401
        assert c.get("/v1/diagnoses").status_code == 401
        assert TunedocClient(http=c, api_key="k3y").diagnose(text="x").diagnoses == []
        assert c.get("/healthz").status_code == 200


def test_cors_origins_are_configurable(rules):
    with make_client(rules, cors_origins=("vscode-webview://abc",)) as c:
        response = c.options("/v1/diagnose", headers={"Origin": "vscode-webview://abc",
                                                      "Access-Control-Request-Method": "POST"})
        assert response.headers.get("access-control-allow-origin") == "vscode-webview://abc"


def test_unknown_routes_and_methods_use_the_error_body(client):
    assert error_of(client.get("/v1/nope"))["code"] == "not_found"
    response = client.get("/v1/diagnose")
    assert response.status_code == 405 and error_of(response)["code"] == "method_not_allowed"


def test_openapi_documents_every_route_with_examples(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/v1/diagnose", "/v1/search", "/v1/diagnoses", "/v1/diagnoses/{diagnosis_id}", "/v1/triage",
                 "/healthz", "/readyz", "/v1/admin/reindex"):
        assert path in paths, path
    for path in ("/v1/diagnose", "/v1/search", "/v1/triage"):
        body = paths[path]["post"]["requestBody"]["content"]["application/json"]
        schema_ref = body.get("schema", {}).get("$ref", "")
        schema = spec["components"]["schemas"].get(schema_ref.rsplit("/", 1)[-1], {})
        assert body.get("examples") or schema.get("examples"), path
    assert "ErrorBody" in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_the_loaded_engine_is_frozen_out_of_the_collector_and_reloads_do_not_pile_up():
    """gc.freeze after loading keeps full collections from walking the KB on every large paste; a reload must
    leave the replaced engine collectable, so the frozen set stays the size of one engine."""
    import gc

    from service.api.app import open_engine

    engine = open_engine(get_settings(), retrieval=False)
    first = gc.get_freeze_count()
    assert first > 10_000  # the rules and the KB are out of the collector's generations
    for _ in range(3):
        engine.reload(retrieval=False)
    assert gc.get_freeze_count() < first * 1.2
    gc.unfreeze()  # leave the test process as it was
