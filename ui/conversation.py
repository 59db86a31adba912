"""One chat conversation: pastes accumulate and the diagnosis is recomputed over all of them; questions are
answered from the knowledge base. Plain Python (no Gradio), so it is tested directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from service.models import DiagnoseResult, Part
from service.parse import parse
from service.pipeline import diagnose
from service.redact import redact
from service.render import render_markdown
from service.search import answer_question
from service.signals import extract_signals
from service.text import detect_lang

_QUESTION = re.compile(r"(?i)^\s*(how|what|why|when|where|which|can|could|should|is|are|does|do|如何|怎么|怎样|什么|为什么|为何|能否|可以|是否|请问)\b|[?？]\s*$")
# One session's state is bounded: the pastes kept (newest first) and what the history shows of a message.
MAX_SESSION_CHARS = 4 * 1024 * 1024
MAX_PASTES = 16
SHOWN_CHARS = 2_000
_REF = re.compile(r"https://github\.com/([\w.-]+/[\w.-]+)/(issues|pull)/(\d+)")

TEXT = {
    "en": {"nothing": "Nothing in the knowledge base matches this question, so I won't guess. It covers these "
                      "causes of fine-tuning failures:", "answer": "From the knowledge base:",
           "paste": "Paste a training log, your config or the environment block and I will diagnose it.",
           "sources": "Sources"},
    "zh": {"nothing": "知识库中没有与这个问题匹配的内容，所以我不做猜测。知识库覆盖以下微调故障原因：",
           "answer": "知识库中的相关内容：", "paste": "请贴出训练日志、配置或环境信息，我来诊断。", "sources": "来源"},
}


def link_references(markdown: str) -> str:
    """Bare GitHub URLs -> `[owner/repo#N](url)` links."""
    return _REF.sub(lambda m: f"[{m.group(1)}#{m.group(3)}]({m.group(0)})", markdown)


def is_question(text: str) -> bool:
    """A question about the KB, not a paste: question-shaped, short, and with no log, config or error in it."""
    if len(text) > 400 or not _QUESTION.search(text.strip()):
        return False
    signals = extract_signals(parse([Part("message", text)]))
    return not any(name in signals for name in ("input.has_log", "input.has_error", "input.has_config"))


@dataclass
class Conversation:
    rules: object
    retriever: object | None = None
    pastes: list[tuple[str, str]] = field(default_factory=list)  # (part name, text)

    def add_paste(self, text: str, name: str | None = None) -> DiagnoseResult:
        self._keep(name or f"message {len(self.pastes) + 1}", text)
        return diagnose([Part(n, t) for n, t in self.pastes], rules=self.rules, retriever=self.retriever)

    def _keep(self, name: str, text: str) -> None:
        """Add a paste; drop the oldest ones past the session bound (the newest evidence matters most)."""
        # Kept redacted: the session state never holds a pasted secret (markers keep the line's shape).
        self.pastes.append((redact(name), redact(text[-MAX_SESSION_CHARS:])))
        while len(self.pastes) > MAX_PASTES or (
                len(self.pastes) > 1 and sum(len(t) for _, t in self.pastes) > MAX_SESSION_CHARS):
            self.pastes.pop(0)

    def reply(self, text: str, files: list[tuple[str, str]] = ()) -> str:
        """The Markdown answer to one user turn (a paste, uploaded files, or a question)."""
        text = text or ""
        if not files and is_question(text):
            return self.answer(text)
        for name, content in files:
            self._keep(name, content)
        if not text.strip() and not files:
            return TEXT[detect_lang([text])]["paste"]
        result = self.add_paste(text) if text.strip() else diagnose(
            [Part(n, t) for n, t in self.pastes], rules=self.rules, retriever=self.retriever)
        return link_references(render_markdown(result))

    def answer(self, question: str) -> str:
        lang = detect_lang([question])
        t = TEXT[lang]
        if self.retriever is None:
            return t["paste"]
        hits, matched = answer_question(self.retriever, question)
        catalogue = self.retriever.catalogue
        if not matched:
            topics = "\n".join(f"- {a.title.pick(lang)} (`{a.id}`)" for a in catalogue.articles)
            return f"{t['nothing']}\n\n{topics}"
        blocks = [t["answer"]]
        for hit in hits:
            article = catalogue.by_id[hit["id"]]
            steps = "\n".join(f"{i}. {s.pick(lang)}" for i, s in enumerate(article.fix.steps, start=1))
            refs = ", ".join(link_references(r) for r in article.references)
            blocks.append(f"### {hit['title']}\n`{hit['id']}`\n\n{hit['summary']}\n\n{steps}\n\n"
                          f"{t['sources']}: {refs}")
        return "\n\n".join(blocks)

    @staticmethod
    def shown(text: str) -> str:
        """What the chat history displays of the user's own message: secrets redacted, long pastes cut."""
        text = redact(text)
        if len(text) > SHOWN_CHARS:
            more = text.count("\n", SHOWN_CHARS) + 1
            text = f"{text[:SHOWN_CHARS]}\n… ({more} more line(s), {len(text) - SHOWN_CHARS} characters not shown)"
        return text
