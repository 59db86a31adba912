"""Findings 1, 2 and 6-7 (issue 11) through the chat's Gradio API: a client-named server file is never read, a
device file cannot hang the server, uploads are deleted after the answer, one session's state is bounded."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.security.conftest import call_respond, upload
from ui.conversation import MAX_SESSION_CHARS, Conversation
from ui.uploads import REFUSED, read_upload, upload_root

SEED = "bf16: true\n{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.1}\n"


def file_data(path: str) -> dict:
    return {"path": path, "meta": {"_type": "gradio.FileData"}}


@pytest.mark.parametrize("path", ["/etc/passwd", "/etc/hostname", "/proc/self/environ", "/no/such/file",
                                  "/tmp/../etc/passwd", "relative/path.log"])
def test_a_client_named_server_file_is_refused_before_gradio_copies_it(chat, path):
    started, stream = call_respond(chat, {"text": "see file", "files": [file_data(path)]})
    assert started.status_code == 400 and stream is None
    message = started.json()["error"]["message"]
    assert "not uploaded" in message and "No such file" not in message and "root:" not in message


def test_a_device_file_does_not_hang_the_server(chat):
    started_at = time.monotonic()
    started, _ = call_respond(chat, {"text": "", "files": [file_data("/dev/zero")]})
    assert started.status_code == 400 and time.monotonic() - started_at < 5
    assert chat.get("/healthz").status_code == 200


def test_a_real_upload_is_read_answered_and_deleted(chat):
    path = upload(chat, "train.log", SEED.encode())
    assert Path(path).exists()
    started, stream = call_respond(chat, {"text": "", "files": [file_data(path)]})
    assert started.status_code == 200
    assert "bf16" in stream and "No diagnosis" not in stream
    assert not Path(path).exists()  # the temp copy is gone once read


def test_the_reader_refuses_links_devices_and_paths_outside_the_upload_folder(tmp_path):
    root = upload_root()
    root.mkdir(parents=True, exist_ok=True)
    inside = Path(os.path.realpath(root)) / "tunedoc-test-dir"
    inside.mkdir(exist_ok=True)
    link = inside / "link.log"
    if link.exists() or link.is_symlink():
        link.unlink()
    link.symlink_to("/etc/passwd")
    fifo = inside / "pipe.log"
    if not fifo.exists():
        os.mkfifo(fifo)
    try:
        for path in (str(link), str(fifo), "/dev/zero", "/etc/passwd", str(tmp_path)):
            assert read_upload({"path": path}).text is None and read_upload({"path": path}).note == REFUSED
    finally:
        for p in (link, fifo):
            p.unlink(missing_ok=True)
        inside.rmdir()


def test_one_session_stays_bounded(rules):
    conversation = Conversation(rules)
    block = ("{'loss': 1.0, 'grad_norm': 2.0, 'learning_rate': 1e-05, 'epoch': 0.1}\n" * 60_000)[:3_800_000]
    for _ in range(8):
        conversation.reply(block)
    assert sum(len(text) for _, text in conversation.pastes) <= MAX_SESSION_CHARS
    shown = Conversation.shown(block)
    assert len(shown) < 3_000 and "not shown" in shown
