"""The signal vocabulary: every named fact the engine can find in a paste.

KB matchers may only name signals listed here (the catalogue lint checks it), and docs/signals.md is generated
from this table (a test checks it for drift). Types: bool, int, float, str, version.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SignalSpec:
    name: str
    type: str
    doc: str


_TABLE: list[tuple[str, str, str]] = [
    # --- the input itself
    ("input.lang", "str", "Language of the prose: `zh` when CJK characters make up a real share of it, else `en`."),
    ("input.has_log", "bool", "The paste holds log output: metric lines, tracebacks, logger lines or errors."),
    ("input.has_error", "bool", "The paste holds an error: a traceback, an `...Error:` line or a fatal message."),
    ("input.has_config", "bool", "The paste holds a training config (YAML, JSON or command-line flags)."),
    # --- metric series (Trainer dicts, trainer_state.json log_history, key=value loss lines)
    ("metrics.records", "int", "How many training metric records were found."),
    ("metrics.loss_zero", "bool", "Some logged training loss is exactly 0."),
    ("metrics.loss_zero_streak", "int", "Longest run of consecutive records whose loss is exactly 0."),
    ("metrics.loss_nan", "bool", "Some logged loss is NaN or inf."),
    ("metrics.grad_norm_nan", "bool", "Some logged grad_norm is NaN or inf."),
    ("metrics.grad_norm_zero", "bool", "Some logged grad_norm is exactly 0 (no gradient reached the weights)."),
    ("metrics.nan_from_start", "bool",
     "NaN (loss or grad_norm) already in the first logged records, before any healthy one."),
    ("metrics.nan_at_lr_zero", "bool", "grad_norm is NaN in a record whose learning_rate is still 0 (warm-up step 0)."),
    ("metrics.nan_after_healthy", "bool", "NaN first appears after at least 3 healthy (finite, non-zero) records."),
    ("metrics.first_nan_record", "int", "1-based index of the first record with a NaN loss or grad_norm."),
    ("metrics.diverged", "bool", "Finite loss fell, then climbed back to at least twice its lowest value."),
    ("metrics.loss_scales_with_ga", "bool",
     "Losses reported for several gradient_accumulation_steps values grow in proportion to them."),
    ("metrics.healthy", "bool", "Training looks healthy: finite non-zero losses and grad_norms, no NaN in any record."),
    ("metrics.initial_loss", "float", "First logged training loss."),
    ("metrics.last_loss", "float", "Last logged training loss."),
    # --- precision
    ("precision", "str",
     "Mixed-precision mode of the run: `bf16`, `fp16` or `fp32` (YAML, flags, DeepSpeed or accelerate config)."),
    ("tf32", "bool", "TF32 matmuls requested (`tf32: true`, `--tf32 True`)."),
    ("model.dtype", "str", "dtype the model is loaded in: `float16`, `bfloat16` or `float32` (torch_dtype / dtype)."),
    # --- DeepSpeed
    ("deepspeed.enabled", "bool",
     "DeepSpeed is used (a config file, a `deepspeed` key or launcher, or its log lines)."),
    ("deepspeed.stage", "int", "ZeRO stage (from the JSON, an accelerate config, or a config file name like ds_z3)."),
    ("deepspeed.overlap_comm", "bool", "`overlap_comm` in the DeepSpeed zero_optimization section."),
    ("deepspeed.offload", "bool", "Optimizer or parameter offload to CPU/NVMe is configured."),
    # --- model, template, data
    ("attn.impl", "str",
     "Attention implementation: `eager`, `sdpa`, `fa2`, `auto` or `disabled` (flash_attn / attn_implementation)."),
    ("model.name", "str",
     "Model name or path (model_name_or_path, from_pretrained, --pretrain, base_model; else a sized model name in "
     "prose such as `Qwen2.5-14B`)."),
    ("model.family", "str",
     "Model family from the name: qwen, qwen2, qwen2.5, qwen3, llama, llama2, llama3, mistral, mixtral, gemma, "
     "chatglm, glm4, baichuan, internlm, yi, deepseek, phi, minicpm, llava, ..."),
    ("model.is_base", "bool",
     "The model name is a base checkpoint (no Instruct/Chat/-it suffix). Not set from prose names, which often drop "
     "the suffix."),
    ("model.is_moe", "bool",
     "The model is a mixture-of-experts (Mixtral, *-MoE, A3B/A14B-style names, DeepSeek-V2/V3)."),
    ("model.is_multimodal", "bool", "The model is vision-language (VL, LLaVA, GLM-4V, MiniCPM-V/o, InternVL, ...)."),
    ("template", "str", "Prompt template name (LLaMA-Factory `template`, LLaVA `--version`)."),
    ("template.matches_model", "bool",
     "The template belongs to the model's family (a generic template such as `default` fits base models only)."),
    ("cutoff_len", "int", "Maximum sequence length: cutoff_len, max_seq_length, model_max_length, max_length."),
    ("finetuning_type", "str", "`lora`, `qlora`, `full` or `freeze`."),
    ("lora.target", "str", "LoRA target modules as written (lora_target / target_modules)."),
    ("lora.rank", "int", "LoRA rank (lora_rank / r)."),
    ("learning_rate", "float", "Configured peak learning rate."),
    ("batch_size", "int", "Per-device train batch size."),
    ("grad_accum", "int", "gradient_accumulation_steps."),
    ("max_grad_norm", "float", "Gradient clipping threshold (max_grad_norm)."),
    ("save_only_model", "bool", "Checkpoints are saved without optimizer/scheduler state (save_only_model)."),
    ("gradient_checkpointing", "bool", "Gradient checkpointing is on."),
    ("trainable_params", "int", "Trainable parameter count printed by PEFT/LLaMA-Factory (`trainable params: N`)."),
    ("quantization", "str",
     "`4bit` or `8bit` when the model is loaded quantized (quantization_bit, load_in_4bit/8bit)."),
    ("low_cpu_mem_usage", "bool", "`low_cpu_mem_usage` passed when loading the model."),
    ("device_map", "str", "device_map passed when loading the model (e.g. `auto`)."),
    ("eval.enabled", "bool",
     "Evaluation or prediction runs (do_eval, do_predict, predict_with_generate, eval_strategy)."),
    ("eval.batch_size", "int", "per_device_eval_batch_size."),
    ("dataset", "str", "Dataset name(s) as configured."),
    ("size_mismatch.kind", "str",
     "Which dimension differs in `size mismatch ... copying a param with shape X ... current model Y`: `zero` (a "
     "0-sized partition), `vocab` (embeddings/lm_head rows), `rank` (only a LoRA rank dimension) or `hidden` "
     "(hidden/MLP sizes: another base model)."),
    # --- launch and hardware
    ("launcher", "str", "How training was started: python, torchrun, accelerate, deepspeed, llamafactory-cli, swift."),
    ("gpus.visible", "int", "Number of GPUs in CUDA_VISIBLE_DEVICES."),
    ("gpu.model", "str", "GPU model, canonical (V100, T4, P100, A100, H100, RTX 4090, RTX 3090, A6000, ...)."),
    ("gpu.compute_capability", "float", "Compute capability of that GPU (7.0 for V100, 8.0 for A100, ...)."),
    ("gpu.bf16", "bool", "The GPU supports bf16 (compute capability >= 8.0)."),
    ("gpu.count", "int", "Number of GPUs seen (nvidia-smi rows, `8x`/`8卡` phrases, GPU lists)."),
    ("gpu.p2p_limited", "bool",
     "Consumer or PCIe workstation GPUs without reliable peer-to-peer (RTX 40xx, RTX A6000/A5000 PCIe); false for "
     "known datacenter and NVLink-capable GPUs."),
    ("os", "str", "Operating system: `windows`, `linux` or `macos` (env blocks, paths like C:\\, `Platform:` lines)."),
    # --- versions (from env blocks, pip list/freeze, `pkg==x.y`, `pkg version: x.y`)
    ("version.torch", "version", "torch version."),
    ("version.transformers", "version", "transformers version."),
    ("version.peft", "version", "peft version."),
    ("version.trl", "version", "trl version."),
    ("version.deepspeed", "version", "deepspeed version."),
    ("version.accelerate", "version", "accelerate version."),
    ("version.flash_attn", "version", "flash-attn version."),
    ("version.bitsandbytes", "version", "bitsandbytes version."),
    ("version.llamafactory", "version", "LLaMA-Factory version."),
    ("version.unsloth", "version", "unsloth version."),
    ("version.datasets", "version", "datasets version."),
    ("version.vllm", "version", "vllm version."),
    ("version.cuda", "version", "CUDA version (nvidia-smi, nvcc or the env block)."),
    # --- the error
    ("exception.type", "str", "Type of the last exception raised (e.g. `ValueError`, `torch.OutOfMemoryError`)."),
    ("exception.message", "str", "Message of the last exception raised."),
    # --- known warning and status lines
    ("warning.tokenization_mismatch", "bool",
     "`WARNING: tokenization mismatch: N vs. M. (ignored)` (LLaVA-style preprocessing)."),
    ("warning.labels_masked", "bool",
     "`Most/All labels in your dataset are -100` or a labels list printed as all -100."),
    ("warning.response_key_missing", "bool",
     "TRL collator: `Could not find response key ... in the following instance`."),
    ("warning.requires_grad_none", "bool", "`None of the inputs have requires_grad=True. Gradients will be None`."),
    ("warning.fp16_overflow", "bool",
     "DeepSpeed/AMP loss-scale overflow lines: `OVERFLOW! ... Skipping step`, `Attempted loss scale`."),
    ("warning.loss_scale_min", "bool", "`Current loss scale already at minimum - cannot decrease scale anymore`."),
    ("warning.cudnn_sdpa_strides", "bool", "`cuDNN SDPA backward got grad_output.strides() != output.strides()`."),
    ("warning.sequence_too_long", "bool",
     "`Token indices sequence length is longer than the specified maximum sequence length`."),
]

SIGNALS: dict[str, SignalSpec] = {name: SignalSpec(name, kind, doc) for name, kind, doc in _TABLE}

SIGNAL_TYPES = ("bool", "int", "float", "str", "version")


def render_signals_page() -> str:
    """The docs/signals.md page (checked for drift by a test)."""
    lines = [
        "# Signal vocabulary",
        "",
        "Generated from `service/vocabulary.py` by `tunedoc docs`; do not edit by hand.",
        "",
        "Each signal is a typed fact the engine found in the input, with the lines it came from. KB matchers name",
        "them (`signal: NAME`); see docs/kb-format.md.",
        "",
        "| signal | type | meaning |",
        "|---|---|---|",
    ]
    lines += [f"| `{s.name}` | {s.type} | {s.doc} |" for s in SIGNALS.values()]
    return "\n".join(lines) + "\n"
