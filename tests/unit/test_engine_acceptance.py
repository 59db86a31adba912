"""The engine's acceptance cases (issue: differential diagnosis engine), on pastes written for these tests."""

from service.pipeline import diagnose

SEED = """\
Qwen2.5-14B LoRA SFT: loss becomes 0 and grad_norm nan

### model
model_name_or_path: Qwen/Qwen2.5-14B-Instruct
### method
stage: sft
finetuning_type: lora
lora_target: all
### dataset
template: qwen
cutoff_len: 2048
### train
per_device_train_batch_size: 1
gradient_accumulation_steps: 8
learning_rate: 1.0e-4
bf16: true

[INFO|trainer.py:2134] >> ***** Running training *****
{'loss': 1.7325, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.02}
{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 2e-05, 'epoch': 0.04}
{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 3e-05, 'epoch': 0.06}
"""


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_seed_bf16_case_ranks_bf16_first_with_patch_evidence_and_differential(rules):
    result = diagnose(SEED, rules=rules)
    top = result.diagnoses[0]
    assert top.id == "bf16-numerical-instability"
    assert top.fix.patch["train-config"] == {"bf16": False, "fp16": True}
    lines = {(e.line, e.signal) for e in top.evidence}
    assert (_line_of(SEED, "bf16: true"), "precision") in lines
    assert (_line_of(SEED, "'loss': 1.7325"), "metrics.grad_norm_nan") in lines
    for e in top.evidence:  # every evidence line points at the line it quotes
        assert SEED.splitlines()[e.line - 1] == e.text
    differential = {d.id: d for d in result.differential}
    for other in ("attention-backend-bug", "all-labels-masked-empty-targets"):
        assert other in differential and differential[other].confirm
    assert differential["fp16-overflow"].status == "ruled_out"


def test_fp16_on_v100_with_overflow_at_minimum_scale_is_fp16_overflow(rules):
    text = """\
Baichuan2-13B full SFT on 8x V100 32GB: loss goes to 0
- GPU type: Tesla V100-SXM2-32GB
fp16: true
deepspeed: ds_z2_config.json
[2024-03-01 12:00:01,114] [INFO] [loss_scaler.py:183:update_scale] [deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 2, reducing to 1
[2024-03-01 12:00:05,871] [INFO] [loss_scaler.py:183:update_scale] [deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 1, reducing to 1
Exception: Current loss scale already at minimum - cannot decrease scale anymore. Exiting run.
{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 2e-05, 'epoch': 0.3}
"""
    result = diagnose(text, rules=rules)
    assert result.diagnoses[0].id == "fp16-overflow"
    assert "bf16-numerical-instability" not in [d.id for d in result.diagnoses]


def test_zero_loss_zero_grad_with_trl_response_key_warning_is_masked_labels(rules):
    text = """\
SFTTrainer with DataCollatorForCompletionOnlyLM: loss stuck at 0
UserWarning: Could not find response key `### Answer:` in the following instance: <s>[INST] hi [/INST] hello</s> This instance will be ignored in loss calculation.
{'loss': 0.0, 'grad_norm': 0.0, 'learning_rate': 2e-05, 'epoch': 0.01}
{'loss': 0.0, 'grad_norm': 0.0, 'learning_rate': 2e-05, 'epoch': 0.02}
"""
    result = diagnose(text, rules=rules)
    assert result.diagnoses[0].id == "all-labels-masked-empty-targets"


def test_metric_lines_alone_ask_for_the_config(rules):
    text = ("{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.1}\n"
            "{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 2e-05, 'epoch': 0.2}\n")
    result = diagnose(text, rules=rules)
    assert result.missing
    asks = " ".join(m.ask for m in result.missing).lower()
    assert "config" in asks or "yaml" in asks
    assert any(m.signal == "precision" for m in result.missing)


def test_feature_request_without_a_log_gets_no_diagnosis(rules):
    text = ("Support for a new 30B model?\n\nHi, thanks for the great project. Will you add support for the new "
            "30B chat model released last week? It would be great to fine-tune it with LoRA. Thanks!")
    result = diagnose(text, rules=rules)
    assert result.diagnoses == []


def test_chinese_input_gets_chinese_titles(rules):
    result = diagnose("用 bf16 训练 loss 为 0\nbf16: true\n{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.1}",
                      rules=rules)
    assert result.lang == "zh"
    assert result.diagnoses and any("\u4e00" <= ch <= "\u9fff" for ch in result.diagnoses[0].title)


def test_config_in_a_separate_part_keeps_its_own_line_numbers(rules):
    log = "{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.1}\n" * 3
    result = diagnose({"log": log, "config": "model_name_or_path: Qwen/Qwen2.5-7B\nbf16: true\n"}, rules=rules)
    top = result.diagnoses[0]
    assert top.id == "bf16-numerical-instability"
    assert any(e.part == "config" and e.line == 2 and e.signal == "precision" for e in top.evidence)


def test_secrets_are_not_echoed(rules):
    token = "hf_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4"
    result = diagnose(f"HF_TOKEN={token}\nbf16: true\n{{'loss': 0.0, 'grad_norm': nan, 'epoch': 0.1}}", rules=rules)
    assert token not in result.model_dump_json()


def test_an_exclude_that_is_not_final_keeps_the_cause_a_candidate(rules):
    # The inference command shows the model's own template; the adapter may still have been trained with another
    # one, so chat-template-mismatch's `template-is-the-models` exclude (final: false) holds without ruling it out.
    text = """\
After LoRA SFT the model repeats the same answer and never stops.
llamafactory-cli chat --model_name_or_path Qwen/Qwen2-7B-Instruct --adapter_name_or_path saves/lora --template qwen
"""
    result = diagnose(text, rules=rules)
    assert "chat-template-mismatch" not in [d.id for d in result.diagnoses]
    entry = next(d for d in result.differential if d.id == "chat-template-mismatch")
    assert entry.status == "candidate"
    assert "model's own" in (entry.reason or "")


def test_a_final_exclude_still_rules_out(rules):
    result = diagnose("bf16: true\nOVERFLOW! Rank 0 Skipping step. Attempted loss scale: 2, reducing to 1\n"
                      "{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.1}\n", rules=rules)
    statuses = {d.id: d.status for d in result.differential}
    assert "bf16-numerical-instability" not in [d.id for d in result.diagnoses]
    assert statuses.get("bf16-numerical-instability") == "ruled_out"
