"""The Gradio chat page, mounted at /ui of the FastAPI app (one process, one port).

Thin: each turn calls ui.conversation.Conversation, which calls the same pipeline as the CLI and the API. Only the
pastes are kept in the session state (the engine is shared by the process).
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
from fastapi import FastAPI

from service.text import decode_bytes
from ui.conversation import Conversation
from ui.examples import EXAMPLES

INTRO = """\
# tunedoc
Paste a fine-tuning log, your training config or the environment block (or upload the files). I name the cause,
quote the lines that prove it, give the fix and a config patch, and say what else it could be. Paste more in the
next message and the diagnosis is recomputed over everything you sent. Questions are answered from the knowledge
base. · 粘贴训练日志、配置或环境信息，我来诊断原因并给出修复方法。
"""


def _read_upload(item: object) -> tuple[str, str | None]:
    path = Path(item if isinstance(item, str) else item.get("path", "") if isinstance(item, dict) else str(item))
    data = path.read_bytes()
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return path.name, None
    return path.name, decode_bytes(data).text


def build_blocks(app: FastAPI) -> gr.Blocks:
    def respond(message: dict | str | None, history: list, pastes: list):  # noqa: ANN202 - Gradio outputs
        engine = app.state.engine
        text = message.get("text", "") if isinstance(message, dict) else (message or "")
        uploads = [_read_upload(f) for f in (message.get("files", []) if isinstance(message, dict) else [])]
        conversation = Conversation(engine.rules, engine.retriever, list(map(tuple, pastes)))
        answer = conversation.reply(text, [(name, body) for name, body in uploads if body is not None])
        skipped = [name for name, body in uploads if body is None]
        if skipped:
            answer = f"_Not text, not read: {', '.join(skipped)}_\n\n{answer}"
        shown = Conversation.shown(text) or ", ".join(name for name, _ in uploads)
        history = history + [{"role": "user", "content": shown}, {"role": "assistant", "content": answer}]
        return history, None, [list(p) for p in conversation.pastes]

    with gr.Blocks(title="tunedoc") as blocks:
        gr.Markdown(INTRO)
        pastes = gr.State([])
        chat = gr.Chatbot(elem_id="tunedoc-chat", height=720, buttons=["copy"], label="tunedoc")
        box = gr.MultimodalTextbox(elem_id="tunedoc-input", file_count="multiple", lines=6, max_lines=30,
                                   placeholder="Paste a log, a config or an environment block, or ask a question",
                                   show_label=False, submit_btn=True)
        clear = gr.Button("New conversation", elem_id="tunedoc-new", variant="secondary")
        with gr.Row():
            for label, example in EXAMPLES:
                button = gr.Button(label, size="sm", elem_classes=["tunedoc-example"])
                button.click(lambda h, p, e=example: respond({"text": e, "files": []}, h, p),
                             inputs=[chat, pastes], outputs=[chat, box, pastes])
        box.submit(respond, inputs=[box, chat, pastes], outputs=[chat, box, pastes])
        clear.click(lambda: ([], None, []), outputs=[chat, box, pastes])
    return blocks


def mount_ui(app: FastAPI, path: str = "/ui") -> None:
    gr.mount_gradio_app(app, build_blocks(app), path=path, footer_links=[])
