"""Batch triage: input formats, resume after a real SIGKILL, torn lines, duplicates, labels, replies, report."""

import csv
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from service.triage import read_reports, triage
from service.triage.duplicates import DuplicateIndex
from tests.unit.test_engine_acceptance import SEED

BIN = str(Path(sys.executable).with_name("tunedoc"))
OOM = "Traceback (most recent call last):\ntorch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"
# The seed case told in other words: the same cause and salient lines, too little text in common for a text link.
SEED_RETOLD = """bf16 LoRA on Qwen2.5-14B gives zero loss, gradient norm is NaN. Command:
llamafactory-cli train --model_name_or_path Qwen/Qwen2.5-14B-Instruct --finetuning_type lora --bf16 True
{'loss': 1.9021, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.01}
{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 2e-05, 'epoch': 0.03}
"""


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_input_formats(tmp_path: Path):
    (tmp_path / "a.jsonl").write_text(json.dumps({"id": "x1", "title": "t", "body": "b", "extra": 1}) + "\n\n")
    (tmp_path / "gh.json").write_text(json.dumps([
        {"number": 12, "title": "bug", "body": "b", "html_url": "https://github.com/o/r/issues/12",
         "labels": [{"name": "pending"}], "state": "open", "created_at": "2024-01-01T00:00:00Z"},
        {"number": 13, "title": "a PR", "body": "", "pull_request": {"url": "..."}},
        {"number": 14, "title": "no body", "body": None},
    ]))
    with (tmp_path / "c.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerows([["ID", "Title", "Body"], ["c1", "t1", "line1\nline2"], ["c2", "t2", ""]])
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "r1.md").write_text("# Loss is NaN\n\nbody text")
    (folder / "r2.txt").write_text("second\nmore")
    (folder / "ignored.png").write_bytes(b"\x89PNG")
    assert [r.id for r in read_reports(tmp_path / "a.jsonl")] == ["x1"]
    gh = list(read_reports(tmp_path / "gh.json"))
    assert [r.id for r in gh] == [12, 14] and gh[0].url.endswith("/12") and gh[1].body == ""
    assert [(r.id, r.body) for r in read_reports(tmp_path / "c.csv")] == [("c1", "line1\nline2"), ("c2", "")]
    assert [(r.id, r.title) for r in read_reports(folder)] == [("r1", "Loss is NaN"), ("r2", "second")]


def test_labels_replies_and_report(tmp_path: Path, data_dir: Path, retriever):
    source = tmp_path / "in.jsonl"
    reports = [
        {"id": "bf16-a", "title": "loss 0 with bf16", "body": SEED},
        {"id": "bf16-b", "title": "loss 0 with bf16 (again)", "body": SEED.replace("1.7325", "2.0112")},
        {"id": "oom-zh", "title": "训练时显存不足", "body": OOM + "\n训练到第10步就报错"},
        {"id": "question", "title": "Will you support a new model?", "body": "Please add it."},
        {"id": "bf16-c", "title": "zero loss", "body": SEED_RETOLD},
    ]
    source.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in reports) + "\n")
    labels = tmp_path / "labels.yaml"
    labels.write_text("default: needs-triage\nno-diagnosis: pending\nbf16-numerical-instability: numerics\n")
    out = tmp_path / "out.jsonl"
    stats = triage(source, out, labels=labels, workers=1, progress=False)
    got = {r["id"]: r for r in rows(out)}
    assert list(got) == [r["id"] for r in reports]
    assert got["bf16-a"]["triage"]["label"] == "numerics" and got["question"]["triage"]["label"] == "pending"
    assert got["oom-zh"]["triage"]["label"] == "needs-triage"
    assert got["bf16-b"]["triage"]["duplicate_of"] == "bf16-a" and got["bf16-a"]["triage"]["duplicate_of"] is None
    assert got["bf16-b"]["triage"]["duplicate_kind"] == "near"  # the same text but for one number
    retold = got["bf16-c"]["triage"]  # other words, same cause and salient lines
    assert retold["duplicate_of"] in ("bf16-a", "bf16-b") and retold["duplicate_kind"] == "same-cause"
    assert retold["duplicate_similarity"] >= 0.85
    assert got["bf16-a"]["triage"]["title"] == "loss 0 with bf16"
    assert "fp16: true" in got["bf16-a"]["triage"]["reply"] and "https://github.com/" in got["bf16-a"]["triage"]["reply"]
    assert "解决方法" in got["oom-zh"]["triage"]["reply"]
    html = stats.report["html"].read_text()
    assert stats.report["chart"].read_text().startswith("<svg") and "causes.svg" in html
    assert re.search(r'data-filter-cause="bf16-numerical-instability">[^<]*</a></td><td>[^<]*</td>'
                     r'<td class="num">3</td>', html)
    assert re.search(r'data-filter-cause="no diagnosis">[^<]*</a></td><td></td><td class="num">1</td>', html)
    cluster = re.search(r'<li data-cluster="1" data-undiagnosed="0">3 reports.*?</li></ul></li>', html).group(0)
    assert all(f'href="#issue-{rid}"' in cluster for rid in ("bf16-a", "bf16-b", "bf16-c"))
    assert "same cause, similar lines, similarity 0.9" in cluster


def test_duplicate_vector_is_the_embedding_of_the_written_salient_text(monkeypatch, rules, retriever):
    """What a resumed run re-embeds (the output's `salient`) gives the vector the worker compared, also when the
    salient text is longer than 300 characters (it is the query, whose vector diagnose already computed)."""
    from service.triage import run
    from service.triage.labels import LabelMap
    from service.triage.readers import Report

    for key, value in (("rules", rules), ("retriever", retriever), ("labels", LabelMap({}))):
        monkeypatch.setitem(run._STATE, key, value)
    long = SEED + "\n" + "\n".join(f"UserWarning: gradient overflow in step {i}, skipping update" for i in range(6))
    for body in (SEED, SEED_RETOLD, long):
        row = run.process(Report(id=1, title="zero loss", body=body))
        assert row.meta is not None and row.vector is not None
        expected = np.asarray(retriever.embeddings.embed_query(row.meta["salient"]), dtype=np.float32)
        assert row.vector.tolist() == expected.tolist()
    assert len(row.meta["salient"]) > 300


def test_duplicate_index_threshold():
    index = DuplicateIndex(threshold=0.9)  # explicit: the test is about the mechanics, not the default
    assert index.add("a", "x", [1.0, 0.0]) is None
    assert index.add("b", "x", [0.99, 0.05])[0] == "a"
    assert index.add("c", "y", [1.0, 0.0]) is None  # another diagnosis never links
    assert index.add("d", "x", [0.0, 1.0]) is None


def _export(path: Path, n: int) -> list[str]:
    ids = [f"r{i:04d}" for i in range(n)]
    bodies = [SEED, OOM, "Will you support a new model?", "ImportError: flash_attn_2_cuda.so: undefined symbol: _ZN3c10"]
    path.write_text("\n".join(json.dumps({"id": i, "title": f"report {i}", "body": bodies[k % 4]})
                              for k, i in enumerate(ids)) + "\n")
    return ids


def test_resume_after_sigkill_writes_every_id_exactly_once(tmp_path: Path):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = _export(source, 400)
    command = [BIN, "triage", str(source), "-o", str(out), "--no-retrieval", "--workers", "1", "--no-progress"]
    for attempt in range(3):  # kill it a few times at different points, then let it finish
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        target = 40 * (attempt + 1)
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and out.read_bytes().count(b"\n") >= target:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with out.open("ab") as f:  # and a torn line, as if the machine died mid-write
        f.write(b'{"id": "r9999", "diagnoses": [')
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    written = [r["id"] for r in rows(out)]
    assert sorted(written) == sorted(ids) and len(written) == len(set(written))
    assert written == ids  # and still in input order
    assert "already done" in done.stderr


def test_server_mode_sends_reports_to_a_running_service(tmp_path: Path, server):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = _export(source, 6)
    stats = triage(source, out, server=server, progress=False)
    got = rows(out)
    assert [r["id"] for r in got] == ids and stats.processed == 6
    assert got[0]["diagnoses"][0]["id"] == "bf16-numerical-instability"
