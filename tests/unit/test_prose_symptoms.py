"""Symptoms said in a sentence rather than shown in a log: the rules read them as candidates, and what only the
config can settle stays a question (kb/ regexes, rules only)."""

import pytest

from service.models import Part
from service.parse import parse
from service.pipeline import load_rules
from service.signals import extract_signals


def outcome(text: str):
    parsed = parse([Part("input", text)])
    return load_rules().evaluate(parsed.lines, extract_signals(parsed)).articles


@pytest.mark.parametrize("text", [
    "断点续训之后 loss 从 1.1 一下子跳到 3.0，看了一下 checkpoint 里只有模型权重。",
    "After resuming, the loss jumped from 0.9 to 2.7; the saved checkpoint has only the model weights.",
])
def test_a_loss_jump_after_resume_and_a_weights_only_checkpoint_confirm_the_cause(text):
    # The checkpoint's contents are what save_only_model leaves out: the condition's evidence, not only a symptom.
    result = outcome(text)["resume-missing-optimizer-state"]
    assert result.status == "diagnosed" and result.score >= 1.0
    assert {r.matcher.id for r in result.symptoms if r.status == "holds"} == {"loss-jump-after-resume",
                                                                             "missing-state-files"}


def test_same_reward_in_every_group_said_in_prose_confirms_grpo_zero_advantage():
    result = outcome("用 trl 的 GRPOTrainer 训练，loss 一直是 0，每组生成的 reward 都一样。")
    assert result["grpo-zero-advantage"].status == "diagnosed"
    assert result["all-labels-masked-empty-targets"].status == "ruled_out"  # a GRPO loss has no labels to mask


@pytest.mark.parametrize("text", [
    "SFT 之后模型答完不停，一直输出到 max_new_tokens。回头看代码，拼接样本时没有在每条回答后面加 eos_token。",
    "After SFT the model never stops generating until max_new_tokens; the eos token was not appended to the answers.",
    "自己写的 SFT 脚本，拼数据时回答后面没有加 <|im_end|>，训练后模型答完不会停，一直生成到 max_new_tokens。",
])
def test_eos_left_out_of_the_samples_said_in_prose_confirms_missing_eos(text):
    # Without the condition the group default still names the cause, at a symptom-only score and `defaulted`.
    result = outcome(text)["missing-eos-no-stop"]
    assert result.status == "diagnosed" and not result.defaulted
    assert any(r.matcher.id == "eos-missing-in-samples" and r.status == "holds" for r in result.conditions)


def test_answers_like_the_original_model_behind_vllm_confirm_the_ignored_adapter():
    result = outcome("LoRA 微调 Qwen2.5-7B-Instruct，训练 loss 正常下降。用 vllm serve 起服务测试，回答和原始模型一模一样。")
    assert result["adapter-not-applied-at-inference"].status == "diagnosed"
