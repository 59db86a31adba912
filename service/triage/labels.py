"""Map categories to the tracker's own labels, from a small YAML file:

    default: needs-triage          # a diagnosed category without its own entry
    no-diagnosis: pending          # reports with no diagnosis
    fp16-overflow: numerics
    nccl-p2p-hang: distributed

Without a file, the label is the category itself (and `no-diagnosis` for none).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from service.errors import InputError


class LabelMap:
    def __init__(self, mapping: dict[str, str] | None = None) -> None:
        self.mapping = {str(k): str(v) for k, v in (mapping or {}).items()}

    @classmethod
    def load(cls, path: Path | None) -> LabelMap:
        if path is None:
            return cls()
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise InputError(f"{path}: cannot read the label mapping: {exc}") from exc
        if not isinstance(data, dict):
            raise InputError(f"{path}: the label mapping must be a mapping of category: label")
        return cls(data)

    def label(self, category: str | None) -> str:
        if category is None:
            return self.mapping.get("no-diagnosis", "no-diagnosis")
        return self.mapping.get(category, self.mapping.get("default", category))
