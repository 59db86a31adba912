"""Fusion: retrieval proposes causes, rules confirm or rule them out, a calibrated model ranks them.

For one input, every cause that retrieval or the rules point at becomes a candidate, described by a few features:
what the rules say of its articles (diagnosed, candidate, score, an active shared-symptom group), where retrieval
ranks its articles, how the nearest real reports of the case base vote (dense and BM25 neighbours, and how close
the nearest out-of-scope reports are), and what the cause classifier over the whole case base says of it
(service/classify.py). A logistic regression, fitted by `tunedoc train` with cross-validation over
the case base and stored as plain JSON (`kb/model/fusion.json`), turns the features into the probability that the
cause is the right one. The model is a conditional logit with a "none of these" alternative: the candidates compete
with each other and with the chance that the report is out of scope or of a cause no candidate names, so the
probabilities of one report sum to at most one and abstention is the none-alternative winning. Rules stay hard
where they are decisive: a cause whose articles are all ruled out by an
`exclude` or a failing required condition is never a candidate; a cause whose rules hold is `confirmed`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from service.cases import OUT_OF_SCOPE
from service.kb import KB_DIR, Catalogue
from service.models import Parsed
from service.rules import RuleOutcome
from service.vectors import CaseScores

if TYPE_CHECKING:
    from service.retrieval import RetrievalHits

K_NEIGHBOURS = 10
DECISIVE = 0.6  # measured precision at which a cause's rule confirmation decides on its own
PRECISION_PRIOR = 2.0  # pseudo-counts pulling a cause's measured rule precision towards the overall rate
MAX_CANDIDATES = 8
CLF_FLOOR = 1e-3  # the classifier feature is log(p + floor): a ratio scale, without -inf for a cause it never saw
CLF_PROPOSES = 0.2  # a cause the classifier gives at least this is a candidate even if nothing else proposed it
FEATURES = (  # of one candidate cause
    "rule_confirmed", "rule_candidate", "rule_score", "rule_symptom", "rule_group",
    "art_rank", "art_bm25_rank", "art_dense", "art_dense_gap",
    "case_vote", "case_top", "case_top_gap", "case_bm25_vote", "clf",
)
REPORT_FEATURES = (  # of the report as a whole: they drive the "none of these" alternative
    "oos_vote", "oos_gap", "best_case", "best_article", "rule_evidence", "max_rule_score", "no_query",
    "has_error", "has_log", "describes_failure", "clf_oos", "clf_max",
)
# Not report features, though they once were: the paste's length, whether it has a config block, and how many
# question words it uses. On the case base they are artefacts of how a case is written (a digest of a few hundred
# characters, in declarative sentences, rendered with `model:` / `framework:` lines that read as a config); real
# reports are longer, ask questions and often have no config. On the dev sets' 117 real in-scope reports they sit
# 1.7, -2.5 and 1.2 case-base standard deviations away from the case base's in-scope reports
# (`python -m benchmarks.feature_shift`); with the weights fitted on the case base that moved a real report's "none"
# utility by about +0.4 logit (ad hoc, with the model of 95e5d32), enough to turn a 0.80 answer into an abstention.
# Cross-validation on the case base cannot see that and scores the same without them; the real dev reports gained
# (README, *How the numbers got here*).


@dataclass(frozen=True)
class Candidate:
    category: str
    article: str  # the article that answers for the category (the best-scoring one)
    features: dict[str, float]
    confirmed: bool
    probability: float = 0.0
    neighbours: tuple[tuple[str, float], ...] = ()  # nearest cases of this cause (id, similarity)
    bare: bool = False  # the paste is only machine output and a sentence (is_bare): read by decide(), not the model


@dataclass
class FusionModel:
    weights: dict[str, float]  # candidate utility
    none_weights: dict[str, float]  # utility of "none of these", from the report features
    none_bias: float
    threshold: float  # probability at or above which a non-confirmed cause is `probable`
    mean: dict[str, float] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)
    meta: dict[str, object] = field(default_factory=dict)
    # How often a cause the rules confirm is right, measured on the case base: over all causes (`confirmed_floor`)
    # and per cause, smoothed towards the overall rate (`rule_precision`). A confirmation is only decisive where its
    # cause's measured precision reaches DECISIVE; there it is never given less than that precision (the features of
    # a two-line paste say little, but its rules can be decisive). Elsewhere (a symptom many causes share, stated in
    # prose) the confirmation is one more feature for the model.
    confirmed_floor: float = 0.0
    rule_precision: dict[str, float] = field(default_factory=dict)
    # The threshold per input language (`en`, `zh`), chosen together by cross-validation: how far the model's
    # probabilities separate in-scope reports from out-of-scope ones differs between the languages. A language
    # without its own uses `threshold`.
    thresholds: dict[str, float] = field(default_factory=dict)
    # How many reports of the case base each cause has: candidates the model gives the same probability (their
    # features are the same: a bare log whose symptom the group shares) are ranked by it, the cause seen more often
    # first, rather than by name.
    case_counts: dict[str, int] = field(default_factory=dict)
    # The least total probability the candidates must hold together for any of them to be `probable`: the model's
    # "the cause is one of these" as a gate apart from "and it is this one" (`threshold`). Out-of-scope reports
    # mostly fail the gate; an in-scope report whose probability two related causes share passes it, and its first
    # cause can then be answered at a lower threshold. Chosen with the threshold by cross-validation (0: no gate).
    in_scope: float = 0.0

    def threshold_for(self, lang: str) -> float:
        return self.thresholds.get(lang, self.threshold)

    def precision(self, category: str) -> float:
        return self.rule_precision.get(category, self.confirmed_floor)

    def decisive(self, category: str) -> bool:
        return self.precision(category) >= DECISIVE

    def _utility(self, weights: dict[str, float], features: dict[str, float]) -> float:
        z = 0.0
        for name, weight in weights.items():
            # A feature the input lacks (no classifier for this embedding model) counts as average: no push either way.
            value = features.get(name, self.mean.get(name, 0.0))
            z += weight * (value - self.mean.get(name, 0.0)) / (self.scale.get(name, 1.0) or 1.0)
        return max(-40.0, min(40.0, z))

    def probabilities(self, features: list[dict[str, float]], report: dict[str, float]) -> list[float]:
        """P(candidate i is the cause) for each candidate of one report (softmax with the none-alternative)."""
        none = self._utility(self.none_weights, report) + self.none_bias
        utilities = [self._utility(self.weights, f) for f in features]
        top = max([none, *utilities])
        exps = [math.exp(u - top) for u in utilities]
        total = math.exp(none - top) + sum(exps)
        return [round(e / total, 4) for e in exps]

    @classmethod
    def load(cls, path: Path | None = None) -> FusionModel | None:
        path = path or Path(KB_DIR) / "model" / "fusion.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        try:
            return cls(weights=data["weights"], none_weights=data["none_weights"], none_bias=data["none_bias"],
                       threshold=data["threshold"], mean=data.get("mean", {}), scale=data.get("scale", {}),
                       meta=data.get("meta", {}), confirmed_floor=data.get("confirmed_floor", 0.0),
                       rule_precision=data.get("rule_precision", {}), thresholds=data.get("thresholds", {}),
                       case_counts=data.get("case_counts", {}), in_scope=data.get("in_scope", 0.0))
        except KeyError:
            return None  # an older format: rank without a model until `tunedoc train` runs again

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {"weights": self.weights, "none_weights": self.none_weights, "none_bias": self.none_bias,
                "threshold": self.threshold, "mean": self.mean, "scale": self.scale, "meta": self.meta,
                "confirmed_floor": self.confirmed_floor, "rule_precision": self.rule_precision,
                "thresholds": self.thresholds, "case_counts": self.case_counts, "in_scope": self.in_scope}
        path.write_text(json.dumps(body, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def _rank_by_category(ids: list[str], catalogue: Catalogue) -> dict[str, int]:
    ranks: dict[str, int] = {}
    for article_id in ids:
        article = catalogue.by_id.get(article_id)
        if article is not None and article.category not in ranks:
            ranks[article.category] = len(ranks) + 1
    return ranks


def _usable(scores: Mapping[str, float], cause_of: dict[str, str]) -> CaseScores:
    """The scores of the cases retrieval may use, with their causes: all of them when serving (no copy), fewer in
    cross-validation. Arrays (service/vectors.py), so that no step below does Python work per case."""
    return CaseScores.of(scores).usable(cause_of)


def _top(scores: Mapping[str, float], k: int) -> list[tuple[str, float]]:
    """The k best (case id, score), best first, ids breaking ties: = sorted(...)[:k], without sorting every case."""
    cases = CaseScores.of(scores)
    at = cases.top(k)
    ids = cases.space.ids
    return [(ids[r], s) for r, s in zip(cases.rows[at].tolist(), cases.score[at].tolist(), strict=True)]


def _top_by_cause(scores: Mapping[str, float], cause_of: dict[str, str], wanted: set[str]) -> dict[str, float]:
    """The best score of each wanted cause, and of the best in-scope cause under the key "" (a cause with no case
    stays absent): one vectorised max per cause."""
    cases = _usable(scores, cause_of)
    best = dict(zip(cases.causes, cases.best_by_cause().tolist(), strict=True))
    found = {c: s for c, s in best.items() if c in wanted and s > -math.inf}
    in_scope = [s for c, s in best.items() if c != OUT_OF_SCOPE and s > -math.inf]
    if in_scope:
        found[""] = max(in_scope)
    return found


def _votes(scores: Mapping[str, float], cause_of: dict[str, str],
           k: int) -> tuple[dict[str, float], list[tuple[str, float]]]:
    top = _top(scores, k)
    total = sum(max(s, 0.0) for _, s in top) or 1.0
    votes: dict[str, float] = {}
    for case_id, score in top:
        cause = cause_of.get(case_id)
        if cause is not None:
            votes[cause] = votes.get(cause, 0.0) + max(score, 0.0) / total
    return votes, top


FUSION_LINES = 400  # the lines of a paste that fusion's text features read (a paste's evidence is near its top)


def fusion_text(parsed: Parsed) -> str:
    """The text the lexical classifier reads: the paste's first FUSION_LINES lines."""
    return "\n".join(line.text for line in parsed.lines[:FUSION_LINES])


BARE_PROSE_CHARS = 80  # one sentence: enough to restate the symptom, not to describe the run


def is_bare(parsed: Parsed) -> bool:
    """The paste describes nothing beyond its machine output and settings: at most a sentence of prose. (A
    setting that speaks for a cause shows up as that cause's own rule evidence.)"""
    prose = sum(len(line.text.strip()) for s in parsed.segments if s.kind == "prose" for line in s.lines)
    return prose <= BARE_PROSE_CHARS


def candidates(catalogue: Catalogue, outcome: RuleOutcome, hits: RetrievalHits, cause_of: dict[str, str],
               signals: dict | None = None, bare: bool = False,
               cause_probs: Mapping[str, float] | None = None) -> tuple[list[Candidate], dict[str, float]]:
    """The causes worth ranking for one input with their features, and the report's own features. `cause_of`: case
    id -> cause, restricted to the cases retrieval may use (cross-validation leaves the fold under test out).
    `cause_probs`: the cause classifier's output for the input (service/classify.py); without it (no classifier for
    this embedding model) its features are left out, and the model reads them as average."""
    dense = _usable(hits.case_dense, cause_of)
    bm25 = _usable(hits.case_bm25, cause_of)
    dense_votes, dense_top = _votes(dense, cause_of, K_NEIGHBOURS)
    bm25_votes, _ = _votes(bm25, cause_of, K_NEIGHBOURS)
    best_case = float(dense.score.max()) if len(dense) else 0.0
    art_rank = _rank_by_category([h.id for h in hits.articles], catalogue)
    bm25_rank = _rank_by_category(hits.article_bm25, catalogue)
    best_article_dense = max(hits.article_dense.values(), default=0.0)

    by_category: dict[str, list] = {}
    for result in outcome.articles.values():
        by_category.setdefault(result.article.category, []).append(result)
    active = {a.category for g in outcome.active_groups for a in catalogue.members(g.id)}
    any_rule_evidence = any(r.status == "diagnosed" or r.has_symptom for r in outcome.articles.values())

    proposed = {c for c, r in art_rank.items() if r <= 5} | {c for c, v in dense_votes.items() if v > 0}
    proposed |= {c for c, v in bm25_votes.items() if v > 0} | active
    proposed |= {r.article.category for r in outcome.articles.values() if r.status in ("diagnosed", "candidate")}
    proposed |= {c for c, p in (cause_probs or {}).items() if p >= CLF_PROPOSES}
    proposed.discard(OUT_OF_SCOPE)
    top_by_cause = _top_by_cause(dense, cause_of, proposed | {OUT_OF_SCOPE})
    oos_top = top_by_cause.get(OUT_OF_SCOPE, 0.0)
    in_scope_top = top_by_cause.pop("", 0.0)
    out: list[Candidate] = []
    for category in sorted(proposed):
        everything = by_category.get(category, [])
        results = [r for r in everything if r.status != "ruled_out"]
        if not results:
            continue  # no article for it, or every article is ruled out: an exclude is final
        if len(results) < len(everything) and all(r.status == "inactive" for r in results):
            continue  # a sibling was ruled out on evidence; the others have none of their own to keep the cause alive
        best = max(results, key=lambda r: (r.status == "diagnosed", r.score,
                                           -art_rank.get(r.article.category, 99), r.article.id))
        art_dense = max((hits.article_dense.get(r.article.id, 0.0) for r in results), default=0.0)
        features = {
            "rule_confirmed": float(best.status == "diagnosed"),
            "rule_candidate": float(any(r.status == "candidate" for r in results)),
            "rule_score": min(3.0, best.score),
            "rule_symptom": min(2.0, max(r.symptom_score for r in results)),
            "rule_group": float(category in active),
            "art_rank": 1.0 / art_rank[category] if category in art_rank else 0.0,
            "art_bm25_rank": 1.0 / bm25_rank[category] if category in bm25_rank else 0.0,
            "art_dense": art_dense,
            "art_dense_gap": art_dense - best_article_dense,
            "case_vote": dense_votes.get(category, 0.0),
            "case_top": top_by_cause.get(category, 0.0),
            "case_top_gap": top_by_cause.get(category, 0.0) - best_case if category in top_by_cause else -1.0,
            "case_bm25_vote": bm25_votes.get(category, 0.0),
        }
        if cause_probs is not None:
            features["clf"] = math.log(cause_probs.get(category, 0.0) + CLF_FLOOR)
        neighbours = tuple((i, s) for i, s in dense_top if cause_of.get(i) == category)[:3]
        out.append(Candidate(category, best.article.id, features, best.status == "diagnosed", 0.0, neighbours, bare))
    out = _level_shared_symptom(out)
    report = {
        "oos_vote": dense_votes.get(OUT_OF_SCOPE, 0.0),
        "oos_gap": oos_top - in_scope_top,
        "best_case": best_case,
        "best_article": best_article_dense,
        "rule_evidence": float(any_rule_evidence),
        "max_rule_score": min(3.0, max((r.score for r in outcome.articles.values()
                                         if r.status != "ruled_out"), default=0.0)),
        "no_query": float(not hits.case_dense),
        "has_error": float("input.has_error" in (signals or {})),
        "has_log": float("input.has_log" in (signals or {})),
        "describes_failure": float("input.describes_failure" in (signals or {})),
    }
    if cause_probs is not None:
        report["clf_oos"] = cause_probs.get(OUT_OF_SCOPE, 0.0)
        report["clf_max"] = max((p for c, p in cause_probs.items() if c != OUT_OF_SCOPE), default=0.0)
    return out, report


# What retrieval says of a candidate: how similar the paste is to its articles and to its reports.
SIMILARITY_FEATURES = ("art_rank", "art_bm25_rank", "art_dense", "art_dense_gap",
                       "case_vote", "case_top", "case_top_gap", "case_bm25_vote", "clf")


def _level_shared_symptom(found: list[Candidate]) -> list[Candidate]:
    """A bare paste (its machine lines and a sentence) that shows only a symptom several causes share looks as much
    like the reports of one of those causes as of another: the lines are the same. Similarity cannot rank them, so
    those candidates get the group's best similarity each, and only their own evidence (rules) tells them apart.
    Without this, whichever cause has the most bare-log reports in the case base wins such pastes."""
    shared = [c for c in found if only_shared_symptom(c)]
    if len(shared) < 2:
        return found
    best = {name: max(c.features.get(name, 0.0) for c in shared) for name in SIMILARITY_FEATURES
            if any(name in c.features for c in shared)}
    return [replace(c, features={**c.features, **best}) if only_shared_symptom(c) else c for c in found]


def prior_score(candidate: Candidate) -> float:
    """Ranking without a fitted model (before the first `tunedoc train`): rules first, then retrieval."""
    f = candidate.features
    return round(2.0 * f["rule_confirmed"] + 0.2 * f["rule_score"] + f["case_vote"] + 0.5 * f["art_rank"], 4)


def rule_precision(confirmations: list[tuple[str, bool]]) -> tuple[float, dict[str, float]]:
    """The overall and per-cause precision of rule confirmations, from (cause confirmed, was it right) pairs; each
    cause's rate is smoothed towards the overall one by PRECISION_PRIOR pseudo-counts."""
    overall = sum(right for _, right in confirmations) / len(confirmations) if confirmations else 0.0
    tally: dict[str, list[int]] = {}
    for category, right in confirmations:
        counts = tally.setdefault(category, [0, 0])
        counts[0] += right
        counts[1] += 1
    per_cause = {c: round((r + PRECISION_PRIOR * overall) / (n + PRECISION_PRIOR), 3)
                 for c, (r, n) in sorted(tally.items())}
    return round(overall, 3), per_cause


def rank_candidates(found: list[Candidate], report: dict[str, float], model: FusionModel | None) -> list[Candidate]:
    if model is not None:
        raw = model.probabilities([c.features for c in found], report)
        confirmed = [c.confirmed and model.decisive(c.category) for c in found]
        probabilities = [max(p, model.precision(c.category)) if decisive else p
                         for c, p, decisive in zip(found, raw, confirmed, strict=True)]
    else:
        confirmed = [c.confirmed for c in found]
        probabilities = [min(0.99, prior_score(c) / 3) for c in found]
    scored = [replace(c, confirmed=decisive, probability=p)
              for c, p, decisive in zip(found, probabilities, confirmed, strict=True)]
    counts = model.case_counts if model is not None else {}
    scored.sort(key=lambda c: (-c.probability, not c.confirmed, -counts.get(c.category, 0), c.category))
    return scored[:MAX_CANDIDATES]


def only_shared_symptom(candidate: Candidate) -> bool:
    """The rules saw only a symptom its whole group shares (loss 0 with grad_norm NaN has eight causes), nothing of
    the cause's own, and the paste has little prose: reports with similar lines cannot decide that (a bare log
    matches the logs of every cause in the group), the next question must, and it is asked."""
    f = candidate.features
    return candidate.bare and f.get("rule_group", 0.0) > 0 and f.get("rule_score", 0.0) <= f.get("rule_symptom", 0.0)


def in_scope_mass(ranked: list[Candidate]) -> float:
    """How much probability the candidates hold together: the model's belief that the cause is one of them, not
    out of scope or a cause none names (a decisive confirmation's floor can push it over 1)."""
    return round(sum(c.probability for c in ranked), 4)


def decide(ranked: list[Candidate], model: FusionModel | None,
           lang: str = "en") -> tuple[list[Candidate], list[Candidate]]:
    """(diagnoses, differential). Diagnoses: the confirmed causes, strongest rule evidence first (where rules are
    decisive they decide the order too), then the causes probable enough (the threshold of the input's language, and
    the candidates together holding the model's in-scope gate), by probability. The differential: the rest, in
    probability order."""
    threshold = model.threshold_for(lang) if model is not None else 1.01
    if model is not None and in_scope_mass(ranked) < model.in_scope:
        threshold = 1.01  # the model does not believe the cause is among these: nothing is probable
    confirmed = sorted((c for c in ranked if c.confirmed),
                       key=lambda c: (-c.features["rule_score"], -c.probability, c.category))
    probable = [c for c in ranked if not c.confirmed and c.probability >= threshold and not only_shared_symptom(c)]
    chosen = confirmed + probable
    return chosen, [c for c in ranked if c not in chosen]
