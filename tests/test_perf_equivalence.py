"""Performance rewrites give exactly what the code they replaced gave: the salient text (one RE2 pass instead of a
regex search per line) and the streamed log (literal search and one RE2 pass per chunk instead of Python regexes)."""

from __future__ import annotations

import random
import re
from pathlib import Path

from benchmarks.biglog import write_log
from benchmarks.pastes import paste_factory, real_paste_factory
from service import stream
from service.models import Parsed, Signal
from service.parse import _SALIENT_MIDDLE, parse
from service.pipeline import as_parts
from service.redact import redact
from service.salient import _SALIENT, MAX_CHARS, MAX_LINES, salient_text
from service.signals import extract_signals
from service.text import is_template_checkbox, strip_pasted_images

TRICKY = ["{'loss': 0.0, 'grad_norm': nan, 'epoch': 1}", "'loss':", ": 1", "x.loss: 3 loss=2 grad_norm=1", "aloss: 1",
          "loss", "= 2 step 3 |", "[INFO] fine", "ERROR something", "nan中", "NaN", "nanx", "nan_", "inf", "INFINITY",
          "Out Of Memory", "out  of memory", "报错了", "警告", "Killed", "KILLED", "can't load", "cannot", "ſome",
          "warning: x", "\"loss\" : 1.5, \"lr\": 3", "loss 0.1 step 2", "step 5 | loss 1.2 | lr 3", "", "中文 行",
          "显存不足", "hang", "stuck!", "assertion", "Mismatch", "timeout", "undefined", "重复 卡住 不匹配", "é nan é",
          "nanévolution", "token hf_abcdefghijklmnopqrstuvwxyz0123", "\t", "x" * 300]


def reference_salient(parsed: Parsed, signals: dict[str, Signal]) -> str:
    """salient_text before the RE2 prefilter (the oracle): the same lines kept, found by a regex search per line."""
    chosen: list[str] = []
    seen: set[str] = set()

    def add(text: str) -> None:
        text = strip_pasted_images(text).strip()
        if text and text not in seen and len(chosen) < MAX_LINES and not is_template_checkbox(text):
            seen.add(text)
            chosen.append(redact(text)[:200])

    if parsed.lines:
        add(parsed.lines[0].text)
    for name in ("exception.type", "exception.message"):
        if name in signals:
            for line in signals[name].lines:
                add(line.text)
    for line in parsed.lines:
        if _SALIENT.search(line.text):
            add(line.text)
    for segment in parsed.segments:
        if segment.kind == "prose":
            for line in segment.lines[:4]:
                add(line.text)
    return "\n".join(chosen)[:MAX_CHARS]


def test_salient_text_equals_the_per_line_scan():
    rng = random.Random(5)
    real, synthetic = real_paste_factory(17), paste_factory(17)
    texts = [real() for _ in range(150)] + ["\n".join(synthetic() for _ in range(40)) for _ in range(10)]
    texts += ["\n".join(rng.choice(TRICKY) for _ in range(rng.randint(1, 60))) for _ in range(400)]
    texts += ["", "\n\n", "\r\nnan\rNaN\r\n"]
    for text in texts:
        parsed = parse(as_parts(text))
        signals = extract_signals(parsed)
        assert salient_text(parsed, signals) == reference_salient(parsed, signals), text[:200]


def _reference_stream_module():
    """service.stream with the Python-regex line scans it had before (the oracle)."""

    def matching_lines(text: str, pattern: re.Pattern[str], base: int):  # noqa: ANN202
        position = line_index = 0
        for match in pattern.finditer(text):
            start = match.start()
            if start < position:
                continue
            line_index += text.count("\n", position, start)
            line_start = text.rfind("\n", 0, start) + 1
            line_end = text.find("\n", start)
            line_end = len(text) if line_end < 0 else line_end
            yield base + line_index + 1, text[line_start:line_end]
            position = line_end

    return (lambda text, base: matching_lines(text, stream._LOSS, base),
            lambda text, base: matching_lines(text, _SALIENT_MIDDLE, base))


def test_streamed_lines_equal_the_python_regex_scan(tmp_path: Path, monkeypatch):
    rng = random.Random(3)
    tricky = tmp_path / "tricky.log"
    with tricky.open("w", encoding="utf-8") as f:
        for _ in range(300_000):
            f.write(rng.choice(TRICKY) + rng.choice(["\n"] * 8 + ["\r\n", "\r", " "]))
    big = write_log(tmp_path / "train.log", 3 * stream.STREAM_THRESHOLD_BYTES)
    monkeypatch.setattr(stream, "CHUNK_BYTES", 1 << 20)  # many chunk boundaries
    for path in (tricky, big):
        ours = stream.stream_file(path)
        loss, salient = _reference_stream_module()
        with monkeypatch.context() as m:
            m.setattr(stream, "_loss_lines", loss)
            m.setattr(stream, "_salient_lines", salient)
            reference = stream.stream_file(path)
        assert repr(ours) == repr(reference)  # repr: metric values hold NaN, which != itself


def test_loss_and_salient_scans_on_chunks():
    rng = random.Random(9)
    for _ in range(300):
        text = "\n".join(rng.choice(TRICKY) for _ in range(rng.randint(0, 40)))
        loss, salient = _reference_stream_module()
        assert list(stream._loss_lines(text, 7)) == list(loss(text, 7))
        assert list(stream._salient_lines(text, 7)) == list(salient(text, 7))
