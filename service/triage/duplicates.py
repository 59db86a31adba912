"""Likely duplicates inside one export: an earlier report with the same top diagnosis whose salient error lines are
similar (cosine similarity of their embeddings >= DUPLICATE_SIMILARITY).

The salient text compared is the whole retrieval query (up to 600 characters), so triage reuses its embedding.
Threshold measured on the KB's trigger fixtures with that text (`python -m benchmarks.duplicate_threshold`): at 0.85,
67% of re-pastes of one report (other numbers, ids, log noise) are linked, and 2% of pairs of different reports of the
same cause (at 0.80: 85% and 5%; at 0.90: 45% and 1%). A false link only joins two reports that already share the
diagnosis and its fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DUPLICATE_SIMILARITY = 0.85


@dataclass
class DuplicateIndex:
    threshold: float = DUPLICATE_SIMILARITY
    _ids: dict[str, list[str]] = field(default_factory=dict)
    _vectors: dict[str, np.ndarray] = field(default_factory=dict)  # per diagnosis: unit rows, then spare capacity

    def add(self, report_id: str, diagnosis_id: str | None,
            vector: list[float] | np.ndarray | None) -> tuple[str, float] | None:
        """Register a report; return (earlier report id, similarity) when it duplicates one."""
        if diagnosis_id is None or vector is None:
            return None
        unit = np.array(vector, dtype=np.float32)
        unit /= float(np.linalg.norm(unit)) or 1.0
        found = None
        ids = self._ids.setdefault(diagnosis_id, [])
        buffer = self._vectors.get(diagnosis_id)
        if ids and buffer is not None:
            similarities = buffer[:len(ids)] @ unit
            best = int(np.argmax(similarities))
            if round(float(similarities[best]), 4) >= self.threshold:  # rounded: float noise never flips a link
                found = (ids[best], round(float(similarities[best]), 3))
        if buffer is None or len(ids) == len(buffer):  # grow by doubling: adding n reports copies O(n) rows
            grown = np.empty((max(4, 2 * len(ids)), len(unit)), dtype=np.float32)
            grown[:len(ids)] = buffer[:len(ids)] if buffer is not None else grown[:0]
            self._vectors[diagnosis_id] = buffer = grown
        buffer[len(ids)] = unit
        ids.append(report_id)
        return found
