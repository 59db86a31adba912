"""diagnose(): parse -> signals -> rules -> retrieval -> rank -> render. Composition only; each stage is its own
module and every stage but retrieval is pure, so the same input gives byte-identical output.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from service.kb import Catalogue
from service.models import DiagnoseResult, Parsed, Part, RelatedOut
from service.parse import parse, parse_lines
from service.rank import rank, signals_out
from service.rules import RuleSet
from service.salient import salient_text
from service.signals import extract_signals
from service.text import valid_unicode

if TYPE_CHECKING:
    from service.retrieval import Retriever

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


def analyse(parsed: Parsed, *, rules: RuleSet | None = None,
            retriever: Retriever | None = None) -> tuple[DiagnoseResult, str, list[float] | None]:
    """signals -> rules -> retrieval -> rank over an already parsed input."""
    rules = rules or load_rules()
    signals = extract_signals(parsed)
    lang = signals["input.lang"].value if "input.lang" in signals else "en"
    outcome = rules.evaluate(parsed.lines, signals)
    diagnoses, differential, missing = rank(rules, outcome, lang, parsed.facts)
    related: list[RelatedOut] = []
    query = salient_text(parsed, signals)
    vector = None
    if retriever is not None and query:
        shown = {d.id for d in diagnoses}
        vector = retriever.embeddings.embed_query(query)
        for hit in retriever.search(query, k=RELATED_K + len(shown), vector=vector):
            if hit.id not in shown and len(related) < RELATED_K:
                article = rules.catalogue.by_id[hit.id]
                related.append(RelatedOut(id=hit.id, category=article.category,
                                          title=article.title.pick(lang), score=hit.score))
    result = DiagnoseResult(
        lang=lang,
        diagnoses=diagnoses,
        differential=differential,
        missing=missing,
        related=related,
        signals=signals_out(signals),
        notes=parsed.notes,
    )
    return result, query, vector
