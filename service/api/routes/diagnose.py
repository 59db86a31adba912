"""POST /v1/diagnose: a JSON paste or uploaded files -> the engine's diagnose model."""

from __future__ import annotations

import codecs
import json

from fastapi import APIRouter, Request
from pydantic import ValidationError

from service.api.deps import EngineDep, ReadAccess
from service.api.errors import ERROR_RESPONSES, ApiError
from service.api.schemas import SEED_LOG, DiagnoseRequest
from service.models import DiagnoseResult
from service.pipeline import diagnose
from service.text import decode_bytes

router = APIRouter(prefix="/v1", tags=["diagnose"], dependencies=[ReadAccess])

_TEXT_FIELDS = ("text", "log", "config", "env")
_REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"$ref": "#/components/schemas/DiagnoseRequest"},
            "examples": {
                "paste": {"summary": "One paste", "value": {"text": SEED_LOG}},
                "parts": {"summary": "Log and config apart", "value": {
                    "log": "{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.1}",
                    "config": "bf16: true"}},
            },
        },
        "multipart/form-data": {
            "schema": {"type": "object", "additionalProperties": False, "properties": {
                "files": {"type": "array", "items": {"type": "string", "format": "binary"},
                          "description": "A log, a YAML, a DeepSpeed JSON, a trainer_state.json ..."},
                **{name: {"type": "string", "description": f"`{name}` as a text field"} for name in _TEXT_FIELDS}}},
        },
    },
}


def looks_binary(data: bytes) -> bool:
    """Text may be UTF-16 (NUL bytes are normal there); anything else with NUL bytes is not a log."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    head = data[:8192]
    return b"\x00" in head


def _unique(parts: dict[str, str], name: str) -> str:
    """Two uploads named alike (or a file named like a text field) are both kept: `log`, `log (2)`, ..."""
    candidate, n = name, 1
    while candidate in parts:
        n += 1
        candidate = f"{name} ({n})"
    return candidate


async def _parts_from_upload(request: Request) -> dict[str, str]:
    form = await request.form()
    parts: dict[str, str] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            if key not in _TEXT_FIELDS:
                raise ApiError(422, f"{key}: expected a file upload (text fields: {', '.join(_TEXT_FIELDS)})")
            parts[_unique(parts, "input" if key == "text" else key)] = value
            continue
        if key != "files":
            raise ApiError(422, f"{key}: unexpected file field; upload files as `files`")
        data = await value.read()
        name = value.filename or key
        if (value.content_type or "").startswith(("image/", "audio/", "video/")) or looks_binary(data):
            raise ApiError(415, f"upload {name!r} is not text; send logs, YAML or JSON files")
        parts[_unique(parts, name)] = decode_bytes(data).text
    if not parts:
        raise ApiError(422, "files: upload at least one file (a log, a YAML or a JSON config)")
    return parts


async def _parts_from_json(request: Request) -> dict[str, str]:
    raw = await request.body()
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(422, f"body: not valid JSON ({exc})") from exc
    except RecursionError as exc:
        raise ApiError(422, "body: JSON nested too deeply") from exc
    try:
        return DiagnoseRequest.model_validate(payload).parts()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise ApiError(422, f"{field}: {first.get('msg', 'invalid')}") from exc


@router.post("/diagnose", response_model=DiagnoseResult, responses=ERROR_RESPONSES,
             openapi_extra={"requestBody": _REQUEST_BODY})
async def diagnose_route(request: Request, engine: EngineDep) -> DiagnoseResult:
    """Diagnose a pasted log, config and environment: ranked causes, evidence lines, fix and patch."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        parts = await _parts_from_upload(request)
    elif content_type in ("application/json", "") or content_type.endswith("+json"):
        parts = await _parts_from_json(request)
    else:
        raise ApiError(415, f"unsupported content type {content_type!r}: send JSON or multipart/form-data")
    return await engine.pool.run(diagnose, parts, rules=engine.rules, retriever=engine.retriever)
