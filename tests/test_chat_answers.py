"""Follow-up answers -> evidence (service/answers.py): the question-signal -> answer table, in English and Chinese.

Pure: no retrieval. Each reply is read against the question the chat asked (a `missing` entry of the knowledge base)
and must turn into config lines the parser reads (checked through the real signal extraction), or into a denial.
"""

from __future__ import annotations

import pytest

from service.answers import (
    REPLIES,
    SIGNAL_WRITERS,
    YES_LINES,
    AnswerBook,
    Question,
    denied_ids,
    parse_answer,
    replies_for,
)
from service.models import Part
from service.parse import parse
from service.signals import extract_signals


def question(rules, signal: str | None, article: str) -> Question:
    """The question an article's condition asks (as diagnose() would put it in `missing`)."""
    condition = next(c for c in rules.catalogue.by_id[article].conditions
                     if c.ask is not None and (c.signal == signal if signal else c.regex is not None))
    return Question(signal or f"article:{article}", condition.ask.en, signal, (article,))


def signals_of(lines: tuple[str, ...]) -> dict:
    parsed = parse([Part("answers", "\n".join(lines))])
    return {name: s.value for name, s in extract_signals(parsed).items()}


PRECISION = ("precision", "bf16-numerical-instability")
STAGE3 = ("deepspeed.stage", "moe-zero3-hang")
STAGE2 = ("deepspeed.stage", "deepspeed-zero2-overlap-comm-nondeterministic")
OVERLAP = ("deepspeed.overlap_comm", "deepspeed-zero2-overlap-comm-nondeterministic")
CHECKPOINTING = ("gradient_checkpointing", "lora-frozen-under-gradient-checkpointing")
SAVE_ONLY = ("save_only_model", "resume-missing-optimizer-state")
MOE = ("model.is_moe", "moe-hang-after-transformers-upgrade")
VERSION = ("version.transformers", "moe-hang-after-transformers-upgrade")
MAX_SAMPLES = ("max_samples", "max-samples-empty-dataset")

# (question, reply, the signals the answer lines must produce)
TO_FACTS = [
    (PRECISION, "fp16", {"precision": "fp16"}),
    (PRECISION, "bf16", {"precision": "bf16"}),
    (PRECISION, "FP32", {"precision": "fp32"}),
    (PRECISION, "用的是 bf16", {"precision": "bf16"}),
    (PRECISION, "ｆｐ１６", {"precision": "fp16"}),  # full-width input
    (PRECISION, "fp16 works", {"precision": "bf16"}),  # the failing run is bf16; fp16 is the fix
    (PRECISION, "fp16 正常", {"precision": "bf16"}),
    (PRECISION, "yes", {"precision": "bf16"}),  # "yes" to a question about bf16
    (STAGE3, "yes", {"deepspeed.stage": 3}),
    (STAGE3, "是", {"deepspeed.stage": 3}),
    (STAGE3, "ZeRO-2", {"deepspeed.stage": 2}),
    (STAGE2, "ds_z3", {"deepspeed.stage": 3}),
    (STAGE2, "No DeepSpeed", {"deepspeed.stage": 0}),
    (STAGE2, "没有用 deepspeed", {"deepspeed.stage": 0}),
    (STAGE2, "不用 DeepSpeed", {"deepspeed.stage": 0}),
    (OVERLAP, "yes", {"deepspeed.overlap_comm": True}),
    (OVERLAP, "no", {"deepspeed.overlap_comm": False}),
    (OVERLAP, "不是", {"deepspeed.overlap_comm": False}),
    (OVERLAP, "overlap_comm 关闭", {"deepspeed.overlap_comm": False}),
    (CHECKPOINTING, "gradient checkpointing on", {"gradient_checkpointing": True}),
    (CHECKPOINTING, "没开 gradient checkpointing", {"gradient_checkpointing": False}),
    (CHECKPOINTING, "no", {"gradient_checkpointing": False}),
    (SAVE_ONLY, "save_only_model false", {"save_only_model": False}),
    (SAVE_ONLY, "对", {"save_only_model": True}),
    (VERSION, "4.55.2", {"version.transformers": "4.55.2"}),
    (VERSION, "transformers 4.53.0", {"version.transformers": "4.53.0"}),
    (MAX_SAMPLES, "-1", {"max_samples": -1}),
    (MAX_SAMPLES, "max_samples: 1000", {"max_samples": 1000}),
    (None, "single GPU", {"gpu.count": 1, "gpus.visible": 1}),
    (None, "单卡", {"gpu.count": 1, "gpus.visible": 1}),
    (None, "一张卡", {"gpu.count": 1}),
    (None, "4卡", {"gpu.count": 4}),
    (None, "8 GPUs", {"gpu.count": 8}),
    (None, "ZeRO-3", {"deepspeed.stage": 3}),
    (None, "resuming from a checkpoint", {}),
]


@pytest.mark.parametrize(("asked", "reply", "expected"), TO_FACTS, ids=[f"{a[0] if a else '-'}:{r}" for a, r, _ in
                                                                     TO_FACTS])
def test_a_reply_becomes_config_lines_the_parser_reads(rules, asked, reply, expected):
    q = question(rules, asked[0], asked[1]) if asked else None
    answers = parse_answer(reply, q, rules.catalogue)
    assert answers, f"{reply!r} was not understood"
    lines = tuple(line for a in answers for line in a.lines)
    assert lines, f"{reply!r} gave no config line"
    found = signals_of(lines)
    for name, value in expected.items():
        assert found.get(name) == value, (reply, lines, found)


# (question, reply, article ids the answer must rule out by the user's word)
TO_DENIALS = [
    (PRECISION, "不是 bf16", {"bf16-numerical-instability"}),
    (PRECISION, "not bf16", {"bf16-numerical-instability"}),
    (STAGE3, "no", {"moe-zero3-hang"}),
    (STAGE3, "不是", {"moe-zero3-hang"}),
    (STAGE3, "not ZeRO-3", {"moe-zero3-hang"}),
    (MOE, "no", {"moe-hang-after-transformers-upgrade"}),
    (MOE, "not a MoE model", {"moe-hang-after-transformers-upgrade"}),
    (MOE, "不是 MoE 模型", {"moe-hang-after-transformers-upgrade"}),
    (("", "grpo-zero-advantage"), "no", {"grpo-zero-advantage"}),
    (("", "grpo-zero-advantage"), "否", {"grpo-zero-advantage"}),
    (None, "not resuming", {"resume-missing-optimizer-state"}),
    (None, "I'm not resuming, it is a fresh run", {"resume-missing-optimizer-state"}),
    (None, "没有断点续训", {"resume-missing-optimizer-state"}),
    (None, "从头训练", {"resume-missing-optimizer-state"}),
]


@pytest.mark.parametrize(("asked", "reply", "ruled_out"), TO_DENIALS, ids=[f"{a[1] if a else '-'}:{r}" for a, r, _ in
                                                                         TO_DENIALS])
def test_a_denial_rules_out_the_causes_that_need_it(rules, asked, reply, ruled_out):
    q = question(rules, asked[0] or None, asked[1]) if asked else None
    answers = parse_answer(reply, q, rules.catalogue)
    assert answers, f"{reply!r} was not understood"
    denied = {i for a in answers for i in denied_ids(a, rules.catalogue)}
    assert ruled_out <= denied, (reply, denied)
    assert denied <= {a.id for a in rules.catalogue.articles}


@pytest.mark.parametrize("reply", ["I don't know", "not sure", "不知道", "不确定"])
def test_dont_know_skips_the_question(rules, reply):
    q = question(rules, *PRECISION)
    [answer] = parse_answer(reply, q, rules.catalogue)
    assert answer.skipped and answer.topic == "precision" and not answer.lines


@pytest.mark.parametrize("reply", [
    "fp16 works but loss is still 0",  # a description: the whole reply is a paste
    "单卡正常，多卡报错",  # "single GPU works" is evidence the KB reads from the words themselves
    "bf16: true\nmodel_name_or_path: Qwen/Qwen2.5-7B",  # a config paste
    "What is fp16?",  # a question
    "yes",  # no question asked: nothing to say yes to
    "ValueError: bf16 not supported",  # a short error line is evidence, not an answer
    "loss is 0 with fp16",
    "x" * 200,
])
def test_what_is_not_a_short_answer_stays_a_paste(rules, reply):
    assert parse_answer(reply, None, rules.catalogue) == []


def test_yes_to_a_question_that_needs_a_paste_asks_for_it(rules):
    q = question(rules, *VERSION)
    [answer] = parse_answer("yes", q, rules.catalogue)
    assert answer.follow_up and not answer.lines and not answer.denies


def test_two_clauses_give_two_answers_and_one_topic_merges(rules):
    answers = parse_answer("single GPU, no deepspeed", None, rules.catalogue)
    assert [a.topic for a in answers] == ["gpu.count", "deepspeed.stage"]
    [merged] = parse_answer("no, fp16", question(rules, *PRECISION), rules.catalogue)
    assert merged.lines == ("fp16: true",) and denied_ids(merged, rules.catalogue) == ["bf16-numerical-instability"]


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("key", sorted(REPLIES))
def test_every_reply_button_is_understood(rules, key, lang):
    """A button sends its label as the user's reply: each must parse as an answer to its own question."""
    article = {"precision": PRECISION[1], "deepspeed.stage": STAGE2[1], "deepspeed.overlap_comm": OVERLAP[1],
               "gradient_checkpointing": CHECKPOINTING[1], "save_only_model": SAVE_ONLY[1], "model.is_moe": MOE[1],
               "article:grpo-zero-advantage": "grpo-zero-advantage"}[key]
    q = question(rules, None if key.startswith("article:") else key, article)
    labels = replies_for(q, lang)
    assert labels[-1] in ("I don't know", "不知道")
    for label in labels:
        answers = parse_answer(label, q, rules.catalogue)
        assert answers, f"button {label!r} ({lang}) is not understood"
        assert all(a.lines or a.denies or a.skipped for a in answers), label


def test_every_question_the_kb_asks_has_an_entry_in_the_table(rules):
    """A new article that asks about a signal needs a way to write the answer (or a documented denial)."""
    writable = set(SIGNAL_WRITERS) | {"model.is_moe"}  # is_moe: a model name is pasted, "not MoE" is a denial
    for article in rules.catalogue.articles:
        for condition in article.conditions:
            if condition.ask is None:
                continue
            if condition.signal is not None:
                assert condition.signal in writable, f"{article.id}: no answer writer for {condition.signal}"
            elif "?" in condition.ask.en and f"article:{article.id}" not in YES_LINES:
                # A yes/no question about a line pattern: "no" rules it out, "yes" asks for the paste.
                [answer] = parse_answer("yes", question(rules, None, article.id), rules.catalogue)
                assert answer.follow_up


def test_answer_book_replaces_by_topic_and_maps_lines_to_words():
    book = AnswerBook()
    for reply in ("fp16", "single GPU", "bf16"):
        for answer in parse_answer(reply):
            book.add(answer)
    assert book.text() == "GPU number: 1\nCUDA_VISIBLE_DEVICES=0\nbf16: true"
    assert book.said_by_line() == {1: "single GPU", 2: "single GPU", 3: "bf16"}
