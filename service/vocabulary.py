"""The signal vocabulary: every named fact the engine can find in a paste.

Built from the signal registry: each extractor in service/signals/ declares the signals it provides (name, type,
doc, and `internal` with a reason when no KB matcher is meant to use it). KB matchers may only name signals listed
here (the catalogue lint checks it), and docs/signals.md is generated from this table (a test checks it for drift).
Types: bool, int, float, str, version.
"""

from __future__ import annotations

from service.signals import AREAS, PLAN, registry
from service.signals.registry import SIGNAL_TYPES, SignalSpec

__all__ = ["SIGNALS", "SIGNAL_TYPES", "SignalSpec", "render_signals_page"]


def _area_name(module: object) -> str:
    return getattr(module, "__name__", "").rsplit(".", 1)[-1]


# In docs order: by area (service.signals.AREAS), then as each extractor declares them.
SIGNALS: dict[str, SignalSpec] = {
    spec.name: spec
    for area in AREAS
    for ex in registry.extractors() if ex.area == _area_name(area)
    for spec in ex.provides
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_signals_page() -> str:
    """The docs/signals.md page (checked for drift by a test)."""
    lines = [
        "# Signal vocabulary",
        "",
        "Generated from the extractors' declarations in `service/signals/` (through `service/vocabulary.py`) by",
        "`tunedoc docs`; do not edit by hand.",
        "",
        "Each signal is a typed fact the engine found in the input, with the lines it came from. KB matchers name",
        "them (`signal: NAME`); see docs/kb-format.md. A signal marked *internal* is read by the engine or a surface",
        "but by no matcher, for the reason given; every other signal is used by at least one matcher.",
    ]
    for area in AREAS:
        name = _area_name(area)
        title = (area.__doc__ or name).strip().splitlines()[0].split(":")[0].rstrip(".")
        lines += ["", f"## {title} (`service/signals/{name}.py`)", "",
                  "| signal | type | meaning | set by |", "|---|---|---|---|"]
        for spec in SIGNALS.values():
            if registry.area_of(spec.provider) != name:
                continue
            meaning = spec.doc + (f" *Internal:* {spec.internal}." if spec.internal else "")
            lines.append(f"| `{spec.name}` | {spec.type} | {_cell(meaning)} | `{spec.provider}` |")
    lines += ["", "## Run order", "",
              "Derived from what each extractor requires (a topological sort, ties by name); see",
              "docs/architecture.md.", "",
              "| # | extractor | area | requires |", "|---|---|---|---|"]
    for number, ex in enumerate(PLAN, start=1):
        needs = ", ".join(f"`{name}`" for name in ex.requires) or "-"
        lines.append(f"| {number} | `{ex.name}` | {ex.area} | {needs} |")
    return "\n".join(lines) + "\n"
