"""One chat conversation with state: the parts pasted so far (messages and uploads) and every answer the user gave.
Each turn re-diagnoses over all of it; a short answer to the chat's question becomes evidence (synthetic config
lines in an `answers` part, see service/answers.py); questions about the knowledge base are answered from it.
Plain Python (no Gradio), so it is tested directly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from service.answers import Answer, AnswerBook, Question, denied_ids, parse_answer, replies_for
from service.models import DiagnoseResult, DifferentialOut, Line, Part
from service.parse import _metric_records, bound_lines, number_lines, parse, parse_lines
from service.pipeline import Analysis, analyse_input
from service.redact import redact
from service.rules import evaluate_signal
from service.search import answer_question
from service.signals import extract_signals
from service.text import cjk_count, clean_line, detect_lang, valid_unicode
from ui.configs import merged_configs
from ui.view import ANSWERS_PART, T, paste_block, render_answer

_QUESTION = re.compile(r"(?i)^\s*(how|what|why|when|where|which|can|could|should|is|are|does|do|"
                       r"如何|怎么|怎样|什么|为什么|为何|能否|可以|是否|请问)\b|[?？]\s*$")
# One session's state is bounded: the pastes kept (newest first) and what the history shows of a message.
MAX_SESSION_CHARS = 4 * 1024 * 1024
MAX_PASTES = 16
SHOWN_CHARS = 2_000
_REF = re.compile(r"https://github\.com/([\w.-]+/[\w.-]+)/(issues|pull)/(\d+)")

TEXT = {
    "en": {"nothing": "Nothing in the knowledge base matches this question, so I won't guess. It covers these "
                      "causes of fine-tuning failures:", "answer": "From the knowledge base:",
           "paste": "Paste a training log, your config or the environment block and I will diagnose it.",
           "sources": "Sources", "noted": "Noted",
           "now_log": "Now paste the training log: the error with its traceback, or the metric lines around where "
                      "it goes wrong. I will diagnose it together with what you sent.",
           "follow_up": "Then please paste it, so I can check:", "uploaded": "Uploaded",
           "no_gpu_bf16": "no bf16", "gpus": "GPUs", "gpu": "GPU", "no_zero": "no DeepSpeed ZeRO",
           "overlap": "overlap_comm", "on": "on", "off": "off", "full": "full fine-tuning", "launched": "launched with",
           "attention": "attention", "template": "template", "gc": "gradient checkpointing"},
    "zh": {"nothing": "知识库中没有与这个问题匹配的内容，所以我不做猜测。知识库覆盖以下微调故障原因：",
           "answer": "知识库中的相关内容：", "paste": "请贴出训练日志、配置或环境信息，我来诊断。", "sources": "来源",
           "noted": "已记下",
           "now_log": "现在请贴出训练日志：报错及其 traceback，或出问题前后的指标行。我会结合你已发送的内容一起诊断。",
           "follow_up": "那么请贴出这项信息，以便确认：", "uploaded": "已上传",
           "no_gpu_bf16": "不支持 bf16", "gpus": "张卡", "gpu": "张卡", "no_zero": "未使用 DeepSpeed ZeRO",
           "overlap": "overlap_comm", "on": "开启", "off": "关闭", "full": "全参数微调", "launched": "启动方式",
           "attention": "attention", "template": "模板", "gc": "gradient checkpointing"},
}


def link_references(markdown: str) -> str:
    """Bare GitHub URLs -> `[owner/repo#N](url)` links."""
    return _REF.sub(lambda m: f"[{m.group(1)}#{m.group(3)}]({m.group(0)})", markdown)


def is_question(text: str) -> bool:
    """A question about the KB, not a paste: question-shaped, short, and with no log, config or error in it, and
    telling of no failure. "为什么 loss 一直是 0？" is a report in question form: it is diagnosed (the candidates and
    the one question that separates them), not answered with a list of articles."""
    if len(text) > 400 or not _QUESTION.search(text.strip()):
        return False
    signals = extract_signals(parse([Part("message", text)]))
    return not any(name in signals for name in ("input.has_log", "input.has_error", "input.has_config",
                                                "input.describes_failure"))


class Paste(tuple):
    """(part name, text); a streamed log also carries the original line number of each kept line."""

    numbers: tuple[int, ...] | None

    def __new__(cls, name: str, text: str, numbers: Sequence[int] | None = None) -> Paste:
        paste = super().__new__(cls, (name, text))
        paste.numbers = tuple(numbers) if numbers is not None else None
        return paste

    def lines(self) -> list[Line]:
        name, text = self
        if self.numbers is None:
            return number_lines([Part(name, text)])
        return [Line(name, n, clean_line(t)) for n, t in zip(self.numbers, text.split("\n"), strict=False)]


@dataclass
class Turn:
    """What one user turn produces: the answer, how the user's message is shown, the reply buttons, downloads."""

    markdown: str
    shown: str
    replies: list[str] = field(default_factory=list)
    downloads: list[tuple[str, str]] = field(default_factory=list)  # (file name, content)
    result: DiagnoseResult | None = None
    kind: str = "diagnosis"  # diagnosis | noted | question | prompt


def _escape(text: str) -> str:
    """A one-line message shown as typed (no Markdown: `# x` is not a heading, `*x*` not emphasis)."""
    return re.sub(r"([\\`*_{}\[\]()#+!|<>~])", r"\\\1", text).replace("\n", " ")


@dataclass
class Conversation:
    rules: Any
    retriever: Any | None = None
    pastes: list[Paste] = field(default_factory=list)  # (part name, text); plain tuples are converted
    answers: AnswerBook = field(default_factory=AnswerBook)
    answered: list[str] = field(default_factory=list)  # question keys answered or skipped
    pending: Question | None = None  # the question the last answer asked

    def __post_init__(self) -> None:
        self.pastes = [p if isinstance(p, Paste) else Paste(*p) for p in self.pastes]

    # ------------------------------------------------------------ state kept by the chat between turns

    def state(self) -> dict:
        return {
            "pastes": [[n, t, list(p.numbers) if p.numbers is not None else None]
                       for p in self.pastes for n, t in [p]],
            "answers": [[a.topic, list(a.lines), [list(d) for d in a.denies], a.said] for a in self.answers.answers],
            "answered": list(self.answered),
            "pending": ([self.pending.key, self.pending.ask, self.pending.signal, list(self.pending.for_ids)]
                        if self.pending else None),
        }

    @classmethod
    def restore(cls, rules: Any, retriever: Any, state: object) -> Conversation:
        """From `state()`; an older list of (name, text) pastes, or anything malformed, starts what it can."""
        conversation = cls(rules, retriever)
        if isinstance(state, list):  # the pastes alone
            state = {"pastes": state}
        if not isinstance(state, dict):
            return conversation
        for item in state.get("pastes") or []:
            if isinstance(item, (list, tuple)) and len(item) >= 2 and all(isinstance(x, str) for x in item[:2]):
                numbers = item[2] if len(item) > 2 and isinstance(item[2], list) else None
                if numbers is not None and not all(isinstance(n, int) for n in numbers):
                    numbers = None
                conversation.pastes.append(Paste(item[0], item[1], numbers))
        for item in state.get("answers") or []:
            try:
                topic, lines, denies, said = item
                conversation.answers.add(Answer(str(topic), tuple(map(str, lines)),
                                                tuple(tuple(d) for d in denies), said=str(said)))
            except (TypeError, ValueError):
                continue
        conversation.answered = [str(k) for k in state.get("answered") or [] if isinstance(k, str)]
        pending = state.get("pending")
        if isinstance(pending, (list, tuple)) and len(pending) == 4:
            conversation.pending = Question(str(pending[0]), str(pending[1]), pending[2],
                                            tuple(map(str, pending[3] or ())))
        return conversation

    # ------------------------------------------------------------ pastes

    def add_paste(self, text: str, name: str | None = None) -> DiagnoseResult:
        self._keep(name or f"message {len(self.pastes) + 1}", text)
        return self.diagnose()

    def _keep(self, name: str, text: str, numbers: Sequence[int] | None = None) -> None:
        """Add a paste; drop the oldest ones past the session bound (the newest evidence matters most)."""
        # Kept redacted: the session state never holds a pasted secret (markers keep the line's shape).
        text = valid_unicode(text)
        if numbers is None:
            self.pastes.append(Paste(redact(valid_unicode(name)), redact(text)[-MAX_SESSION_CHARS:]))
        else:
            lines = text.split("\n")[:len(numbers)]
            numbers = list(numbers)[:len(lines)]
            while len(lines) > 1 and sum(len(t) + 1 for t in lines) > MAX_SESSION_CHARS:
                cut = max(1, len(lines) // 10)
                lines, numbers = lines[cut:], numbers[cut:]
            self.pastes.append(Paste(redact(valid_unicode(name)), "\n".join(redact(t) for t in lines), numbers))
        while len(self.pastes) > MAX_PASTES or (
                len(self.pastes) > 1 and sum(len(t) for _, t in self.pastes) > MAX_SESSION_CHARS):
            self.pastes.pop(0)

    def diagnose(self) -> DiagnoseResult:
        result = self.analyse().result
        assert result is not None
        return result

    def analyse(self) -> Analysis:
        """The engine over every paste and the answers, numbered per part (a streamed log keeps its numbers)."""
        lines = [line for paste in self.pastes for line in paste.lines()]
        answers = self.answers.text()
        if answers:
            lines += number_lines([Part(ANSWERS_PART, answers)])
        bounded, note = bound_lines(lines)
        parsed = parse_lines(bounded, _metric_records(lines), [note] if note else [])
        return analyse_input(parsed, rules=self.rules, retriever=self.retriever)

    # ------------------------------------------------------------ turns

    def reply(self, text: str, files: Sequence[tuple] = ()) -> str:
        """The Markdown answer to one user turn (a paste, uploaded files, an answer, or a question)."""
        return self.turn(text, files).markdown

    def turn(self, text: str, files: Sequence[tuple] = (), notes: Sequence[str] = ()) -> Turn:
        """One user turn. `files` are (name, text) or (name, text, original line numbers) of a streamed log."""
        text = text or ""
        stripped = text.strip()
        shown = self.shown_message(text, [f[0] for f in files])
        lang = "zh" if cjk_count(text) >= 2 else detect_lang([text])
        if not files and stripped and is_question(stripped):
            return Turn(self.answer(stripped), shown, self._buttons(lang), kind="question")
        catalogue = self.rules.catalogue
        answers = parse_answer(stripped, self.pending, catalogue) if not files else []
        follow_up = None
        if answers:
            for answer in answers:
                if self.pending is not None and (answer.skipped or answer.topic == self.pending.key) \
                        and not answer.follow_up:
                    self.answered = [*self.answered, self.pending.key][-64:]
                if answer.follow_up and self.pending is not None:
                    follow_up = f"**{TEXT[lang]['follow_up']}** {self.pending.ask}"
                self.answers.add(Answer(answer.topic, answer.lines, answer.denies, answer.skipped,
                                        answer.follow_up, redact(answer.said)))
        else:
            for name, content, *numbers in files:
                self._keep(name, content, numbers[0] if numbers else None)
            if stripped:
                self._keep(f"message {len(self.pastes) + 1}", text)
            if not stripped and not files:
                return Turn(TEXT[lang]["paste"], shown, kind="prompt")
        return self._answer(self.analyse(), shown, list(notes), follow_up, text)

    def _buttons(self, lang: str) -> list[str]:
        return replies_for(self.pending, lang)

    def denied(self) -> dict[str, str]:
        """Article id -> the user's words that rule it out (answers no config line can express)."""
        out: dict[str, str] = {}
        for answer in self.answers.answers:
            for article_id in denied_ids(answer, self.rules.catalogue):
                out.setdefault(article_id, answer.said)
        return out

    def ruled_by_answers(self, analysis: Analysis) -> dict[str, str]:
        """Candidates whose required condition fails, or whose exclude holds, on a fact from the user's answers.

        The rules skip articles with no symptom of their own (a sibling of the same category then keeps the cause
        alive), so an answer like "No DeepSpeed" is applied here to every candidate, with the rules' semantics."""
        said = self.answers.said_by_line()
        out: dict[str, str] = {}
        assert analysis.result is not None
        for item in analysis.result.differential:
            article = self.rules.catalogue.by_id.get(item.id)
            if item.status == "ruled_out" or article is None:
                continue
            tests = [(m, "fails") for m in article.conditions if m.required and m.signal] + [
                (m, "holds") for m in article.excludes if m.signal]
            for matcher, ruling in tests:
                outcome = evaluate_signal(matcher, analysis.signals)
                if outcome.status == ruling and outcome.lines and all(
                        line.part == ANSWERS_PART for line in outcome.lines):
                    out[item.id] = said.get(outcome.lines[0].number, "")
                    break
        return out

    def _answer(self, analysis: Analysis, shown: str, notes: list[str], follow_up: str | None,
                text: str) -> Turn:
        result = analysis.result
        assert result is not None
        denied = {**self.ruled_by_answers(analysis), **self.denied()}
        result = apply_denials(result, denied)
        open_missing = [m for m in result.missing if Question.from_missing(m).key not in self.answered
                        and not all(i in denied for i in m.for_ids)]
        questions = [Question.from_missing(m) for m in open_missing]
        # The next question: the one that best separates the top candidates (DiagnoseResult.asks says which are
        # worth asking at all).
        deciding = [q for q, m in zip(questions, open_missing, strict=True) if result.asks(m)]
        self.pending = deciding[0] if deciding else None
        lang = result.lang
        if (noted := self._noted(result, text)) is not None:
            self.pending = None
            return Turn(noted, shown, result=result, kind="noted")
        patched = next((d for d in result.diagnoses if d.fix.patch), None)
        downloads = merged_configs(list(self.pastes), patched.fix.patch if patched else None)
        markdown = render_answer(
            result, question=self.pending.ask if self.pending else None,
            other_questions=[q.ask for q, m in zip(questions, open_missing, strict=True)
                             if q != self.pending and result.asks(m)],
            said=self.answers.said_by_line(),
            notes=notes,
            downloads=[name for name, _ in downloads], follow_up=follow_up,
            titles={a.id: a.title.pick(lang) for a in self.rules.catalogue.articles})
        return Turn(link_references(markdown), shown, replies_for(self.pending, lang), downloads, result)

    def _noted(self, result: DiagnoseResult, text: str) -> str | None:
        """A paste of an environment block or a config alone (no log, no error, nothing diagnosed): say what was
        understood and ask for the log."""
        names = {s.name for s in result.signals}
        if result.diagnoses or names & {"input.has_log", "input.has_error"}:
            return None
        if any(d.evidence for d in result.differential if d.status == "candidate"):
            return None
        lang = "zh" if cjk_count(text) >= 2 else result.lang
        items = summary(result, lang)
        if not items:
            return None
        t = TEXT[lang]
        separator, colon = ("、", "：") if lang == "zh" else (", ", ": ")
        return f"## {t['noted']}{colon}{separator.join(items)}\n{t['now_log']}\n"

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
            blocks.append(f"### [{hit['title']}](/ui/article/{hit['id']})\n`{hit['id']}`\n\n{hit['summary']}\n\n"
                          f"{steps}\n\n{t['sources']}: {refs}")
        return "\n\n".join(blocks)

    # ------------------------------------------------------------ how the user's message is shown

    @staticmethod
    def shown(text: str) -> str:
        """What the chat history displays of the user's own message: secrets redacted, long pastes cut."""
        text = redact(text)
        if len(text) > SHOWN_CHARS:
            more = text.count("\n", SHOWN_CHARS) + 1
            text = f"{text[:SHOWN_CHARS]}\n… ({more} more line(s), {len(text) - SHOWN_CHARS} characters not shown)"
        return text

    @staticmethod
    def shown_message(text: str, file_names: Sequence[str] = ()) -> str:
        """The user's message as Markdown for the history: a paste as a code block (never rendered), a one-line
        answer or question as typed, uploads by name."""
        text = redact(text or "").strip("\n")
        blocks = []
        if text.strip():
            if "\n" not in text.strip() and len(text) <= 200:
                blocks.append(_escape(text.strip()))
            else:
                cut = text[:SHOWN_CHARS]
                blocks.append(paste_block(cut))
                if len(text) > SHOWN_CHARS:
                    more = text.count("\n", SHOWN_CHARS) + 1
                    blocks.append(f"_… {more} more line(s), {len(text) - SHOWN_CHARS} characters not shown_")
        lang = "zh" if cjk_count(text) >= 2 else "en"
        colon = "：" if lang == "zh" else ": "
        blocks += [f"{TEXT[lang]['uploaded']}{colon}{_escape(redact(name))}" for name in file_names]
        return "\n\n".join(blocks)


def apply_denials(result: DiagnoseResult, denied: dict[str, str]) -> DiagnoseResult:
    """Causes the user's answers rule out (where no config line can say it) become `ruled_out` in the differential,
    with the user's words as the reason; their questions are not asked again. Diagnoses stand on their evidence."""
    if not denied:
        return result
    said = T[result.lang]["you_said"]
    entries: list[DifferentialOut] = []
    for item in result.differential:
        if item.id in denied and item.status != "ruled_out":
            item = item.model_copy(update={"status": "ruled_out", "probability": None,
                                           "reason": f"{said} “{denied[item.id]}”"})
        entries.append(item)
    order = {"candidate": 0, "no_evidence": 1, "ruled_out": 2}
    entries.sort(key=lambda d: order[d.status])  # stable: the engine's order within each status
    missing = [m for m in result.missing if not all(i in denied for i in m.for_ids)]
    return result.model_copy(update={"differential": entries, "missing": missing})


def summary(result: DiagnoseResult, lang: str) -> list[str]:
    """What the signals say about the setup, in a few words each: GPU, precision, ZeRO, model, versions."""
    s = {signal.name: signal.value for signal in result.signals}
    items = _hardware_items(s, lang) + _training_items(s, lang)
    items += [f"{name.split('.', 1)[1].replace('_', '-')} {s[name]}"
              for name in sorted(s) if name.startswith("version.")]
    if "launcher" in s:
        items.append(f"{TEXT[lang]['launched']} {s['launcher']}")
    if "os" in s:
        items.append({"linux": "Linux", "windows": "Windows", "macos": "macOS"}.get(s["os"], str(s["os"])))
    return items[:12]


def _hardware_items(s: dict, lang: str) -> list[str]:
    t = TEXT[lang]
    count = s.get("gpu.count")
    if "gpu.model" in s:
        gpu = f"{count}× {s['gpu.model']}" if isinstance(count, int) else str(s["gpu.model"])
        if s.get("gpu.bf16") is False:
            gpu += f"（{t['no_gpu_bf16']}）" if lang == "zh" else f" ({t['no_gpu_bf16']})"
        return [gpu]
    if isinstance(count, int):
        return [f"{count} {t['gpu'] if count == 1 else t['gpus']}" if lang == "en" else f"{count} {t['gpu']}"]
    return []


def _training_items(s: dict, lang: str) -> list[str]:
    t = TEXT[lang]
    items = [str(s["precision"])] if "precision" in s else []
    if "deepspeed.stage" in s:
        items.append(t["no_zero"] if s["deepspeed.stage"] == 0 else f"ZeRO-{s['deepspeed.stage']}")
    elif s.get("deepspeed.enabled"):
        items.append("DeepSpeed")
    for name, label in (("deepspeed.overlap_comm", t["overlap"]), ("gradient_checkpointing", t["gc"])):
        if name in s:
            items.append(f"{label} {t['on'] if s[name] else t['off']}")
    if "model.name" in s:
        items.append(str(s["model.name"]))
    if "finetuning_type" in s:
        kind = s["finetuning_type"]
        items.append({"lora": "LoRA", "qlora": "QLoRA", "full": t["full"]}.get(kind, str(kind)))
    if "quantization" in s:
        items.append(str(s["quantization"]).replace("bit", "-bit"))
    if "attn.impl" in s:
        items.append(f"{t['attention']} {s['attn.impl']}")
    if "template" in s:
        items.append(f"{t['template']} {s['template']}")
    return items
