"""How the run was set up, said in sentences. The launcher (torchrun / accelerate launch, and torchrun's own flag)
is read when no command line names one; advice, a question or the launcher that fixed it is not the run's. "No
DeepSpeed" is read as no ZeRO stage, unless it is the comparison that works."""

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


def deepspeed_signals(text: str) -> tuple[object, object]:
    found = extract_signals(parse([Part("input", text)]))
    return tuple(found[n].value if n in found else None for n in ("deepspeed.enabled", "deepspeed.stage"))


@pytest.mark.parametrize("text", [
    "没有用 deepspeed，单卡训练，loss 变成 nan",
    "Single GPU, without DeepSpeed, and the loss is nan from step 3",
    "deepspeed 没开，也是一样的报错",
])
def test_a_report_that_says_it_does_not_use_deepspeed_has_no_zero_stage(text: str) -> None:
    assert deepspeed_signals(text) == (False, 0)


@pytest.mark.parametrize("text", [
    "Trainer + DeepSpeed: the lr never changes, while without DeepSpeed the schedule moves it",
    "ds_config.json 里 stage 3，没有用 deepspeed 的时候正常",
])
def test_a_comparison_with_a_run_without_deepspeed_is_not_a_denial(text: str) -> None:
    assert deepspeed_signals(text) != (False, 0)
