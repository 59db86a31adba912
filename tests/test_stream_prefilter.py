"""The streamed log's metric records are what parsing every loss line gives: `_maybe_odd` never drops a line whose
record is non-finite or zero, the newest records come out of the bounded buffer in order, and the one-call
`_metric_values` equals the per-match version it replaced."""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.biglog import write_log
from service import stream
from service.models import Line, MetricRecord
from service.parse import _ALIASES, _METRIC, _metric_values
from service.stream import _interesting, _maybe_odd
from service.text import clean_line


def reference_metric_values(text: str) -> dict[str, float]:
    """`_metric_values` before it used findall (the oracle)."""
    values: dict[str, float] = {}
    spaced = False
    for match in _METRIC.finditer(text):
        key, raw = match.group(1), match.group(3)
        spaced = spaced or not re.search(r"[:=]", match.group(0))
        key = _ALIASES.get(key.lower(), key.lower())
        if key not in values:
            try:
                values[key] = float(raw)
            except ValueError:
                continue
    if spaced and not ("step" in values or "|" in text or len(values) >= 3):
        return {}
    return values


KEYS = ["loss", "LOSS", "Loss", "grad_norm", "gnorm", "grad norm", "Grad Norm", "learning_rate", "lr", "epoch",
        "step", "global_step", "ſtep", "'loss'", '"grad_norm"', "x.loss", "aloss"]
SEPARATORS = [": ", ":", "=", " = ", " ", "  ", "\t", "': ", '": ', " : "]
NUMBERS = ["0", "0.0", "-0.0", "+0", "00.000", "0.", "0e5", "0.0E-3", "1e-400", "1e400", "9" * 320, "0." + "0" * 250 + "1",
           "1e-5", "2.0e-05", "0.01", "10.0", "0.5", "1", "nan", "NaN", "inf", "-inf", "Infinity", "-INF", "1.2.3",
           "０", "٠.٠", "１e５", "0x1", "1_0", "3", "1e0000400", "1e-0000400", "5e99", "5e-99", "0.000", "100"]
GLUE = [", ", " | ", "}", "{", " ", "", "'", "\"", "[INFO] ", "step 3 ", " and ", "中", "é", "\t", ".", "_", "x"]

EXAMPLES = int(os.environ.get("TUNEDOC_FUZZ_EXAMPLES", "1000"))
_token = st.one_of(st.sampled_from(KEYS), st.sampled_from(SEPARATORS), st.sampled_from(NUMBERS), st.sampled_from(GLUE),
                   st.text(max_size=3))
lines = st.lists(_token, max_size=24).map("".join)


@settings(max_examples=EXAMPLES, deadline=None)
@given(lines)
def test_maybe_odd_keeps_every_interesting_line(text):
    values = _metric_values(text)
    if "loss" in values and len(values) >= 2 and _interesting(values):
        assert _maybe_odd(text), (text, values)


@settings(max_examples=EXAMPLES, deadline=None)
@given(lines)
def test_metric_values_equal_the_per_match_version(text):
    assert repr(_metric_values(text)) == repr(reference_metric_values(text))


def test_maybe_odd_on_the_edge_values():
    for number in NUMBERS:
        for key in ("loss", "grad_norm", "epoch"):
            text = f"{{'{key}': {number}, 'loss': 1.5, 'step': 3}}" if key != "loss" else f"loss={number} step=3"
            values = _metric_values(text)
            if "loss" in values and len(values) >= 2 and _interesting(values):
                assert _maybe_odd(text), text
    assert not _maybe_odd("{'loss': 0.8123, 'grad_norm': 1.2, 'learning_rate': 2.0e-05, 'epoch': 0.01}")


def reference_metrics(path: Path, keep: int) -> list[MetricRecord]:
    """The records the stream keeps, computed from the whole file: every loss line parsed (the oracle)."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    records = []
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        line = line.rsplit("\r", 1)[-1]  # of a line redrawn with bare \r, its last frame
        if stream._LOSS.search(line):
            values = reference_metric_values(line)
            if "loss" in values and len(values) >= 2:
                records.append(MetricRecord(Line("input", number, clean_line(line)), values))
    first, rest = records[:keep], records[keep:]
    odd = [r for r in rest if _interesting(r.values)][:keep]
    chosen = {r.line.number: r for r in first + odd + rest[-keep:]}
    return sorted(chosen.values(), key=lambda r: r.line.number)


def _metric_log(path: Path, seed: int, lines: int) -> Path:
    rng = random.Random(seed)
    odd = ["nan", "inf", "0.0", "0", "-inf", "1e-400", "1e400", "０", "NaN"]
    with path.open("w", encoding="utf-8") as f:
        f.write("fp16: true\n")
        for i in range(lines):
            roll = rng.random()
            loss = rng.choice(odd) if roll < 0.01 else f"{rng.uniform(0.1, 3):.4f}"
            norm = rng.choice(odd) if 0.01 <= roll < 0.02 else f"{rng.uniform(0.1, 3):.4f}"
            kind = rng.random()
            if kind < 0.5:
                f.write(f"{{'loss': {loss}, 'grad_norm': {norm}, 'learning_rate': 2e-05, 'epoch': {i / 1000:.2f}}}")
            elif kind < 0.6:
                f.write(f"step {i} | loss {loss} | grad_norm {norm}")
            elif kind < 0.7:
                f.write(f"the loss {loss} looks fine")  # prose: not a record
            elif kind < 0.75:
                f.write(f"{{'loss': {loss}, 'note': '{'x' * rng.choice([10, 1500, 5000])}', 'epoch': 1}}")  # long
            elif kind < 0.8:
                f.write(f"loss: {loss}")  # one value: not a record
            else:
                f.write(f"[INFO] step={i} lr=[2e-05] progress {rng.randint(0, 99)}%")
            f.write(rng.choice(["\n"] * 12 + ["\r\n", "\r"]))
    return path


def test_streamed_metrics_equal_parsing_every_loss_line(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(stream, "CHUNK_BYTES", 64 * 1024)  # many chunk boundaries
    for keep, pending, seed, n in ((40, 16 * 40, 1, 3000), (40, 7, 2, 3000), (300, 16 * 300, 3, 20000),
                                   (2000, 8 * 2000, 4, 30000)):
        monkeypatch.setattr(stream, "METRICS_KEEP", keep)
        monkeypatch.setattr(stream, "PENDING_LINES", pending)
        path = _metric_log(tmp_path / f"m{seed}.log", seed, n)
        assert repr(stream.stream_file(path).metrics) == repr(reference_metrics(path, keep)), (keep, pending, seed)


def test_streamed_metrics_of_a_generated_training_log(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(stream, "CHUNK_BYTES", 256 * 1024)
    path = write_log(tmp_path / "train.log", 2 * 1024 * 1024)
    assert repr(stream.stream_file(path).metrics) == repr(reference_metrics(path, stream.METRICS_KEEP))
