"""Likely duplicates inside one export: an earlier report with the same top diagnosis whose salient error lines are
similar (cosine similarity of their embeddings >= DUPLICATE_SIMILARITY).

Threshold measured on the KB's trigger fixtures (`python -m benchmarks.duplicate_threshold`): at 0.85, 79% of
re-pastes of one report (other numbers, ids, log noise) are linked, and 4% of pairs of different reports of the same
cause (at 0.90: 45% and 1%). A false link only joins two reports that already share the diagnosis and its fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DUPLICATE_SIMILARITY = 0.85


@dataclass
class DuplicateIndex:
    threshold: float = DUPLICATE_SIMILARITY
    _ids: dict[str, list[str]] = field(default_factory=dict)
    _vectors: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, report_id: str, diagnosis_id: str | None, vector: list[float] | None) -> tuple[str, float] | None:
        """Register a report; return (earlier report id, similarity) when it duplicates one."""
        if diagnosis_id is None or vector is None:
            return None
        unit = np.asarray(vector, dtype=np.float32)
        unit /= float(np.linalg.norm(unit)) or 1.0
        found = None
        matrix = self._vectors.get(diagnosis_id)
        if matrix is not None:
            similarities = matrix @ unit
            best = int(np.argmax(similarities))
            if round(float(similarities[best]), 4) >= self.threshold:  # rounded: float noise never flips a link
                found = (self._ids[diagnosis_id][best], round(float(similarities[best]), 3))
            self._vectors[diagnosis_id] = np.vstack([matrix, unit])
        else:
            self._vectors[diagnosis_id] = unit[None, :]
        self._ids.setdefault(diagnosis_id, []).append(report_id)
        return found
