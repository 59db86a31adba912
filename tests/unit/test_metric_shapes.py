"""Metric shapes: metrics.restart_jump (the schedule restarted mid-run under a loss jump: a resume without its
scheduler and optimizer state, and nothing else a log commonly shows), and grad_norm 0 said in a sentence."""

from __future__ import annotations

import pytest

from service.models import Part
from service.parse import parse
from service.signals import extract_signals


def restart_jump(log: str) -> bool:
    return "metrics.restart_jump" in extract_signals(parse([Part("input", log)]))


def test_lr_back_at_the_start_and_the_loss_up_mid_epoch() -> None:
    assert restart_jump("{'loss': 0.61, 'grad_norm': 0.8, 'learning_rate': 4.1e-05, 'epoch': 1.9}\n"
                        "{'loss': 1.72, 'grad_norm': 5.3, 'learning_rate': 1e-06, 'epoch': 1.91}")


@pytest.mark.parametrize("log", [
    # warmup at the very start: epoch 0
    "{'loss': 2.1, 'learning_rate': 1e-05, 'epoch': 0.0}\n{'loss': 3.4, 'learning_rate': 1e-07, 'epoch': 0.0}",
    # the lr decays as scheduled and the loss climbs slowly (divergence, not a restart)
    "{'loss': 0.9, 'learning_rate': 5e-05, 'epoch': 1.0}\n{'loss': 1.0, 'learning_rate': 4.9e-05, 'epoch': 1.1}",
    # a new run: the epoch starts again (two runs pasted one after the other)
    "{'loss': 0.6, 'learning_rate': 4e-05, 'epoch': 2.0}\n{'loss': 2.2, 'learning_rate': 1e-06, 'epoch': 0.01}",
    # the lr restarts but the loss does not jump (resumed with its state, or a planned schedule)
    "{'loss': 0.6, 'learning_rate': 4e-05, 'epoch': 2.0}\n{'loss': 0.62, 'learning_rate': 1e-06, 'epoch': 2.01}",
])
def test_ordinary_schedules_and_new_runs_are_not_a_restart(log: str) -> None:
    assert not restart_jump(log)


@pytest.mark.parametrize(("text", "zero"), [
    ("loss 一直是 0，grad_norm 也是 0，感觉模型根本没在学", True),
    ("grad_norm is always 0.0 and the loss is 0", True),
    ("grad_norm nan, loss 0", False),  # the zero is the loss's
    ("grad_norm 不是 0，但是 loss 不降", False),
    ("grad_norm 0.35 and loss 2.1", False),
])
def test_grad_norm_zero_said_in_a_sentence(text: str, zero: bool) -> None:
    assert ("metrics.grad_norm_zero" in extract_signals(parse([Part("input", text)]))) is zero


@pytest.mark.parametrize(("text", "nan"), [
    ("为什么 LoRA 微调的时候 loss 一直是 0，grad_norm 是 nan？", True),
    ("the loss is 0.0 and grad_norm shows NaN from the first step", True),
    ("grad_norm: nan 从第一步就开始了", True),
    ("grad_norm 不是 nan，只是 loss 不降", False),
    ("loss is nan but grad_norm stays at 1.2", False),  # the NaN is the loss's
])
def test_grad_norm_nan_said_in_a_sentence(text: str, nan: bool) -> None:
    assert ("metrics.grad_norm_nan" in extract_signals(parse([Part("input", text)]))) is nan


def test_a_logged_grad_norm_is_read_from_the_records_not_the_prose() -> None:
    text = "grad_norm 是 nan\n{'loss': 0.9, 'grad_norm': 1.2, 'learning_rate': 1e-05, 'epoch': 0.1}"
    assert "metrics.grad_norm_nan" not in extract_signals(parse([Part("input", text)]))
