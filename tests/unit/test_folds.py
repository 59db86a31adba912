"""Cross-validation folds (service/learn.fold_of): grouped by report, balanced per cause, and stable as the case base
grows, so that one new report does not re-draw every CV figure."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

from service.learn import FOLDS, fold_of


def _cases(spec: dict[str, int]) -> list:
    return [SimpleNamespace(id=f"github.com/o/{cause}/issues/{i}", cause=cause)
            for cause, n in spec.items() for i in range(n)]


SPEC = {"fp16-overflow": 23, "cuda-oom-training": 11, "out-of-scope": 40, "grpo-zero-advantage": 3}


def test_every_cause_is_spread_evenly_over_the_folds() -> None:
    folds = fold_of(_cases(SPEC))
    for cause, n in SPEC.items():
        sizes = Counter(folds[c.id] for c in _cases({cause: n}))
        counts = [sizes.get(f, 0) for f in range(FOLDS)]
        assert max(counts) - min(counts) <= 1, (cause, counts)


def test_a_new_report_moves_only_reports_of_its_own_cause() -> None:
    before = fold_of(_cases(SPEC))
    grown = _cases(SPEC) + [SimpleNamespace(id="github.com/o/new/issues/1", cause="fp16-overflow")]
    after = fold_of(grown)
    moved = {i for i in before if before[i] != after[i]}
    assert all("/fp16-overflow/" in i for i in moved)
    other = [i for i in before if "/fp16-overflow/" not in i]
    assert other and all(before[i] == after[i] for i in other)


def test_same_cases_same_folds_in_any_order() -> None:
    cases = _cases(SPEC)
    assert fold_of(cases) == fold_of(list(reversed(cases)))
