"""Example pastes pre-loaded in the chat (written for tunedoc; the first is the seed bf16 case)."""

SEED_BF16 = """\
Qwen2.5-14B LoRA: loss 0 and grad_norm nan from the first steps

### model
model_name_or_path: Qwen/Qwen2.5-14B-Instruct
### method
stage: sft
finetuning_type: lora
lora_target: all
### train
per_device_train_batch_size: 2
gradient_accumulation_steps: 8
learning_rate: 1.0e-4
bf16: true

{'loss': 2.8712, 'grad_norm': nan, 'learning_rate': 5e-06, 'epoch': 0.01}
{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.02}
{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1.5e-05, 'epoch': 0.03}"""

FP16_V100 = """\
fp16 full fine-tune on 4x V100 stops with loss scale errors
- GPU type: Tesla V100-SXM2-32GB
fp16: true
[INFO] [loss_scaler.py:183:update_scale] [deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 2, reducing to 1
Exception: Current loss scale already at minimum - cannot decrease scale anymore. Exiting run."""

NCCL_4090 = """\
多卡 4090 训练一直卡在 deepspeed.initialize，单卡正常
- GPU type: NVIDIA GeForce RTX 4090
- GPU number: 4
torchrun --nproc_per_node 4 src/train.py --deepspeed ds_z2_config.json"""

QUESTION_ZH = "什么是 loss scale？"

# (button label, paste): one click sends the paste.
EXAMPLES = [
    ("Example: bf16, loss 0 / grad_norm nan", SEED_BF16),
    ("Example: fp16 on V100, loss scale at minimum", FP16_V100),
    ("示例：多卡 4090 卡住", NCCL_4090),
    ("示例：什么是 loss scale？", QUESTION_ZH),
]
