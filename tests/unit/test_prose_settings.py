"""Settings stated in sentences (service/prose_settings.py): read where the sentence says how the run was set,
skipped where it negates, conditions, advises or reports the change that fixed it, and never over a config."""

from __future__ import annotations

import pytest

from service.models import Part
from service.parse import parse
from service.signals import extract_signals


def signals(text: str) -> dict[str, object]:
    return {name: s.value for name, s in extract_signals(parse([Part("input", text)])).items()}


@pytest.mark.parametrize(("text", "signal", "value"), [
    ("用 LLaMA-Factory 训练 Qwen2-VL，cutoff_len设置为1024，然后报错", "cutoff_len", 1024),
    ("cutoff_len 为 4096 的时候显存不够", "cutoff_len", 4096),
    ("续训的时候发现 save_only_model为true", "save_only_model", True),
    ("ZeRO-2 训练，overlap_comm开着，loss 每次都不一样", "deepspeed.overlap_comm", True),
    ("开启了gradient_checkpointing，显存还是不够", "gradient_checkpointing", True),
    ("关闭了 gradient_checkpointing 以后速度快了一些，但是结果一样", "gradient_checkpointing", False),
    ("gradient_accumulation_steps设为16，per_device_train_batch_size设为2", "grad_accum", 16),
    ("gradient_accumulation_steps设为16，per_device_train_batch_size设为2", "batch_size", 2),
    ("finetuning_type是lora，lora_target为all", "lora.target", "all"),
    ("I resumed a run that had save_only_model set to true and the loss jumped", "save_only_model", True),
    ("The run uses gradient_accumulation_steps of 8 and per_device_train_batch_size is 4", "batch_size", 4),
    ("ZeRO-2 with overlap_comm true and contiguous_gradients true, the loss differs run to run",
     "deepspeed.overlap_comm", True),
    ("I set save_only_model to true before the job was preempted", "save_only_model", True),
    ("我设置 cutoff_len 为 4096 之后开始报错", "cutoff_len", 4096),
    ("想用全部数据，就把 max_samples 设成了 -1", "max_samples", -1),
    ("cutoff_len 设置成了 2048，还是爆显存", "cutoff_len", 2048),
    ("yaml 里开着 save_only_model", "save_only_model", True),
    ("I kept save_only_model set to true instead of the default", "save_only_model", True),  # "X instead of Y": X
    ("LLaMA-Factory 配置里 max_samples 写的 -1，想用全部数据", "max_samples", -1),
    ("dataset 填的是 alpaca_zh，cutoff_len 写成了 8192", "cutoff_len", 8192),
    # gradient checkpointing in words, not as its config key
    ("适配器没有更新，开了梯度检查点", "gradient_checkpointing", True),
    ("Trained Mistral with LoRA and gradient checkpointing enabled", "gradient_checkpointing", True),
    ("We use gradient checkpointing to fit the batch", "gradient_checkpointing", True),
    ("没开梯度检查点，显存也够用", "gradient_checkpointing", False),
    ("the same job without gradient checkpointing runs out of memory", "gradient_checkpointing", False),
])
def test_a_stated_setting_is_read(text: str, signal: str, value: object) -> None:
    assert signals(text).get(signal) == value


def test_a_setting_no_signal_reads_is_still_a_fact() -> None:
    facts = parse([Part("input", "with resize_vocab enabled the adapter no longer loads")]).facts
    assert [(f.key, f.value, f.source) for f in facts] == [("resize_vocab", True, "prose")]


@pytest.mark.parametrize(("text", "signal"), [
    ("之前没有设置save_only_model=False，续训时 loss 突然变大", "save_only_model"),
    ("没有开启 gradient_checkpointing", "gradient_checkpointing"),
    ("把save_only_model改成false之后就好了", "save_only_model"),
    ("建议把 cutoff_len 设为 4096 再试试", "cutoff_len"),
    ("如果 overlap_comm 为 true 会不会有问题", "deepspeed.overlap_comm"),
    ("无论是否开启 gradient_checkpointing 都一样", "gradient_checkpointing"),
    ("# gradient_accumulation_steps: 8", "grad_accum"),  # commented out in a config
    ("cutoff_len is too small for these images", "cutoff_len"),
    ("Try setting save_only_model to false", "save_only_model"),
    ("Set save_only_model to false instead", "save_only_model"),
    ("You should set save_only_model to false", "save_only_model"),
    ("把 cutoff_len 设成 4096 后正常了", "cutoff_len"),
    ("Built on Wed_Nov_22_10:17:15_PST_2023", "cutoff_len"),
    # a change and what followed it, whichever way it went
    ("关掉 overlap_comm 以后就能对上了", "deepspeed.overlap_comm"),
    ("After I disabled overlap_comm the two runs match", "deepspeed.overlap_comm"),
    ("关掉梯度检查点后就正常了", "gradient_checkpointing"),
    ("如果开启梯度检查点会不会更慢", "gradient_checkpointing"),
    ("You should use gradient checkpointing here", "gradient_checkpointing"),
    ("开了梯度检查点，也试过关掉梯度检查点", "gradient_checkpointing"),  # both said: which one failed?
])
def test_a_setting_that_is_not_the_runs_is_not_read(text: str, signal: str) -> None:
    assert signal not in signals(text)


def test_nothing_in_a_word_or_a_file_name_becomes_a_setting() -> None:
    text = ("打开了 adapter_model.safetensors 看到 lm_head 的形状不对\n"
            "calling merge_and_unload on the checkpoint fails\n"
            "pad_token == eos_token: True, so the eos_token is getting masked\n"
            "训练时 loss为0，grad_norm为nan")
    assert [f for f in parse([Part("input", text)]).facts if f.source == "prose"] == []


def test_a_pasted_config_wins_over_the_prose() -> None:
    text = "我记得 cutoff_len 设为 1024\n\n```yaml\ncutoff_len: 2048\nsave_only_model: false\n```\nsave_only_model 为 true"
    got = signals(text)
    assert got["cutoff_len"] == 2048
    assert got["save_only_model"] is False


def test_a_line_of_many_statements_stays_cheap() -> None:
    """Hundreds of `key为1，` on one line (machine output, or hostile): each costs a clause search, so only the first
    few are read, and the whole line parses in well under the per-request budget."""
    import time

    line = "，".join(f"k_{i}为{i}" for i in range(700))
    tokens = "a_" * 2000 + "b为1"
    started = time.perf_counter()
    facts = parse([Part("input", line + "\n" + tokens)]).facts
    assert time.perf_counter() - started < 0.5
    assert len([f for f in facts if f.source == "prose" and f.line.number == 1]) == 16


@pytest.mark.parametrize("text", [
    "bf16 on. loss 0.0 and grad_norm nan from step 10. With fp16 the same job trains normally.",
    "bf16 training gives nan; fp16 works.",
    "我用的是 bf16 不是 fp16，loss 突然变成 nan。",
    "not fp16 but bf16 training, and the loss is nan",
])
def test_the_precision_a_sentence_says_works_is_the_workaround_not_the_run(text: str) -> None:
    assert signals(text).get("precision") == "bf16"
