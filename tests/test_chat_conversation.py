"""The chat's conversation logic (no browser): pastes and answers accumulate and every turn re-diagnoses over all of
it; a short answer to the chat's question is evidence; questions get KB answers; the layout puts the headline first;
secrets are hidden."""

import json
import re

import pytest

from ui.conversation import Conversation, is_question, link_references
from ui.examples import EXAMPLES, SEED_BF16

LOG_ONLY = ("{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.1}\n"
            "{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 2e-05, 'epoch': 0.2}")
LOG_ZH = "训练 loss 为 0，grad_norm 为 nan\n" + LOG_ONLY
ENV_V100 = """- GPU type: Tesla V100-SXM2-32GB
- `torch` version: 2.4.0
- `transformers` version: 4.45.0
- Platform: Linux"""
DEEPSPEED_Z2 = """{
  "zero_optimization": {
    "stage": 2,
    "overlap_comm": true,
    "contiguous_gradients": true
  }
}"""
RESUME = ("After resume_from_checkpoint the loss jumps from 0.8 to 2.5\n"
          "{'loss': 0.8, 'grad_norm': 1.1, 'learning_rate': 1e-05, 'epoch': 1.0}")


def status(turn, article_id: str) -> str | None:
    """The status of an article in a turn's result: confirmed/probable (diagnosed) or its differential status."""
    for d in turn.result.diagnoses:
        if d.id == article_id:
            return d.status
    return next((d.status for d in turn.result.differential if d.id == article_id), None)


def visible_text(markdown: str) -> str:
    """The answer as a person reads it: link targets and code spans removed."""
    return re.sub(r"`[^`]*`", "", re.sub(r"\]\([^)]*\)", "]", markdown))


def test_a_later_config_sharpens_the_diagnosis(rules, retriever):
    chat = Conversation(rules, retriever)
    first = chat.turn(LOG_ONLY)
    assert not first.result.diagnoses and first.markdown.startswith("## Not sure enough")
    assert "precision" in first.markdown.lower()  # it asks for the config
    second = chat.reply("bf16: true\nmodel_name_or_path: Qwen/Qwen2.5-7B-Instruct")
    assert "/ui/article/bf16-numerical-instability" in second.split("\n")[0] and "fp16: true" in second
    assert "message 2:1" in second  # evidence points at the second message's line


def test_an_answer_to_the_question_becomes_evidence(rules, retriever):
    chat = Conversation(rules, retriever)
    first = chat.turn(LOG_ONLY)
    assert chat.pending is not None and chat.pending.key == "precision"
    assert first.replies == ["bf16", "fp16", "fp32", "fp16 works", "I don't know"]
    # The question leads: right after the headline, before the evidence and the differential.
    assert first.markdown.index("To decide between them:") < first.markdown.index("### Could also be")

    second = chat.turn("bf16")  # what the "bf16" button sends
    assert len(chat.pastes) == 1  # an answer is not a paste
    assert status(second, "bf16-numerical-instability") in ("confirmed", "probable")
    evidence = next(d for d in second.result.diagnoses if d.id == "bf16-numerical-instability").evidence
    assert any(e.part == "answers" and e.text == "bf16: true" and e.signal == "precision" for e in evidence)
    assert "your answer “bf16” `bf16: true` — precision setting" in second.markdown
    assert status(second, "fp16-overflow") == "ruled_out"  # the bf16 answer excludes it through the rules


def test_a_denied_condition_rules_out_its_cause(rules, retriever):
    chat = Conversation(rules, retriever)
    chat.turn(LOG_ONLY)
    chat.turn("bf16")
    before = chat.turn("I don't know")  # the rules still allow the ZeRO-2 causes
    assert status(before, "deepspeed-zero2-overlap-comm-nan") == "candidate"
    after = chat.turn("No DeepSpeed")
    assert status(after, "deepspeed-zero2-overlap-comm-nan") == "ruled_out"
    zero2 = [d for d in after.result.differential if d.id.startswith("deepspeed-zero2")]
    assert zero2 and all(d.status == "ruled_out" for d in zero2)
    assert status(after, "bf16-numerical-instability") in ("confirmed", "probable")  # the diagnosis stands


def test_the_users_word_rules_out_what_no_config_line_can_say(rules, retriever):
    chat = Conversation(rules, retriever)
    first = chat.turn(RESUME)
    assert status(first, "resume-missing-optimizer-state") == "candidate"
    assert chat.pending.key == "save_only_model" and "save_only_model false" in first.replies
    second = chat.turn("not resuming")
    entry = next(d for d in second.result.differential if d.id == "resume-missing-optimizer-state")
    assert entry.status == "ruled_out" and entry.reason == "you said “not resuming”"
    assert chat.pending is None or chat.pending.key != "save_only_model"  # its question is not asked again
    assert "— you said “not resuming”" in second.markdown


def test_a_chinese_conversation_answers_in_chinese(rules, retriever):
    chat = Conversation(rules, retriever)
    first = chat.turn(LOG_ZH)
    assert first.result.lang == "zh" and first.markdown.startswith("## 还不能确定")
    assert first.replies == ["bf16", "fp16", "fp32", "fp16 正常", "不知道"]
    skipped = chat.turn("不知道")
    assert chat.pending is None or chat.pending.key != "precision"  # "don't know" moves on
    assert "不知道" not in [a.said for a in chat.answers.answers]
    third = chat.turn("fp16 正常")
    assert status(third, "bf16-numerical-instability") in ("confirmed", "probable")
    assert "你的回答 “fp16 正常” `bf16: true` — 精度设置" in third.markdown
    assert skipped.result.lang == third.result.lang == "zh"
    fourth = chat.turn("没有用 deepspeed")
    assert status(fourth, "deepspeed-zero2-overlap-comm-nan") == "ruled_out"


@pytest.mark.parametrize(("paste", "expected"), [
    (ENV_V100, "## Noted: V100 (no bf16), torch 2.4.0, transformers 4.45.0, Linux\nNow paste the training log"),
    ("环境信息如下：\n" + ENV_V100,
     "## 已记下：V100（不支持 bf16）、torch 2.4.0、transformers 4.45.0、Linux\n现在请贴出训练日志"),
    ("single GPU", "## Noted: 1 GPU\n"),
    ("单卡", "## 已记下：1 张卡\n"),
    ("model_name_or_path: Qwen/Qwen2.5-7B-Instruct\nfinetuning_type: lora\nbf16: true\ndeepspeed: ds_z3_config.json",
     "## Noted: bf16, ZeRO-3, Qwen/Qwen2.5-7B-Instruct, LoRA"),
])
def test_an_environment_or_config_alone_is_noted(rules, retriever, paste, expected):
    chat = Conversation(rules, retriever)
    turn = chat.turn(paste)
    assert turn.kind == "noted" and turn.markdown.startswith(expected), turn.markdown
    assert turn.replies == [] and chat.pending is None
    then = chat.turn(LOG_ONLY)  # the log that follows is diagnosed with what was noted
    assert then.kind == "diagnosis"


def test_the_state_round_trips_and_a_bad_state_starts_fresh(rules, retriever):
    chat = Conversation(rules, retriever)
    chat.turn(LOG_ONLY)
    chat.turn("bf16")
    chat.turn("single GPU")
    state = json.loads(json.dumps(chat.state()))  # plain data
    again = Conversation.restore(rules, retriever, state)
    assert again.pastes == chat.pastes and again.pending == chat.pending and again.answered == chat.answered
    assert again.answers.text() == chat.answers.text() == "bf16: true\nGPU number: 1\nCUDA_VISIBLE_DEVICES=0"
    assert again.diagnose() == chat.diagnose()
    for bad in (None, [], "x", {"pastes": [[1, 2]], "answers": [["t"]], "pending": [1]}, [["message 1", LOG_ONLY]]):
        restored = Conversation.restore(rules, None, bad)
        assert restored.answers.text() == "" and restored.pending is None
    assert Conversation.restore(rules, None, [["message 1", LOG_ONLY]]).pastes == [("message 1", LOG_ONLY)]


def test_the_users_paste_is_shown_as_code_and_a_short_reply_as_typed():
    shown = Conversation.shown_message(SEED_BF16)
    assert shown.startswith("```text\nQwen2.5-14B LoRA") and "\n### model\n" in shown and shown.endswith("```")
    assert Conversation.shown_message("# not a heading *x*") == r"\# not a heading \*x\*"
    fenced = Conversation.shown_message("a\n```\nb")
    assert fenced.startswith("````text\n") and fenced.endswith("\n````")  # a fence in the paste cannot close it
    assert Conversation.shown_message("", ["train.log"]) == "Uploaded: train.log"


def test_the_answer_layout_headline_first_plain_labels_links(rules, retriever):
    chat = Conversation(rules, retriever)
    turn = chat.turn(SEED_BF16)
    lines = turn.markdown.split("\n")
    assert lines[0] == ("## [Loss 0 and grad_norm NaN under bf16: bf16 numerics for this model and stack]"
                        "(/ui/article/bf16-numerical-instability)")
    assert lines[1].startswith("confirmed by the rules · confidence ")
    text = visible_text(turn.markdown)
    for article in rules.catalogue.articles:  # ids only in link targets (and in the JSON)
        assert article.id not in text, article.id
    assert ":prose-" not in turn.markdown and "(precision)" not in turn.markdown
    assert "`bf16: true` — precision setting" in turn.markdown
    assert "grad_norm is NaN" in turn.markdown
    related = turn.markdown.split("### Related articles")[-1]
    listed = {d.id for d in turn.result.diagnoses} | {d.id for d in turn.result.differential}
    assert not any(f"/ui/article/{i})" in related for i in listed)  # related never repeats "could also be"
    links = set(re.findall(r"\(/ui/article/([\w-]+)\)", turn.markdown))
    assert links and links <= set(rules.catalogue.by_id)


def test_one_patch_is_applied_first_and_the_pasted_configs_come_back_merged(rules, retriever):
    chat = Conversation(rules, retriever)
    first = chat.turn(SEED_BF16)
    [(name, merged)] = first.downloads
    assert name == "train_config.patched.yaml"
    assert "### model\nmodel_name_or_path: Qwen/Qwen2.5-14B-Instruct\n" in merged  # the user's file, as written
    assert "\nbf16: false\n" in merged and "\nfp16: true\n" in merged and "bf16: true" not in merged
    second = chat.turn(DEEPSPEED_Z2)
    ids = [d.id for d in second.result.diagnoses]
    assert ids[0] == "deepspeed-zero2-overlap-comm-nan" and "bf16-numerical-instability" in ids
    assert second.markdown.count("**Apply this first**") == 1
    assert second.markdown.index("**Apply this first**") < second.markdown.index("Config patch (only if the first")
    [(name, merged)] = second.downloads
    assert name == "ds_config.patched.json"
    assert json.loads(merged) == {"zero_optimization": {"stage": 2, "overlap_comm": False,
                                                        "contiguous_gradients": True}}
    assert "`ds_config.patched.json`" in second.markdown


def test_a_streamed_log_keeps_its_line_numbers(rules):
    chat = Conversation(rules)
    kept = ["bf16: true", "{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.1}",
            "{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 2e-05, 'epoch': 0.2}"]
    turn = chat.turn("", [("train.log", "\n".join(kept), (4, 91_210, 91_220))],
                     notes=["train.log: 30.0 MB, 91220 lines; ... (3 lines kept)"])
    assert "train.log:91210 " in turn.markdown and "train.log:4 `bf16: true`" in turn.markdown
    assert "_train.log: 30.0 MB, 91220 lines; ... (3 lines kept)_" in turn.markdown.split("**Evidence**")[0]


def test_questions_are_answered_from_the_kb_with_citations(rules, retriever):
    chat = Conversation(rules, retriever)
    answer = chat.reply("什么是 loss scale？")
    assert "fp16-overflow" in answer and "](https://github.com/" in answer
    assert chat.pastes == []  # a question is not added to the diagnosis context


def test_unmatched_question_says_so_and_lists_what_the_kb_covers(rules, retriever):
    answer = Conversation(rules, retriever).reply("What is the capital of France?")
    assert "Nothing in the knowledge base matches" in answer
    assert "`fp16-overflow`" in answer and "`nccl-p2p-hang`" in answer


def test_question_detection():
    assert is_question("how do I enable gradient clipping in LLaMA-Factory?")
    assert is_question("什么是 loss scale？")
    assert not is_question(LOG_ONLY)
    assert not is_question("Why? " + SEED_BF16)


def test_a_question_that_tells_of_a_failure_is_diagnosed(rules, retriever):
    text = "为什么 LoRA 微调 Qwen2.5-14B 的时候 loss 一直是 0，grad_norm 是 nan？"
    assert not is_question(text)
    turn = Conversation(rules, retriever).turn(text)
    assert turn.kind == "diagnosis" and turn.result is not None
    assert status(turn, "bf16-numerical-instability") is not None  # a diagnosis or in the differential
    assert is_question("LoRA 微调 Qwen2.5-14B 用 bf16 还是 fp16 好？")  # no failure told: a KB question


def test_secrets_are_not_echoed_in_the_history():
    token = "hf_" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1Gf0"
    assert token not in Conversation.shown(f"export HF_TOKEN={token}\nbf16: true")
    assert token not in Conversation.shown_message(f"export HF_TOKEN={token}\nbf16: true")
    assert token not in Conversation.shown_message(f"HF_TOKEN={token}")


def test_examples_work(rules, retriever):
    seed = Conversation(rules, retriever).reply(EXAMPLES[0][1])
    assert "/ui/article/bf16-numerical-instability" in seed.split("\n")[0]
    assert link_references("see https://github.com/a/b/issues/12") == "see [a/b#12](https://github.com/a/b/issues/12)"
