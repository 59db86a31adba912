"""The chat's conversation logic (no browser): pastes accumulate, questions get KB answers, secrets are hidden."""

from ui.conversation import Conversation, is_question, link_references
from ui.examples import EXAMPLES, SEED_BF16

LOG_ONLY = ("{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.1}\n"
            "{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 2e-05, 'epoch': 0.2}")


def test_a_later_config_sharpens_the_diagnosis(rules, retriever):
    chat = Conversation(rules, retriever)
    first = chat.reply(LOG_ONLY)
    assert "No diagnosis" in first and "precision" in first.lower()  # it asks for the config
    second = chat.reply("bf16: true\nmodel_name_or_path: Qwen/Qwen2.5-7B-Instruct")
    assert "bf16-numerical-instability" in second and "fp16: true" in second
    assert "message 2:1" in second  # evidence points at the second message's line


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


def test_secrets_are_not_echoed_in_the_history():
    token = "hf_" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1Gf0"
    assert token not in Conversation.shown(f"export HF_TOKEN={token}\nbf16: true")


def test_examples_work(rules, retriever):
    seed = Conversation(rules, retriever).reply(EXAMPLES[0][1])
    assert "bf16-numerical-instability" in seed
    assert link_references("see https://github.com/a/b/issues/12") == "see [a/b#12](https://github.com/a/b/issues/12)"
