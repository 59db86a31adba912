"""The eval report's headline compares with the baselines only when the run had them."""

from service.evaluate import Report


def _report(with_baseline: bool) -> Report:
    report = Report("cases")
    report.add("tunedoc", "en", "fp16-overflow", ["fp16-overflow"], ["fp16-overflow"])
    report.add("tunedoc", "zh", "fp16-overflow", [], ["fp16-overflow"])
    if with_baseline:
        report.add("BM25", "en", "fp16-overflow", ["fp16-overflow"], ["fp16-overflow"])
        report.add("BM25", "zh", "fp16-overflow", ["fp16-overflow"], ["fp16-overflow"])
    return report


def test_without_baselines_the_report_claims_no_margin() -> None:
    text = _report(with_baseline=False).render(show_misses=False)
    assert "no baselines in this run" in text
    assert "minus the best baseline" not in text


def test_with_a_baseline_the_margin_is_against_it() -> None:
    text = _report(with_baseline=True).render(show_misses=False)
    # tunedoc 1 of 2 first, the BM25 baseline 2 of 2: 50 points behind.
    assert "tunedoc top-1 minus the best baseline's: -50.0 points" in text
