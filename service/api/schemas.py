"""Request and response models of the REST API (the diagnose result itself is service.models.DiagnoseResult)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator, model_validator

from service.models import DiagnoseResult, FixOut
from service.text import valid_unicode

SEED_LOG = (
    "bf16: true\n"
    "{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.1}\n"
    "{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 2e-05, 'epoch': 0.2}"
)


class DiagnoseRequest(BaseModel):
    """Either one `text` paste, or any subset of `log`, `config` and `env` (line numbers are per part)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"text": SEED_LOG},
        {"log": "{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.1}", "config": "bf16: true"},
    ]})
    text: str | None = Field(default=None, description="A whole paste: log, config and environment mixed.")
    log: str | None = Field(default=None, description="Training log excerpt.")
    config: str | None = Field(default=None, description="Training config: YAML, JSON or a command line.")
    env: str | None = Field(default=None, description="Environment block (`llamafactory-cli env`, pip list, ...).")

    @model_validator(mode="after")
    def _something(self) -> DiagnoseRequest:
        if all(v is None for v in (self.text, self.log, self.config, self.env)):
            raise ValueError("give `text`, or any of `log`, `config`, `env`")
        return self

    def parts(self) -> dict[str, str]:
        if self.text is not None:
            return {"input": self.text, **{k: v for k, v in (("log", self.log), ("config", self.config),
                                                              ("env", self.env)) if v is not None}}
        return {k: v for k, v in (("log", self.log), ("config", self.config), ("env", self.env)) if v is not None}


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"query": "How do I enable gradient clipping in LLaMA-Factory?", "k": 5},
        {"query": "什么是 loss scale?", "k": 3},
    ]})
    query: str = Field(min_length=1, max_length=20000)
    k: StrictInt = Field(default=5, ge=1, le=20)  # 5 only: not "5", 5.0 or true


class SearchHit(BaseModel):
    id: str
    category: str
    title: str
    summary: str
    score: float = Field(description="Reciprocal-rank-fusion score of BM25 and dense retrieval.")


class SearchResponse(BaseModel):
    query: str
    results: list[SearchHit]


class DiagnosisCard(BaseModel):
    id: str
    category: str
    title: dict[str, str]
    summary: dict[str, str]
    groups: list[str]
    fix: FixOut
    references: list[str]


class DiagnosisCards(BaseModel):
    data: list[DiagnosisCard]
    count: int


class DiagnosisPage(DiagnosisCard):
    page: str = Field(description="The diagnosis page in Markdown (what `tunedoc explain` prints).")


class Report(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: StrictStr | StrictInt
    title: str = ""
    body: str = ""

    @field_validator("id", "title", "body")
    @classmethod
    def _valid_unicode(cls, value: str | int) -> str | int:
        return valid_unicode(value) if isinstance(value, str) else value  # the id is echoed back


class TriageRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reports": [
        {"id": "1", "title": "loss 0 and grad_norm nan with bf16", "body": SEED_LOG},
        {"id": "2", "title": "Will you support a new model?", "body": "Please add it."},
    ]}]})
    reports: list[Report] = Field(min_length=1)


class TriageResult(DiagnoseResult):
    id: StrictStr | StrictInt


class TriageResponse(BaseModel):
    results: list[TriageResult]


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, Any]
