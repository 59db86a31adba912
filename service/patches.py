"""Fix patches: RFC 7396 merge patches by target, rendered as ready-to-paste snippets and located in the input.

Targets: `train-config` (LLaMA-Factory YAML / TrainingArguments names), `deepspeed-config` (DeepSpeed JSON) and
`env` (environment variables to export).
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from service.models import Fact

SNIPPET_LANGUAGE = {"train-config": "yaml", "deepspeed-config": "json", "env": "bash"}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: dicts merge recursively, `null` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def snippet(target: str, patch: dict[str, Any]) -> str:
    if target == "deepspeed-config":
        return json.dumps(patch, indent=2, sort_keys=True)
    if target == "env":
        return "\n".join(f"export {key}={value}" for key, value in sorted(patch.items()))
    return yaml.safe_dump(patch, sort_keys=True, allow_unicode=True, default_flow_style=False).strip()


def _leaf_paths(patch: dict[str, Any], prefix: str = "") -> list[str]:
    paths: list[str] = []
    for key, value in patch.items():
        path = f"{prefix}.{key}" if prefix else key
        paths += _leaf_paths(value, path) if isinstance(value, dict) else [path.lower()]
    return paths


def locate(target: str, patch: dict[str, Any], facts: list[Fact]) -> list[Fact]:
    """The facts in the input that the patch would change (last occurrence of each key), for highlighting."""
    found: list[Fact] = []
    for path in _leaf_paths(patch):
        leaf = path.rsplit(".", 1)[-1]
        matches = [f for f in facts if f.path == path or (f.key == leaf and (target != "env" or f.source == "env"))]
        if matches:
            found.append(matches[-1])
    return found
