"""The rule-out tally (`tunedoc check --rule-outs`) on reports written for this test."""

from service.cases import Case
from service.exclusions import describe, tally_rule_outs

ZERO3_NAN = ("After a few steps grad_norm is nan and the loss stays 0.",
             ('{"zero_optimization": {"stage": 3, "overlap_comm": true}}',
              "{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.1}",
              "{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.2}"))


def _case(url: str, cause: str, prose: str, lines: tuple[str, ...]) -> Case:
    return Case(url=url, cause=cause, lang="en", symptom_en=prose, symptom_zh="", lines=lines)


def test_a_rule_out_on_a_report_of_its_own_cause_is_counted_as_wrong(rules):
    cases = [_case("https://example.org/a/1", "deepspeed-zero2-overlap-comm-nan", *ZERO3_NAN),
             _case("https://example.org/a/2", "bf16-numerical-instability", *ZERO3_NAN)]
    ordered = tally_rule_outs(rules, cases)
    assert [t.wrong for t in ordered] == sorted((t.wrong for t in ordered), reverse=True)  # most often wrong first
    tallies = {(t.article, t.matcher): t for t in ordered}
    stage = tallies[("deepspeed-zero2-overlap-comm-nan", "not-zero-stage-2")]
    assert (stage.kind, stage.fired, stage.with_symptom) == ("exclude", 2, 2)
    assert stage.own_cause == ["example.org/a/1"]
    assert "not-zero-stage-2 (exclude): 2 (2), 1 own: example.org/a/1" in describe(list(tallies.values()))


def test_an_exclude_that_is_not_final_is_not_a_rule_out(rules):
    text = "After LoRA SFT the model repeats the same answer and never stops."
    case = _case("https://example.org/b/1", "chat-template-mismatch", text,
                 ("llamafactory-cli chat --model_name_or_path Qwen/Qwen2-7B-Instruct --template qwen",))
    assert not [t for t in tally_rule_outs(rules, [case]) if t.article == "chat-template-mismatch"]
