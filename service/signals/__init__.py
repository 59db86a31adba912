"""Signals: typed facts derived from a parsed paste, each with the lines it came from.

The extractors live in one module per area (`AREAS`); each is registered with the signals it provides (name, type,
doc) and the signals it requires (service/signals/registry.py). The run order is derived from those declarations
when this package is imported, and service/vocabulary.py (hence docs/signals.md) is built from them. The knowledge
tables the extractors read are kb/tables/*.yaml (service/signals/tables.py).

Pure: same parse, same signals. Where several lines disagree (a config and a later override), the last line wins,
because pastes usually show the effective config last.
"""

from __future__ import annotations

import re
from types import ModuleType

from service.models import Parsed, Signal
from service.signals import environment, errors, metrics, model, paste, precision, registry
from service.signals.environment import _VERSION_RES
from service.signals.errors import _KNOWN_RES, KNOWN_LINES, size_mismatch_kind
from service.signals.model import model_family
from service.signals.tables import TABLES, SignalTables, check_table_signals, default_root, load_tables

# The areas, in the order docs/signals.md lists them. A new area module is imported above and named here.
AREAS: tuple[ModuleType, ...] = (paste, metrics, precision, model, environment, errors)

_unlisted = sorted({ex.area for ex in registry.extractors()} - {a.__name__.rsplit(".", 1)[-1] for a in AREAS})
if _unlisted:
    raise registry.SignalRegistryError(f"area modules missing from service.signals.AREAS: {_unlisted}")
PLAN = registry.seal()  # raises SignalRegistryError on a duplicate, an unknown requirement or a cycle
check_table_signals(default_root(), TABLES)  # kb/tables/ names only declared signals (the registry is complete now)


def extract_signals(parsed: Parsed) -> dict[str, Signal]:
    """Every signal found in `parsed`, sorted by name."""
    return registry.run(PLAN, parsed)


# tests/test_redos.py times every compiled pattern it finds in this namespace: keep each area's patterns visible.
for _area in AREAS:
    for _name, _value in vars(_area).items():
        if isinstance(_value, re.Pattern) and _name not in globals():
            globals()[_name] = _value

__all__ = [
    "AREAS", "KNOWN_LINES", "PLAN", "TABLES", "_KNOWN_RES", "_VERSION_RES", "SignalTables", "extract_signals",
    "load_tables", "model_family", "registry", "size_mismatch_kind",
]
