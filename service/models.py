"""Data types shared by every stage and surface.

Internal stage types are frozen dataclasses (cheap, hashable); the output model that the CLI, the REST API, the
chat and triage all return is pydantic, so it validates and serialises the same way everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

# ---------------------------------------------------------------- input


@dataclass(frozen=True)
class Part:
    """One named piece of the input (`input` for a single paste; `log`, `config`, `env` or a file name)."""

    name: str
    text: str


@dataclass(frozen=True)
class Line:
    part: str
    number: int  # 1-based within its part
    text: str


@dataclass(frozen=True)
class Segment:
    """A run of lines of one kind: metrics, yaml, json, traceback, env, command, log or prose."""

    kind: str
    lines: tuple[Line, ...]

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


@dataclass(frozen=True)
class Fact:
    """A key/value setting found anywhere: YAML, JSON, command-line flag, Python keyword or env assignment."""

    key: str  # leaf key, lower case (`bf16`, `overlap_comm`)
    path: str  # dotted path where nested (`zero_optimization.overlap_comm`)
    value: Any
    line: Line
    source: str  # yaml, json, flag, kwarg, env


@dataclass(frozen=True)
class MetricRecord:
    line: Line
    values: dict[str, float]


@dataclass
class Parsed:
    lines: list[Line]
    segments: list[Segment]
    facts: list[Fact]
    metrics: list[MetricRecord]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Signal:
    name: str
    value: Any
    lines: tuple[Line, ...]


# ---------------------------------------------------------------- output


class Evidence(BaseModel):
    part: str = Field(description="Which part of the input the line is in (`input` for a single paste).")
    line: int = Field(description="1-based line number within that part.")
    text: str = Field(description="The line, as matched (ANSI codes stripped, secrets redacted).")
    signal: str = Field(description="What matched: a signal name or `<article-id>:<matcher-id>`.")
    start: int | None = Field(default=None, description="0-based start column of the match, where known.")
    end: int | None = Field(default=None, description="0-based end column (exclusive), where known.")


class ConditionOut(BaseModel):
    id: str
    status: Literal["holds", "fails", "unknown"]
    description: str


class FixOut(BaseModel):
    steps: list[str]
    patch: dict[str, dict[str, Any]] | None = Field(
        default=None, description="RFC 7396 merge patches by target: train-config, deepspeed-config, env."
    )
    snippets: dict[str, str] | None = Field(
        default=None, description="The same patches as ready-to-paste text: YAML, DeepSpeed JSON, `export` lines."
    )
    locations: list[Evidence] = Field(
        default_factory=list, description="Lines of the input holding settings the patch changes."
    )


class SimilarReport(BaseModel):
    url: str = Field(description="A real public report of the same cause from the case base.")
    similarity: float


class DiagnosisOut(BaseModel):
    id: str
    category: str
    title: str
    status: Literal["confirmed", "probable"] = Field(
        default="confirmed", description="confirmed: the article's rules hold; probable: the fusion model's "
                                         "probability reaches the abstention threshold, and the candidates "
                                         "together pass its in-scope gate.")
    confidence: float = Field(description="Probability that this is the cause (the calibrated fusion model).")
    score: float = Field(description="The rule score of the article (sum of the weights of what holds).")
    evidence: list[Evidence]
    conditions: list[ConditionOut]
    cause: str
    fix: FixOut
    references: list[str]
    similar_reports: list[SimilarReport] = Field(default_factory=list)


class DifferentialOut(BaseModel):
    id: str
    category: str
    title: str
    status: Literal["candidate", "ruled_out", "no_evidence"]
    probability: float | None = Field(default=None, description="The fusion model's probability (candidates).")
    confirm: str = Field(description="The evidence that would confirm this cause.")
    reason: str | None = Field(default=None, description="Why it is ruled out, or what is missing.")
    evidence: list[Evidence] = Field(default_factory=list)


class MissingOut(BaseModel):
    ask: str
    signal: str | None = None
    for_ids: list[str]
    gain: float | None = Field(default=None, description="Expected information gain (bits) over the top "
                                                          "candidates' probabilities; `missing` is sorted by it.")


class RelatedOut(BaseModel):
    id: str
    category: str
    title: str
    score: float


class SignalOut(BaseModel):
    name: str
    value: Any
    lines: list[Evidence]


# Below this probability a candidate stays in the differential but is never named "most likely": a cause the model
# gives less than 1 chance in 20 says nothing about the report (how-to and sizing questions sit under 0.01). `tunedoc
# eval --cv` prints what other floors would name: on the 1,173-report base, 0.05 names the right cause for 0.82 of
# the in-scope reports it abstains on (0.74 at 0.1), and an out-of-scope near-miss gets a cause named 0.81 of the
# time (0.67) — an abstention that names a likely cause and asks its question beats one that only asks for the log.
LIKELY_FLOOR = 0.05
MIN_GAIN = 0.01  # bits: a question after a diagnosis must still separate the candidates this much


class DiagnoseResult(BaseModel):
    lang: Literal["en", "zh"]
    diagnoses: list[DiagnosisOut]
    differential: list[DifferentialOut]
    missing: list[MissingOut]
    related: list[RelatedOut]
    signals: list[SignalOut]
    notes: list[str] = Field(default_factory=list, description="Decoding or size problems worth telling the user.")

    def likely(self, limit: int = 3) -> list[DifferentialOut]:
        """The candidates worth naming when nothing is diagnosed: probable enough to say so (without a fitted
        model there is no probability, and every candidate counts)."""
        return [d for d in self.differential if d.status == "candidate"
                and (d.probability is None or d.probability >= LIKELY_FLOOR)][:limit]

    def asks(self, missing: MissingOut) -> bool:
        """Whether `missing` is worth asking as the next question: with nothing diagnosed, any question of a likely
        cause (it separates them); once a cause is diagnosed, only one that still separates something (information
        gain above MIN_GAIN: "is this a GRPO run?" after a certain fp16 overflow tells nothing). With nothing
        diagnosed and nothing likely (a how-to question), no cause's question fits: the answer asks for the log."""
        if not self.names_causes():
            return False
        return not self.diagnoses or (missing.gain is not None and missing.gain > MIN_GAIN)

    def next_question(self) -> MissingOut | None:
        """The one question to ask next (the chat, the Markdown answer, the triage draft reply), if any."""
        return next((m for m in self.missing if self.asks(m)), None)

    def names_causes(self) -> bool:
        """A diagnosis, or at least one likely cause: then the causes' own questions are worth asking. Otherwise (a
        how-to or sizing question) the answer asks for the error, the config and the environment instead."""
        return bool(self.diagnoses or self.likely())

    def shown_differential(self) -> list[DifferentialOut]:
        """The differential as people read it: whole when the answer names causes; otherwise the candidates at a
        few percent are noise and only what the rules ruled out is worth a line."""
        if self.names_causes():
            return self.differential
        return [d for d in self.differential if d.status == "ruled_out"]
