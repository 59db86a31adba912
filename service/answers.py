"""Follow-up answers as evidence: a short reply to the chat's question ("fp16", "no", "单卡", "没有用 deepspeed")
becomes synthetic config lines that the parser already reads (`fp16: true`, `GPU number: 1`, `zero_stage: 0`), so
the next diagnosis goes through the normal rules: a confirmed condition holds, a denied one fails or excludes.

Where no config line can say what the user said (a denial of "is this a GRPO run?", "not resuming", "not a MoE
model"), the answer names what it rules out (`denies`), and the surface reports those causes as ruled out by the
user's answer. Pure: text in, `Answer` records out; the tables below are the whole vocabulary, in English and
Chinese.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_ANSWER_CHARS = 80  # longer replies are pastes (a log line, a config), not answers


@dataclass(frozen=True)
class Question:
    """The question the chat asked: a `missing` entry of the last diagnosis."""

    key: str  # the signal it asks about, or `article:<id>` for a condition that is a line pattern
    ask: str
    signal: str | None = None
    for_ids: tuple[str, ...] = ()

    @classmethod
    def from_missing(cls, missing: Any) -> Question:
        key = missing.signal or f"article:{missing.for_ids[0]}"
        return cls(key, missing.ask, missing.signal, tuple(missing.for_ids))


@dataclass(frozen=True)
class Answer:
    topic: str  # what it settles; a later answer on the same topic replaces an earlier one
    lines: tuple[str, ...] = ()  # synthetic config/fact lines for the `answers` part
    denies: tuple[tuple[str, ...], ...] = ()  # ("group", id) | ("article", id) | ("signal", name, value)
    skipped: bool = False  # "I don't know": move on to the next question
    follow_up: bool = False  # "yes" to a question that needs a paste: ask for it
    said: str = ""  # the user's words (the clause this answer was read from)


# ---------------------------------------------------------------- how a value is written as config lines

SIGNAL_WRITERS: dict[str, Callable[[Any], tuple[str, ...]]] = {
    "precision": lambda v: {"bf16": ("bf16: true",), "fp16": ("fp16: true",),
                            "fp32": ("bf16: false", "fp16: false")}.get(v, ()),
    "deepspeed.stage": lambda v: (f"zero_stage: {int(v)}",) if str(v) in ("0", "1", "2", "3") else (),
    "deepspeed.overlap_comm": lambda v: (f"overlap_comm: {str(bool(v)).lower()}",),
    "gradient_checkpointing": lambda v: (f"gradient_checkpointing: {str(bool(v)).lower()}",),
    "save_only_model": lambda v: (f"save_only_model: {str(bool(v)).lower()}",),
    "gpu.count": lambda v: (f"GPU number: {int(v)}",) + (("CUDA_VISIBLE_DEVICES=0",) if int(v) == 1 else ()),
    "version.transformers": lambda v: (f"transformers=={v}",),
    "max_samples": lambda v: (f"max_samples: {int(v)}",),
}

# Line-pattern conditions whose "yes" can be written as a line the pattern matches.
YES_LINES: dict[str, tuple[str, ...]] = {
    "article:grpo-zero-advantage": ("rl_algorithm: grpo",),
}

# ---------------------------------------------------------------- reply buttons per question

DONT_KNOW = {"en": "I don't know", "zh": "不知道"}
YES_NO = {"en": ["yes", "no"], "zh": ["是", "不是"]}
REPLIES: dict[str, dict[str, list[str]]] = {
    "precision": {"en": ["bf16", "fp16", "fp32", "fp16 works"], "zh": ["bf16", "fp16", "fp32", "fp16 正常"]},
    "deepspeed.stage": {"en": ["ZeRO-2", "ZeRO-3", "ZeRO-1", "No DeepSpeed"],
                        "zh": ["ZeRO-2", "ZeRO-3", "ZeRO-1", "没有用 DeepSpeed"]},
    "deepspeed.overlap_comm": {"en": ["overlap_comm true", "overlap_comm false"],
                               "zh": ["overlap_comm 开启", "overlap_comm 关闭"]},
    "gradient_checkpointing": {"en": ["gradient checkpointing on", "gradient checkpointing off"],
                               "zh": ["gradient checkpointing 开启", "gradient checkpointing 关闭"]},
    "save_only_model": {"en": ["save_only_model true", "save_only_model false"],
                        "zh": ["save_only_model 开启", "save_only_model 关闭"]},
    "model.is_moe": {"en": ["not a MoE model"], "zh": ["不是 MoE 模型"]},
    "article:grpo-zero-advantage": YES_NO,
}


def replies_for(question: Question | None, lang: str) -> list[str]:
    """The buttons for the common replies to a question (yes/no or a choice), then "I don't know"."""
    if question is None:
        return []
    choices = REPLIES.get(question.key)
    if choices is None and question.key.startswith("article:") and _asks_yes_no(question):
        choices = YES_NO  # "Is this ...?": yes (then paste it) or no
    return [*(choices or {}).get(lang, (choices or {}).get("en", [])), DONT_KNOW[lang]]


# ---------------------------------------------------------------- the reply vocabulary

_SKIP = re.compile(r"^(i\s+)?(do\s*n[o']?t|dont)\s+know|^not\s+sure|^no\s+idea|^idk\b|^unknown$|^skip\b|^pass$|"
                   r"^不知道|^不清楚|^不确定|^不晓得|^跳过|^未知$")
_YES = re.compile(r"^(yes|yeah|yep|yup|y|sure|correct|right|true|indeed|it is|it does|i do|we do|on|enabled?)$|"
                  r"^(是|是的|对|对的|有|有的|嗯|没错|开了|开启|用了|启用|开着)$")
_NO = re.compile(r"^(no|nope|nah|n|not really|false|it is not|it isn't|it's not|it does not|it doesn't|i don't|"
                 r"we don't|off|disabled?|neither|none)$|^(不是|否|没有|没|不|没开|没用|关了|关闭|未开启|都不是|无)$")
_NEG = re.compile(r"(?<![a-z])(not|no|never|without|isn't|aren't|wasn't|don't|doesn't|didn't|w/o|non)(?![a-z])|"
                  r"不是|没有|没用|没|不|未|非|无")
_WORKS = re.compile(r"(?<![a-z])(works?|working|worked|fine|ok|okay|normal|no problem|trains?)(?![a-z])|"
                    r"正常|没问题|可以|就好|好了|能跑|能训练|能训")
_PRECISION = re.compile(r"(?<![a-z0-9])(bf16|bfloat16|fp16|float16|half|fp32|float32|full precision)(?![a-z0-9])|"
                        r"全精度|半精度")
_PRECISION_VALUE = {"bf16": "bf16", "bfloat16": "bf16", "fp16": "fp16", "float16": "fp16", "half": "fp16",
                    "半精度": "fp16", "fp32": "fp32", "float32": "fp32", "full precision": "fp32", "全精度": "fp32"}
_STAGE = re.compile(r"(?<![a-z0-9])(?:zero|ds_z|z)[\s\-_]?(?:stage[\s\-_]?)?([0-3])(?![0-9])|"
                    r"(?<![a-z0-9])stage[\s\-_]?([0-3])(?![0-9])")
_DEEPSPEED = re.compile(r"(?<![a-z])(deepspeed|ds)(?![a-z])")
_SINGLE_GPU = re.compile(r"^(a\s+|on\s+a\s+|on\s+)?(single|one|1)[\s\-]?(gpu|card|device)s?(\s+only)?$|"
                         r"^(only\s+)?(one|1)\s+gpus?$|^(只有|只用了?|只用)?(单卡|单\s*gpu|一张卡|一块卡|一张显卡|一块显卡|1\s*张卡|1\s*卡)$")
_N_GPUS = re.compile(r"^(\d{1,3})\s*(?:x\s*)?(?:gpus?|cards?|卡|张卡|块卡|张显卡|块显卡)$")
_RESUMING_NOT = re.compile(
    r"(?<![a-z])(not|no|never|isn't|wasn't|don't|didn't|am not|i'm not)\s+(resum\w*|continu\w*\s+from)|"
    r"from\s+scratch|fresh\s+(run|start|training)|"
    r"(没有|没|不是|并非|未|不)\s*(断点)?(续训|恢复训练|继续训练|resume)|从头(开始)?训练|从零开始")
_RESUMING = re.compile(r"^(yes,?\s+)?(i'?m\s+|we'?re\s+|it'?s\s+)?resum(ing|ed|e)(\s+from\s+(a\s+)?checkpoint)?$|"
                       r"^(是|在)?(断点)?续训$")
_MOE_NOT = re.compile(r"(?<![a-z])(not|isn't|no)\s+(an?\s+)?(moe|mixture)|^dense(\s+model)?$|"
                      r"不是\s*moe|非\s*moe|稠密模型|不是混合专家")
_SETTINGS: dict[str, re.Pattern[str]] = {
    "gradient_checkpointing": re.compile(r"gradient[_\s]?checkpointing|梯度检查点"),
    "deepspeed.overlap_comm": re.compile(r"overlap[_\s]?comm"),
    "save_only_model": re.compile(r"save[_\s]?only[_\s]?model"),
}
_ON = re.compile(r"(?<![a-z])(on|true|enabled?|yes|use[sd]?|using|1)(?![a-z])|开启|打开|开了|启用|开着|用了|使用|是")
_OFF = re.compile(r"(?<![a-z])(off|false|disabled?|not|no|without|0)(?![a-z])|关闭|关了|没开|未开|没有|没|不|未|否|无")
_MAX_SAMPLES = re.compile(r"^(?:max_samples\s*(?:=|:|is|为|是|设为|设成)?\s*)?(-?\d+)$")
_VERSION = re.compile(r"^(?:transformers\s*(?:==|=|:)?\s*)?v?(\d+\.\d+(?:\.\d+)?(?:\.?(?:dev|post|rc)\d*)?)$")
# A one-line log or error is a paste even when it is short ("ValueError: bf16 not supported").
_LOGGISH = re.compile(r"(?i)(error|exception|traceback|warn|assert|fail|killed|timeout|overflow|\bnan\b|\binf\b|"
                      r"loss|grad_norm|\{|\}|\[|\]|报错|错误|失败|警告)")
_CLAUSES = re.compile(r"[,;，；、+]|(?<![a-z])(?:and|but|with)(?![a-z])|并且|而且|但是|但|和")  # no \s*: linear


def normalize(text: str) -> str:
    """NFKC (full-width letters and punctuation), lower case, single spaces, no closing punctuation."""
    text = unicodedata.normalize("NFKC", text).strip().lower()
    text = re.sub(r"\s+", " ", text)
    return text.strip(" .!。！~…")


def _deny_value(signal: str, value: Any) -> tuple[str, ...]:
    return ("signal", signal, value)


def _precision_clause(clause: str) -> Answer | None:
    words = {_PRECISION_VALUE[m.group(0)] for m in _PRECISION.finditer(clause)}
    if len(words) != 1 or len(clause) > 40:
        return None
    value = words.pop()
    if _WORKS.search(clause):
        # "fp16 works": the failing run is bf16 and the same job trains in fp16 (the bf16 article's confirmation).
        return Answer("precision", ("bf16: true", "fp16 works")) if value == "fp16" else None
    if _NEG.search(clause):
        return Answer("precision", denies=(_deny_value("precision", value),))
    return Answer("precision", SIGNAL_WRITERS["precision"](value))


def _stage_clause(clause: str) -> Answer | None:
    if _DEEPSPEED.search(clause) and _NEG.search(clause) and not _STAGE.search(clause):
        return Answer("deepspeed.stage", SIGNAL_WRITERS["deepspeed.stage"](0))  # no DeepSpeed: no ZeRO sharding
    match = _STAGE.search(clause)
    if match is None or len(clause) > 40:
        return None
    stage = int(match.group(1) or match.group(2))
    if _NEG.search(clause):
        return Answer("deepspeed.stage", denies=(_deny_value("deepspeed.stage", stage),))
    return Answer("deepspeed.stage", SIGNAL_WRITERS["deepspeed.stage"](stage))


def _gpu_clause(clause: str) -> Answer | None:
    if _SINGLE_GPU.match(clause):
        return Answer("gpu.count", SIGNAL_WRITERS["gpu.count"](1))
    match = _N_GPUS.match(clause)
    if match and 0 < int(match.group(1)) <= 1024:
        return Answer("gpu.count", SIGNAL_WRITERS["gpu.count"](int(match.group(1))))
    return None


def _resume_clause(clause: str) -> Answer | None:
    if _RESUMING_NOT.search(clause):
        return Answer("resume", denies=(("group", "resume-failure"),))
    if _RESUMING.match(clause):
        return Answer("resume", ("resuming from checkpoint",))
    return None


def _moe_clause(clause: str) -> Answer | None:
    if _MOE_NOT.search(clause):
        return Answer("model.is_moe", denies=(_deny_value("model.is_moe", True),))
    return None


def _setting_clause(clause: str) -> Answer | None:
    for signal, name in _SETTINGS.items():
        match = name.search(clause)
        if match is None:
            continue
        rest = (clause[:match.start()] + " " + clause[match.end():]).replace(":", " ").strip()
        if _OFF.search(rest):
            value = False
        elif _ON.search(rest) or not rest:
            value = True
        else:
            return None
        return Answer(signal, SIGNAL_WRITERS[signal](value))
    return None


# The statements a reply may make on its own, whatever was asked (tried in this order).
STATEMENTS: list[Callable[[str], Answer | None]] = [
    _resume_clause, _moe_clause, _setting_clause, _stage_clause, _precision_clause, _gpu_clause,
]


def _condition(catalogue: Any, question: Question) -> Any:
    """The condition behind a question (the first asking article's condition on that signal)."""
    if catalogue is None or question.signal is None:
        return None
    for article_id in question.for_ids:
        article = catalogue.by_id.get(article_id)
        for condition in (article.conditions if article else []):
            if condition.signal == question.signal and condition.ask is not None:
                return condition
    return None


def _yes_no(clause: str, question: Question, catalogue: Any) -> Answer | None:
    yes, no = bool(_YES.match(clause)), bool(_NO.match(clause))
    if not (yes or no):
        return None
    if question.signal is None:  # a condition on the input's lines
        if no and not _asks_yes_no(question):
            return Answer(question.key, follow_up=True)
        if no:
            return Answer(question.key, denies=tuple(("article", i) for i in question.for_ids))
        lines = YES_LINES.get(question.key)
        return Answer(question.key, lines) if lines else Answer(question.key, follow_up=True)
    writer = SIGNAL_WRITERS.get(question.signal)
    condition = _condition(catalogue, question)
    comparators = [c for c in ("equals", "in_", "gte", "gt", "lte", "lt", "version", "matches", "present")
                   if condition is not None and getattr(condition, c) is not None]
    boolean = condition is not None and (not comparators or isinstance(condition.equals, bool))
    if boolean:
        value = condition.equals if comparators else True
        value = value if yes else not value
        lines = writer(value) if writer else None
        if lines:
            return Answer(question.signal, lines)
        if no:
            return Answer(question.signal, denies=(_deny_value(question.signal, not value),))
        return Answer(question.signal, follow_up=True)
    if condition is not None and comparators == ["equals"]:
        if yes:
            lines = writer(condition.equals) if writer else None
            return Answer(question.signal, lines) if lines else Answer(question.signal, follow_up=True)
        return Answer(question.signal, denies=(_deny_value(question.signal, condition.equals),))
    if yes or not _asks_yes_no(question):
        return Answer(question.signal, follow_up=True)
    return Answer(question.signal, denies=tuple(("article", i) for i in question.for_ids))


def _asks_yes_no(question: Question) -> bool:
    """"Is this a GRPO run?" can be answered no; "Paste the data part of the config" cannot."""
    return "?" in question.ask or "？" in question.ask


def _for_question(clause: str, question: Question) -> Answer | None:
    """Replies that only make sense as an answer to this question (a bare version number)."""
    if question.signal == "version.transformers":
        match = _VERSION.match(clause)
        if match:
            return Answer("version.transformers", SIGNAL_WRITERS["version.transformers"](match.group(1)))
    if question.signal == "max_samples":
        match = _MAX_SAMPLES.match(clause)
        if match:
            return Answer("max_samples", SIGNAL_WRITERS["max_samples"](match.group(1)))
    return None


def parse_answer(text: str, question: Question | None = None, catalogue: Any = None) -> list[Answer]:
    """The answers a short reply gives, or [] when it is not a short answer (then it is a paste or a question).

    Every clause must be understood ("single GPU, no DeepSpeed" is two answers; "fp16 works but loss is 0" is a
    description, so a paste). A yes/no or "I don't know" is read against `question`, the one the chat asked.
    """
    if not text or "\n" in text.strip() or len(text.strip()) > MAX_ANSWER_CHARS or text.strip()[-1:] in "?？":
        return []
    whole, said = normalize(text), text.strip()
    if not whole or _LOGGISH.search(whole):
        return []
    if _SKIP.match(whole):
        return [Answer(question.key if question else "skip", skipped=True, said=said)]
    clauses = [c.strip() for c in _CLAUSES.split(whole) if c.strip()]
    answers: list[Answer] = []
    for clause in clauses:
        clause = clause.strip(" .!。！")
        found = None
        if question is not None:
            found = _for_question(clause, question) or _yes_no(clause, question, catalogue)
        for statement in STATEMENTS:
            if found is not None:
                break
            found = statement(clause)
        if found is None:
            return []
        same = next((i for i, a in enumerate(answers) if a.topic == found.topic), None)
        if same is None:
            answers.append(Answer(found.topic, found.lines, found.denies, found.skipped, found.follow_up, said))
        else:  # "no, fp16": one answer on the topic, from both clauses
            a = answers[same]
            answers[same] = Answer(a.topic, a.lines + found.lines, a.denies + found.denies,
                                   a.skipped and found.skipped, a.follow_up and found.follow_up, said)
    return answers


def denied_ids(answer: Answer, catalogue: Any) -> list[str]:
    """The article ids an answer rules out by the user's word (where no config line can say it)."""
    ids: list[str] = []
    for deny in answer.denies:
        kind = deny[0]
        if kind == "article":
            ids.append(deny[1])
        elif kind == "group":
            ids += [a.id for a in catalogue.members(deny[1])]
        elif kind == "signal":
            _, signal, value = deny
            for article in catalogue.articles:
                for condition in article.conditions:
                    if condition.signal == signal and condition.required and _holds_only_for(condition, value):
                        ids.append(article.id)
    return list(dict.fromkeys(ids))


def _holds_only_for(condition: Any, value: Any) -> bool:
    """A required condition that the denied value was the only way to satisfy."""
    if condition.equals is not None:
        return condition.equals == value
    if condition.in_ is not None:
        return list(condition.in_) == [value]
    plain = all(getattr(condition, c) is None for c in ("gte", "gt", "lte", "lt", "version", "matches", "present"))
    return plain and value is True


@dataclass
class AnswerBook:
    """Every answer the user gave in one conversation, by topic (a later answer on a topic replaces the earlier)."""

    answers: list[Answer] = field(default_factory=list)

    def add(self, answer: Answer) -> None:
        if answer.skipped or answer.follow_up:
            return
        self.answers = [a for a in self.answers if a.topic != answer.topic] + [answer]

    def text(self) -> str:
        return "\n".join(line for a in self.answers for line in a.lines)

    def said_by_line(self) -> dict[int, str]:
        """1-based line of the `answers` part -> the user's words it came from."""
        out: dict[int, str] = {}
        for answer in self.answers:
            for _ in answer.lines:
                out[len(out) + 1] = answer.said
        return out
