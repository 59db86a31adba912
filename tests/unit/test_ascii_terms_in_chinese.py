"""Settings written in Chinese prose with no space around the ASCII term ("bf16开着", "用zero3训练"). Python's \\b and
\\w count CJK characters as word characters, so these readings need ASCII word bounds (service/signals/facts.py
ASCII_B); each case here was missed before they had them."""

import pytest

from service.models import Part
from service.parse import parse
from service.signals import extract_signals


def signals(text: str) -> dict:
    return {name: s.value for name, s in extract_signals(parse([Part("input", text)])).items()}


@pytest.mark.parametrize("text, expected", [
    ("用qwen2.5-7b做lora微调，bf16开着，loss一直是0", {"precision": "bf16"}),
    ("开启了bf16之后loss一直是0", {"precision": "bf16"}),
    ("训练时使用fp16，loss出现nan", {"precision": "fp16"}),
    ("lightning里precision设为16训练", {"precision": "fp16"}),
    ("学习率设置为2e-4训练几百步后loss变成nan", {"learning_rate": 0.0002}),
    ("learning_rate设成1e-3后loss发散", {"learning_rate": 0.001}),
    ("用zero3训练qwen2.5-14b，保存的模型很小", {"deepspeed.stage": 3}),
    ("用zero2训练时loss为nan", {"deepspeed.stage": 2}),
    ("transformers版本4.46.0训练时报错", {"version.transformers": "4.46.0"}),
    ("torch==2.1.0+cu121训练", {"version.torch": "2.1.0+cu121"}),
    ("用llama-factory训练，transformers版本是4.46.0", {"version.transformers": "4.46.0"}),
    ("windows系统下训练报错", {"os": "windows"}),
    ("在linux服务器上训练", {"os": "linux"}),
    ("gemma-2-9b-it模型", {"model.name": "gemma-2-9b-it"}),
])
def test_ascii_terms_glued_to_chinese_are_read(text, expected):
    found = signals(text)
    assert {k: found.get(k) for k in expected} == expected


@pytest.mark.parametrize("text, absent", [
    ("xbf16y 是一个变量名", "precision"),  # still whole terms: not inside a longer ASCII word
    ("建议改用fp16", "precision"),  # advice is not the run's setting
    ("学习率2e-4x", "learning_rate"),
    ("用fp16x训练", "precision"),
    ("用linuxbrew装的", "os"),
    ("fp16=False时正常", "precision"),  # the glued value is False, and a precision turned off is not the run's
])
def test_the_bounds_still_need_a_whole_ascii_term(text, absent):
    assert absent not in signals(text)


@pytest.mark.parametrize("text, facts", [
    ("fp16=False时正常，bf16=True时loss为0", [("fp16", False), ("bf16", True)]),
    ("之前没有设置save_only_model=False", []),  # a key glued to the sentence before it is not read: negation
    ("lr=2e-4训练qwen", [("lr", 0.0002)]),
    ("model_name_or_path=/data/模型/qwen", [("model_name_or_path", "/data/模型/qwen")]),  # a path keeps its Chinese
])
def test_key_value_pairs_glued_to_chinese(text, facts):
    assert [(f.key, f.value) for f in parse([Part("input", text)]).facts] == facts


@pytest.mark.parametrize("text, expected", [
    ("transformers升级到4.53后训练就报错了", "4.53"),
    ("transformers 更新到 4.52.4 之后开始卡住", "4.52.4"),
    ("transformers降级到4.45后正常", None),  # the fix, not the failing run
    ("把transformers换成4.46.0就好了", None),
    ("with transformers 4.45.2 it works again", None),
    ("transformers 4.53.0 fails; pinning transformers 4.45.2 fixed it", "4.53.0"),
])
def test_the_version_a_package_was_moved_to_is_the_runs_unless_it_was_the_fix(text, expected):
    assert signals(text).get("version.transformers") == expected


def test_an_environment_listing_wins_over_a_version_in_prose():
    text = "同样的脚本，把 transformers 升级到 4.49.0 也没用\n\n- `transformers` version: 4.46.1\n- Python version: 3.10"
    assert signals(text)["version.transformers"] == "4.46.1"


def test_a_requirement_range_is_not_the_installed_version():
    text = ("ImportError: transformers>=4.41.2,<=4.48.1 is required for a normal functioning of this module, "
            "but found transformers==4.49.0.dev0.")
    assert signals(text)["version.transformers"] == "4.49.0.dev0"
    assert signals("pip install transformers>=4.41.2")["version.transformers"] == "4.41.2"  # nothing better said
