"""Secrets planted in realistic pastes never come back: not in diagnose JSON (library and API), the Markdown answer,
triage rows, draft replies and reports, or the chat history."""

import json
from pathlib import Path

import pytest

from service.pipeline import diagnose
from service.redact import redact
from service.render import render_markdown
from service.triage import triage
from ui.conversation import Conversation

SECRETS = {
    "hf": "hf_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW",
    "openai": "sk-" + "proj-Xy12Ab34Cd56Ef78Gh90Ij12Kl34",
    "github": "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
    "github-pat": "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "aws-id": "AKIA" + "IOSFODNN7EXAMPLE",
    "aws-secret": "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY12",
    "wandb": "0123456789abcdef" + "0123456789abcdef01234567",
    "bearer": "eyJhbGciOiJIUzI1NiJ9." + "eyJzdWIiOiIxMjM0In0.abcDEF123456",
    "password": "S3cr3t-" + "Passw0rd!x",
    "api-key": "ak_live_" + "9f8e7d6c5b4a39281706",
}


def planted_pastes() -> list[str]:
    s = SECRETS
    return [
        f"export HF_TOKEN={s['hf']}\nhuggingface-cli login --token {s['hf']}\nbf16: true\n"
        "{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.1}",
        f"OPENAI_API_KEY={s['openai']} python train.py --fp16\nTraceback (most recent call last):\n"
        f"ValueError: Attempting to unscale FP16 gradients. key={s['openai']}",
        f"git clone https://{s['github']}@github.com/o/r\nGH_TOKEN: {s['github-pat']}\n"
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
        f"aws_access_key_id = {s['aws-id']}\naws_secret_access_key = {s['aws-secret']}\n"
        "RuntimeError: NCCL error: unhandled system error",
        f"wandb login {s['wandb']}\nWANDB_API_KEY={s['wandb']}\nreport_to: wandb\n"
        "ValueError: Target modules {'q_proj', 'v_proj'} not found in the base model.",
        f"curl -H 'Authorization: Bearer {s['bearer']}' http://127.0.0.1:8000/v1/diagnose\n"
        f"password: {s['password']}\napi_key: {s['api-key']}\n"
        "ImportError: flash_attn_2_cuda.so: undefined symbol: _ZN3c104cuda9SetDeviceEi",
    ]


def assert_clean(text: str) -> None:
    for kind, secret in SECRETS.items():
        assert secret not in text, f"{kind} secret leaked"


def test_redact_catches_every_kind():
    for paste in planted_pastes():
        assert_clean(redact(paste))


@pytest.mark.parametrize("paste", planted_pastes())
def test_diagnose_output_and_markdown_are_clean(rules, retriever, paste):
    result = diagnose(paste, rules=rules, retriever=retriever)
    assert_clean(result.model_dump_json())
    assert_clean(render_markdown(result))


def test_api_output_is_clean(rules):
    from dataclasses import replace

    from fastapi.testclient import TestClient

    from service.api.app import create_app
    from service.api.deps import Engine
    from service.config import get_settings

    settings = replace(get_settings())
    app = create_app(settings, with_ui=False)
    app.state.engine = Engine(settings=settings, rules=rules)
    with TestClient(app) as client:
        for paste in planted_pastes():
            assert_clean(client.post("/v1/diagnose", json={"text": paste}).text)
        body = client.post("/v1/triage", json={"reports": [{"id": i, "title": "t", "body": p}
                                                           for i, p in enumerate(planted_pastes())]}).text
        assert_clean(body)


def test_triage_rows_replies_and_reports_are_clean(tmp_path: Path, data_dir: Path, retriever):
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps({"id": i, "title": f"report {i}", "body": p})
                                for i, p in enumerate(planted_pastes() + ["token: " + SECRETS["hf"]])) + "\n")
    stats = triage(source, tmp_path / "out.jsonl", workers=1, progress=False)
    assert_clean((tmp_path / "out.jsonl").read_text())
    for path in stats.report.values():
        assert_clean(path.read_text())
    assert_clean(stats.gaps_text())


def test_chat_history_and_answers_are_clean(rules, retriever):
    chat = Conversation(rules, retriever)
    for paste in planted_pastes():
        assert_clean(Conversation.shown(paste))
        assert_clean(chat.reply(paste))
