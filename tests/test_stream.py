"""Large logs are streamed: one pass, bounded state, the failure near the end still found at its real line."""

from pathlib import Path

from benchmarks.biglog import write_log
from service.pipeline import diagnose_path
from service.stream import STREAM_THRESHOLD_BYTES, stream_file


def test_streamed_log_keeps_head_tail_failure_and_line_numbers(tmp_path: Path, rules):
    path = write_log(tmp_path / "train.log", 3 * STREAM_THRESHOLD_BYTES)
    file_lines = path.read_text().split("\n")
    streamed = stream_file(path)
    assert streamed.total_lines == len(file_lines) - 1  # the file ends with a newline
    assert len(streamed.lines) <= 30_000 and streamed.notes
    for line in streamed.lines[:50] + streamed.lines[-50:]:
        assert file_lines[line.number - 1] == line.text
    result = diagnose_path(path, rules=rules)
    top = result.diagnoses[0]
    assert top.id == "fp16-overflow"
    for evidence in top.evidence:
        assert file_lines[evidence.line - 1] == evidence.text
    assert any(e.text == "fp16: true" for e in top.evidence)  # from the head, millions of lines earlier
    assert any("large log" in note for note in result.notes)
