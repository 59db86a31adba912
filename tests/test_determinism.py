"""Same input, same answer, byte for byte, across processes."""

import subprocess
import sys
from pathlib import Path

from tests.unit.test_engine_acceptance import SEED

BIN = Path(sys.executable).with_name("tunedoc")


def _run(path: Path, *extra: str) -> bytes:
    return subprocess.run([str(BIN), "diagnose", str(path), "--json", *extra], check=True, capture_output=True,
                          timeout=300).stdout


def test_rules_only_output_is_byte_identical_across_processes(tmp_path: Path):
    path = tmp_path / "seed.txt"
    path.write_text(SEED)
    first, second = _run(path, "--no-retrieval"), _run(path, "--no-retrieval")
    assert first == second and b"bf16-numerical-instability" in first


def test_full_output_with_retrieval_is_byte_identical_across_processes(tmp_path: Path, data_dir: Path):
    path = tmp_path / "seed.txt"
    path.write_text(SEED)
    first, second = _run(path), _run(path)
    assert first == second and b'"related"' in first
