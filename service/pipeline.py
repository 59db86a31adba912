"""diagnose(): parse -> signals -> rules -> retrieval -> rank -> render. Composition only; each stage is its own
module and every stage but retrieval is pure, so the same input gives byte-identical output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from service.fusion import Candidate, candidates, decide, fusion_text, is_bare, rank_candidates
from service.kb import Catalogue
from service.models import DiagnoseResult, Parsed, Part, RelatedOut, Signal
from service.parse import parse, parse_lines
from service.rank import assemble, rank, signals_out
from service.rules import RuleOutcome, RuleSet
from service.salient import salient_text
from service.signals import extract_signals
from service.text import valid_unicode

if TYPE_CHECKING:
    from service.retrieval import RetrievalHits, Retriever

RELATED_K = 3


@lru_cache(maxsize=4)
def load_rules(kb_dir: str | None = None) -> RuleSet:
    return RuleSet(Catalogue.load(kb_dir))


def as_parts(text: str | list[Part] | dict[str, str]) -> list[Part]:
    """The library boundary: every surface's input becomes parts of valid Unicode here."""
    if isinstance(text, str):
        return [Part("input", valid_unicode(text))]
    if isinstance(text, dict):
        return [Part(valid_unicode(name), valid_unicode(value)) for name, value in text.items() if value is not None]
    return [Part(valid_unicode(p.name), valid_unicode(p.text)) for p in text]


def diagnose(
    text: str | list[Part] | dict[str, str],
    *,
    rules: RuleSet | None = None,
    retriever: Retriever | None = None,
) -> DiagnoseResult:
    return diagnose_with_query(text, rules=rules, retriever=retriever)[0]


def diagnose_with_query(
    text: str | list[Part] | dict[str, str],
    *,
    rules: RuleSet | None = None,
    retriever: Retriever | None = None,
) -> tuple[DiagnoseResult, str, list[float] | None]:
    """diagnose() plus the salient text and its embedding (None without retrieval), which triage reuses."""
    return analyse(parse(as_parts(text)), rules=rules, retriever=retriever)


def diagnose_path(path: Path, *, rules: RuleSet | None = None, retriever: Retriever | None = None) -> DiagnoseResult:
    """Diagnose a file; a large log is streamed (bounded memory, one pass) instead of read whole."""
    from service.stream import STREAM_THRESHOLD_BYTES, stream_file
    from service.text import decode_bytes

    if path.stat().st_size > STREAM_THRESHOLD_BYTES:
        streamed = stream_file(path)
        return analyse(parse_lines(streamed.lines, streamed.metrics, streamed.notes), rules=rules,
                       retriever=retriever)[0]
    decoded = decode_bytes(path.read_bytes())
    result = diagnose(decoded.text, rules=rules, retriever=retriever)
    if decoded.note:
        result.notes.append(decoded.note)
    return result


@dataclass
class Analysis:
    """Everything one input went through, so triage, the chat and the gaps read it instead of re-parsing."""

    parsed: Parsed
    signals: dict[str, Signal]
    lang: str
    outcome: RuleOutcome
    query: str
    vector: list[float] | None = None
    hits: RetrievalHits | None = None
    ranked: list[Candidate] = field(default_factory=list)
    chosen: list[Candidate] = field(default_factory=list)
    rest: list[Candidate] = field(default_factory=list)
    result: DiagnoseResult | None = None


def analyse_input(parsed: Parsed, *, rules: RuleSet | None = None, retriever: Retriever | None = None,
                  cause_of: dict[str, str] | None = None) -> Analysis:
    """parse -> signals -> rules -> retrieval -> fusion -> rank. `cause_of` restricts the cases retrieval may vote
    with (cross-validation); by default every case of the retriever's case base."""
    rules = rules or load_rules()
    signals = extract_signals(parsed)
    lang: Literal["en", "zh"] = "zh" if "input.lang" in signals and signals["input.lang"].value == "zh" else "en"
    outcome = rules.evaluate(parsed.lines, signals)
    query = salient_text(parsed, signals)
    analysis = Analysis(parsed, signals, lang, outcome, query)
    if retriever is None or not query:
        diagnoses, differential, missing = rank(rules, outcome, lang, parsed.facts)
    else:
        analysis.vector = retriever.embeddings.embed_query(query)
        analysis.hits = retriever.retrieve(query, vector=analysis.vector)
        if cause_of is None:
            cause_of = retriever.cause_of
        from service.lexical import combine  # with retrieval only: its tokenizer is BM25's (scipy)

        text = fusion_text(parsed)
        cause_probs = None
        # The committed classifiers were fitted on every case: under a restricted case map (cross-validation) their
        # output would carry the held-out cases in, so they speak only when all cases may vote.
        if cause_of is retriever.cause_of or cause_of.keys() >= retriever.cause_of.keys():
            cause_probs = combine(
                retriever.classifier.probabilities(analysis.vector) if retriever.classifier is not None else None,
                retriever.lexical.probabilities(text) if retriever.lexical is not None else None)
        found, report = candidates(rules.catalogue, outcome, analysis.hits, cause_of, signals,
                                   bare=is_bare(parsed), cause_probs=cause_probs)
        analysis.ranked = rank_candidates(found, report, retriever.model)
        analysis.chosen, analysis.rest = decide(analysis.ranked, retriever.model, lang)
        urls = retriever.case_urls
        diagnoses, differential, missing = assemble(rules, outcome, lang, parsed.facts, analysis.chosen,
                                                    analysis.rest, urls)
    analysis.result = DiagnoseResult(
        lang=lang,
        diagnoses=diagnoses,
        differential=differential,
        missing=missing,
        related=[],
        signals=signals_out(signals),
        notes=parsed.notes,
    )
    if analysis.hits is not None:
        analysis.result.related = _related(analysis.result, analysis.hits, rules, lang)
    return analysis


def _related(result: DiagnoseResult, hits: RetrievalHits, rules: RuleSet, lang: str) -> list[RelatedOut]:
    """Retrieval's best articles that the answer does not already show. Differential candidates it hides (a how-to
    question's few-percent candidates) may be listed: hiding them would leave only worse hits."""
    shown = {d.id for d in result.diagnoses} | {d.id for d in result.shown_differential()}
    related: list[RelatedOut] = []
    for hit in hits.articles:
        if hit.id not in shown and len(related) < RELATED_K:
            article = rules.catalogue.by_id[hit.id]
            related.append(RelatedOut(id=hit.id, category=article.category, title=article.title.pick(lang),
                                      score=hit.score))
    return related


def analyse(parsed: Parsed, *, rules: RuleSet | None = None,
            retriever: Retriever | None = None) -> tuple[DiagnoseResult, str, list[float] | None]:
    """signals -> rules -> retrieval -> fusion over an already parsed input: (result, salient text, its vector)."""
    analysis = analyse_input(parsed, rules=rules, retriever=retriever)
    assert analysis.result is not None  # analyse_input always sets it
    return analysis.result, analysis.query, analysis.vector
