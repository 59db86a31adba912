"""Secrets pasted by users never come back out of tunedoc.

1. The redactor on the corpus (tests/security/secrets_corpus.py): every secret of every family, in every form, is
   gone (the value, and every 8-character piece of it); every benign log/config line, and every line of the KB
   fixtures, comes out unchanged; PEM bodies are caught line by line too; redaction is idempotent and linear-time on
   adversarial 100 KB inputs.
2. The surfaces, with corpus secrets planted in realistic pastes: library diagnose JSON and Markdown, the REST API
   (/v1/diagnose, /v1/triage), the CLI (`tunedoc diagnose --json`, `tunedoc triage` rows, draft replies, report
   files), the MCP diagnose tool, and the chat (answers and the history's copy of the user's message); plus a
   hypothesis property test over random secrets in random log lines (library JSON and Markdown).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.pipeline import diagnose
from service.redact import redact
from service.render import render_markdown
from tests.security.measure_redaction import kb_fixture_lines, leaked
from tests.security.secrets_corpus import BENIGN, SECRETS, Secret
from tests.unit.test_engine_acceptance import SEED

BIN = str(Path(sys.executable).with_name("tunedoc"))

# ---------------------------------------------------------------------------------------------- the redactor


@pytest.mark.parametrize("secret", SECRETS, ids=[s.id for s in SECRETS])
def test_corpus_secret_is_redacted(secret: Secret):
    out = redact(secret.text)
    assert not leaked(secret, out), f"{secret.id} leaked: {out!r}"
    assert "[REDACTED:" in out


@pytest.mark.parametrize("line", BENIGN, ids=[f"benign-{i}" for i in range(len(BENIGN))])
def test_benign_line_is_unchanged(line: str):
    assert redact(line) == line


def test_kb_fixture_lines_are_unchanged():
    """Every line of every KB fixture is a real-looking fine-tuning paste line: none may change."""
    lines = kb_fixture_lines()
    assert len(lines) > 500
    changed = [(line, redact(line)) for line in lines if redact(line) != line]
    assert not changed, changed[:10]


def test_whole_benign_text_is_unchanged():
    text = "\n".join(BENIGN + kb_fixture_lines())
    assert redact(text) == text


def test_private_key_body_lines_are_caught_one_line_at_a_time():
    """Evidence lines are redacted one at a time: a PEM body line (64 base64 characters, or a shorter last line with
    `=` padding) must be caught alone."""
    blocks = [s for s in SECRETS if s.family == "private-key" and "\n" in s.text]
    assert len(blocks) >= 4
    for secret in blocks:
        for line in secret.text.splitlines():
            if len(line.strip()) >= 60 or line.endswith("="):
                out = redact(line)
                assert line.strip() not in out and "[REDACTED:private-key]" in out, (secret.id, line)


def test_private_key_cut_short_is_redacted_to_the_end():
    secret = next(s for s in SECRETS if s.id == "private-key/rsa")
    cut = "\n".join(secret.text.splitlines()[:-3]) + "\n"
    assert not leaked(Secret("rsa", "cut", cut, secret.values[:-2]), redact(cut))


def test_redaction_is_idempotent_and_keeps_lines():
    for secret in SECRETS:
        once = redact(secret.text)
        assert redact(once) == once, secret.id
        assert once.count("\n") == secret.text.count("\n"), secret.id


NAMES = ["token", "HF_TOKEN", "--hub_token", "password", "my token", "api_key", "Authorization", "https://u",
         "?token", "-u user", '"secret"', "wandb", "-----BEGIN PRIVATE KEY-----", "pad_token", ""]
SEPARATORS = [":", ": ", "=", " ", " is ", "@", "='", ': "', "\t", "\n"]
VALUES = ["hf_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW", "abcdef123456", "$VAR", "{x}", "<t>", "'a b c'", '"x"',
          "Basic", "Bearer abcdefghijklmnop1234", "", "null", "MIIE" + "Ab1+" * 15, "0123456789abcdef" * 2 + "01234567",
          "Zm9vYmFyYmF6cXV4MTIz==", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abc", "é€训练", "x" * 70]
LINES = st.tuples(st.sampled_from(NAMES), st.sampled_from(SEPARATORS), st.sampled_from(VALUES),
                  st.text(max_size=4)).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(LINES, st.text(max_size=12)), max_size=8).map("\n".join))
def test_redact_never_raises_keeps_lines_and_is_idempotent(text):
    """Any text (lines built from the syntax the rules look for, and random characters): no exception, the same
    number of lines, and redacting twice changes nothing more."""
    once = redact(text)
    assert once.count("\n") == text.count("\n")
    assert redact(once) == once


ADVERSARIAL = [
    "a" * 100_000,
    "token=" * 16_000,
    "hub_token: " + "x " * 50_000,
    "--token " * 12_500,
    "password " * 11_000,
    "https://" + "a:" * 50_000 + "@",
    "?token=a&" * 11_000,
    "-----BEGIN PRIVATE KEY-----" + "A" * 100_000,
    "-----BEGIN PRIVATE KEY-----\n" + ("QUJD" * 16 + "\n") * 1_500,
    "eyJ" + "a" * 100_000,
    "eyJabcdefghij." * 7_000,
    "hf_" * 33_000,
    "'" * 100_000,
    '"token": "' * 10_000,
    "Authorization: Basic " * 5_000,
    "my token is " * 8_000,
    "wandb " + "0123456789abcdef" * 6_000,
    "Ab1+" * 25_000,
    ("x" * 99 + "\n") * 1_000,
    "训练 token: 密钥 " * 8_000,
]


def test_linear_time_on_adversarial_100kb_inputs():
    """Each 100 KB input takes milliseconds, and doubling it at most ~doubles the time (no quadratic path)."""
    def best_of_two(text: str) -> float:  # best of five: a busy machine adds noise, never removes a quadratic cost
        times = []
        for _ in range(5):
            started = time.perf_counter()
            redact(text)
            times.append(time.perf_counter() - started)
        return min(times)

    for text in ADVERSARIAL:
        single = best_of_two(text)
        assert single < 0.5, (text[:40], single)
        double = best_of_two(text + text)
        assert double < max(0.05, 3.5 * single), (text[:40], single, double)


def test_no_backtracking_engine():
    """Every rule is an RE2 pattern (linear time by construction), none a Python `re` pattern."""
    import re

    import re2

    import service.redact as module

    assert module._RULES
    for rule in module._RULES:
        assert isinstance(rule.pattern, re2._Regexp) and not isinstance(rule.pattern, re.Pattern), rule.kind


# ---------------------------------------------------------------------------------------------- the surfaces

def _pieces(value: str) -> list[str]:
    """What must not appear in a surface's output: the value, and for a token (no spaces) every 8-character piece.
    A passphrase's pieces are ordinary words ("correct ") that the KB's own text may contain."""
    if " " in value or len(value) < 8:
        return [value]
    return [value[i:i + 8] for i in range(len(value) - 7)]


def assert_clean(output: str, secrets: list[Secret], where: str) -> None:
    leaks = sorted({s.id for s in secrets for v in s.values if any(p in output for p in _pieces(v))})
    assert not leaks, f"{where}: leaked {leaks}"


def _pastes() -> list[tuple[str, list[Secret]]]:
    """Realistic pastes (the bf16 seed case, an OOM traceback, a 401 from the Hub) with corpus secrets planted on
    lines that become evidence (config, command line, exception message) and elsewhere; every entry is planted."""
    seed = SEED.splitlines()
    oom = ["Traceback (most recent call last):", '  File "src/train.py", line 12, in <module>',
           "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of "
           "23.65 GiB of which 1.2 GiB is free."]
    pastes = []
    chunk = 12
    for start in range(0, len(SECRETS), chunk):
        group = SECRETS[start:start + chunk]
        base = list(seed if (start // chunk) % 2 == 0 else oom)
        lines = []
        for i, line in enumerate(base):
            lines.append(line)
            if i < len(group):
                lines.append(group[i].text)
        lines += [s.text for s in group[len(base):]]
        first = group[0].text.splitlines()[0]
        lines.append(f"ValueError: Attempting to unscale FP16 gradients. ({first})")
        lines.append(f"--bf16 true --report_to wandb {first}")
        pastes.append(("\n".join(lines), group))
    return pastes


PASTES = _pastes()
ALL = [s for _, group in PASTES for s in group]


def test_every_corpus_entry_is_planted():
    assert {s.id for s in ALL} == {s.id for s in SECRETS}


def test_library_json_and_markdown_are_clean(rules):
    for paste, group in PASTES:
        result = diagnose(paste, rules=rules)
        assert_clean(result.model_dump_json(), group, "diagnose JSON")
        assert_clean(render_markdown(result), group, "Markdown")
    assert any(diagnose(p, rules=rules).diagnoses for p, _ in PASTES)


def test_rest_api_diagnose_and_triage_are_clean(rules):
    from fastapi.testclient import TestClient

    from service.api.app import create_app
    from service.api.deps import Engine
    from service.config import get_settings

    app_settings = replace(get_settings())
    app = create_app(app_settings, with_ui=False)
    app.state.engine = Engine(settings=app_settings, rules=rules)
    with TestClient(app) as client:
        for paste, group in PASTES:
            response = client.post("/v1/diagnose", json={"text": paste})
            assert response.status_code == 200
            assert_clean(response.text, group, "POST /v1/diagnose")
        reports = [{"id": i, "title": group[0].text.splitlines()[0], "body": paste}
                   for i, (paste, group) in enumerate(PASTES)]
        response = client.post("/v1/triage", json={"reports": reports})
        assert response.status_code == 200
        assert_clean(response.text, ALL, "POST /v1/triage")


def _gap_reports() -> list[dict]:
    """Reports no article explains, whose salient (exception) line holds a secret: they land in the coverage gaps."""
    return [{"id": f"gap-{i}", "title": "upload step fails",
             "body": f"RuntimeError: upload failed after login with {s.text.splitlines()[0]}"}
            for i, s in enumerate(SECRETS) if "\n" not in s.text]


def test_cli_diagnose_json_and_triage_outputs_are_clean(tmp_path: Path):
    env = {**os.environ, "TUNEDOC_DATA_DIR": str(tmp_path / "data")}
    paste = "\n".join(p for p, _ in PASTES[:6])
    proc = subprocess.run([BIN, "diagnose", "--json", "--no-retrieval"], input=paste, capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["diagnoses"]
    assert_clean(proc.stdout + proc.stderr, [s for _, g in PASTES[:6] for s in g], "tunedoc diagnose --json")

    source = tmp_path / "issues.jsonl"
    reports = [{"id": f"r{i}", "title": group[0].text.splitlines()[0], "body": paste}
               for i, (paste, group) in enumerate(PASTES)] + _gap_reports()
    source.write_text("".join(json.dumps(r) + "\n" for r in reports), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    proc = subprocess.run([BIN, "triage", str(source), "-o", str(out), "--workers", "1", "--no-progress",
                           "--no-retrieval"], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == len(reports)
    assert any(row["triage"]["reply"] for row in rows)
    assert any(row["triage"]["gap_line"] for row in rows)
    assert_clean(out.read_text(encoding="utf-8"), SECRETS, "triage JSONL")
    assert_clean("\n".join(row["triage"]["reply"] or "" for row in rows), SECRETS, "draft replies")
    report_dir = tmp_path / "out-report"
    files = sorted(report_dir.iterdir())
    assert files
    for path in files:
        assert_clean(path.read_text(encoding="utf-8"), SECRETS, f"triage report {path.name}")
    assert "Coverage gaps" in (report_dir / "report.md").read_text(encoding="utf-8")
    assert_clean(proc.stdout + proc.stderr, SECRETS, "tunedoc triage stdout/stderr")


def test_library_triage_gap_lines_are_clean(tmp_path: Path):
    from service.triage import triage

    source = tmp_path / "gaps.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in _gap_reports()), encoding="utf-8")
    stats = triage(source, tmp_path / "gaps-out.jsonl", workers=1, progress=False, retrieval=False)
    assert stats.gaps
    assert_clean(stats.gaps_text(), SECRETS, "triage gap lines")


def test_mcp_diagnose_tool_is_clean(rules, monkeypatch):
    """The `diagnose` tool called through the MCP server object (the result an IDE agent receives), rules only."""
    import asyncio

    import service.mcp_server as mcp_server

    monkeypatch.setattr(mcp_server, "_engine", lambda: (rules, None))
    server = mcp_server.build_server()
    tool = next(t for t in asyncio.run(server.list_tools()) if t.name == "diagnose")
    formats = [{}] + ([{"format": "json"}] if "format" in str(tool) else [])
    for paste, group in PASTES:
        for extra in formats:
            result = asyncio.run(server.call_tool("diagnose", {"text": paste, **extra}))
            assert not result.is_error and len(str(result)) > 200, result
            assert_clean(str(result), group, f"MCP diagnose {extra}")


def test_chat_answers_and_history_are_clean(rules):
    from ui.conversation import Conversation

    chat = Conversation(rules)
    for paste, group in PASTES:
        assert_clean(Conversation.shown(paste), group, "chat history (user message)")
        assert_clean(chat.reply(paste), group, "chat answer")
    assert_clean(chat.reply("", files=[("train.log", PASTES[0][0])]), ALL, "chat answer to an upload")


LOG_LINES = BENIGN + kb_fixture_lines()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(secrets=st.lists(st.sampled_from(SECRETS), min_size=1, max_size=4),
       log=st.lists(st.sampled_from(LOG_LINES), min_size=0, max_size=15),
       data=st.data())
def test_property_random_secrets_in_random_logs_never_leak(rules, secrets, log, data):
    lines = list(log)
    for secret in secrets:
        lines.insert(data.draw(st.integers(0, len(lines)), label="position"), secret.text)
    result = diagnose("\n".join(lines), rules=rules)
    assert_clean(result.model_dump_json(), secrets, "diagnose JSON")
    assert_clean(render_markdown(result), secrets, "Markdown")
