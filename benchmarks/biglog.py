"""Generate a realistic multi-day training log of a given size: an env block and config at the top, then Trainer,
DeepSpeed and tqdm lines, and an fp16 overflow failure near the end."""

from __future__ import annotations

import random
from pathlib import Path

HEADER = """\
- `llamafactory` version: 0.9.2
- Platform: Linux-5.15.0-x86_64-with-glibc2.35
- PyTorch version: 2.4.0+cu121 (GPU)
- Transformers version: 4.46.1
- GPU type: Tesla V100-SXM2-32GB
- GPU number: 8
- DeepSpeed version: 0.14.4
### model
model_name_or_path: baichuan-inc/Baichuan2-13B-Chat
### train
finetuning_type: full
deepspeed: examples/deepspeed/ds_z2_config.json
per_device_train_batch_size: 2
gradient_accumulation_steps: 8
learning_rate: 2.0e-5
fp16: true
"""

FAILURE = """\
[2024-06-03 04:11:52,118] [INFO] [loss_scaler.py:183:update_scale] [deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 2, reducing to 1
[2024-06-03 04:11:55,020] [INFO] [loss_scaler.py:183:update_scale] [deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 1, reducing to 1
{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1.2e-05, 'epoch': 2.91}
Traceback (most recent call last):
  File "/opt/LLaMA-Factory/src/llamafactory/train/sft/workflow.py", line 96, in run_sft
Exception: Current loss scale already at minimum - cannot decrease scale anymore. Exiting run.
"""


def write_log(path: Path, size_bytes: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        f.write(HEADER)
        written, step = len(HEADER), 0
        target = size_bytes - len(FAILURE)
        while written < target:
            step += 1
            block = [
                f"[2024-06-0{1 + step // 400000}] [INFO] [logging.py:96:log_dist] [Rank 0] step={step}, skipped=0, "
                f"lr=[{2e-5 * rng.random():.6e}], mom=[(0.9, 0.999)]",
                f" {step % 100}%|{'█' * (step % 20)}| {step}/900000 [12:{step % 60:02d}<90:00:00, 1.{rng.randint(0, 99)}s/it]",
            ]
            if step % 10 == 0:
                block.append(f"{{'loss': {rng.uniform(0.6, 1.4):.4f}, 'grad_norm': {rng.uniform(0.2, 2.0):.4f}, "
                             f"'learning_rate': {2e-5:.1e}, 'epoch': {step / 300000:.2f}}}")
            text = "\n".join(block) + "\n"
            f.write(text)
            written += len(text)
        f.write(FAILURE)
    return path
