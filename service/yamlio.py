"""YAML for tunedoc's own data files (kb/ articles, groups, tables): libyaml's safe loader when PyYAML was built
with it. Loading kb/ is part of every process start (a triage worker, `tunedoc diagnose`, the server), and the
pure-Python loader spent ~0.4 s of it on 120 files; libyaml reads the same files ten times faster into the same
objects (tests/unit/test_yamlio.py). Users' pasted configs keep PyYAML's default loader and its messages."""

from __future__ import annotations

from typing import Any

import yaml

SafeLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str) -> Any:  # noqa: ANN401 - whatever the YAML holds
    return yaml.load(text, Loader=SafeLoader)  # noqa: S506 - a safe loader (libyaml's or PyYAML's)
