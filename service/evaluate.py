"""`tunedoc eval`: score tunedoc against labelled reports, with baselines in the same run.

- `tunedoc eval CASES.jsonl`: labelled reports (title + body; the dev-case format) through the whole engine
  (rules, retrieval over articles and the case base, the fusion model), as a user would paste them.
- `tunedoc eval --cv`: the case base itself, cross-validated: folds grouped by thread, each fold's model fitted on
  the others and its reports kept out of the case votes (service/learn.py).

Systems: tunedoc (abstains when `diagnoses` is empty); BM25 over the article texts; hybrid search (tunedoc's own
article retrieval); plain RAG (the report embedded, the article of the best chunk); kNN over the case base (the
cause with the most similar reports). Baselines never abstain. top-1/top-3 are over in-scope reports (top-3 ranks
diagnoses, then the differential); abstention over out-of-scope ones; wrong first = a diagnosis whose first cause is
not the expected one. ECE is measured on the first-ranked cause's probability.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from service.cases import OUT_OF_SCOPE, Case, thread_key

if TYPE_CHECKING:
    from service.learn import Decision

SYSTEMS = ("tunedoc", "hybrid search", "BM25", "plain RAG", "kNN cases")


@dataclass
class Tally:
    n_in: int = 0
    top1: int = 0
    top3: int = 0
    wrong: int = 0
    n_oos: int = 0
    abstained: int = 0

    def add(self, expected: str, first: list[str], ranked: list[str]) -> None:
        if expected == OUT_OF_SCOPE:
            self.n_oos += 1
            self.abstained += not first
            return
        self.n_in += 1
        self.top1 += bool(first) and first[0] == expected
        self.wrong += bool(first) and first[0] != expected
        self.top3 += expected in ranked[:3]

    @property
    def top1_rate(self) -> float:
        return self.top1 / self.n_in if self.n_in else 0.0

    def row(self, name: str) -> str:
        def pct(a: int, b: int) -> str:
            return f"{a / b:.3f} ({a}/{b})" if b else "-"
        return (f"| {name} | {pct(self.top1, self.n_in)} | {pct(self.top3, self.n_in)} | "
                f"{pct(self.wrong, self.n_in)} | {pct(self.abstained, self.n_oos)} |")


HEADER = ["| system · rows | top-1 | top-3 | wrong first | out-of-scope abstained |", "|---|---|---|---|---|"]


@dataclass
class Report:
    title: str
    tallies: dict[tuple[str, str], Tally] = field(default_factory=lambda: defaultdict(Tally))
    per_cause: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    misses: list[str] = field(default_factory=list)
    ece: float | None = None
    ece_rows: list = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    def add(self, system: str, lang: str, expected: str, first: list[str], ranked: list[str]) -> None:
        for row in ("all", lang):
            self.tallies[(system, row)].add(expected, first, ranked)

    def render(self, show_misses: bool) -> str:
        lines = [f"## {self.title}", "", *HEADER]
        for system in SYSTEMS:
            for row in ("all", "en", "zh"):
                if (system, row) in self.tallies:
                    lines.append(self.tallies[(system, row)].row(f"{system} · {row}"))
        baselines = [self.tallies[(s, "all")].top1_rate for s in SYSTEMS[1:] if (s, "all") in self.tallies]
        ours = self.tallies[("tunedoc", "all")].top1_rate
        en, zh = self.tallies[("tunedoc", "en")].top1_rate, self.tallies[("tunedoc", "zh")].top1_rate
        # Without baselines in the run (--no-baselines) there is nothing to compare with: say so, not "+96 points".
        margin = (f"tunedoc top-1 minus the best baseline's: {100 * (ours - max(baselines)):+.1f} points"
                  if baselines else "no baselines in this run")
        lines += ["", f"{margin}; Chinese minus English top-1: {100 * (zh - en):+.1f} points"]
        if self.ece is not None:
            lines.append(f"ECE of the first-ranked cause's probability: {self.ece:.3f} "
                         f"(bins: confidence, accuracy, n = {self.ece_rows})")
        lines += self.extra
        if show_misses:
            lines += ["", "Per cause (tunedoc):", "| cause | top-1 | top-3 | wrong first | abstained |",
                      "|---|---|---|---|---|"]
            lines += [self.per_cause[c].row(c) for c in sorted(self.per_cause)]
            lines += ["", f"Misses ({len(self.misses)}):", *(self.misses or ["  none"])]
        return "\n".join(lines)


def load_reports(path: Path) -> list[tuple[str, str, str, str]]:
    """(id, text, expected, lang) from the dev-case format: title + blank line + body."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            out.append((str(row["id"]), f"{row.get('title', '')}\n\n{row.get('body', '')}", row["expected"],
                        row.get("lang", "en")))
    return out


DEV_SETS = ("cases-dev.jsonl", "cases-dev-2.jsonl")


def dev_reports() -> list[tuple[str, str, str, str]]:
    """Both dev sets (../shared beside the checkout), as load_reports gives them: for the benchmarks that compare
    the case base with real reports."""
    from service.config import REPO_ROOT

    return [r for name in DEV_SETS for r in load_reports(REPO_ROOT.parent / "shared" / name)]


def _open(embedding_model: str | None):  # noqa: ANN202 - Retriever
    from dataclasses import replace

    from service.config import get_settings
    from service.retrieval import open_retriever

    settings = get_settings()
    if embedding_model:
        settings = replace(settings, embedding_model=embedding_model)
    return open_retriever(build_if_stale=True, settings=settings)


def _miss(report: Report, lang: str, ident: str, expected: str, first: list[str], ranked: list[str]) -> None:
    right = (not first) if expected == OUT_OF_SCOPE else (bool(first) and first[0] == expected)
    if not right:
        report.misses.append(f"  {lang} {ident}: expected {expected}, got {first[:2] or 'no diagnosis'}"
                             f" (ranked {ranked[:3]})")


def run_eval(path: Path, *, baselines: bool = True, show_misses: bool = True,
             embedding_model: str | None = None) -> str:
    from service.learn import Prediction, calibration
    from service.parse import parse
    from service.pipeline import analyse_input, as_parts, load_rules

    retriever = _open(embedding_model)
    rules = load_rules(str(retriever.catalogue.root))
    cause_of = {c.id: c.cause for c in retriever.cases.cases}
    reports = load_reports(path)
    overlap = {thread_key(r[0]) for r in reports} & set(cause_of)
    report = Report(f"{path.name}: {len(reports)} reports, embedding model {retriever.model_name}")
    predictions = []
    for ident, text, expected, lang in reports:
        analysis = analyse_input(parse(as_parts(text)), rules=rules, retriever=retriever, cause_of=cause_of)
        result = analysis.result
        assert result is not None  # analyse_input always sets it
        first = _categories([d.id for d in result.diagnoses], retriever)
        ranked = first + [c for c in _categories([d.id for d in result.differential if d.status == "candidate"],
                                                 retriever) if c not in first]
        report.add("tunedoc", lang, expected, first, ranked)
        report.per_cause[expected].add(expected, first, ranked)
        _miss(report, lang, ident, expected, first, ranked)
        fake_case = Case(url=ident, cause=expected, lang=lang, symptom_en=text, symptom_zh="")
        predictions.append(Prediction(fake_case, analysis.chosen + analysis.rest, first))
        if baselines:
            for system, preds in _baselines(retriever, text, analysis, cause_of).items():
                report.add(system, lang, expected, preds[:1], preds)
    report.ece, report.ece_rows = calibration(predictions)
    note = f"\n\n{len(overlap)} of these reports are in the case base (they should not be)." if overlap else ""
    return report.render(show_misses) + note


def _categories(ids: list[str], retriever) -> list[str]:  # noqa: ANN001
    out: list[str] = []
    for article_id in ids:
        category = retriever.catalogue.by_id[article_id].category
        if category not in out:
            out.append(category)
    return out


def _baselines(retriever, text: str, analysis, cause_of: dict[str, str]) -> dict[str, list[str]]:  # noqa: ANN001
    from service.learn import Prepared, baseline_rankings

    case = Case(url="query", cause="", lang="en", symptom_en=text, symptom_zh="")
    return baseline_rankings(Prepared(case, analysis, 0), retriever, cause_of)


def _tradeoff(predictions: list, chosen: Decision,  # noqa: ANN001 - learn.Prediction
              folds: dict[str, int]) -> list[str]:
    """What other thresholds would give on the same out-of-fold predictions (TUNEDOC_THRESHOLD sets one for both
    languages; the chosen in-scope gate stays), and the choice itself made out of fold: one threshold with the gate,
    one without it, or one per language with the gate."""
    from service.learn import LANGS, Decision, apply_threshold, describe, nested_threshold_score, score

    grid = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    rows = [(f"{t:.2f}", score([apply_threshold(p, Decision(dict.fromkeys(LANGS, t), chosen.in_scope))
                                for p in predictions])) for t in grid]
    rows.append((f"{describe(chosen)} (chosen)", score([apply_threshold(p, chosen) for p in predictions])))
    for name, per_language, gate in (("one threshold and the gate", False, True),
                                     ("one threshold, no gate", False, False),
                                     ("one per language and the gate", True, True)):
        rows.append((f"{name}, each fold's chosen on the other folds",
                     nested_threshold_score(predictions, folds, per_language, gate)))
    lines = ["", "Threshold trade-off (same out-of-fold predictions):",
             "| threshold | top-1 | wrong first | out-of-scope abstained |", "|---|---|---|---|"]
    lines += [f"| {name} | {s['top1']:.3f} | {s['wrong_first']:.3f} | {s['abstained']:.3f} |" for name, s in rows]
    rules = score([apply_threshold(p, 1.01) for p in predictions])  # no probability is enough: rules alone
    lines.append(f"| rules only | {rules['top1']:.3f} | {rules['wrong_first']:.3f} | {rules['abstained']:.3f} |")
    in_scope = [p for p in predictions if p.case.cause != OUT_OF_SCOPE]
    ranked = sum(bool(p.ranked) and p.ranked[0].category == p.case.cause for p in in_scope) / max(1, len(in_scope))
    lines.append(f"\nFirst-ranked cause right, no threshold (in scope): {ranked:.3f}")
    return lines + _named_when_abstaining(predictions)


def _named_when_abstaining(predictions: list) -> list[str]:  # noqa: ANN001 - learn.Prediction
    """What an abstention names (`DiagnoseResult.likely`: up to three candidates at LIKELY_FLOOR or more) at other
    floors: how often the right cause is among them for the in-scope reports nothing was diagnosed for, and how often
    an out-of-scope report gets a cause named at all."""
    from service.models import LIKELY_FLOOR

    abstained = [p for p in predictions if not p.diagnosed]
    in_scope = [p for p in abstained if p.case.cause != OUT_OF_SCOPE]
    out_of_scope = [p for p in abstained if p.case.cause == OUT_OF_SCOPE]
    lines = ["", f"What an abstention names ({len(in_scope)} in-scope and {len(out_of_scope)} out-of-scope reports "
             "abstained on):", "| floor | right cause named | out-of-scope report names a cause |", "|---|---|---|"]
    for floor in sorted({0.02, 0.05, 0.1, 0.2, LIKELY_FLOOR}):
        right = sum(any(c.category == p.case.cause and c.probability >= floor for c in p.ranked[:3]) for p in in_scope)
        named = sum(bool(p.ranked) and p.ranked[0].probability >= floor for p in out_of_scope)
        mark = " (LIKELY_FLOOR)" if floor == LIKELY_FLOOR else ""
        lines.append(f"| {floor:.2f}{mark} | {right / max(1, len(in_scope)):.3f} | "
                     f"{named / max(1, len(out_of_scope)):.3f} |")
    return lines


def run_cv(*, show_misses: bool = True, embedding_model: str | None = None, out_dir: Path | None = None,
           c: float | None = None) -> str:
    """Cross-validate on the case base with the model settings in kb/model/fusion.json (or the default C)."""
    from service.fusion import FusionModel
    from service.learn import baseline_rankings, calibration, cross_validate, describe, prepare, reliability_svg

    retriever = _open(embedding_model)
    saved = FusionModel.load(retriever.catalogue.root / "model" / "fusion.json")
    c = c if c is not None else float(str(saved.meta.get("C", 0.3))) if saved else 0.3
    prepared = prepare(retriever, retriever.cases)
    predictions, decision = cross_validate(prepared, retriever, c)
    everything = {p.case.id: p.case.cause for p in prepared}
    report = Report(f"case base, {len(prepared)} reports, {len({p.fold for p in prepared})} folds grouped by "
                    f"thread, C={c}, {describe(decision)} (chosen by CV), "
                    f"embedding model "
                    f"{retriever.model_name}")
    by_id = {p.case.id: p for p in prepared}
    for prediction in predictions:
        case = prediction.case
        first, ranked = prediction.diagnosed, prediction.ranked_categories
        report.add("tunedoc", case.lang, case.cause, first, ranked)
        report.per_cause[case.cause].add(case.cause, first, ranked)
        _miss(report, case.lang, case.url, case.cause, first, ranked)
        fold = by_id[case.id].fold
        allowed = {i: cause for i, cause in everything.items() if by_id[i].fold != fold}
        for system, preds in baseline_rankings(by_id[case.id], retriever, allowed).items():
            report.add(system, case.lang, case.cause, preds[:1], preds)
    report.ece, report.ece_rows = calibration(predictions)
    report.extra = _tradeoff(predictions, decision, {i: p.fold for i, p in by_id.items()})
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "reliability-cv.svg").write_text(
            reliability_svg(report.ece_rows, report.ece, "case base, cross-validated"), encoding="utf-8")
    return report.render(show_misses)
