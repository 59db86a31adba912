"""The launcher named in a sentence: torchrun / accelerate launch (and torchrun's own flag) read as `launcher` when
no command line names one; advice, a question or the launcher that fixed it is not the run's."""

from __future__ import annotations

import pytest

from service.models import Part
from service.parse import parse
from service.signals import extract_signals


def launcher(text: str) -> object:
    found = extract_signals(parse([Part("input", text)])).get("launcher")
    return found.value if found else None


@pytest.mark.parametrize(("text", "expected"), [
    ("用 torchrun --nproc_per_node 4 启动 DDP 训练，加载时 device_map=auto", "torchrun"),
    ("The job is launched with accelerate launch on two GPUs and crashes", "accelerate"),
    ("四卡训练，--nproc_per_node=4，报 same device 错误", "torchrun"),
    ("FORCE_TORCHRUN=1 llamafactory 多卡训练报错", "torchrun"),
])
def test_a_launcher_in_prose_is_read(text: str, expected: str) -> None:
    assert launcher(text) == expected


@pytest.mark.parametrize("text", [
    "多卡训练报 same device 错误，是不是应该用 torchrun 启动？",
    "Should I use accelerate launch instead of python train.py on two GPUs",
    "改用 torchrun 启动之后就正常了",
    "It works when launched with torchrun",
    "I use deepspeed zero2 and the loss diverges",  # the library, not its launcher
])
def test_advice_a_fix_or_the_library_is_not_the_launcher(text: str) -> None:
    assert launcher(text) is None


@pytest.mark.parametrize("text", [
    "I start finetune.py on 4 GPUs, no torchrun, and it fails with a same-device error",
    "没有用 torchrun，直接 python train.py 跑的四卡",
])
def test_a_launcher_the_report_says_it_did_not_use_is_not_read(text: str) -> None:
    assert launcher(text) != "torchrun"


def test_a_command_line_wins_over_prose() -> None:
    text = "I tried torchrun first, now:\npython train.py --model llama --bf16"
    assert launcher(text) == "python"
