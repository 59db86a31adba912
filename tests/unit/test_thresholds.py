"""The abstention threshold chosen on out-of-fold predictions, alone or one per input language (service/learn.py)."""

from service.cases import OUT_OF_SCOPE, Case
from service.fusion import Candidate
from service.learn import Prediction, apply_threshold, choose_thresholds, nested_threshold_score, score


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
    assert chosen == {"en": 0.76, "zh": 0.76}  # the lowest that abstains on the English out-of-scope reports


def test_per_language_each_gets_the_threshold_its_own_reports_support():
    predictions = _reports()
    chosen = choose_thresholds(predictions, per_language=True)
    # the closest pair with the best top-1: English just above its out-of-scope reports, Chinese at its answers
    assert chosen == {"en": 0.76, "zh": 0.5}
    s = score([apply_threshold(p, chosen) for p in predictions])
    assert (s["top1"], s["abstained"], s["wrong_first"]) == (30 / 40, 1.0, 0.0)
    one = score([apply_threshold(p, 0.76) for p in predictions])  # the best single threshold
    assert one["top1"] == 10 / 40


def test_a_language_without_reports_takes_the_others_threshold():
    chosen = choose_thresholds([p for p in _reports() if p.lang == "en"], per_language=True)
    assert chosen["zh"] == chosen["en"] == 0.76


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
