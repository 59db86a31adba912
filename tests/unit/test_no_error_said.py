"""A report that says there was no error ("没有报错", "no error is raised") is not an error report: silent failures
are told this way, and `input.has_error` is a feature of fusion's "none of these" alternative."""

from __future__ import annotations

import pytest

from service.models import Part
from service.parse import parse
from service.signals import extract_signals


def has_error(text: str) -> bool:
    return "input.has_error" in extract_signals(parse([Part("input", text)]))


@pytest.mark.parametrize("text", [
    "训练过程没有报错，但是合并后的模型和原模型输出一样",
    "全程没有任何报错，loss 也在降，就是推理效果没变化",
    "Training finishes with no error, yet the merged model answers like the base model",
    "It runs without any exception and the adapter file is written",
    "The run did not fail; the loss simply never moves",
])
def test_no_error_said_is_not_an_error(text: str) -> None:
    assert not has_error(text)


@pytest.mark.parametrize("text", [
    "训练没有报错，推理的时候报错 KeyError: 'lm_head'",
    "no error during training, but loading the adapter ends in an error: size mismatch",
    "RuntimeError: CUDA error: an illegal memory access was encountered",
    "训练到第 200 步报错退出",
])
def test_a_real_error_still_counts(text: str) -> None:
    assert has_error(text)
