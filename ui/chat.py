"""The Gradio chat page, mounted at /ui of the FastAPI app (one process, one port).

Thin: each turn calls ui.conversation.Conversation, which calls the same pipeline as the CLI and the API. The
session state holds the conversation (pastes, answers, the question asked); the engine is shared by the process.
Below the chat: buttons for the common replies to the question just asked (they send their text), and the user's
config with the fix merged in, to download.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from pathlib import Path

import gradio as gr
from fastapi import FastAPI

from ui.conversation import Conversation
from ui.examples import EXAMPLES
from ui.upload_guard import UploadPathGuard
from ui.uploads import MAX_UPLOAD_BYTES, read_upload

INTRO = """\
# tunedoc
Paste a fine-tuning log, your training config or the environment block (or upload the files, logs of any size). I
name the cause, quote the lines that prove it, give the fix and a config patch, and say what else it could be. When
I am not sure I ask one question: answer it with a button or in your own words, or paste more; the diagnosis is
recomputed over everything you sent. Questions are answered from the knowledge base. ·
粘贴训练日志、配置或环境信息（也可以上传文件），我来诊断原因并给出修复方法；不确定时我会问一个问题，点按钮或直接回答即可。
"""

N_REPLIES = 5  # reply buttons under the chat (a question's choices and "I don't know")
# Uploads bigger than this are streamed (head, tail, error lines, metrics), like the CLI does for big logs: a session
# keeps at most ui.conversation.MAX_SESSION_CHARS of text.
CHAT_STREAM_BYTES = 2 * 1024 * 1024
DOWNLOADS_DIR = Path(tempfile.gettempdir()) / "tunedoc-downloads"
DOWNLOADS_KEEP_SECONDS = 3600

# Answers open at their headline: the chat does not follow the end of a long answer (autoscroll is off); this
# scrolls the chat box, not the page, so the newest answer's first line sits at its top.
SCROLL_TO_ANSWER = """() => {
  const go = () => {
    const bots = document.querySelectorAll('#tunedoc-chat .bot');
    if (!bots.length) return;
    let last = bots[bots.length - 1];
    const users = document.querySelectorAll('#tunedoc-chat .user');
    const user = users.length ? users[users.length - 1] : null;
    // A short message of the user's (an answer, a question) stays in view above the answer.
    if (user && last.getBoundingClientRect().top - user.getBoundingClientRect().top < 140) last = user;
    let box = last.parentElement;
    while (box && box.id !== 'tunedoc-chat') {
      const style = getComputedStyle(box);
      if (/(auto|scroll)/.test(style.overflowY) && box.scrollHeight > box.clientHeight + 2) break;
      box = box.parentElement;
    }
    if (!box || box.id === 'tunedoc-chat') return;
    box.scrollTop += last.getBoundingClientRect().top - box.getBoundingClientRect().top - 12;
  };
  for (const ms of [60, 300, 900]) setTimeout(go, ms);
}"""


def _write_downloads(files: list[tuple[str, str]]) -> list[str]:
    """Write the merged configs where Gradio may serve them from (it copies them into its cache)."""
    if not files:
        return []
    DOWNLOADS_DIR.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - DOWNLOADS_KEEP_SECONDS
    for old in DOWNLOADS_DIR.glob("*/*"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
                old.parent.rmdir()
        except OSError:
            pass
    paths = []
    for name, content in files:
        folder = DOWNLOADS_DIR / hashlib.sha256(f"{name}\0{content}".encode()).hexdigest()[:24]
        folder.mkdir(exist_ok=True)
        path = folder / name
        path.write_text(content, encoding="utf-8")
        paths.append(str(path))
    return paths


def build_blocks(app: FastAPI) -> gr.Blocks:
    def respond(message: dict | str | None, history: list, state: object):  # noqa: ANN202 - Gradio outputs
        engine = app.state.engine
        text = message.get("text", "") if isinstance(message, dict) else (message or "")
        files = message.get("files", []) if isinstance(message, dict) else []
        uploads = [read_upload(f, stream_over=CHAT_STREAM_BYTES) for f in (files if isinstance(files, list) else [])]
        conversation = Conversation.restore(engine.rules, engine.retriever, state)
        notes = [(f"{u.name}: {u.note}" if u.text is None else u.note) for u in uploads if u.note]
        received = [(u.name, u.text, u.numbers) if u.numbers is not None else (u.name, u.text)
                    for u in uploads if u.text is not None]
        notes = [Conversation.shown(n) for n in notes]
        turn = conversation.turn(text, received, notes=notes)
        if notes and turn.kind != "diagnosis":  # a diagnosis shows them under its headline
            turn.markdown = "\n".join(f"_{n}_" for n in notes) + "\n\n" + turn.markdown
        shown = Conversation.shown_message(text, [u.name for u in uploads])
        history = (history or []) + [{"role": "user", "content": shown},
                                     {"role": "assistant", "content": turn.markdown}]
        buttons = [gr.update(value=label, visible=True) for label in turn.replies[:N_REPLIES]]
        buttons += [gr.update(visible=False)] * (N_REPLIES - len(buttons))
        paths = _write_downloads(turn.downloads)
        download = gr.update(value=paths or None, visible=bool(paths))
        return history, None, conversation.state(), *buttons, download

    def reply_with(label: str, history: list, state: object):  # noqa: ANN202 - Gradio outputs
        return respond({"text": label, "files": []}, history, state)

    def new_conversation():  # noqa: ANN202 - Gradio outputs
        return [], None, {}, *([gr.update(visible=False)] * N_REPLIES), gr.update(value=None, visible=False)

    with gr.Blocks(title="tunedoc") as blocks:
        gr.Markdown(INTRO)
        state = gr.State({})
        chat = gr.Chatbot(elem_id="tunedoc-chat", height=720, buttons=["copy"], label="tunedoc", show_label=False,
                          autoscroll=False)
        with gr.Row(elem_id="tunedoc-replies"):
            replies = [gr.Button(visible=False, size="sm", variant="primary", elem_classes=["tunedoc-reply"])
                       for _ in range(N_REPLIES)]
        download = gr.File(label="Your config with the fix merged in · 合并了补丁的配置", file_count="multiple",
                           interactive=False, visible=False, elem_id="tunedoc-download")
        box = gr.MultimodalTextbox(elem_id="tunedoc-input", file_count="multiple", lines=6, max_lines=30,
                                   placeholder="Paste a log, a config or an environment block, answer the question, "
                                               "or ask one",
                                   show_label=False, submit_btn=True)
        clear = gr.Button("New conversation", elem_id="tunedoc-new", variant="secondary")
        outputs = [chat, box, state, *replies, download]
        with gr.Row():
            for label, example in EXAMPLES:
                button = gr.Button(label, size="sm", elem_classes=["tunedoc-example"])
                button.click(lambda h, s, e=example: respond({"text": e, "files": []}, h, s),
                             inputs=[chat, state], outputs=outputs, api_visibility="private").then(
                    None, js=SCROLL_TO_ANSWER)
        box.submit(respond, inputs=[box, chat, state], outputs=outputs).then(None, js=SCROLL_TO_ANSWER)
        for button in replies:
            button.click(reply_with, inputs=[button, chat, state], outputs=outputs,
                         api_visibility="private").then(None, js=SCROLL_TO_ANSWER)
        clear.click(new_conversation, outputs=outputs, api_visibility="private")
    return blocks


def mount_ui(app: FastAPI, path: str = "/ui") -> None:
    # Gradio copies any client-named file into its cache before `respond` runs: refuse such events first.
    app.add_middleware(UploadPathGuard, prefix=f"{path}/gradio_api/")
    # Logs far over the API body limit are accepted here (the app gives this route its own limit) and streamed.
    gr.mount_gradio_app(app, build_blocks(app), path=path, footer_links=[], max_file_size=MAX_UPLOAD_BYTES)
