"""Turn the fused candidates and the rule results into the output model: diagnoses, differential, missing.

`diagnoses` are the causes the answer stands behind (rules confirmed, or probable by the fusion model), ranked by
probability; `differential` is the rest in probability order, then the members of an active shared-symptom group
with no evidence, then the ruled-out ones with the reason; `missing` puts first the one question that best separates
the top candidates (expected information gain over their probabilities).
"""

from __future__ import annotations

import math
from typing import Literal

from service.fusion import Candidate
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
    SimilarReport,
)
from service.patches import FactIndex, locate, snippet
from service.redact import redact
from service.rules import ArticleResult, MatcherResult, RuleOutcome, RuleSet


def confidence(score: float) -> float:
    return round(1 - 0.5**score, 3)


def evidence_line(line: Line, signal: str, span: tuple[int, int] | None = None,
                  redacted: dict[str, str] | None = None) -> Evidence:
    """`redacted`: one call's memo of redact(), as a line is often the evidence of several matchers."""
    text = redacted.get(line.text) if redacted is not None else None
    if text is None:
        text = redact(line.text)
        if redacted is not None:
            redacted[line.text] = text
    start, end = (span if span and text == line.text else (None, None))
    return Evidence(part=line.part, line=line.number, text=text, signal=signal, start=start, end=end)


class _Memo:
    """One answer's shared work: a line is often the evidence of several matchers and articles, so each line is
    redacted once and each (pattern, line) span searched once."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self.redacted: dict[str, str] = {}
        self.spans: dict[tuple[str, str], tuple[int, int] | None] = {}

    def span(self, pattern: str, text: str) -> tuple[int, int] | None:
        key = (pattern, text)
        if key not in self.spans:
            self.spans[key] = self.rules.span(pattern, text)
        return self.spans[key]


def _matcher_evidence(article: Article, result: MatcherResult, memo: _Memo) -> list[Evidence]:
    matcher: Matcher = result.matcher
    if matcher.regex is not None:
        label = f"{article.id}:{matcher.id}"
        return [evidence_line(line, label, memo.span(matcher.regex, line.text), memo.redacted)
                for line in result.lines]
    return [evidence_line(line, matcher.signal or matcher.id, None, memo.redacted) for line in result.lines]


def _dedupe(evidence: list[Evidence]) -> list[Evidence]:
    seen: set[tuple[str, int, str]] = set()
    out: list[Evidence] = []
    for item in sorted(evidence, key=lambda e: (e.part, e.line, e.signal)):
        key = (item.part, item.line, item.signal)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _fix(article: Article, lang: str, facts: FactIndex, redacted: dict[str, str]) -> FixOut:
    patch = article.fix.patch
    locations = [evidence_line(f.line, f"patch:{target}:{f.path}", None, redacted)
                 for target, body in sorted((patch or {}).items()) for f in locate(target, body, facts)]
    return FixOut(
        steps=[s.pick(lang) for s in article.fix.steps],
        patch={str(target): body for target, body in patch.items()} if patch else None,
        snippets={target: snippet(target, body) for target, body in sorted(patch.items())} if patch else None,
        locations=_dedupe(locations),
    )


def _diagnosis(result: ArticleResult, lang: str, facts: FactIndex, memo: _Memo,
               candidate: Candidate | None = None, urls: dict[str, str] | None = None) -> DiagnosisOut:
    article = result.article
    held = [r for r in result.symptoms + result.conditions if r.status == "holds"]
    evidence = _dedupe([e for r in held for e in _matcher_evidence(article, r, memo)])
    similar = [SimilarReport(url=(urls or {}).get(i, i), similarity=round(s, 3))
               for i, s in (candidate.neighbours if candidate else ())]
    return DiagnosisOut(
        id=article.id,
        category=article.category,
        title=article.title.pick(lang),
        status="confirmed" if candidate is None or candidate.confirmed else "probable",
        confidence=candidate.probability if candidate is not None else confidence(result.score),
        score=round(result.score, 3),
        evidence=evidence,
        conditions=[ConditionOut(id=r.matcher.id, status=r.status, description=r.matcher.describe())
                    for r in result.conditions],
        cause=article.summary.pick(lang),
        fix=_fix(article, lang, facts, memo.redacted),
        references=list(article.references),
        similar_reports=similar,
    )


def _reason(result: ArticleResult, lang: str) -> str | None:
    if result.excluded_by:
        first = result.excluded_by[0]
        because = first.matcher.because.pick(lang) if first.matcher.because else first.matcher.describe()
        return because
    if result.failed_required:
        prefix = "不满足必要条件：" if lang == "zh" else "a required condition fails: "
        return prefix + result.failed_required[0].matcher.describe()
    if result.unknown_required:
        asks = [r.matcher.ask.pick(lang) for r in result.unknown_required if r.matcher.ask]
        return " ".join(asks) or None
    return None


DiffStatus = Literal["candidate", "ruled_out", "no_evidence"]
_DIFF_STATUS: dict[str, DiffStatus] = {"candidate": "candidate", "ruled_out": "ruled_out", "inactive": "no_evidence"}
_DIFF_ORDER = {"candidate": 0, "no_evidence": 1, "ruled_out": 2}


def _differential(rules: RuleSet, outcome: RuleOutcome, diagnosed: set[str], lang: str,
                  memo: _Memo) -> list[DifferentialOut]:
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
        status: DiffStatus = _DIFF_STATUS.get(result.status, "candidate")
        evidence = [] if status == "ruled_out" else [
            e for r in result.symptoms if r.status == "holds"
            for e in _matcher_evidence(result.article, r, memo)
        ]
        if status == "ruled_out":
            evidence = [e for r in result.excluded_by + result.failed_required
                        for e in _matcher_evidence(result.article, r, memo)]
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
    index = FactIndex(facts)
    memo = _Memo(rules)
    diagnoses = [_diagnosis(r, lang, index, memo) for r in diagnosed]
    differential = _differential(rules, outcome, diagnosed_ids, lang, memo)
    asked = [outcome.articles[d.id] for d in differential if d.status == "candidate"]
    missing = _missing(asked, lang) if asked else []
    return diagnoses, differential, missing


def signals_out(signals: dict[str, Signal]) -> list[SignalOut]:
    redacted: dict[str, str] = {}  # signals share lines (one error line gives type, message, ...)
    return [
        SignalOut(name=s.name, value=redact(s.value) if isinstance(s.value, str) else s.value,
                  lines=[evidence_line(line, s.name, None, redacted) for line in s.lines])
        for s in signals.values()
    ]


def _entropy(ps: list[float]) -> float:
    total = sum(ps)
    return -sum(p / total * math.log2(p / total) for p in ps if p > 0) if total > 0 else 0.0


def _with_gain(missing: list[MissingOut], ranked: list[Candidate], catalogue) -> list[MissingOut]:  # noqa: ANN001
    """Order the questions by expected information gain over the leading candidates and "none of them" (the
    probability the candidates leave over: out of scope, or a cause none names): a yes keeps the causes that ask
    it, a no the others and none. Without "none", a paste with one likely cause (0.8) and nothing else has no
    uncertainty left to resolve, and any question about an unlikely alternative came first."""
    top = {c.article: c.probability for c in ranked[:5] if c.probability > 0}
    none = max(0.0, 1.0 - sum(c.probability for c in ranked))
    if len(top) + (none > 0) < 2:
        return missing
    before = _entropy([*top.values(), none])
    total = sum(top.values()) + none
    for item in missing:
        yes = [p for article_id, p in top.items() if article_id in item.for_ids]
        no = [p for article_id, p in top.items() if article_id not in item.for_ids] + [none]
        p_yes = sum(yes) / total
        item.gain = round(before - p_yes * _entropy(yes) - (1 - p_yes) * _entropy(no), 4)
    return sorted(missing, key=lambda m: -(m.gain or 0.0))


def assemble(rules: RuleSet, outcome: RuleOutcome, lang: str, facts: list[Fact], chosen: list[Candidate],
             rest: list[Candidate],
             urls: dict[str, str]) -> tuple[list[DiagnosisOut], list[DifferentialOut], list[MissingOut]]:
    """The output lists from the fused candidates (see service/fusion.py)."""
    index = FactIndex(facts)
    memo = _Memo(rules)
    diagnoses = [_diagnosis(outcome.articles[c.article], lang, index, memo, c, urls) for c in chosen
                 if c.article in outcome.articles]
    shown = {d.id for d in diagnoses}
    entries: list[DifferentialOut] = []
    for c in rest:
        result = outcome.articles[c.article]
        entries.append(DifferentialOut(
            id=c.article, category=c.category, title=result.article.title.pick(lang), status="candidate",
            probability=c.probability, confirm=result.article.confirm.pick(lang), reason=_reason(result, lang),
            evidence=_dedupe([e for r in result.symptoms if r.status == "holds"
                              for e in _matcher_evidence(result.article, r, memo)])[:5]))
    listed = shown | {e.id for e in entries}
    entries += [d for d in _differential(rules, outcome, shown, lang, memo) if d.id not in listed]
    asked = [outcome.articles[e.id] for e in entries if e.status == "candidate" and e.id in outcome.articles]
    missing = _missing(asked, lang) if asked else []
    if not diagnoses:  # abstaining: the leading candidates' own questions compete with the rules' (by gain below)
        missing += _article_asks(rest[:3], outcome, lang, {m.ask for m in missing})
    missing = _with_gain(missing, chosen + rest, rules.catalogue)
    if diagnoses and missing and not any(m.gain for m in missing):
        # The rules only ask about causes outside the leading ones (the seed paste: "is this a GRPO run?"), which
        # tells nothing apart: the leading alternatives' own questions go first. (An abstaining answer has them
        # already, above.)
        leading = _with_gain(_article_asks(rest[:3], outcome, lang, {m.ask for m in missing}), chosen + rest,
                             rules.catalogue)
        missing = [m for m in leading if m.gain] + missing
    return diagnoses, entries, missing


def _article_asks(top: list[Candidate], outcome: RuleOutcome, lang: str, seen: set[str]) -> list[MissingOut]:
    """When the answer abstains, each leading candidate asks for the paste that tells it apart: its own `ask`, else
    its confirm text, unless one of its conditions already asks."""
    out = []
    for candidate in top:
        result = outcome.articles.get(candidate.article)
        if result is None or any(c.status == "unknown" and c.matcher.ask for c in result.conditions):
            continue
        article = result.article
        if article.ask is not None:
            text = article.ask.pick(lang)
        else:
            title = article.title.pick(lang)
            text = (f"要判断是否为「{title}」：{article.confirm.pick(lang)}" if lang == "zh"
                    else f"To tell whether it is “{title}”: {article.confirm.pick(lang)}")
        if text not in seen:
            seen.add(text)
            out.append(MissingOut(ask=text, for_ids=[article.id]))
    return out
