"""The abstention threshold chosen on out-of-fold predictions, alone or one per input language, with the in-scope
gate (service/learn.py)."""

import random

from service.cases import OUT_OF_SCOPE, Case
from service.fusion import Candidate
from service.learn import (
    GRID,
    IN_SCOPE_GRID,
    WRONG_FIRST_BUDGET,
    Decision,
    Prediction,
    _tallies,
    apply_threshold,
    choose_thresholds,
    nested_threshold_score,
    score,
)


def _prediction(n: int, lang: str, cause: str, probability: float) -> Prediction:
    case = Case(url=f"https://example.org/{lang}/{cause}/{n}", cause=cause, lang=lang, symptom_en="x", symptom_zh="x")
    first = Candidate("c", "c", {}, False, probability)  # the cause every in-scope report here has
    return Prediction(case, [first], [], lang=lang)


def _reports() -> list[Prediction]:
    """English: sure answers at 0.9 and 0.7, out-of-scope reports at 0.75. Chinese: answers at 0.5, out-of-scope
    reports at 0.3. One threshold must sit above 0.75 to abstain on the English ones, and loses every Chinese answer."""
    out = [_prediction(i, "en", "c", 0.9 if i < 10 else 0.7) for i in range(20)]
    out += [_prediction(i, "en", OUT_OF_SCOPE, 0.75) for i in range(10)]
    out += [_prediction(i, "zh", "c", 0.5) for i in range(20)]
    out += [_prediction(i, "zh", OUT_OF_SCOPE, 0.3) for i in range(10)]
    return out


def test_by_default_one_threshold_serves_both_languages():
    chosen = choose_thresholds(_reports())
    # the lowest that abstains on the English out-of-scope reports; a gate at 0.76 would do the same, and a tie
    # goes to no gate
    assert chosen == Decision({"en": 0.76, "zh": 0.76}, 0.0)


def test_per_language_each_gets_the_threshold_its_own_reports_support():
    predictions = _reports()
    chosen = choose_thresholds(predictions, per_language=True)
    # the closest pair with the best top-1: English just above its out-of-scope reports, Chinese at its answers
    assert chosen == Decision({"en": 0.76, "zh": 0.5}, 0.0)
    s = score([apply_threshold(p, chosen) for p in predictions])
    assert (s["top1"], s["abstained"], s["wrong_first"]) == (30 / 40, 1.0, 0.0)
    one = score([apply_threshold(p, 0.76) for p in predictions])  # the best single threshold
    assert one["top1"] == 10 / 40


def test_a_language_without_reports_takes_the_others_threshold():
    chosen = choose_thresholds([p for p in _reports() if p.lang == "en"], per_language=True)
    assert chosen.thresholds["zh"] == chosen.thresholds["en"] == 0.76


def test_the_nested_choice_sees_only_the_other_folds():
    predictions = _reports()
    folds = {p.case.id: i % 5 for i, p in enumerate(predictions)}
    nested = nested_threshold_score(predictions, folds, per_language=True)
    assert nested["top1"] == 30 / 40 and nested["abstained"] == 1.0  # every fold's neighbours tell the same story
    # a fold holding every English out-of-scope report: chosen without them, English answers from 0.31 up
    skewed = {p.case.id: (0 if p.lang == "en" and p.case.cause == OUT_OF_SCOPE else 1 + i % 4)
              for i, p in enumerate(predictions)}
    assert nested_threshold_score(predictions, skewed, per_language=True)["abstained"] == 0.5


def test_what_an_abstention_names_at_each_floor():
    """eval --cv's table behind LIKELY_FLOOR: the right cause among the named candidates of the in-scope reports
    nothing was diagnosed for, and the out-of-scope reports that get a cause named at all."""
    from service.evaluate import _named_when_abstaining

    reports = [_prediction(i, "en", "c", 0.08) for i in range(4)] + [_prediction(9, "en", "c", 0.9)]
    reports += [_prediction(i, "en", OUT_OF_SCOPE, 0.03) for i in range(3)] + [_prediction(5, "en", OUT_OF_SCOPE, 0.3)]
    reports[4].diagnosed.append("c")  # answered: not an abstention, not counted
    rows = {line.split(" |")[0].lstrip("| ").split(" ")[0]: line for line in _named_when_abstaining(reports)
            if line.startswith("| 0.")}
    assert rows["0.05"].endswith("| 1.000 | 0.250 |")  # 0.08 is named; one out-of-scope report in four
    assert rows["0.10"].endswith("| 0.000 | 0.250 |")
    assert rows["0.02"].endswith("| 1.000 | 1.000 |")
    assert "4 in-scope and 4 out-of-scope" in _named_when_abstaining(reports)[1]


def _shared(n: int, cause: str, probabilities: tuple[float, ...], right_first: bool = True) -> Prediction:
    case = Case(url=f"https://example.org/g/{cause}/{n}", cause=cause, lang="en", symptom_en="x", symptom_zh="x")
    names = ["c", "d", "e"] if right_first else ["d", "c", "e"]
    ranked = [Candidate(name, name, {}, False, p) for name, p in zip(names, probabilities, strict=False)]
    return Prediction(case, ranked, [])


def test_the_gate_answers_reports_whose_probability_two_causes_share_and_still_abstains_out_of_scope():
    """In-scope reports: two related candidates at 0.5 and 0.45 (0.95 together). Out-of-scope ones: a single
    candidate at 0.6. No threshold alone answers the first without the second; the gate does."""
    predictions = [_shared(i, "c", (0.5, 0.45)) for i in range(20)]
    predictions += [_shared(i, OUT_OF_SCOPE, (0.6,)) for i in range(10)]
    alone = choose_thresholds(predictions, gate=False)
    assert score([apply_threshold(p, alone) for p in predictions])["top1"] == 0.0
    chosen = choose_thresholds(predictions)
    assert 0.6 < chosen.in_scope <= 0.95 and chosen.thresholds["en"] <= 0.5
    s = score([apply_threshold(p, chosen) for p in predictions])
    assert (s["top1"], s["abstained"], s["wrong_first"]) == (1.0, 1.0, 0.0)


def test_the_choice_keeps_wrong_first_answers_within_the_budget():
    """One in-scope report in ten has its right cause second: answering all of them at the gate would be 10% wrong
    first, so the choice gives those up (they sit lower) rather than exceed the budget."""
    predictions = [_shared(i, "c", (0.5, 0.45)) for i in range(18)]
    predictions += [_shared(i, "c", (0.48, 0.47), right_first=False) for i in range(18, 20)]
    predictions += [_shared(i, OUT_OF_SCOPE, (0.6,)) for i in range(10)]
    chosen = choose_thresholds(predictions)
    s = score([apply_threshold(p, chosen) for p in predictions])
    assert s["wrong_first"] <= WRONG_FIRST_BUDGET and s["top1"] == 18 / 20 and s["abstained"] == 1.0


def test_the_vectorised_tallies_decide_as_apply_threshold_does():
    """_tallies counts every (gate, threshold) at once from arrays; apply_threshold runs decide() itself. On random
    predictions with confirmed candidates, shared-symptom ones and out-of-scope reports the counts must agree."""
    rng = random.Random(7)
    predictions = []
    for n in range(300):
        cause = rng.choice(["a", "b", "c", OUT_OF_SCOPE])
        ranked = []
        for name in rng.sample(["a", "b", "c", "d"], rng.randint(0, 4)):
            shared = rng.random() < 0.15
            features = {"rule_group": 1.0, "rule_score": 0.5, "rule_symptom": 0.5} if shared else {"rule_score": 1.0}
            ranked.append(Candidate(name, name, features, rng.random() < 0.1, round(rng.random() / 2, 4),
                                    bare=shared))
        ranked.sort(key=lambda c: -c.probability)
        case = Case(url=f"https://example.org/r/{n}", cause=cause, lang="en", symptom_en="x", symptom_zh="x")
        predictions.append(Prediction(case, ranked, []))
    tallies = _tallies(predictions, "en", IN_SCOPE_GRID)
    for g, gate in list(enumerate(IN_SCOPE_GRID))[::5]:
        for t, threshold in list(enumerate(GRID))[::7]:
            decided = [apply_threshold(p, Decision({"en": threshold}, gate)) for p in predictions]
            in_scope = [p for p in decided if p.case.cause != OUT_OF_SCOPE]
            right = sum(bool(p.diagnosed) and p.diagnosed[0] == p.case.cause for p in in_scope)
            wrong = sum(bool(p.diagnosed) and p.diagnosed[0] != p.case.cause for p in in_scope)
            answered = sum(bool(p.diagnosed) for p in decided if p.case.cause == OUT_OF_SCOPE)
            assert tuple(tallies[g, t].tolist()) == (right, wrong, answered), (gate, threshold)
