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
