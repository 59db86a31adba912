"""Large inputs in the chat (issue 14, item 3): the upload route takes files far over the API body limit and the
chat streams them like the CLI (head, tail, salient lines, metrics) with a note of what was kept; every other
request keeps the limit and its clear 413; a streamed log keeps the line numbers `grep -n` gives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import ui.chat
from tests.security.conftest import call_respond, chat_app, upload
from ui.uploads import read_upload, upload_root

LIMIT = 256 * 1024


def big_log(min_bytes: int) -> bytes:
    """A bf16 config at the top, thousands of step lines, NaN metric records from step 30 on."""
    lines = ["model_name_or_path: Qwen/Qwen2.5-7B-Instruct", "finetuning_type: lora", "bf16: true", ""]
    step, size = 0, 0
    while size < min_bytes:
        step += 1
        if step % 10:
            line = f"[INFO|trainer.py:2345] 2024-06-01 12:00:{step % 60:02d} >> step {step} tokens/s 5120 mem 23.4GB"
        else:
            nan = step >= 30
            line = (f"{{'loss': {0.0 if nan else 2.1}, 'grad_norm': {'nan' if nan else 1.2}, "
                    f"'learning_rate': 1e-05, 'epoch': {step / 1e5:.5f}}}")
        lines.append(line)
        size += len(line) + 1
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def small_limit_chat(rules):
    with TestClient(chat_app(rules, max_body_bytes=LIMIT)) as client:
        yield client


def test_the_api_keeps_its_limit_while_the_chat_takes_and_streams_a_bigger_upload(small_limit_chat, monkeypatch):
    data = big_log(3 * LIMIT)
    refused = small_limit_chat.post("/v1/diagnose", files=[("files", ("train.log", data, "text/plain"))])
    assert refused.status_code == 413 and refused.json()["error"]["code"] == "payload_too_large"
    event = small_limit_chat.post("/ui/gradio_api/call/respond", json={"data": [{"text": "x" * (LIMIT + 1),
                                                                                  "files": []}, [], []]})
    assert event.status_code == 413  # a chat event (a paste) keeps the limit; only the file upload route is exempt

    monkeypatch.setattr(ui.chat, "CHAT_STREAM_BYTES", LIMIT)  # stream this test's 768 KB like a big log
    path = upload(small_limit_chat, "train.log", data)
    started, stream = call_respond(small_limit_chat, {"text": "", "files": [{"path": path, "meta": {
        "_type": "gradio.FileData"}, "orig_name": "train.log"}]})
    assert started.status_code == 200
    assert "train.log: 0.8 MB" in stream and "lines kept" in stream  # the note of what was kept
    assert "/ui/article/bf16-numerical-instability" in stream  # and the diagnosis over the streamed log
    assert "train.log:3 `bf16: true`" in stream
    assert not Path(path).exists()


def test_a_streamed_upload_keeps_the_files_line_numbers():
    root = upload_root()
    folder = root / "tunedoc-test-stream"
    folder.mkdir(parents=True, exist_ok=True)
    path = Path(os.path.realpath(folder)) / "train.log"
    data = big_log(1_300_000)  # more lines than the head and the tail keep
    path.write_bytes(data)
    read = read_upload({"path": str(path), "orig_name": "train.log"}, stream_over=100_000)
    assert read.numbers is not None and read.note and "lines kept" in read.note
    file_lines = data.decode().split("\n")
    kept = read.text.split("\n")
    assert len(kept) == len(read.numbers) < len(file_lines) - 1
    for number, text in zip(read.numbers, kept, strict=True):
        assert file_lines[number - 1] == text  # `grep -n` numbering
    assert any(n > 2000 and "'grad_norm': nan" in t for n, t in zip(read.numbers, kept, strict=True))
    assert not path.exists()  # read once, then deleted
    if folder.exists() and not any(folder.iterdir()):
        folder.rmdir()


def test_a_small_upload_is_read_whole():
    folder = upload_root() / "tunedoc-test-small"
    folder.mkdir(parents=True, exist_ok=True)
    path = Path(os.path.realpath(folder)) / "small.log"
    path.write_bytes(b"bf16: true\n")
    read = read_upload({"path": str(path)}, stream_over=100_000)
    assert read.text == "bf16: true\n" and read.numbers is None and read.note is None
    if folder.exists() and not any(folder.iterdir()):
        folder.rmdir()
