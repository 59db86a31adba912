"""Fit and measure the fusion model on the case base: `tunedoc train` and `tunedoc eval --cv`.

Every case is diagnosed once as the paste it digests (its symptom in the reporter's language, settings, versions and
machine lines); retrieval results are kept whole, and each fold masks out its own cases, so a case never votes for
itself or for another report in its fold. Folds are grouped by thread. The model is a conditional logit over each
report's candidate causes plus a none-alternative (service/fusion.py); the abstention threshold is the one with the
best top-1 that keeps out-of-scope abstention and wrong first answers within their goals in cross-validation, chosen
together with the in-scope gate (the least probability the candidates must hold together); the model can hold one
threshold per input language (choosing a pair was measured and is not the default). The final model is refitted on
all cases.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from service.cases import OUT_OF_SCOPE, Case, CaseBase
from service.classify import CLASSIFIER_C, CauseClassifier, classifier_path
from service.fusion import (
    FEATURES,
    REPORT_FEATURES,
    Candidate,
    FusionModel,
    candidates,
    decide,
    fusion_text,
    in_scope_mass,
    is_bare,
    only_shared_symptom,
    rank_candidates,
    rule_precision,
)
from service.lexical import LexicalClassifier, combine, lexical_path
from service.parse import parse
from service.pipeline import Analysis, as_parts, load_rules
from service.retrieval import Retriever

FOLDS = 5
OOS_ABSTENTION_GOAL = 0.90
# What the threshold choice allows of wrong first answers: half a point under the goal (5%). With the in-scope gate,
# wrong first answers, not out-of-scope abstention alone, bind the choice, and a choice made at the goal's edge on
# the case base would miss it on unseen reports about half the time.
WRONG_FIRST_BUDGET = 0.045
C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)


@dataclass
class Prepared:
    """One case diagnosed without the fusion step: rule outcome and full retrieval results."""

    case: Case
    analysis: Analysis
    fold: int


@dataclass
class Prediction:
    case: Case
    ranked: list[Candidate]  # diagnoses first, then the differential candidates
    diagnosed: list[str]  # categories the answer stands behind (empty: abstained)
    baselines: dict[str, list[str]] = field(default_factory=dict)
    lang: str = "en"  # the input's language as the pipeline detects it: it picks the threshold

    @property
    def top_probability(self) -> float:
        return self.ranked[0].probability if self.ranked else 0.0

    @property
    def ranked_categories(self) -> list[str]:
        return [c.category for c in self.ranked]


def fold_of(cases: list[Case], folds: int = FOLDS) -> dict[str, int]:
    """Deterministic folds grouped by thread and balanced per cause: a round robin over each cause's reports in the
    order of a hash of their ids, from an offset hashed from the cause. A new report moves only the reports of its own
    cause that follow it in that order (a round robin over ids sorted by name, with one running offset across causes,
    moved most of the base to other folds whenever one report was added, which re-drew every CV figure between
    commits)."""
    out: dict[str, int] = {}
    by_cause: dict[str, list[str]] = defaultdict(list)
    for case in cases:
        by_cause[case.cause].append(case.id)
    for cause, ids in by_cause.items():
        offset = _stable_hash(cause) % folds
        for i, case_id in enumerate(sorted(set(ids), key=lambda x: (_stable_hash(x), x))):
            out[case_id] = (i + offset) % folds
    return out


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def prepare(retriever: Retriever, base: CaseBase, folds: int = FOLDS) -> list[Prepared]:
    from service.pipeline import analyse_input

    rules = load_rules(str(retriever.catalogue.root))
    assignment = fold_of(base.cases, folds)
    prepared = []
    for case in base.cases:
        parsed = parse(as_parts(case.render()))
        # Cases vote later, per fold: here only rules and retrieval run (an empty case map: no fusion votes).
        analysis = analyse_input(parsed, rules=rules, retriever=retriever, cause_of={})
        prepared.append(Prepared(case, analysis, assignment[case.id]))
    return prepared


class Stacked:
    """The cause classifiers' probabilities for each report, as fusion may see them: from classifiers fitted without
    the report's own fold and without the fold under test (stacking: the fusion model learns how far to trust the
    classifiers on reports they never saw, as it will be at run time). One fit per set of held-out folds. Two
    classifiers, read together (service/lexical.combine): over the query embedding (service/classify.py) and, with
    `lexical`, over the words of the paste (service/lexical.py)."""

    def __init__(self, prepared: list[Prepared], c: float = CLASSIFIER_C, lexical: bool = True) -> None:
        self.prepared = prepared
        self.c = c
        self.lexical = lexical
        self._fitted: dict[frozenset[int], CauseClassifier] = {}
        self._lexical: dict[frozenset[int], LexicalClassifier] = {}
        self._probs: dict[tuple[frozenset[int], str], dict[str, float]] = {}

    def fit(self, held_out: frozenset[int] = frozenset(), meta: dict[str, object] | None = None) -> CauseClassifier:
        """A classifier of every report with a query, except those of the held-out folds."""
        rows = [(p.analysis.vector, p.case.cause) for p in self.prepared if p.fold not in held_out]
        kept = [(vector, cause) for vector, cause in rows if vector is not None]
        return CauseClassifier.fit([v for v, _ in kept], [c for _, c in kept], self.c,
                                   {"cases": len(kept), "C": self.c, **(meta or {})})

    def fit_lexical(self, held_out: frozenset[int] = frozenset()) -> LexicalClassifier:
        """The lexical classifier of every report with a query, except those of the held-out folds."""
        kept = [p for p in self.prepared if p.fold not in held_out and p.analysis.vector is not None]
        return LexicalClassifier.fit([fusion_text(p.analysis.parsed) for p in kept], [p.case.cause for p in kept])

    def _classifier(self, held_out: frozenset[int]) -> CauseClassifier:
        if held_out not in self._fitted:
            self._fitted[held_out] = self.fit(held_out)
        return self._fitted[held_out]

    def _lexical_classifier(self, held_out: frozenset[int]) -> LexicalClassifier:
        if held_out not in self._lexical:
            self._lexical[held_out] = self.fit_lexical(held_out)
        return self._lexical[held_out]

    def of(self, item: Prepared, fold_under_test: int | None) -> dict[str, float] | None:
        """`fold_under_test`: None when fitting the final model on every fold (then out-of-fold probabilities)."""
        if item.analysis.vector is None:
            return None
        held_out = frozenset({item.fold} if fold_under_test is None else {item.fold, fold_under_test})
        key = (held_out, item.case.id)
        if key not in self._probs:
            semantic = self._classifier(held_out).probabilities(item.analysis.vector)
            lexical = (self._lexical_classifier(held_out).probabilities(fusion_text(item.analysis.parsed))
                       if self.lexical else None)
            mixed = combine(semantic, lexical)
            assert mixed is not None  # the embedding classifier always speaks here
            self._probs[key] = mixed
        return self._probs[key]


def _features(item: Prepared, retriever: Retriever, allowed: dict[str, str],
              cause_probs: dict[str, float] | None) -> tuple[list[Candidate], dict[str, float]]:
    if item.analysis.hits is None:
        return [], {}
    cause_of = {i: c for i, c in allowed.items() if i != item.case.id}
    return candidates(retriever.catalogue, item.analysis.outcome, item.analysis.hits, cause_of,
                      item.analysis.signals, bare=is_bare(item.analysis.parsed),
                      cause_probs=cause_probs)


@dataclass
class Group:
    """One report for fitting: its candidates' features, its report features, which candidate is right (-1: none)."""

    rows: list[dict[str, float]]
    report: dict[str, float]
    target: int


def _groups(items: list[Prepared], retriever: Retriever, allowed: dict[str, str], stacked: Stacked,
            fold_under_test: int | None) -> list[Group]:
    groups = []
    for item in items:
        found, report = _features(item, retriever, allowed, stacked.of(item, fold_under_test))
        cats = [c.category for c in found]
        target = cats.index(item.case.cause) if item.case.cause in cats else -1
        groups.append(Group([c.features for c in found], report, target))
    return groups


def fit(groups: list[Group], c: float) -> FusionModel:
    """Conditional logit with a none-alternative, L2-penalised (strength 1/C per report), by L-BFGS."""
    from scipy.optimize import minimize

    rows = np.asarray([[r[n] for n in FEATURES] for g in groups for r in g.rows] or [[0.0] * len(FEATURES)])
    reports = np.asarray([[g.report.get(n, 0.0) for n in REPORT_FEATURES] for g in groups])
    mean_x, scale_x = rows.mean(axis=0), rows.std(axis=0)
    mean_r, scale_r = reports.mean(axis=0), reports.std(axis=0)
    scale_x[scale_x == 0], scale_r[scale_r == 0] = 1.0, 1.0
    width = max([len(g.rows) for g in groups] + [1])
    d, e = len(FEATURES), len(REPORT_FEATURES)
    x = np.zeros((len(groups), width, d))
    mask = np.zeros((len(groups), width), dtype=bool)
    for i, g in enumerate(groups):
        for j, r in enumerate(g.rows):
            x[i, j] = ([r[n] for n in FEATURES] - mean_x) / scale_x
            mask[i, j] = True
    r = (reports - mean_r) / scale_r
    target = np.asarray([g.target for g in groups])
    onehot = np.zeros((len(groups), width + 1))  # column 0: none
    onehot[np.arange(len(groups)), target + 1] = 1.0
    penalty = 1.0 / c

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, v, b = theta[:d], theta[d:d + e], theta[-1]
        utilities = np.where(mask, x @ w, -np.inf)
        none = r @ v + b
        allu = np.concatenate([none[:, None], utilities], axis=1)
        top = allu.max(axis=1, keepdims=True)
        exps = np.exp(allu - top)
        probs = exps / exps.sum(axis=1, keepdims=True)
        logz = np.log(exps.sum(axis=1)) + top[:, 0]
        ll = float((onehot * np.where(np.isfinite(allu), allu, 0.0)).sum() - logz.sum())
        diff = onehot - probs
        grad_w = np.einsum("ij,ijk->k", diff[:, 1:], x)
        grad_v = diff[:, 0] @ r
        grad_b = diff[:, 0].sum()
        value = -ll + 0.5 * penalty * (w @ w + v @ v)
        grad = -np.concatenate([grad_w, grad_v, [grad_b]]) + penalty * np.concatenate([w, v, [0.0]])
        return value, grad

    result = minimize(loss, np.zeros(d + e + 1), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    theta = result.x
    return FusionModel(
        weights={n: round(float(w), 6) for n, w in zip(FEATURES, theta[:d], strict=False)},
        none_weights={n: round(float(v), 6) for n, v in zip(REPORT_FEATURES, theta[d:d + e], strict=False)},
        none_bias=round(float(theta[-1]), 6), threshold=0.5,
        mean={**{n: round(float(m), 6) for n, m in zip(FEATURES, mean_x, strict=False)},
              **{n: round(float(m), 6) for n, m in zip(REPORT_FEATURES, mean_r, strict=False)}},
        scale={**{n: round(float(s), 6) for n, s in zip(FEATURES, scale_x, strict=False)},
               **{n: round(float(s), 6) for n, s in zip(REPORT_FEATURES, scale_r, strict=False)}},
    )


def _predict(item: Prepared, retriever: Retriever, allowed: dict[str, str], model: FusionModel,
             cause_probs: dict[str, float] | None) -> Prediction:
    found, report = _features(item, retriever, allowed, cause_probs)
    ranked = rank_candidates(found, report, model)
    chosen, rest = decide(ranked, model, item.analysis.lang)
    return Prediction(item.case, chosen + rest, [c.category for c in chosen], lang=item.analysis.lang)


Thresholds = dict[str, float]  # input language -> threshold
LANGS = ("en", "zh")


@dataclass(frozen=True)
class Decision:
    """When a cause the rules do not confirm is `probable`: its probability reaches the threshold of the input's
    language, and the candidates together hold at least `in_scope` (FusionModel.in_scope; 0: no gate)."""

    thresholds: Thresholds
    in_scope: float = 0.0


def cross_validate(prepared: list[Prepared], retriever: Retriever, c: float = 0.3,
                   threshold: float | None = None,
                   stacked: Stacked | None = None) -> tuple[list[Prediction], Decision]:
    """Out-of-fold predictions (each fold's model, classifier included, fitted on the other folds), and the
    decision rule they support (`threshold`: one given for both languages, without a gate)."""
    stacked = stacked or Stacked(prepared)
    everything = {p.case.id: p.case.cause for p in prepared}
    predictions: list[Prediction] = []
    for fold in sorted({p.fold for p in prepared}):
        allowed = {i: cause for i, cause in everything.items() if i not in
                   {p.case.id for p in prepared if p.fold == fold}}
        train = [p for p in prepared if p.fold != fold]
        model = fit(_groups(train, retriever, allowed, stacked, fold), c)
        model.confirmed_floor, model.rule_precision = rule_precision(confirmations(train))
        model.case_counts = case_counts(train)
        model.threshold = 1.01  # decide later, on all out-of-fold predictions together
        predictions += [_predict(p, retriever, allowed, model, stacked.of(p, fold)) for p in prepared if p.fold == fold]
    chosen = Decision(dict.fromkeys(LANGS, threshold)) if threshold is not None else choose_thresholds(predictions)
    return [apply_threshold(p, chosen) for p in predictions], chosen


def apply_threshold(prediction: Prediction, threshold: float | Thresholds | Decision) -> Prediction:
    """The prediction decided again at `threshold` (one for every language, one per language, or a whole decision
    rule with its in-scope gate; without one, no gate)."""
    decision = threshold if isinstance(threshold, Decision) else Decision(
        threshold if isinstance(threshold, dict) else dict.fromkeys(LANGS, float(threshold)))
    model = FusionModel(weights={}, none_weights={}, none_bias=0.0,
                        threshold=decision.thresholds.get(prediction.lang, 1.01), in_scope=decision.in_scope)
    chosen, rest = decide(prediction.ranked, model)
    return Prediction(prediction.case, chosen + rest, [c.category for c in chosen], prediction.baselines,
                      prediction.lang)


def case_counts(items: list[Prepared]) -> dict[str, int]:
    """How many reports of `items` each in-scope cause has (the model's tie-break between equal probabilities)."""
    return dict(sorted(Counter(item.case.cause for item in items if item.case.cause != OUT_OF_SCOPE).items()))


def confirmations(items: list[Prepared]) -> list[tuple[str, bool]]:
    """(cause, right?) for every cause the rules confirm in each report: what a confirmation's precision is made of.
    The rules are not fitted, so measuring them on the training folds is fair to the fold under test."""
    out = []
    for item in items:
        confirmed = {r.article.category for r in item.analysis.outcome.articles.values() if r.status == "diagnosed"}
        out += [(category, category == item.case.cause) for category in sorted(confirmed)]
    return out


GRID = tuple(step / 100 for step in range(5, 100))
IN_SCOPE_GRID = (0.0, *(step / 100 for step in range(50, 100, 2)))  # the gate: none, or from an even chance up


def _answers(predictions: list[Prediction]) -> dict[str, np.ndarray]:
    """What decide() needs of each prediction to answer at any threshold and gate, as arrays: whether a cause is
    confirmed (then it answers, rightly or not, whatever the threshold), and the first candidate the model could
    make probable (its probability, whether it is right) with the candidates' total probability."""
    never = FusionModel(weights={}, none_weights={}, none_bias=0.0, threshold=1.01)
    confirmed, confirmed_right, best_p, best_right, mass, oos = [], [], [], [], [], []
    for p in predictions:
        first = decide(p.ranked, never)[0]
        # ranked holds the unconfirmed candidates in probability order: the first decide() may answer is the best
        best = next((c for c in p.ranked if not c.confirmed and not only_shared_symptom(c)), None)
        confirmed.append(bool(first))
        confirmed_right.append(bool(first) and first[0].category == p.case.cause)
        best_p.append(best.probability if best is not None else -1.0)
        best_right.append(best is not None and best.category == p.case.cause)
        mass.append(in_scope_mass(p.ranked))
        oos.append(p.case.cause == OUT_OF_SCOPE)
    flags = {"confirmed": confirmed, "confirmed_right": confirmed_right, "best_right": best_right, "oos": oos}
    return {**{name: np.asarray(values, dtype=bool) for name, values in flags.items()},
            "best_p": np.asarray(best_p, dtype=float), "mass": np.asarray(mass, dtype=float)}


def _tallies(predictions: list[Prediction], lang: str, gates: tuple[float, ...]) -> np.ndarray:
    """(gates x GRID x 3): for each gate and threshold, (in-scope right first, in-scope wrong first, out-of-scope
    answered) over the predictions of one language, as apply_threshold() decides them (tests/unit/test_thresholds.py
    holds the two equal). Counts add up across languages, so every pair of thresholds is scored from these."""
    a = _answers([p for p in predictions if p.lang == lang])
    opened = ~a["confirmed"][None, :] & (a["mass"][None, :] >= np.asarray(gates)[:, None])  # gates x reports
    by_model = opened[:, None, :] & (a["best_p"][None, None, :] >= np.asarray(GRID)[None, :, None])
    answered = a["confirmed"] | by_model
    right = (a["confirmed"] & a["confirmed_right"]) | (by_model & a["best_right"])
    in_scope = ~a["oos"]
    return np.stack([(in_scope & right).sum(axis=2), (in_scope & answered & ~right).sum(axis=2),
                     (a["oos"] & answered).sum(axis=2)], axis=2)


def choose_thresholds(predictions: list[Prediction], per_language: bool = False, gate: bool = True) -> Decision:
    """The decision rule: the threshold and in-scope gate with the best top-1 among those with out-of-scope
    abstention >= the goal and wrong first answers within WRONG_FIRST_BUDGET, over all reports (ties: the lower
    gate, then the lower threshold). `gate=False`: no gate, the threshold alone. `per_language`: a pair of
    thresholds, one per input language, chosen together the same way (ties: the closer pair first) — measured, not
    the default: on the 976-report base the pair chosen out of fold was no better than one threshold (README). When
    nothing reaches both goals (rules alone already diagnose some out-of-scope reports), the choice that maximises
    top-1 plus out-of-scope abstention with wrong first answers still within the budget: a wrong answer costs more
    than an abstention, and both kinds of report count. A language with no reports gets the other's threshold."""
    n_in = max(1, sum(p.case.cause != OUT_OF_SCOPE for p in predictions))
    n_oos = max(1, sum(p.case.cause == OUT_OF_SCOPE for p in predictions))
    gates = IN_SCOPE_GRID if gate else (0.0,)
    present = [lang for lang in LANGS if any(p.lang == lang for p in predictions)] or ["en"]
    tallies = [_tallies(predictions, lang, gates) for lang in present]
    # Every choice at once: (gate, threshold of each present language) -> counts, summed over the languages.
    if per_language and len(present) == 2:
        counts = tallies[0][:, :, None, :] + tallies[1][:, None, :, :]
        index: list[tuple[int, tuple[int, ...]]] = [(g, (i, j)) for g in range(len(gates))
                                                    for i in range(len(GRID)) for j in range(len(GRID))]
    else:
        counts = sum(tallies[1:], tallies[0])
        index = [(g, (i,) * len(present)) for g in range(len(gates)) for i in range(len(GRID))]
    counts = counts.reshape(-1, 3)
    top1, wrong, abstained = counts[:, 0] / n_in, counts[:, 1] / n_in, 1 - counts[:, 2] / n_oos
    feasible = (abstained >= OOS_ABSTENTION_GOAL) & (wrong <= WRONG_FIRST_BUDGET)
    within = wrong <= WRONG_FIRST_BUDGET
    allowed = feasible if feasible.any() else within if within.any() else np.ones_like(feasible)
    value = np.round(top1 + (0.0 if feasible.any() else abstained), 6)
    best_value = value[allowed].max()

    def preference(k: int) -> tuple:
        g, pair = index[k]
        thresholds = [GRID[i] for i in pair]
        return (-round(max(thresholds) - min(thresholds), 2), -gates[g], [-t for t in thresholds])

    g, pair = index[max(np.flatnonzero(allowed & (value == best_value)).tolist(), key=preference)]
    chosen = {lang: GRID[i] for lang, i in zip(present, pair, strict=True)}
    return Decision({lang: chosen.get(lang, GRID[pair[0]]) for lang in LANGS}, gates[g])


def nested_threshold_score(predictions: list[Prediction], folds: dict[str, int],
                           per_language: bool = False, gate: bool = True) -> dict[str, float]:
    """The scores when each fold's decision rule is chosen on the other folds' predictions only: what choosing it
    on all out-of-fold predictions at once (as `train` does) may flatter."""
    out: list[Prediction] = []
    for fold in sorted(set(folds.values())):
        chosen = choose_thresholds([p for p in predictions if folds[p.case.id] != fold], per_language, gate)
        out += [apply_threshold(p, chosen) for p in predictions if folds[p.case.id] == fold]
    return score(out)


def describe(decision: Decision) -> str:
    """`threshold 0.79`, or `thresholds en 0.80, zh 0.61` when the languages differ, and `, in-scope gate 0.82`."""
    thresholds = decision.thresholds
    if len(set(thresholds.values())) == 1:
        text = f"threshold {next(iter(thresholds.values())):.2f}"
    else:
        text = "thresholds " + ", ".join(f"{lang} {value:.2f}" for lang, value in sorted(thresholds.items()))
    return text + (f", in-scope gate {decision.in_scope:.2f}" if decision.in_scope else "")


def score(predictions: list[Prediction]) -> dict[str, float]:
    in_scope = [p for p in predictions if p.case.cause != OUT_OF_SCOPE]
    oos = [p for p in predictions if p.case.cause == OUT_OF_SCOPE]
    top1 = sum(bool(p.diagnosed) and p.diagnosed[0] == p.case.cause for p in in_scope)
    wrong = sum(bool(p.diagnosed) and p.diagnosed[0] != p.case.cause for p in in_scope)
    top3 = sum(p.case.cause in p.ranked_categories[:3] for p in in_scope)
    abstained = sum(not p.diagnosed for p in oos)
    return {"n_in": len(in_scope), "n_oos": len(oos), "top1": top1 / max(1, len(in_scope)),
            "top3": top3 / max(1, len(in_scope)), "wrong_first": wrong / max(1, len(in_scope)),
            "abstained": abstained / max(1, len(oos))}


def log_loss(predictions: list[Prediction]) -> float:
    """Mean negative log-likelihood of what happened: the right cause when a candidate names it, otherwise the
    none-alternative (out of scope, or a cause no candidate names). A proper score: it picks calibrated models."""
    total = 0.0
    for p in predictions:
        probabilities = {c.category: c.probability for c in p.ranked}
        if p.case.cause in probabilities:
            likelihood = probabilities[p.case.cause]
        else:
            likelihood = 1.0 - sum(probabilities.values())
        total -= math.log(min(1.0, max(1e-4, likelihood)))
    return round(total / max(1, len(predictions)), 4)


def calibration(predictions: list[Prediction], bins: int = 10) -> tuple[float, list[tuple[float, float, int]]]:
    """ECE of the first-ranked cause's probability against whether it is right, and the diagram's bins."""
    buckets: dict[int, list[tuple[float, bool]]] = defaultdict(list)
    for p in predictions:
        if not p.ranked:
            continue
        confidence = p.ranked[0].probability
        right = p.ranked[0].category == p.case.cause
        buckets[min(bins - 1, int(confidence * bins))].append((confidence, right))
    total = sum(len(b) for b in buckets.values()) or 1
    ece, rows = 0.0, []
    for index in sorted(buckets):
        items = buckets[index]
        mean_conf = sum(c for c, _ in items) / len(items)
        accuracy = sum(r for _, r in items) / len(items)
        ece += len(items) / total * abs(mean_conf - accuracy)
        rows.append((round(mean_conf, 3), round(accuracy, 3), len(items)))
    return round(ece, 4), rows


def reliability_svg(rows: list[tuple[float, float, int]], ece: float, title: str) -> str:
    size, pad = 320, 40
    scale = size - 2 * pad

    def xy(a: float, b: float) -> tuple[float, float]:
        return pad + a * scale, size - pad - b * scale

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" font-family="sans-serif" '
             f'font-size="11"><rect width="{size}" height="{size}" fill="white"/>',
             f'<line x1="{pad}" y1="{size - pad}" x2="{size - pad}" y2="{pad}" stroke="#999" stroke-dasharray="4"/>',
             f'<rect x="{pad}" y="{pad}" width="{scale}" height="{scale}" fill="none" stroke="#333"/>']
    biggest = max((n for *_, n in rows), default=1)
    for conf, acc, n in rows:
        x, y = xy(conf, acc)
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{3 + 9 * math.sqrt(n / biggest):.1f}" '
                     f'fill="#4c78a8" fill-opacity="0.7"><title>{n} reports: confidence {conf}, right {acc}'
                     f'</title></circle>')
    parts.append(f'<text x="{pad}" y="{pad - 12}">{title} (ECE {ece:.3f})</text>')
    parts.append(f'<text x="{size / 2 - 30}" y="{size - 10}">confidence</text>')
    parts.append(f'<text x="10" y="{size / 2}" transform="rotate(-90 10 {size / 2})">accuracy</text>')
    return "".join(parts) + "</svg>\n"


def baseline_rankings(item: Prepared, retriever: Retriever, allowed: dict[str, str]) -> dict[str, list[str]]:
    """BM25 over articles, tunedoc's hybrid search, plain RAG (article chunks), and a kNN vote over the cases."""
    by_id = retriever.catalogue.by_id
    hits = item.analysis.hits
    text = item.case.render()

    def categories(ids: list[str]) -> list[str]:
        out: list[str] = []
        for i in ids:
            category = by_id[i].category if i in by_id else i
            if category not in out:
                out.append(category)
        return out

    dense = [i for i, _ in retriever.dense_ranking(text[:4000], kinds=("article",))]
    votes: dict[str, float] = defaultdict(float)
    neighbours = sorted(((s, i) for i, s in (hits.case_dense if hits else {}).items()
                         if i in allowed and i != item.case.id), reverse=True)[:10]
    for similarity, case_id in neighbours:
        votes[allowed[case_id]] += similarity
    return {
        "hybrid search": categories([h.id for h in hits.articles]) if hits else [],
        "BM25": categories(retriever.bm25_ranking(text, articles_only=True)),
        "plain RAG": categories(dense),
        "kNN cases": [c for c, _ in sorted(votes.items(), key=lambda x: (-x[1], x[0])) if c != OUT_OF_SCOPE],
    }


def train(retriever: Retriever, out: Path, c: float | None = None) -> tuple[FusionModel, list[Prediction], str]:
    """Choose C and the threshold by cross-validation, refit on every case, save. Returns the CV predictions too."""
    base = retriever.cases
    prepared = prepare(retriever, base)
    stacked = Stacked(prepared)
    best = None
    for candidate_c in ([c] if c is not None else C_GRID):
        predictions, decision = cross_validate(prepared, retriever, candidate_c, stacked=stacked)
        key = (-log_loss(predictions), candidate_c)  # C by the proper score; the threshold by the goals
        if best is None or key > best[0]:
            best = (key, candidate_c, decision, predictions)
    assert best is not None  # the grid is never empty
    _, chosen_c, decision, predictions = best
    everything = {p.case.id: p.case.cause for p in prepared}
    model = fit(_groups(prepared, retriever, everything, stacked, None), chosen_c)
    thresholds = decision.thresholds
    model.threshold = max(thresholds.values())  # for a language the model was not measured on: the stricter one
    model.thresholds = dict(thresholds) if len(set(thresholds.values())) > 1 else {}
    model.in_scope = decision.in_scope
    model.confirmed_floor, model.rule_precision = rule_precision(confirmations(prepared))
    model.case_counts = case_counts(prepared)
    s = score(predictions)
    ece, _ = calibration(predictions)
    model.meta = {"cases": len(base.cases), "C": chosen_c, "folds": FOLDS, "cv_top1": round(s["top1"], 4),
                  "cv_top3": round(s["top3"], 4), "cv_wrong_first": round(s["wrong_first"], 4),
                  "cv_oos_abstained": round(s["abstained"], 4), "cv_ece": ece,
                  "cv_log_loss": log_loss(predictions), "confirmed_floor": model.confirmed_floor,
                  "decisive": sorted(c for c in model.rule_precision if model.decisive(c)),
                  "embedding_model": retriever.model_name, "features": list(FEATURES)}
    model.save(out)
    classifier = classifier_path(out)
    stacked.fit(meta={"embedding_model": retriever.model_name}).save(classifier)
    if stacked.lexical:
        stacked.fit_lexical().save(lexical_path(out))
    summary = (f"trained on {len(base.cases)} cases (C={chosen_c}, {describe(decision)}); "
               f"cross-validated: "
               f"top-1 {s['top1']:.3f}, top-3 {s['top3']:.3f}, wrong first {s['wrong_first']:.3f}, out-of-scope "
               f"abstained {s['abstained']:.3f}, ECE {ece:.3f}; weights in {out}, {classifier} and "
               f"{lexical_path(out)}")
    return model, predictions, summary
