"""The prompt template named in a sentence, when no config names one: `template: default`, "模板用的 default", "the
alpaca template". Only names the template table knows; not advice, not the change that fixed it, not negated; "X
instead of Y" says X was used."""

from __future__ import annotations

import pytest

from service.models import Part
from service.parse import parse
from service.signals import extract_signals


def signals(text: str) -> dict[str, object]:
    return {name: s.value for name, s in extract_signals(parse([Part("input", text)])).items()}


@pytest.mark.parametrize(("text", "template"), [
    ("I fine-tuned Qwen2-7B-Instruct with LLaMA-Factory using template: default instead of qwen.", "default"),
    ("用 LLaMA-Factory 微调 Qwen2.5-7B-Instruct，模板用的 default，推理时一直不停", "default"),
    ("LoRA on Llama-3-8B-Instruct with the alpaca template, then served with vLLM", "alpaca"),
    ("训练的时候用 llama3 模板", "llama3"),
])
def test_a_template_named_in_a_sentence(text: str, template: str) -> None:
    assert signals(text).get("template") == template


@pytest.mark.parametrize("text", [
    "Should I use the qwen template instead?",
    "改成 qwen 模板之后就正常了",
    "没有用 qwen 模板",
    "I used the default template of the trainer",  # a phrase, not the `default` template
    "The chat template is stored in tokenizer_config.json",
])
def test_advice_fixes_negations_and_phrases_are_not_the_runs_template(text: str) -> None:
    assert "template" not in signals(text)


def test_two_templates_named_differ_and_a_config_wins_over_the_prose() -> None:
    found = signals("trained with the alpaca template, then chatted with the qwen template")
    assert found.get("template.differs") is True
    assert signals("我用的 default 模板\ntemplate: qwen\n").get("template") == "qwen"


def test_a_template_of_another_family_does_not_match_the_model() -> None:
    found = signals("Qwen2-7B-Instruct fine-tuned in LLaMA-Factory with template: llama3")
    assert found.get("template") == "llama3" and found.get("template.matches_model") is False
