"""How far fusion's report features move between the case base and real reports.

The fusion model is fitted on the case base: short digests written in our own words, rendered as pastes. It is
used on real reports (title + body, as people write them). A report feature whose distribution differs between the
two shifts every real report's "none of these" utility, and with it the abstention threshold chosen on the case
base. This compares each feature's mean on the case base (out-of-fold, as cross-validation sees it) with its mean
on the labelled real reports of the dev sets, in units of the case base's standard deviation, and, for features
the committed model reads, as a shift in logits of the none-alternative. Three former features (length, config
block, question words) are computed here as they were defined, to show why they were dropped.

Needs the index (`tunedoc ingest`) and ../shared/cases-dev*.jsonl. Usage:
.venv/bin/python -m benchmarks.feature_shift
"""

from __future__ import annotations

import math
import re
import statistics

# The former `question` feature's pattern, kept here only to measure it.
QUESTION = re.compile(r"(?i)\?|？|\b(how (do|can|to|much)|is it possible|can (i|we|you)|should i|any (way|plan)|"
                      r"support(s|ing)?|feature request|recommend\w*|which|whether|best way|"
                      r"what (does|do|is|are)|why (does|do|is|are)|(don't|do not|didn't) understand|meaning of|"
                      r"purpose of)\b|"
                      r"如何|怎么|怎样|能否|是否|可以吗|支持|请问|建议|需要多少|什么意思|什么作用|的作用|含义|为什么|不理解|"
                      r"不明白")


def dropped_features(text: str, signals: dict) -> dict[str, float]:
    return {"length": math.log1p(len(text)) / 10, "has_config": float("input.has_config" in signals),
            "question": min(3.0, float(len(QUESTION.findall(text[:4000]))))}


def main() -> None:
    from service import learn
    from service.evaluate import dev_reports
    from service.fusion import candidates, fusion_text, is_bare
    from service.lexical import combine
    from service.parse import parse
    from service.pipeline import analyse_input, as_parts, load_rules
    from service.retrieval import open_retriever

    retriever = open_retriever(build_if_stale=False)
    prepared = learn.prepare(retriever, retriever.cases)
    stacked = learn.Stacked(prepared)
    fold = {p.case.id: p.fold for p in prepared}
    rows: dict[str, list[dict[str, float]]] = {"cases in scope": [], "cases out of scope": [],
                                                "real in scope": [], "real out of scope": []}
    for item in prepared:
        allowed = {i: c for i, c in retriever.cause_of.items() if fold.get(i) != item.fold}
        _, report = learn._features(item, retriever, allowed, stacked.of(item, item.fold))
        report.update(dropped_features(fusion_text(item.analysis.parsed), item.analysis.signals))
        rows["cases out of scope" if item.case.cause == "out-of-scope" else "cases in scope"].append(report)

    rules = load_rules()
    for _, paste, expected, _ in dev_reports():
        parsed = parse(as_parts(paste))
        analysis = analyse_input(parsed, rules=rules, retriever=retriever)
        text = fusion_text(parsed)
        probs = combine(retriever.classifier.probabilities(analysis.vector) if retriever.classifier else None,
                        retriever.lexical.probabilities(text) if retriever.lexical else None)
        _, report = candidates(rules.catalogue, analysis.outcome, analysis.hits, retriever.cause_of,
                               analysis.signals, bare=is_bare(parsed), cause_probs=probs)
        report.update(dropped_features(text, analysis.signals))
        rows["real out of scope" if expected == "out-of-scope" else "real in scope"].append(report)

    model = retriever.model
    print(f"reports: { {k: len(v) for k, v in rows.items()} }")
    print("| feature | " + " | ".join(rows) + " | real − cases, in scope (case-base SDs) | "
          "none-logit shift, in scope |")
    print("|---|" + "---|" * (len(rows) + 2))
    for feature in rows["cases in scope"][0]:
        means = {k: statistics.fmean(r.get(feature, 0.0) for r in v) for k, v in rows.items()}
        spread = statistics.pstdev([r.get(feature, 0.0) for r in rows["cases in scope"] + rows["cases out of scope"]])
        moved = (means["real in scope"] - means["cases in scope"]) / (spread or 1.0)
        logit = "-"
        if model is not None and feature in model.none_weights:
            weight, scale = model.none_weights[feature], model.scale.get(feature, 1.0) or 1.0
            logit = f"{weight * (means['real in scope'] - means['cases in scope']) / scale:+.2f}"
        print(f"| {feature} | " + " | ".join(f"{m:.3f}" for m in means.values()) + f" | {moved:+.2f} | {logit} |")


if __name__ == "__main__":
    main()
