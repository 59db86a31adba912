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


_SNIPPETS: dict[tuple[str, str], str] = {}


def snippet(target: str, patch: dict[str, Any]) -> str:
    # Patches are KB data, a handful per article: render each once (yaml.safe_dump costs ~0.3 ms a call). repr()
    # tells 1, 1.0 and True apart, so equal keys render alike.
    key = (target, repr(patch))
    text = _SNIPPETS.get(key)
    if text is None:
        if len(_SNIPPETS) > 4096:  # patches from API callers or many KBs: stay bounded
            _SNIPPETS.clear()
        text = _SNIPPETS[key] = _render_snippet(target, patch)
    return text


def _render_snippet(target: str, patch: dict[str, Any]) -> str:
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


class FactIndex:
    """The last fact of each path, key and env key, built on first use: one pass over the facts instead of one per
    patch path (a 200 KB paste has thousands of facts)."""

    def __init__(self, facts: list[Fact]) -> None:
        self.facts = facts
        self._built: tuple[dict[str, int], dict[str, int], dict[str, int]] | None = None

    def last(self) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
        """(position by path, by key, by key of env facts), each the last position."""
        if self._built is None:
            by_path: dict[str, int] = {}
            by_key: dict[str, int] = {}
            by_env_key: dict[str, int] = {}
            for position, fact in enumerate(self.facts):
                by_path[fact.path] = position
                by_key[fact.key] = position
                if fact.source == "env":
                    by_env_key[fact.key] = position
            self._built = by_path, by_key, by_env_key
        return self._built


def locate(target: str, patch: dict[str, Any], facts: FactIndex) -> list[Fact]:
    """The facts in the input that the patch would change (last occurrence of each key), for highlighting: the last
    fact whose path is the patch path or whose key is its leaf (env facts only, for the env target)."""
    found: list[Fact] = []
    by_path, by_key, by_env_key = facts.last()
    keys = by_env_key if target == "env" else by_key
    for path in _leaf_paths(patch):
        leaf = path.rsplit(".", 1)[-1]
        position = max(by_path.get(path, -1), keys.get(leaf, -1))
        if position >= 0:
            found.append(facts.facts[position])
    return found
