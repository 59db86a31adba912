"""POST /v1/triage: a bounded batch of reports -> one diagnose result per report, in order."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from service.api.deps import EngineDep, ReadAccess
from service.api.errors import ERROR_RESPONSES, ApiError
from service.api.schemas import TriageRequest, TriageResponse, TriageResult
from service.pipeline import diagnose
from service.triage.readers import report_text

router = APIRouter(prefix="/v1", tags=["triage"], dependencies=[ReadAccess])


@router.post("/triage", response_model=TriageResponse, responses=ERROR_RESPONSES)
async def triage_route(body: TriageRequest, engine: EngineDep) -> TriageResponse:
    """Diagnose a batch of issue reports (title, blank line, body), one result per report."""
    limit = engine.settings.max_triage_reports
    if len(body.reports) > limit:
        raise ApiError(422, f"reports: at most {limit} reports per request (TUNEDOC_MAX_TRIAGE_REPORTS); "
                            f"got {len(body.reports)}")

    rules, retriever = engine.rules, engine.retriever

    def one(report) -> TriageResult:  # noqa: ANN001 - a TriageRequest report
        return TriageResult(id=report.id, **diagnose(report_text(report.title, report.body), rules=rules,
                                                      retriever=retriever).model_dump())

    # each report is a pool task: the batch uses every core and its embeddings are batched together
    return TriageResponse(results=list(await asyncio.gather(*(engine.pool.run(one, r) for r in body.reports))))
