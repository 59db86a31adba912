"""Turn rule results into the ranked output model: diagnoses, differential, missing questions.

Ranking is explicit: score descending, then id ascending. Retrieval never changes this order and never creates a
diagnosis; it only fills `related` (see service/pipeline.py).
"""

from __future__ import annotations

from service.kb import Article, Matcher
from service.models import (
    ConditionOut,
    DiagnosisOut,
    DifferentialOut,
    Evidence,
    Fact,
    FixOut,
    Line,
    MissingOut,
    Signal,
    SignalOut,
)
from service.patches import locate, snippet
from service.redact import redact
from service.rules import ArticleResult, MatcherResult, RuleOutcome, RuleSet


def confidence(score: float) -> float:
    return round(1 - 0.5**score, 3)


def evidence_line(line: Line, signal: str, span: tuple[int, int] | None = None) -> Evidence:
    text = redact(line.text)
    start, end = (span if span and text == line.text else (None, None))
    return Evidence(part=line.part, line=line.number, text=text, signal=signal, start=start, end=end)


def _matcher_evidence(rules: RuleSet, article: Article, result: MatcherResult) -> list[Evidence]:
    matcher: Matcher = result.matcher
    if matcher.regex is not None:
        label = f"{article.id}:{matcher.id}"
        return [evidence_line(line, label, rules.span(matcher.regex, line.text)) for line in result.lines]
    return [evidence_line(line, matcher.signal or matcher.id) for line in result.lines]


def _dedupe(evidence: list[Evidence]) -> list[Evidence]:
    seen: set[tuple[str, int, str]] = set()
    out: list[Evidence] = []
    for item in sorted(evidence, key=lambda e: (e.part, e.line, e.signal)):
        key = (item.part, item.line, item.signal)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _fix(article: Article, lang: str, facts: list[Fact]) -> FixOut:
    patch = article.fix.patch
    locations = [evidence_line(f.line, f"patch:{target}:{f.path}")
                 for target, body in sorted((patch or {}).items()) for f in locate(target, body, facts)]
    return FixOut(
        steps=[s.pick(lang) for s in article.fix.steps],
        patch=patch,
        snippets={target: snippet(target, body) for target, body in sorted(patch.items())} if patch else None,
        locations=_dedupe(locations),
    )


def _diagnosis(rules: RuleSet, result: ArticleResult, lang: str, facts: list[Fact]) -> DiagnosisOut:
    article = result.article
    held = [r for r in result.symptoms + result.conditions if r.status == "holds"]
    evidence = _dedupe([e for r in held for e in _matcher_evidence(rules, article, r)])
    return DiagnosisOut(
        id=article.id,
        category=article.category,
        title=article.title.pick(lang),
        confidence=confidence(result.score),
        score=round(result.score, 3),
        evidence=evidence,
        conditions=[ConditionOut(id=r.matcher.id, status=r.status, description=r.matcher.describe())
                    for r in result.conditions],
        cause=article.summary.pick(lang),
        fix=_fix(article, lang, facts),
        references=list(article.references),
    )


def _reason(result: ArticleResult, lang: str) -> str | None:
    if result.excluded_by:
        first = result.excluded_by[0]
        because = first.matcher.because.pick(lang) if first.matcher.because else first.matcher.describe()
        return because
    if result.failed_required:
        return ("不满足必要条件：" if lang == "zh" else "a required condition fails: ") + result.failed_required[0].matcher.describe()
    if result.unknown_required:
        asks = [r.matcher.ask.pick(lang) for r in result.unknown_required if r.matcher.ask]
        return " ".join(asks) or None
    return None


_DIFF_STATUS = {"candidate": "candidate", "ruled_out": "ruled_out", "inactive": "no_evidence"}
_DIFF_ORDER = {"candidate": 0, "no_evidence": 1, "ruled_out": 2}


def _differential(rules: RuleSet, outcome: RuleOutcome, diagnosed: set[str], lang: str) -> list[DifferentialOut]:
    chosen: dict[str, ArticleResult] = {}
    for group in outcome.active_groups:
        for article in rules.catalogue.members(group.id):
            if article.id not in diagnosed:
                chosen[article.id] = outcome.articles[article.id]
    for result in outcome.articles.values():
        if result.status == "candidate" and result.unknown_required and result.article.id not in diagnosed:
            chosen[result.article.id] = result
    entries = []
    for result in chosen.values():
        status = _DIFF_STATUS[result.status] if result.status in _DIFF_STATUS else "candidate"
        evidence = [] if status == "ruled_out" else [
            e for r in result.symptoms if r.status == "holds" for e in _matcher_evidence(rules, result.article, r)
        ]
        if status == "ruled_out":
            evidence = [e for r in result.excluded_by + result.failed_required
                        for e in _matcher_evidence(rules, result.article, r)]
        entries.append((
            _DIFF_ORDER[status], -result.score, result.article.id,
            DifferentialOut(
                id=result.article.id,
                category=result.article.category,
                title=result.article.title.pick(lang),
                status=status,
                confirm=result.article.confirm.pick(lang),
                reason=_reason(result, lang),
                evidence=_dedupe(evidence)[:5],
            ),
        ))
    return [entry for *_, entry in sorted(entries, key=lambda e: e[:3])]


def _missing(ordered: list[ArticleResult], lang: str) -> list[MissingOut]:
    asks: dict[str, MissingOut] = {}
    for result in ordered:
        for condition in result.conditions:
            if condition.status != "unknown" or condition.matcher.ask is None:
                continue
            text = condition.matcher.ask.pick(lang)
            if text in asks:
                if result.article.id not in asks[text].for_ids:
                    asks[text].for_ids.append(result.article.id)
            else:
                asks[text] = MissingOut(ask=text, signal=condition.matcher.signal, for_ids=[result.article.id])
    return list(asks.values())


def rank(rules: RuleSet, outcome: RuleOutcome, lang: str, facts: list[Fact]):  # noqa: ANN201 - output lists
    diagnosed = sorted((r for r in outcome.articles.values() if r.status == "diagnosed"),
                       key=lambda r: (-r.score, r.article.id))
    diagnosed_ids = {r.article.id for r in diagnosed}
    diagnoses = [_diagnosis(rules, r, lang, facts) for r in diagnosed]
    differential = _differential(rules, outcome, diagnosed_ids, lang)
    asked = [outcome.articles[d.id] for d in differential if d.status == "candidate"]
    missing = _missing(asked, lang) if asked else []
    return diagnoses, differential, missing


def signals_out(signals: dict[str, Signal]) -> list[SignalOut]:
    return [
        SignalOut(name=s.name, value=redact(s.value) if isinstance(s.value, str) else s.value,
                  lines=[evidence_line(line, s.name) for line in s.lines])
        for s in signals.values()
    ]
