"""The CLI as a user meets it: real subprocesses, exit codes, no tracebacks, the triage JSONL contract."""

import json
import subprocess
import sys
from pathlib import Path

from tests.unit.test_engine_acceptance import SEED

BIN = str(Path(sys.executable).with_name("tunedoc"))


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([BIN, *args], input=stdin, capture_output=True, text=True, timeout=300)


def test_diagnose_reads_stdin_and_prints_markdown():
    proc = run("diagnose", "--no-retrieval", stdin=SEED)
    assert proc.returncode == 0
    assert "bf16-numerical-instability" in proc.stdout and "fp16: true" in proc.stdout


def test_missing_file_is_a_clear_error_not_a_traceback():
    proc = run("diagnose", "/no/such/file.log")
    assert proc.returncode == 2 and "No such file" in proc.stderr and "Traceback" not in proc.stderr


def test_binary_and_empty_input_still_answer():
    for payload in ("", "\x00\x01\x02 garbage \xff", "   \n\t\n"):
        proc = run("diagnose", "--json", "--no-retrieval", stdin=payload)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["diagnoses"] == []


def test_triage_contract_one_line_per_input_in_order(tmp_path: Path):
    reports = [
        {"id": "r1", "title": "Training stuck at 0 loss", "body": SEED, "labels": ["ignored"]},
        {"id": 7, "title": "Will you support a new model?", "body": "Please add it."},
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in reports) + "\nnot json\n")
    out = tmp_path / "out.jsonl"
    proc = run("triage", str(source), "-o", str(out), "--no-retrieval")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["r1", 7, "line-3"]
    assert rows[0]["diagnoses"][0]["id"] == "bf16-numerical-instability"
    assert rows[1]["diagnoses"] == [] and rows[2]["error"]["code"] == "bad_json"
    assert "Coverage gaps" in proc.stderr


def test_eval_prints_the_table_with_all_rows(tmp_path: Path):
    cases = tmp_path / "cases.jsonl"
    cases.write_text("\n".join(json.dumps(c) for c in [
        {"id": "a", "title": "loss 0", "body": SEED, "expected": "bf16-numerical-instability", "lang": "en"},
        {"id": "b", "title": "显存多大", "body": "请问微调7B需要多大显存？", "expected": "out-of-scope", "lang": "zh"},
    ]) + "\n")
    proc = run("eval", str(cases), "--no-baselines")
    assert proc.returncode == 0, proc.stderr
    assert "| tunedoc · all | 1.000 (1/1) | 1.000 (1/1) | 0.000 (0/1) | 1.000 (1/1) |" in proc.stdout
    assert "| tunedoc · zh | - | - | - | 1.000 (1/1) |" in proc.stdout
