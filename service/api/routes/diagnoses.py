"""GET /v1/diagnoses and /v1/diagnoses/{id}: the catalogue."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import EngineDep, ReadAccess
from service.api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from service.api.schemas import DiagnosisCard, DiagnosisCards, DiagnosisPage
from service.docs import article_page
from service.kb import Article
from service.models import FixOut
from service.patches import snippet

router = APIRouter(prefix="/v1", tags=["diagnoses"], dependencies=[ReadAccess])


def card(article: Article) -> dict:
    patch = article.fix.patch
    return {
        "id": article.id, "category": article.category,
        "title": article.title.model_dump(), "summary": article.summary.model_dump(), "groups": article.groups,
        "fix": FixOut(steps=[s.en for s in article.fix.steps],
                      patch={str(t): b for t, b in patch.items()} if patch else None,
                      snippets={t: snippet(t, p) for t, p in sorted(patch.items())} if patch else None),
        "references": article.references,
    }


@router.get("/diagnoses", response_model=DiagnosisCards, responses=ERROR_RESPONSES)
def list_diagnoses(engine: EngineDep) -> DiagnosisCards:
    """The catalogue: every diagnosis with its titles, fix and sources."""
    articles = engine.rules.catalogue.articles
    return DiagnosisCards(data=[DiagnosisCard(**card(a)) for a in articles], count=len(articles))


@router.get("/diagnoses/{diagnosis_id}", response_model=DiagnosisPage,
            responses={404: {"model": ErrorBody, "description": "No diagnosis with that id"}, **ERROR_RESPONSES})
def get_diagnosis(diagnosis_id: str, engine: EngineDep) -> DiagnosisPage:
    """One diagnosis, with its page in Markdown."""
    catalogue = engine.rules.catalogue
    article = catalogue.by_id.get(diagnosis_id)
    if article is None:
        raise ApiError(404, f"no diagnosis with id {diagnosis_id!r}; GET /v1/diagnoses lists them")
    return DiagnosisPage(**card(article), page=article_page(article, catalogue))
