"""Triage's compact rows (what a worker sends back) and the incremental duplicate index: the same bytes and links
as the whole-row path they replaced."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from service.triage.duplicates import DuplicateIndex
from service.triage.output import ResumableOutput
from service.triage.run import Row, summarize

ROWS = [
    {"id": 7, "lang": "zh", "diagnoses": [{"id": "oom", "category": "oom", "title": "显存不足 \"quoted\"", "status":
     "confirmed", "confidence": 0.912, "evidence": [{"line": 3, "text": "a\tb\\c"}]}], "differential": [],
     "notes": ["x"], "triage": {"title": "t", "category": "oom", "label": None, "duplicate_of": None,
                                "salient": "CUDA out of memory — 显存"}},
    {"id": "abc", "lang": "en", "diagnoses": [], "related": [{"id": "r", "score": 0.016393}],
     "triage": {"category": None, "duplicate_of": None, "gap_line": "weird line", "reply": "**x**\n- y"}},
    {"id": "bad", "error": {"code": "bad_input", "message": "line 3: not JSON"}},
]


def test_row_line_is_the_whole_row_json_and_its_summary_matches():
    for row in ROWS:
        compact = Row.of(row, [0.5, 0.25])
        assert compact.line() == json.dumps(row, ensure_ascii=False)
        assert summarize(compact.summary_row()) == summarize(row)
    linked = dict(ROWS[0], triage=dict(ROWS[0]["triage"]))
    compact = Row.of(linked)
    assert compact.meta is not None
    compact.meta.update(duplicate_of="3", duplicate_kind="same-cause", duplicate_similarity=0.91)
    linked["triage"].update(duplicate_of="3", duplicate_kind="same-cause", duplicate_similarity=0.91)
    assert compact.line() == json.dumps(linked, ensure_ascii=False)


def test_row_vector_is_float32_of_the_same_values():
    vector = [float(np.float32(x)) for x in np.random.default_rng(1).normal(size=512)]
    compact = Row.of(ROWS[0], vector)
    assert compact.vector is not None and compact.vector.dtype == np.float32
    assert compact.vector.tolist() == vector


def test_write_line_equals_write(tmp_path: Path):
    a, b = ResumableOutput(tmp_path / "a.jsonl", summarize), ResumableOutput(tmp_path / "b.jsonl", summarize)
    for row in ROWS:
        a.write(row)
        compact = Row.of(row)
        b.write_line(str(compact.id), compact.line(), compact.summary_row())
    a.close()
    b.close()
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert a.done == b.done == ResumableOutput(tmp_path / "b.jsonl", summarize).done


class _StackedIndex:
    """The previous DuplicateIndex (a vstack per add), as the reference for the incremental one."""

    def __init__(self) -> None:
        self.ids: dict[str, list[str]] = {}
        self.vectors: dict[str, np.ndarray] = {}

    def add(self, report_id, diagnosis_id, vector):  # noqa: ANN001, ANN201
        if diagnosis_id is None or vector is None:
            return None
        unit = np.asarray(vector, dtype=np.float32)
        unit /= float(np.linalg.norm(unit)) or 1.0
        found = None
        matrix = self.vectors.get(diagnosis_id)
        if matrix is not None:
            similarities = matrix @ unit
            best = int(np.argmax(similarities))
            if round(float(similarities[best]), 4) >= 0.85:
                found = (self.ids[diagnosis_id][best], round(float(similarities[best]), 3))
            self.vectors[diagnosis_id] = np.vstack([matrix, unit])
        else:
            self.vectors[diagnosis_id] = unit[None, :]
        self.ids.setdefault(diagnosis_id, []).append(report_id)
        return found


def test_incremental_duplicate_index_links_like_the_stacked_one():
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(6, 64))
    new, old = DuplicateIndex(), _StackedIndex()
    links = 0
    for i in range(400):
        cause = int(rng.integers(0, 3))
        vector = (centres[int(rng.integers(0, 6))] + rng.normal(scale=0.3, size=64)).tolist()
        as_array = np.asarray(vector, dtype=np.float32)
        kept = as_array.copy()
        got = new.add(str(i), f"c{cause}", as_array if i % 2 else vector)
        assert got == old.add(str(i), f"c{cause}", vector)
        assert np.array_equal(as_array, kept)  # the caller's array is not normalised in place
        links += got is not None
    assert new.add("x", None, [1.0]) is None and new.add("y", "c0", None) is None
    assert 50 < links < 400  # the data exercises both outcomes
