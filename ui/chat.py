"""The Gradio chat page, mounted at /ui of the FastAPI app (one process, one port).

Thin: each turn calls ui.conversation.Conversation, which calls the same pipeline as the CLI and the API. Only the
pastes are kept in the session state (the engine is shared by the process).
"""

from __future__ import annotations

import gradio as gr
from fastapi import FastAPI

from ui.conversation import Conversation
from ui.examples import EXAMPLES
from ui.upload_guard import UploadPathGuard
from ui.uploads import read_upload

INTRO = """\
# tunedoc
Paste a fine-tuning log, your training config or the environment block (or upload the files). I name the cause,
quote the lines that prove it, give the fix and a config patch, and say what else it could be. Paste more in the
next message and the diagnosis is recomputed over everything you sent. Questions are answered from the knowledge
base. · 粘贴训练日志、配置或环境信息，我来诊断原因并给出修复方法。
"""


def build_blocks(app: FastAPI) -> gr.Blocks:
    def respond(message: dict | str | None, history: list, pastes: list):  # noqa: ANN202 - Gradio outputs
        engine = app.state.engine
        text = message.get("text", "") if isinstance(message, dict) else (message or "")
        files = message.get("files", []) if isinstance(message, dict) else []
        uploads = [read_upload(f) for f in (files if isinstance(files, list) else [])]
        conversation = Conversation(engine.rules, engine.retriever, list(map(tuple, pastes)))
        answer = conversation.reply(text, [(u.name, u.text) for u in uploads if u.text is not None])
        notes = [f"{u.name}: {u.note}" if u.text is None else u.note for u in uploads if u.note]
        if notes:
            answer = "\n".join(f"_{Conversation.shown(note)}_" for note in notes) + "\n\n" + answer
        shown = Conversation.shown(text) or ", ".join(Conversation.shown(u.name) for u in uploads)
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
    # Gradio copies any client-named file into its cache before `respond` runs: refuse such events first.
    app.add_middleware(UploadPathGuard, prefix=f"{path}/gradio_api/")
    gr.mount_gradio_app(app, build_blocks(app), path=path, footer_links=[])
