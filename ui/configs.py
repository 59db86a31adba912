"""The user's own config with the fix merged in, for download: the training YAML and the DeepSpeed JSON found in
what the chat received, with the first diagnosis' RFC 7396 merge patch applied.

The YAML is edited line by line (comments, order and the user's other keys stay as written; nothing is
deserialised, so an alias bomb or a `!!python/object` tag is just text); the DeepSpeed JSON is parsed with the
standard library, merged and written back with two-space indents.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import yaml

from service.models import Part
from service.parse import parse
from service.patches import merge_patch

MAX_CONFIG_CHARS = 256 * 1024  # a training config is a few KB; a bigger paste is a log
HEAD_LINES = 400
_DS_KEYS = {"zero_optimization", "train_micro_batch_size_per_gpu", "train_batch_size", "gradient_accumulation_steps",
            "fp16", "bf16", "gradient_clipping", "optimizer", "scheduler", "zero_allow_untested_optimizer"}
_TOP_KEY = re.compile(r"^([A-Za-z_][\w.\-]*)\s*:(.*)$")


@dataclass(frozen=True)
class FoundConfig:
    target: str  # train-config | deepspeed-config
    source: str  # the part it came from (`message 2`, `ds_z2.json`)
    text: str


def _scalar(value: Any) -> str:
    """A YAML scalar as LLaMA-Factory configs write it (`false`, `1.0e-4`, `sdpa`, quoted when needed)."""
    return yaml.safe_dump(value, default_flow_style=True, allow_unicode=True).strip().removesuffix("...").strip()


def _block_end(lines: list[str], start: int) -> int:
    """Index after the block of more-indented (or blank) lines that belongs to the key on `start`."""
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][:1] in " \t"):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return end


def merge_yaml(text: str, patch: dict[str, Any]) -> str:
    """Apply a merge patch to the top-level keys of a YAML config, editing lines in place."""
    lines = text.rstrip("\n").split("\n")
    added: list[str] = []
    for key, value in patch.items():
        at = next((i for i, line in enumerate(lines) if (m := _TOP_KEY.match(line)) and m.group(1) == key), None)
        if value is None:
            if at is not None:
                del lines[at:_block_end(lines, at)]
            continue
        if isinstance(value, dict):
            children: dict[str, str] = {}
            indent = "  "
            if at is not None:
                for child in lines[at + 1:_block_end(lines, at)]:
                    match = re.match(r"^(\s+)([A-Za-z_][\w.\-]*)\s*:\s*(.*)$", child)
                    if match:
                        indent = match.group(1)
                        children[match.group(2)] = match.group(3)
            for sub, sub_value in value.items():
                if sub_value is None:
                    children.pop(sub, None)
                else:
                    children[sub] = _scalar(sub_value) if not isinstance(sub_value, dict) else json.dumps(sub_value)
            block = [f"{key}:"] + [f"{indent}{sub}: {raw}" for sub, raw in children.items()]
            if at is None:
                added += block
            else:
                lines[at:_block_end(lines, at)] = block
            continue
        if at is None:
            added.append(f"{key}: {_scalar(value)}")
            continue
        key_line = _TOP_KEY.match(lines[at])
        rest = key_line.group(2) if key_line else ""
        comment = re.search(r"\s+#.*$", rest) if not rest.strip().startswith(("'", '"')) else None
        lines[at:_block_end(lines, at)] = [f"{key}: {_scalar(value)}{comment.group(0) if comment else ''}"]
    if added:
        lines += ["", "# added by tunedoc", *added]
    return "\n".join(lines) + "\n"


def _yaml_block(text: str, name: str) -> str | None:
    """The training YAML inside a paste: its longest run of YAML lines with at least two top-level keys."""
    parsed = parse([Part(name, text)])
    best: list[str] = []
    run: list[str] = []
    for segment in parsed.segments + [None]:
        if segment is not None and segment.kind == "yaml":
            run += [line.text for line in segment.lines]
            continue
        keys = sum(1 for line in run if _TOP_KEY.match(line) and not line.startswith("#"))
        if keys >= 2 and keys > sum(1 for line in best if _TOP_KEY.match(line)):
            best = run
        run = []
    while best and not best[-1].strip():
        best.pop()
    return "\n".join(best) + "\n" if best else None


def _json_object(text: str) -> dict | None:
    """A DeepSpeed config inside a paste: a whole-text JSON object, or a `{` ... `}` block of lines."""
    stripped = text.strip()
    candidates = [stripped] if stripped.startswith("{") else []
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.strip() == "{":
            depth = 0
            for j in range(i, len(lines)):
                depth += lines[j].count("{") - lines[j].count("}")
                if depth <= 0:
                    candidates.append("\n".join(lines[i:j + 1]))
                    break
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict) and _DS_KEYS & set(value):
            return value
    return None


def find_configs(pastes: list[tuple[str, str]]) -> dict[str, FoundConfig]:
    """The newest training YAML and DeepSpeed JSON the user pasted or uploaded, by patch target."""
    found: dict[str, FoundConfig] = {}
    for name, text in reversed(pastes):
        if name == "answers":
            continue
        if len(text) > MAX_CONFIG_CHARS:  # a log: launchers print the config at its top
            text = "\n".join(text.split("\n", HEAD_LINES)[:HEAD_LINES])[:MAX_CONFIG_CHARS]
        if "deepspeed-config" not in found:
            value = _json_object(text)
            if value is not None:
                found["deepspeed-config"] = FoundConfig("deepspeed-config", name, json.dumps(value))
                continue
        if "train-config" not in found:
            block = _yaml_block(text, name)
            if block is not None:
                found["train-config"] = FoundConfig("train-config", name, block)
    return found


_DEFAULT_NAMES = {"train-config": "train_config.patched.yaml", "deepspeed-config": "ds_config.patched.json"}


def file_name(config: FoundConfig) -> str:
    """`ds_z2.json` -> `ds_z2.patched.json`; a pasted message -> a default name."""
    path = PurePath(config.source)
    if path.suffix.lower() in (".yaml", ".yml", ".json") and re.fullmatch(r"[\w.\-]+", path.name):
        return f"{path.stem}.patched{path.suffix.lower()}"
    return _DEFAULT_NAMES[config.target]


def merged_configs(pastes: list[tuple[str, str]], patch: dict[str, dict] | None) -> list[tuple[str, str]]:
    """(file name, content) of each pasted config the patch applies to, with the patch merged."""
    if not patch:
        return []
    out = []
    for target, config in sorted(find_configs(pastes).items()):
        if target not in patch:
            continue
        if target == "deepspeed-config":
            merged = merge_patch(json.loads(config.text), patch[target])
            out.append((file_name(config), json.dumps(merged, indent=2, ensure_ascii=False) + "\n"))
        else:
            out.append((file_name(config), merge_yaml(config.text, patch[target])))
    return out
