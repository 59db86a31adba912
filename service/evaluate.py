"""`tunedoc eval`: score tunedoc against labelled reports, with two baselines in the same run.

- tunedoc: the rules (retrieval never makes a diagnosis); abstains when `diagnoses` is empty.
- BM25: top-k articles by BM25 over the article texts (title, summary, body, fix); never abstains.
- hybrid search: tunedoc's own retrieval alone (BM25 + dense, RRF), what `related` and search answer.
- plain RAG: the whole report embedded with the same model, Chroma top-k over the same article chunks, the
  article of the best chunk; never abstains.

top-1/top-3 are over in-scope reports (expected != out-of-scope); abstention is over out-of-scope reports;
accuracy counts both (an out-of-scope report is right only when abstained).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from service.gaps import group_gaps, render_gaps
from service.pipeline import diagnose, load_rules

OUT_OF_SCOPE = "out-of-scope"


@dataclass
class Case:
    id: str
    text: str
    expected: str
    lang: str


@dataclass
class Tally:
    n_in: int = 0
    top1: int = 0
    top3: int = 0
    n_oos: int = 0
    abstained: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, case: Case, predicted: list[str]) -> None:
        if case.expected == OUT_OF_SCOPE:
            self.n_oos += 1
            self.abstained += not predicted
            return
        self.n_in += 1
        self.top1 += bool(predicted) and predicted[0] == case.expected
        self.top3 += case.expected in predicted[:3]

    def row(self, name: str) -> str:
        def pct(a: int, b: int) -> str:
            return f"{100 * a / b:5.1f}% ({a}/{b})" if b else "    -"
        acc = pct(self.top1 + self.abstained, self.n_in + self.n_oos)
        return (f"| {name} | {pct(self.top1, self.n_in)} | {pct(self.top3, self.n_in)} | "
                f"{pct(self.abstained, self.n_oos)} | {acc} |")


def load_cases(path: Path) -> list[Case]:
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            cases.append(Case(str(row["id"]), f"{row.get('title', '')}\n\n{row.get('body', '')}",
                              row["expected"], row.get("lang", "en")))
    return cases


def _categories(ids: list[str], by_id) -> list[str]:  # noqa: ANN001 - article lookup
    out: list[str] = []
    for article_id in ids:
        category = by_id[article_id].category
        if category not in out:
            out.append(category)
    return out


def run_eval(path: Path, *, baselines: bool = True, show_misses: bool = True,
             embedding_model: str | None = None) -> str:
    rules = load_rules()
    by_id = rules.catalogue.by_id
    cases = load_cases(path)
    systems = ["tunedoc"] + (["hybrid search", "BM25", "plain RAG"] if baselines else [])
    tallies = {(s, row): Tally() for s in systems for row in ("all", "en", "zh")}
    per_category: dict[str, Tally] = defaultdict(Tally)
    gaps: list[tuple[str, str]] = []
    misses: list[str] = []
    retriever = None
    if baselines:
        from dataclasses import replace

        from service.config import get_settings
        from service.retrieval import open_retriever

        settings = get_settings()
        if embedding_model:
            settings = replace(settings, embedding_model=embedding_model)
        retriever = open_retriever(build_if_stale=True, settings=settings)
    for case in cases:
        result = diagnose(case.text, rules=rules)
        predicted = {"tunedoc": _categories([d.id for d in result.diagnoses], by_id)}
        if retriever is not None:
            predicted["hybrid search"] = _categories([h.id for h in retriever.search(case.text[:4000], k=10)], by_id)
            predicted["BM25"] = _categories(retriever.bm25_ranking(case.text, articles_only=True)[:10], by_id)
            dense = [i for i, _ in retriever.dense_ranking(case.text[:4000], kinds=("article",))]
            predicted["plain RAG"] = _categories(dense[:10], by_id)
        for system, preds in predicted.items():
            for row in ("all", case.lang):
                tallies[(system, row)].add(case, preds)
        per_category[case.expected].add(case, predicted["tunedoc"])
        got = predicted["tunedoc"]
        right = (not got) if case.expected == OUT_OF_SCOPE else (bool(got) and got[0] == case.expected)
        if not right:
            misses.append(f"  {case.lang} {case.id}: expected {case.expected}, got {got[:3] or 'no diagnosis'}")
        if not result.diagnoses and case.expected != OUT_OF_SCOPE:
            gaps.append((case.id, case.text))
    lines: list[str] = []
    if show_misses:
        lines.append(f"Misses ({len(misses)}):")
        lines += misses or ["  none"]
        lines.append("")
        lines.append(render_gaps(group_gaps(gaps)))
        lines.append("")
        lines.append("Per category (tunedoc):")
        lines.append("| category | top-1 | top-3 | abstained | accuracy |")
        lines.append("|---|---|---|---|---|")
        lines += [per_category[c].row(c) for c in sorted(per_category)]
        lines.append("")
    model = f", embedding model {retriever.embeddings.name}" if retriever is not None else ""
    lines.append(f"Cases: {len(cases)} from {path.name}{model}")
    lines.append("| system · rows | top-1 (in-scope) | top-3 (in-scope) | out-of-scope abstained | accuracy (all) |")
    lines.append("|---|---|---|---|---|")
    for system in systems:
        for row in ("all", "en", "zh"):
            lines.append(tallies[(system, row)].row(f"{system} · {row}"))
    return "\n".join(lines)
