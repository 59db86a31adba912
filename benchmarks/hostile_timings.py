"""Time each hostile paste (tests/hostile.py) through decode + diagnose, rules only.

Usage: .venv/bin/python -m benchmarks.hostile_timings
"""

from __future__ import annotations

import time

from service.config import apply_offline_env
from service.pipeline import diagnose, load_rules
from service.text import decode_bytes
from tests.hostile import hostile_bytes


def main() -> None:
    apply_offline_env()
    rules = load_rules()
    print("| case | seconds | diagnoses |\n|---|---|---|")
    for name, data in hostile_bytes().items():
        started = time.perf_counter()
        result = diagnose(decode_bytes(data).text, rules=rules)
        print(f"| {name} | {time.perf_counter() - started:.2f} | {[d.id for d in result.diagnoses]} |")


if __name__ == "__main__":
    main()
