"""Fusion: retrieval proposes, rules confirm or rule out, the calibrated model ranks (issue 12)."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from service.cases import CaseBase, lint_cases
from service.classify import CauseClassifier, classifier_path
from service.fusion import FEATURES, REPORT_FEATURES, Candidate, FusionModel, decide, fusion_text
from service.learn import Group, calibration, fit
from service.lexical import LexicalClassifier, combine, lexical_path
from service.models import MissingOut
from service.parse import parse
from service.pipeline import analyse_input, as_parts
from service.rank import _with_gain

REPO = Path(__file__).resolve().parent.parent
SEED = "bf16: true\n{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.1}\n"


def _candidate(category: str, p: float, confirmed: bool = False, score: float = 0.0) -> Candidate:
    features = {name: 0.0 for name in FEATURES}
    features["rule_score"] = score
    return Candidate(category, category, features, confirmed, p)


def test_the_conditional_logit_learns_which_feature_marks_the_right_cause():
    rng = random.Random(7)
    groups = []
    for _ in range(300):
        rows = [{name: rng.random() for name in FEATURES} for _ in range(4)]
        target = rng.randrange(-1, 4)
        if target >= 0:
            rows[target]["case_vote"] += 1.5
        report = {name: rng.random() for name in REPORT_FEATURES}
        report["oos_vote"] += 1.5 if target < 0 else 0.0
        groups.append(Group(rows, report, target))
    model = fit(groups, c=1.0)
    assert model.weights["case_vote"] > 1.0 and model.none_weights["oos_vote"] > 1.0
    probabilities = model.probabilities(groups[0].rows, groups[0].report)
    assert 0 < sum(probabilities) < 1 and all(0 <= p <= 1 for p in probabilities)


def test_the_model_round_trips_as_json(tmp_path):
    model = FusionModel({"case_vote": 1.0}, {"oos_vote": 2.0}, -0.5, 0.7, {"case_vote": 0.1}, {"case_vote": 2.0},
                        thresholds={"zh": 0.6}, case_counts={"a": 3}, in_scope=0.82)
    model.save(tmp_path / "m.json")
    loaded = FusionModel.load(tmp_path / "m.json")
    assert loaded is not None and loaded.probabilities([{"case_vote": 1.0}], {}) == model.probabilities(
        [{"case_vote": 1.0}], {})
    assert (loaded.threshold_for("zh"), loaded.threshold_for("en")) == (0.6, 0.7)
    assert loaded.case_counts == {"a": 3} and loaded.in_scope == 0.82


def test_confirmed_causes_are_diagnosed_first_by_rule_strength_and_the_rest_need_the_threshold():
    model = FusionModel({}, {}, 0.0, threshold=0.6)
    ranked = [_candidate("a", 0.7), _candidate("b", 0.2, confirmed=True, score=1.0),
              _candidate("c", 0.5), _candidate("d", 0.1, confirmed=True, score=2.0)]
    chosen, rest = decide(ranked, model)
    assert [c.category for c in chosen] == ["d", "b", "a"] and [c.category for c in rest] == ["c"]
    model.thresholds = {"zh": 0.45}  # a Chinese paste is decided at its own language's threshold
    assert [c.category for c in decide(ranked, model, "zh")[0]] == ["d", "b", "a", "c"]
    assert [c.category for c in decide(ranked, model, "en")[0]] == ["d", "b", "a"]


def test_the_in_scope_gate_keeps_a_cause_from_being_probable_when_the_candidates_hold_too_little_together():
    model = FusionModel({}, {}, 0.0, threshold=0.5, in_scope=0.8)
    shared = [_candidate("a", 0.55), _candidate("b", 0.35)]  # 0.9 together: the cause is one of them, likely a
    assert [c.category for c in decide(shared, model)[0]] == ["a"]
    alone = [_candidate("a", 0.6), _candidate("b", 0.1)]  # 0.7 together: as likely none of them
    assert decide(alone, model)[0] == []
    confirmed = [_candidate("a", 0.6), _candidate("b", 0.1, confirmed=True, score=1.0)]
    assert [c.category for c in decide(confirmed, model)[0]] == ["b"]  # a confirmation needs no gate
    model.in_scope = 0.0
    assert [c.category for c in decide(alone, model)[0]] == ["a"]


def test_the_first_question_is_the_one_that_best_splits_the_top_candidates():
    ranked = [_candidate("x", 0.4), _candidate("y", 0.4), _candidate("z", 0.2)]
    asks = [MissingOut(ask="only z", for_ids=["z"]), MissingOut(ask="x or y", for_ids=["x"])]
    ordered = _with_gain(asks, ranked, None)
    assert ordered[0].ask == "x or y" and ordered[0].gain > ordered[1].gain


def test_the_first_question_weighs_none_of_them_when_one_candidate_dominates():
    # 0.8 on x, almost nothing on y, the 0.198 left over on "none of them": what is left to learn is whether it is x.
    ranked = [_candidate("x", 0.8), _candidate("y", 0.002)]
    asks = [MissingOut(ask="only y", for_ids=["y"]), MissingOut(ask="is it x", for_ids=["x"])]
    ordered = _with_gain(asks, ranked, None)
    assert ordered[0].ask == "is it x" and ordered[0].gain > 0.5 > ordered[1].gain


def test_calibration_of_a_perfectly_calibrated_list_is_zero():
    from service.cases import Case
    from service.learn import Prediction

    case = Case(url="u", cause="a", lang="en", symptom_en="", symptom_zh="")
    wrong = Case(url="v", cause="b", lang="en", symptom_en="", symptom_zh="")
    predictions = [Prediction(case, [_candidate("a", 0.55)], ["a"]), Prediction(wrong, [_candidate("a", 0.55)], [])]
    ece, rows = calibration(predictions)
    assert ece == pytest.approx(0.05) and rows == [(0.55, 0.5, 2)]


def test_the_case_base_lints_clean_and_is_large_enough():
    base = CaseBase.load()
    held_out = REPO.parent / "shared" / "held-out"
    assert lint_cases(base, held_out=held_out if held_out.exists() else None) == []
    assert len(base.cases) >= 600
    assert sum(c.lang == "zh" for c in base.cases) >= 0.3 * len(base.cases)
    assert sum(c.cause == "out-of-scope" for c in base.cases) >= 80


def test_the_committed_model_was_trained_on_this_case_base():
    model = FusionModel.load(REPO / "kb" / "model" / "fusion.json")
    assert model is not None and model.meta["cases"] == len(CaseBase.load().cases)
    in_scope = [c.cause for c in CaseBase.load().cases if c.cause != "out-of-scope"]
    assert model.case_counts == {cause: in_scope.count(cause) for cause in sorted(set(in_scope))}
    assert set(model.weights) == set(FEATURES) and set(model.none_weights) == set(REPORT_FEATURES)
    classifier = CauseClassifier.load(classifier_path(REPO / "kb" / "model" / "fusion.json"), "use-multilingual")
    base = CaseBase.load()
    assert classifier is not None and classifier.meta["cases"] == len(base.cases)
    assert set(classifier.classes) == {c.cause for c in base.cases}
    lexical = LexicalClassifier.load(lexical_path(REPO / "kb" / "model" / "fusion.json"))
    assert lexical is not None and lexical.meta["cases"] == len(base.cases)
    assert set(lexical.classes) == {c.cause for c in base.cases}


def test_the_seed_paste_is_confirmed_with_its_patch(rules, retriever):
    result = analyse_input(parse(as_parts(SEED)), rules=rules, retriever=retriever).result
    top = result.diagnoses[0]
    assert top.id == "bf16-numerical-instability" and top.status == "confirmed"
    assert top.fix.patch == {"train-config": {"bf16": False, "fp16": True}} and 0 < top.confidence <= 1
    # The one thing to paste next tells the leading alternatives apart (the rules' only own question here, about a
    # GRPO run, concerns none of them and comes after).
    first = result.missing[0]
    leading = {d.id for d in result.differential[:3]}
    assert first.gain and first.gain > 0 and set(first.for_ids) & leading, result.missing


def test_the_cause_classifier_speaks_for_every_candidate(rules, retriever):
    assert retriever.classifier is not None  # kb/model/classifier.json, for the embedding model in use
    analysis = analyse_input(parse(as_parts(SEED)), rules=rules, retriever=retriever)
    assert analysis.ranked and all("clf" in c.features for c in analysis.ranked)
    assert retriever.lexical is not None  # kb/model/lexical.json: read together with the embedding classifier
    probs = combine(retriever.classifier.probabilities(analysis.vector),
                    retriever.lexical.probabilities(fusion_text(analysis.parsed)))
    assert probs is not None
    first = analysis.ranked[0]
    assert first.features["clf"] == pytest.approx(math.log(probs[first.category] + 1e-3))


def test_the_classifier_speaks_for_a_full_case_map_and_not_for_a_restricted_one(rules, retriever):
    parsed = parse(as_parts(SEED))
    default = analyse_input(parsed, rules=rules, retriever=retriever)
    full = analyse_input(parsed, rules=rules, retriever=retriever, cause_of=dict(retriever.cause_of))  # tunedoc eval
    assert [(c.category, c.probability) for c in full.ranked] == [(c.category, c.probability) for c in default.ranked]
    assert all("clf" in c.features for c in full.ranked)
    held_out = dict(list(retriever.cause_of.items())[1:])  # one case kept out, as in cross-validation
    restricted = analyse_input(parsed, rules=rules, retriever=retriever, cause_of=held_out)
    assert restricted.ranked and not any("clf" in c.features for c in restricted.ranked)


def test_an_exclude_keeps_a_cause_out_even_when_retrieval_proposes_it(rules, retriever):
    paste = ("fp16 training, loss nan\n" + "OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 65536, "
             "reducing to 32768\n" + "bf16: true\n")
    analysis = analyse_input(parse(as_parts(paste)), rules=rules, retriever=retriever)
    excluded = {r.article.category for r in analysis.outcome.articles.values() if r.status == "ruled_out"}
    assert "bf16-numerical-instability" in excluded
    assert "bf16-numerical-instability" not in {c.category for c in analysis.ranked}


def test_a_chinese_symptom_paragraph_gets_the_cause_ranked(rules, retriever):
    paste = ("用 LLaMA-Factory 对 Qwen2.5-14B 做 LoRA 微调，开了 bf16，训练刚开始 loss 就一直是 0，grad_norm 显示 nan，"
             "学习率 1e-4，换了几次数据也一样。")
    analysis = analyse_input(parse(as_parts(paste)), rules=rules, retriever=retriever)
    ranked = [c.category for c in analysis.ranked[:3]]
    assert "bf16-numerical-instability" in ranked
    assert analysis.result.missing or analysis.result.diagnoses  # an answer, or the question that decides


@pytest.mark.parametrize("paste", [
    # Nothing says how the adapter is loaded for inference (a vLLM or PeftModel path would confirm the cause).
    "LoRA 训练完推理，输出和原始模型一模一样，训练 loss 是正常下降的。",
    "After LoRA training, the fine-tuned model gives exactly the same text as the base model.",
])
def test_an_abstention_ends_in_a_question(rules, retriever, paste, monkeypatch):
    monkeypatch.setattr(retriever.model, "threshold", 1.01)  # nothing is probable enough: it must abstain
    monkeypatch.setattr(retriever.model, "thresholds", {})
    analysis = analyse_input(parse(as_parts(paste)), rules=rules, retriever=retriever)
    result = analysis.result
    assert not result.diagnoses and result.differential and result.missing  # what else it could be, and the one thing to paste
    leading = {d.id for d in result.differential[:3]}
    assert any(set(m.for_ids) & leading for m in result.missing)


def test_cross_validation_runs_end_to_end_on_a_slice_of_the_case_base(retriever):
    from service.cases import CaseBase
    from service.learn import cross_validate, log_loss, prepare, score

    base = CaseBase.load()
    by_cause: dict[str, list] = {}
    for case in base.cases:
        by_cause.setdefault(case.cause, []).append(case)
    subset = CaseBase([c for cases in by_cause.values() for c in cases[:3]])  # every cause, 3 threads each
    prepared = prepare(retriever, subset)
    predictions, decision = cross_validate(prepared, retriever, c=0.3)
    scores = score(predictions)
    assert len(predictions) == len(subset.cases) and all(0.05 <= t <= 0.99 for t in decision.thresholds.values())
    assert 0.0 <= decision.in_scope < 1.0
    assert scores["top3"] > 0.5 and 0 < log_loss(predictions) < 5  # a broken pipeline ranks at chance (~0.1)


@pytest.mark.parametrize("question", [
    "How many GPUs do I need to full fine-tune Qwen2.5-72B with LLaMA-Factory?",
    "请问 LLaMA-Factory 怎么设置多机多卡训练？",
])
def test_a_how_to_question_names_no_cause_and_asks_for_the_log(rules, retriever, question):
    """Nothing failed, so no cause is likely: the answer says so and asks for the error, the config and the
    environment instead of listing causes at a few percent (retrieval's best articles are still offered to read)."""
    from service.render import render_markdown

    result = analyse_input(parse(as_parts(question)), rules=rules, retriever=retriever).result
    assert result is not None and not result.diagnoses and result.likely() == []
    answer = render_markdown(result).split("### Related articles")[0].split("### 相关文章")[0]  # articles to read
    assert "traceback" in answer and not any(d.title in answer for d in result.differential if d.status == "candidate")


def test_a_bare_shared_symptom_still_names_its_likely_causes(rules, retriever):
    result = analyse_input(parse(as_parts("{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.1}")),
                           rules=rules, retriever=retriever).result
    assert result is not None and len(result.likely()) >= 2  # the causes of the symptom, and the question between them
