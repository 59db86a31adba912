"""Symptoms a report says it does not have are not matched by the rules (service/negation.py)."""

from __future__ import annotations

import pytest

from service.models import Part
from service.negation import mask_negated_symptoms
from service.parse import parse
from service.pipeline import load_rules
from service.signals import extract_signals


@pytest.mark.parametrize(("text", "word"), [
    ("两次运行从第二步开始 loss 就不一样，没有 nan", "nan"),
    ("没有出现任何NaN，只是 loss 曲线差很多", "NaN"),
    ("no NaN appears, but the two runs diverge", "NaN"),
    ("there are no more NaNs after the fix", "NaNs"),
    ("not a single nan in the log", "nan"),
    ("loss 不为 0，但是一直不下降", "0"),
    ("the loss is not 0 and grad_norm is fine", "0"),
    ("a non-zero loss that never moves", "zero"),
    ("训练不是 OOM，显存只用了一半", "OOM"),
    ("没有爆显存，进程却被杀了", "爆显存"),
    ("It is not an out of memory error, the process just disappears", "out of memory"),
])
def test_a_negated_symptom_word_is_blanked(text: str, word: str) -> None:
    masked = mask_negated_symptoms(text)
    start = text.index(word)
    assert len(masked) == len(text)  # evidence offsets still point into the original line
    assert masked[start:start + len(word)] == " " * len(word)
    assert masked[:start] == text[:start] and masked[start + len(word):] == text[start + len(word):]


@pytest.mark.parametrize("text", [
    "grad_norm为nan，loss为0",
    "{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05}",
    "loss: nan, no idea why",
    "Nothing changed and the loss is nan",
    "bf16 下 loss 为 0，grad_norm 为 nan",
    "lora_B nonzero: 0/128",  # a count's label, not a negation
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
    "显存不足，batch size 已经是 1 了",
])
def test_a_symptom_that_is_there_is_kept(text: str) -> None:
    assert mask_negated_symptoms(text) == text


def test_the_rules_do_not_confirm_a_nan_cause_on_no_nan() -> None:
    rules = load_rules()

    def diagnosed(text: str) -> set[str]:
        parsed = parse([Part("input", text)])
        outcome = rules.evaluate(parsed.lines, extract_signals(parsed))
        return {a for a, r in outcome.articles.items() if r.status == "diagnosed"}

    said = "ZeRO-2 训练，overlap_comm 开着，同样的 seed 每次跑 loss 都不一样，{} nan"
    assert "deepspeed-zero2-overlap-comm-nan" in diagnosed(said.format("出现了"))
    without = diagnosed(said.format("没有"))
    assert "deepspeed-zero2-overlap-comm-nan" not in without
    assert "deepspeed-zero2-overlap-comm-nondeterministic" in without
