"""`input.describes_failure`: the paste says something went wrong, in any words. It is a feature of fusion's "none of
these" alternative: a how-to question, a sizing question or a feature request describes no failure, while a report of
one nearly always does, whether it has a log or not."""

from __future__ import annotations

import pytest

from service.models import Part
from service.parse import parse
from service.signals import extract_signals


def describes_failure(text: str) -> bool:
    return "input.describes_failure" in extract_signals(parse([Part("input", text)]))


@pytest.mark.parametrize("text", [
    "LoRA 微调 Qwen2.5-14B，bf16，训练一开始 loss 就是 0，grad_norm 为 nan",
    "微调完以后模型回答一直不停，重复同一句话",
    "多卡训练卡在第一步不动了",
    "After a few hundred steps the loss starts to climb and then explodes",
    "The merged model answers exactly like the base model: the adapter has no effect",
    "The run is killed at the start of the second epoch",
    "UserWarning: None of the inputs have requires_grad=True. Gradients will be None",
    "用 4 张 V100 跑的时候爆显存",
    "The training losses will be 0 for most of my samples",
])
def test_a_failure_in_any_words(text: str) -> None:
    assert describes_failure(text)


@pytest.mark.parametrize("english, chinese", [
    ("On several GPUs the logged loss stays at 0 for the whole run", "多卡启动后 loss 整个训练过程都是 0"),
    ("torch's attention returns unexpected NaNs on padded batches", "加入指标函数后一到验证阶段显存就爆掉"),
    ("The learning-rate settings do not seem to take effect", "学习率相关的设置似乎都没有生效"),
    ("Resuming from the checkpoint gives loss spikes and instability", "恢复训练后出现 loss 尖峰并且持续不稳定"),
    ("The LoRA up weights remain zeros after training", "LoRA 一直加载不上"),
    ("Generations end up looping on the same line of code", "HF 推理时预测结果不断重复，效果明显下降"),
])
def test_the_same_failure_in_both_languages(english: str, chinese: str) -> None:
    """A case's English and Chinese digests state the same facts: the failure reading must not depend on the
    language (benchmarks.language_parity found 204 case pairs where it did)."""
    assert describes_failure(english) and describes_failure(chinese)


@pytest.mark.parametrize("text", [
    "请问微调一个 7B 模型需要多大的显存？",
    "能不能支持 Qwen3 的多模态模型？",
    "How do I set cutoff_len for Qwen2-VL so images are not cut?",
    "Could you add support for the new Mistral Small models?",
    "Which template should I pick for a model I trained from llama3-8b, llama3 or default?",
    "ZeRO-3 full fine-tuning of Qwen2-7B on 8 A100s with learning_rate 1e-5",
    "训练过程没有报错",
])
def test_no_failure_in_a_question_or_a_setup(text: str) -> None:
    assert not describes_failure(text)


def test_the_indexed_scan_finds_what_a_line_by_line_scan_finds() -> None:
    """The signal is read in one RE2 pass over the text index, then each candidate line without its "no error": it must
    say what testing every line would, on long pastes where the only failure is late, negated, or absent."""
    from service.signals.paste import _FAILURE, _NO_ERROR

    noise = "\n".join(f"[INFO] step {i} tokens/s 1530.2 lr 1.0e-05 epoch 0.{i}" for i in range(2000))
    texts = [
        noise,
        noise + "\n训练过程没有报错",
        noise + "\n训练过程没有报错\n但是模型输出一直重复",
        "没有报错\n" + noise + "\nRuntimeError: CUDA error: device-side assert triggered",
        noise.replace("step 1500", "step 1500 loss is nan"),
    ]
    for text in texts:
        lines = text.split("\n")
        expected = any(_FAILURE.search(_NO_ERROR.sub(" ", line)) for line in lines)
        assert describes_failure(text) is expected
    assert [describes_failure(t) for t in texts] == [False, False, True, True, True]


@pytest.mark.parametrize("text, line", [
    ("step 10 ok\nnan in the loss from step 11", "nan in the loss from step 11"),  # the boundary is not the line break
    ("step 10 ok\n{'loss': 0.0, 'grad_norm': nan}", "{'loss': 0.0, 'grad_norm': nan}"),
    ("eval banana score 0.3\ngrad_norm_nan at step 4", "grad_norm_nan at step 4"),
    ("训练正常\n不能加载 adapter", "不能加载 adapter"),
    ("the run hit OOM", "the run hit OOM"),
])
def test_a_word_boundary_names_the_line_of_the_word(text: str, line: str) -> None:
    """RE2 has no lookaround, so "nan", "oom", "hung" and "不能" are bounded by a consumed character: never the line
    break before them, or the evidence would be the line above."""
    found = extract_signals(parse([Part("input", text)]))["input.describes_failure"]
    assert [evidence.text for evidence in found.lines] == [line]


@pytest.mark.parametrize("text", ["eval banana score 0.3", "infinity mode on", "zoom in on the chart", "能不能用 LoRA"])
def test_a_word_inside_another_is_no_failure(text: str) -> None:
    assert not describes_failure(text)


def has_error(text: str) -> bool:
    return "input.has_error" in extract_signals(parse([Part("input", text)]))


@pytest.mark.parametrize("english, chinese", [
    ("Loading the adapter fails with a size mismatch", "加载适配器时报张量形状不匹配"),
    ("The PPO stage errors out while creating LoRA layers", "PPO 阶段创建 LoRA 层时失败"),
    ("The collator raises a KeyError on the first batch", "第一个 batch 就报 KeyError"),
])
def test_an_error_in_both_languages(english: str, chinese: str) -> None:
    assert has_error(english) and has_error(chinese)


@pytest.mark.parametrize("text", ["训练过程没有具体报错", "The run finished without any error", "我写了一份训练报告",
                                  "the raw loss is reported every step"])
def test_no_error_said_or_none_at_all(text: str) -> None:
    assert not has_error(text)
