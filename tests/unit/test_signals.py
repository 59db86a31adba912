import pytest

from service.models import Part
from service.parse import parse
from service.signals import extract_signals
from service.vocabulary import SIGNALS


def signals(text: str) -> dict:
    return {name: s.value for name, s in extract_signals(parse([Part("input", text)])).items()}


@pytest.mark.parametrize("text, expected", [
    ("bf16: true", "bf16"),
    ("bf16: false\nfp16: true", "fp16"),
    ("python train.py --bf16 True --tf32 True", "bf16"),
    ('{"fp16": {"enabled": true, "loss_scale": 0}}', "fp16"),
    ("mixed_precision: 'no'", "fp32"),
    ("[INFO] compute dtype: torch.bfloat16", "bf16"),
])
def test_precision_from_every_config_form(text, expected):
    assert signals(text)["precision"] == expected


@pytest.mark.parametrize("text, expected", [
    ("用 LLaMA-Factory 微调 Qwen2.5-14B，开了 bf16，loss 一直是 0，换了几次数据也一样。", "bf16"),
    ("Training Qwen2 with bf16, loss goes to nan. I changed the dataset twice, same result.", "bf16"),
    ("loss is nan with bf16, switching to fp16 fixes it", "bf16"),  # the advice clause names the other one
    ("V100 不支持 bf16，所以用了 fp16，loss 变成 nan", "fp16"),
    ("Should I switch to bf16? loss is nan", None),  # advice only: nothing said about the run
    ("模型权重被转换为 bfloat16 后训练，loss 溢出；改为 float32 后正常", "bf16"),  # 转换 is no change (换)
    ("用 float16 训练 Gemma，第二步崩溃，同样的训练用 bfloat16 则没有问题", "fp16"),  # the comparison that went well
    ("Training in fp16 crashes at step 2; the same run in bf16 is unaffected", "fp16"),
])
def test_precision_from_prose_reads_advice_in_the_clause_that_names_it(text, expected):
    assert signals(text).get("precision") == expected


@pytest.mark.parametrize("text, expected", [
    ("微调 Qwen2.5-7B，学习率 5e-4，没有开 warmup", 5e-4),
    ("学习率设置为2e-5，loss 不降", 2e-5),
    ("I fine-tune with a learning rate of 2e-4 and the loss explodes", 2e-4),
    ("lr 1e-3, batch 8", 1e-3),
    ("learning_rate: 1.0e-4\nthe lr 5e-4 run was worse", 1e-4),  # a configured value beats prose
    ("lowering the lr to 1e-5 fixed it", None),  # advice or a fix, not the run's
    ("建议把学习率调到 1e-5", None),
    ("lr 2e-4 diverged, lr 1e-4 too", None),  # two runs named: which is this one?
    ("the lr scheduler is cosine", None),
])
def test_learning_rate_from_prose_when_no_config_names_it(text, expected):
    assert signals(text).get("learning_rate") == expected


@pytest.mark.parametrize("text, expected", [
    ("用 LLaMA-Factory 全参微调 Qwen2.5-7B，显存不够", "full"),
    ("Full fine-tuning of Llama-3-8B runs out of memory", "full"),
    ("QLoRA 微调 Qwen2.5-14B 报错", "qlora"),
    ("fine-tuning with LoRA, the loss is 0", "lora"),
    ("finetuning_type: lora\nfull fine-tuning was fine before", "lora"),  # the config line decides
    ("LoRA is fine but full fine-tuning runs out of memory", None),  # two kinds named: which run is this?
    ("OOM on 8B, should I try LoRA?", None),  # advice, not the run
])
def test_finetuning_type_from_prose(text, expected):
    assert signals(text).get("finetuning_type") == expected


@pytest.mark.parametrize("text, expected", [
    ("训练几百步之后 loss 突然变成 nan，之前一直在下降", True),
    ("训练了 300 步后 loss 变成 nan", True),
    ("After 500 steps the loss became nan", True),
    ("loss was decreasing normally and then suddenly went to nan", True),
    ("loss is nan from the first step", False),
    ("loss 从一开始就是 nan", False),
    ("training looked normal, but the loss became nan immediately at step 1", False),
    ("grad_norm is nan and the loss is 0", False),  # no healthy stretch said
])
def test_nan_after_healthy_from_prose(text, expected):
    assert ("metrics.nan_after_healthy" in signals(text)) is expected


def test_logged_records_decide_nan_after_healthy_not_the_prose():
    s = signals("After 500 steps the loss became nan\n{'loss': nan, 'grad_norm': nan, 'learning_rate': 1e-5, 'epoch': 0.1}")
    assert "metrics.nan_after_healthy" not in s and s["metrics.nan_from_start"]


def test_deepspeed_stage_and_overlap():
    s = signals('deepspeed: examples/deepspeed/ds_z2_config.json\n'
                '{\n "zero_optimization": {\n  "overlap_comm": true\n }\n}')
    assert s["deepspeed.stage"] == 2 and s["deepspeed.overlap_comm"] is True
    assert "deepspeed.stage" not in signals("stage: sft")  # LLaMA-Factory's training stage is not ZeRO


@pytest.mark.parametrize("text, expected", [
    ("Training with ZeRO-2 and overlap_comm, grad_norm goes nan", 2),
    ("ZeRO-3 trains fine, but with ZeRO-2 the loss drops to 0", None),  # a comparison: which is this run's?
    ("deepspeed: zero2 vs zero3", None),  # not a file name
    ("overlap_comm on ZeRO stage 1/2 gives a different loss each run", None),  # names both
    ('"zero_optimization": {"stage": 3, ...}\nothers only see it with stage 3, not stage 2', 3),  # config first
    ("zero_optimization.stage: 3", 3),
    ('{"zero_optimization": {"stage": 2}}\nstage: sft', 2),  # the training stage after it does not hide it
    ("launched with ds_z3_config.json", 3),
])
def test_deepspeed_stage_is_unset_when_the_text_names_several(text, expected):
    assert signals(text).get("deepspeed.stage") == expected


@pytest.mark.parametrize("text, expected", [
    ("trainer = Trainer(precision=16, devices=8)", "fp16"),  # PyTorch Lightning: 16 is fp16 mixed precision
    ("precision: bf16-mixed", "bf16"),
    ("precision: 32", "fp32"),
    ("precision 设为 16 时第一步 loss 就是 nan，而 bf16 没问题", None),  # two named in prose
])
def test_precision_in_lightning_spellings(text, expected):
    assert signals(text).get("precision") == expected


@pytest.mark.parametrize("text, expected", [
    ('{"model_type": "glm4v_moe", "hidden_size": 4096}', True),  # the model's own config says so
    ('{"architectures": ["X"], "n_routed_experts": 64}', True),
    ("model_name_or_path: zai-org/GLM-4.6V", True),
    ("model_name_or_path: zai-org/GLM-4.6V-Flash", False),  # the 9B dense one
    ('model_name_or_path: Qwen/Qwen2.5-7B-Instruct\n{"num_experts": 0}', False),
])
def test_moe_from_the_model_config_or_name(text, expected):
    assert signals(text).get("model.is_moe") == expected


@pytest.mark.parametrize("text, name, moe", [
    ("训练 deepseek-v2-lite 的时候用 deepspeed zero3，跑到第一步就卡住不动了", "deepseek-v2-lite", True),
    ("Fine-tuning Mixtral with ZeRO-3 hangs before the first step", "Mixtral", True),
    ("用 DeepSeek-V3 做 SFT", "DeepSeek-V3", True),
    ("fine-tuning Qwen2.5-14B; the Qwen1.5-MoE run is fine", "Qwen2.5-14B", False),  # a sized name comes first
    ("用 qwen 微调卡住了", None, None),  # a family alone says nothing of experts
    ("phi tuning of the learning rate", None, None),
])
def test_a_sizeless_model_name_in_prose_is_read_when_the_moe_table_knows_it(text, name, moe):
    found = signals(text)
    assert found.get("model.name") == name and found.get("model.is_moe") == moe


def test_metric_derived_facts():
    s = signals("\n".join([
        "{'loss': 2.1, 'grad_norm': 1.3, 'learning_rate': 1e-5, 'epoch': 0.1}",
        "{'loss': 1.9, 'grad_norm': 1.1, 'learning_rate': 1e-5, 'epoch': 0.2}",
        "{'loss': 1.7, 'grad_norm': 1.0, 'learning_rate': 1e-5, 'epoch': 0.3}",
        "{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-5, 'epoch': 0.4}",
    ]))
    assert s["metrics.grad_norm_nan"] and s["metrics.nan_after_healthy"] and s["metrics.first_nan_record"] == 4
    assert "metrics.nan_from_start" not in s
    s = signals("{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 0.0, 'epoch': 0.0}")
    assert s["metrics.nan_at_lr_zero"] and s["metrics.nan_from_start"]
    s = signals("{'loss': 0.0, 'grad_norm': 0.0, 'learning_rate': 1e-5, 'epoch': 0.1}")
    assert s["metrics.grad_norm_zero"] and "metrics.grad_norm_nan" not in s


def test_divergence_and_ga_scaling():
    losses = [3.0, 2.0, 1.2, 1.0, 1.1, 2.5, 4.0]
    s = signals("\n".join(f"{{'loss': {x}, 'grad_norm': 1.0, 'epoch': {i}}}" for i, x in enumerate(losses)))
    assert s["metrics.diverged"]
    s = signals("gradient_accumulation_steps=2 initial loss 6.5\ngradient_accumulation_steps=16 initial loss 52.0")
    assert s["metrics.loss_scales_with_ga"]


def test_model_template_and_hardware():
    s = signals("model_name_or_path: meta-llama/Meta-Llama-3-8B\ntemplate: llama3\n- GPU type: Tesla V100-SXM2-32GB\n"
                "- GPU number: 8\n- Transformers version: 4.46.1\n- PyTorch version: 2.5.1+cu124 (GPU)")
    assert s["model.family"] == "llama3" and s["model.is_base"] is True
    assert s["gpu.model"] == "V100" and s["gpu.bf16"] is False and s["gpu.count"] == 8
    assert s["version.transformers"] == "4.46.1" and s["version.torch"] == "2.5.1+cu124"
    assert s["template.matches_model"] is True
    s = signals("model_name_or_path: Qwen/Qwen2.5-7B-Instruct\ntemplate: llama3")
    assert s["template.matches_model"] is False and s["model.is_base"] is False


def test_launcher_and_visible_gpus():
    s = signals("CUDA_VISIBLE_DEVICES=0,1,2,3 python src/train.py --stage sft")
    assert s["launcher"] == "python" and s["gpus.visible"] == 4
    assert signals("FORCE_TORCHRUN=1 llamafactory-cli train x.yaml")["launcher"] == "llamafactory-cli"


def test_exception_and_known_lines():
    s = signals("Traceback (most recent call last):\n  File \"x.py\", line 1\n"
                "ValueError: Attempting to unscale FP16 gradients.")
    assert s["exception.type"] == "ValueError" and s["exception.message"].startswith("Attempting")
    overflow = "[deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 1, reducing to 1"
    assert signals(overflow)["warning.fp16_overflow"]


def test_size_mismatch_kind():
    line = ("size mismatch for base_model.model.model.layers.0.mlp.up_proj.lora_A.weight: copying a param with shape "
            "torch.Size([{a}]) from checkpoint, the shape in current model is torch.Size([{b}]).")
    assert signals(line.format(a="8, 4096", b="8, 5120"))["size_mismatch.kind"] == "hidden"
    assert signals(line.format(a="32, 4096", b="128, 4096"))["size_mismatch.kind"] == "rank"
    assert signals(line.format(a="0", b="8, 4096"))["size_mismatch.kind"] == "zero"
    embed = line.replace("layers.0.mlp.up_proj.lora_A", "embed_tokens")
    assert signals(embed.format(a="32000, 4096", b="32001, 4096"))["size_mismatch.kind"] == "vocab"


def test_every_emitted_signal_is_in_the_vocabulary():
    text = open(__file__, encoding="utf-8").read()
    assert set(signals(text)) <= set(SIGNALS)


def test_settings_in_markdown_emphasis_and_gpu_counts_in_prose():
    assert signals("**flash_attn: disabled**")["attn.impl"] == "disabled"
    assert signals("`bf16: true`")["precision"] == "bf16"
    s = signals("8 A800-80G machine")
    assert s["gpu.count"] == 8 and s["gpu.model"] == "A800"
    assert "gpu.count" not in signals("transformers 4.46 on an A100")


@pytest.mark.parametrize("text, expected", [
    ("CUDA_VISIBLE_DEVICES=0,1 python train.py", 2),
    ("I run it with CUDA_VISIBLE_DEVICES=0 and then python train.py --fp16", 1),  # how it was run
    ("Fails on the 8-GPU box with cuda:0 and cuda:3; with CUDA_VISIBLE_DEVICES=0 it works.", None),  # the workaround
    ("多卡机器上报错；设置 CUDA_VISIBLE_DEVICES=0 则能运行。", None),
    ("export CUDA_VISIBLE_DEVICES=0\npython train.py\nwith CUDA_VISIBLE_DEVICES=0,1 it works", 1),  # the command wins
])
def test_visible_gpus_are_the_runs_not_the_workaround(text, expected):
    assert signals(text).get("gpus.visible") == expected


@pytest.mark.parametrize("text, expected", [
    ("LoRA on the Qwen2.5-7B base model, then it never stops", True),
    ("用 qwen2-7b 的基座模型做 SFT，推理停不下来", True),
    ("Llama-3-8B instruct 微调后输出乱码", False),
    ("Fine-tuning Llama-3-8B-Instruct with LoRA, it never stops", False),  # the suffix written out
    ("qwen2.5-7b-chat 微调", False),
    ("fine-tuning Qwen2.5-14B with LoRA", None),  # prose drops the suffix: says nothing
    ("Qwen2.5-7B basically works, but the 14B does not", None),
])
def test_base_or_instruct_said_right_after_a_prose_model_name(text, expected):
    assert signals(text).get("model.is_base") == expected


@pytest.mark.parametrize("text, count", [
    ("Full fine-tuning on eight A100 80GB cards", 8),
    ("LoRA on two 40 GB A100s hits OOM", 2),
    ("Full-parameter SFT on seven GPUs with ZeRO-2", 7),
    ("on three 22GB RTX 2080 Ti cards", 3),
    ("training on eight Ascend 910B NPUs", 8),
    ("在两张 40GB A100 上全参数微调", 2),
    ("用四张 L20 做 LoRA", 4),
    ("只有 4 张 24G 的 RTX 4090", 4),
    ("八卡训练卡住", 8),
    ("每条记录列出 5 张图片", None),  # five images, not five GPUs
    ("报 cuda:0 与 cuda:1 张量不在同一设备", None),  # 张量 is a tensor
    ("on 24 GB cards the job OOMs", None),  # a memory size is not a count
    ("![2](https://github.com/u/r/assets/1/85c16a40-e265-4d5b)", None),
])
def test_gpu_counts_in_words_numerals_and_plurals(text, count):
    assert signals(text).get("gpu.count") == count


def test_a_plural_gpu_name_is_the_gpu():
    assert signals("Training GPT-2 on eight A100s")["gpu.model"] == "A100"
    assert signals("LoRA on two 3090s")["gpu.model"] == "RTX 3090"


@pytest.mark.parametrize("text, expected", [
    ("Training the ASR recipe with use_fp16 enabled: the log shows loss NaN.", "fp16"),
    ("We enabled bf16 for the second run and the loss went to nan.", "bf16"),
    ("开启 use_fp16 训练：日志显示 loss 为 NaN。", "fp16"),
])
def test_precision_said_as_a_switch_turned_on(text, expected):
    assert signals(text).get("precision") == expected


@pytest.mark.parametrize("text, expected", [
    ("After moving to DeepSpeed 0.14.3, training reports grad_norm of zero.", True),
    ("the grad_norm drops to zero after the first step", True),
    ("grad_norm of 0.5 at step 10", None),
])
def test_grad_norm_zero_said_in_words(text, expected):
    assert signals(text).get("metrics.grad_norm_zero") == expected


def test_nan_after_a_longer_healthy_stretch_said_in_prose():
    text = "Training with ZeRO-2 in fp16: after roughly ten thousand steps the loss starts coming out as NaN."
    assert signals(text).get("metrics.nan_after_healthy") is True


@pytest.mark.parametrize("text, expected", [
    ("zero_optimization.overlap_comm: True\nzero_optimization.stage: 2", True),
    ('{"zero_optimization": {"stage": 2, "overlap_comm": false}}', False),
])
def test_overlap_comm_from_the_json_or_a_dotted_override(text, expected):
    assert signals(text).get("deepspeed.overlap_comm") is expected
