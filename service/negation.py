"""Symptoms a report says it does not have: "没有出现 NaN", "no NaN appears", "loss 不为 0", "a non-zero loss",
"不是 OOM".

The rules' prose patterns are RE2 (no lookbehind), so "ZeRO-2 训练 loss 每次都不一样，没有 nan" matched the NaN
symptom of `deepspeed-zero2-overlap-comm-nan` and confirmed it against what the report said — the absence of NaN is
what separates that cause's non-reproducible-loss variant. The rules scan a copy of each line with the negated
symptom word blanked (same length, so evidence offsets still point into the original line, which is what is shown).
"""

from __future__ import annotations

import re

import re2

_NEGATION = (r"没有|没出现|没见|没|无|不是|不会|不再|未出现|未|并非|"
             r"\b(?:no|not|never|without|isn't|wasn't|aren't|doesn't|didn't|don't)\b")
# A negation, at most a few filler words, then NaN: the NaN word is what gets blanked.
_NEGATED_NAN = re.compile(
    rf"(?i)(?:{_NEGATION})\s{{0,2}}(?:(?:出现|看到|遇到|产生|任何|变成|有|过)\s{{0,2}}){{0,2}}(?:(?:any|a|more|single)\s+){{0,2}}"
    r"(?P<word>nans?|inf)(?![A-Za-z])"
)
# "loss 不为 0", "loss is not 0", "a non-zero loss": the zero is blanked. Not a count's label ("nonzero: 0/128").
_NEGATED_ZERO = re.compile(
    r"(?i)(?:(?:不为|不是|不等于|不会是|\b(?:is|was|are|were)\s+not\s+)\s{0,2}(?P<word>0(?:\.0+)?(?![\d.])|zero)|"
    r"\bnon[- ]?(?P<adj>zero)(?=\s))"
)
# "不是 OOM", "没有爆显存", "no OOM", "not an out of memory error": the memory symptom is blanked.
_NEGATED_OOM = re.compile(
    rf"(?i)(?:{_NEGATION})\s{{0,2}}(?:(?:出现|是|报|遇到|有|发生)\s{{0,2}}){{0,2}}(?:(?:an?|any)\s+)?"
    r"(?P<word>OOM|out of memory|CUDA OOM|爆显存|显存不足|显存溢出)(?![A-Za-z])"
)
# Cheap test first (RE2, linear, no backtracking): most lines say no such thing.
_ANY = re2.compile(r"(?i)(没|无|不|未|并非|\bno|\bnot|\bnever|\bwithout|n't\b|\bnon)")


def mask_negated_symptoms(text: str) -> str:
    """`text` with each negated NaN or zero word replaced by spaces of its length."""
    if not _ANY.search(text):
        return text
    for pattern in (_NEGATED_NAN, _NEGATED_ZERO, _NEGATED_OOM):
        text = pattern.sub(_blank_word, text)
    return text


def _blank_word(match: re.Match[str]) -> str:
    name = "word" if match.group("word") is not None else "adj"
    start, end = match.start(name) - match.start(), match.end(name) - match.start()
    return match.group(0)[:start] + " " * (end - start) + match.group(0)[end:]
