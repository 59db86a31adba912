"""kb/tables/*.yaml: the GPU, model-family, package and known-line tables service/signals/ reads.

Three promises: the loaded tables compile to exactly the patterns the Python tables had (issue 13, item 1); every
`examples:` line of every entry is recognised by signal extraction; a malformed entry stops the load with an error
naming the file and the entry.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from service.errors import KnowledgeBaseError
from service.models import Part
from service.parse import parse
from service.signals import environment, errors, extract_signals, load_tables
from service.signals import model as model_area

TABLES_DIR = Path(__file__).resolve().parents[2] / "kb" / "tables"
TABLES = load_tables(TABLES_DIR)


def signals(text: str) -> dict:
    return {name: s.value for name, s in extract_signals(parse([Part("input", text)])).items()}


# ---------------------------------------------------------------- same behaviour as the Python tables

# sha256 of every compiled pattern and lookup, taken from the Python tables before the move. A deliberate table
# change updates this digest (and says so in its review); an accidental one fails here. Updated twice since the move:
# the GLM-4.5/4.6 mixture-of-experts marker (2026-12-03); the version patterns bounded by ASCII word characters (a
# version written against Chinese text, "transformers版本4.46.0训练") and reading `版本` / `版本是` (2026-12-04); the
# version a package was upgraded or switched to ("transformers升级到4.53", "换成4.46.0"), and DeepSeek-Coder-V2 (a
# mixture of experts, like DeepSeek-V2) as MoE (2026-12-04, tenth session); GPU names in the plural ("eight A100s",
# "two 3090s": `s?` before the final bound, 2026-12-04, thirteenth session); "2080 Ti" / "3080ti" without RTX
# (2026-12-05, seventeenth session).
_DIGEST_BEFORE_MOVE = "8f105995525aca6f113a2bcfb61f5ef3267e6d863507582a005fd435b9b5b180"


def _digest() -> str:
    data = {
        "any_gpu": environment._ANY_GPU.pattern,
        "gpus": [[n, p, cc, p2p] for n, p, cc, p2p in environment._GPUS],
        "families": [list(x) for x in model_area._FAMILIES],
        "templates": {k: sorted(v) for k, v in model_area._TEMPLATE_FAMILIES.items()},
        "generic": sorted(model_area._GENERIC_TEMPLATES),
        "moe": model_area._MOE.pattern, "multimodal": model_area._MULTIMODAL.pattern,
        "versions": {k: v.pattern for k, v in environment._VERSION_RES.items()},
        "known": {k: v.pattern for k, v in errors._KNOWN_RES.items()},
    }
    return hashlib.sha256(json.dumps(data, ensure_ascii=False).encode()).hexdigest()


def test_loaded_tables_compile_to_the_patterns_of_the_python_tables():
    assert _digest() == _DIGEST_BEFORE_MOVE


def test_tables_are_loaded_once():
    assert load_tables() is load_tables()
    assert load_tables(TABLES_DIR) is TABLES


@pytest.mark.parametrize("text, expected", [
    ("GPU type: Tesla V100-SXM2-32GB", {"gpu.model": "V100", "gpu.compute_capability": 7.0, "gpu.bf16": False,
                                         "gpu.p2p_limited": False}),
    ("8x A800 80GB, bf16 training", {"gpu.model": "A800", "gpu.compute_capability": 8.0, "gpu.bf16": True,
                                      "gpu.count": 8}),
    ("NVIDIA GeForce RTX 4090", {"gpu.model": "RTX 4090", "gpu.compute_capability": 8.9, "gpu.p2p_limited": True}),
    ("GPU: NVIDIA TITAN Xp", {"gpu.model": "Titan Xp", "gpu.compute_capability": 6.1}),
    ("model_name_or_path: Qwen/Qwen2.5-7B-Instruct\ntemplate: qwen",
     {"model.family": "qwen2.5", "model.is_base": False, "model.is_moe": False, "template.matches_model": True}),
    ("model_name_or_path: meta-llama/Meta-Llama-3-8B\ntemplate: qwen",
     {"model.family": "llama3", "model.is_base": True, "template.matches_model": False}),
    ("model_name_or_path: meta-llama/Llama-2-7b-hf\ntemplate: alpaca", {"template.matches_model": True}),
    ("model_name_or_path: Qwen/Qwen3-30B-A3B", {"model.family": "qwen3", "model.is_moe": True}),
    ("model_name_or_path: Qwen/Qwen2-VL-7B-Instruct", {"model.family": "qwen2", "model.is_multimodal": True}),
    ("torch==2.3.1+cu121\ntransformers 4.44.0\npytorch version: 2.3.1",
     {"version.torch": "2.3.1+cu121", "version.transformers": "4.44.0", "version.cuda": "12.1"}),
    ("- `flash_attn` version: 2.5.8", {"version.flash_attn": "2.5.8"}),
    ("[WARNING] OVERFLOW! Rank 0 Skipping step.", {"warning.fp16_overflow": True}),
])
def test_tables_reproduce_known_behaviour(text, expected):
    found = signals(text)
    assert {k: found.get(k) for k in expected} == expected


# ---------------------------------------------------------------- every example of every entry


def _cases() -> list:
    cases = []
    for gpu in TABLES.gpus:
        cases += [pytest.param("gpu", gpu, ex, id=f"gpu-{gpu.name}-{i}") for i, ex in enumerate(gpu.examples)]
    for fam in TABLES.families:
        cases += [pytest.param("family", fam, ex, id=f"family-{fam.family}-{fam.pattern}-{i}")
                  for i, ex in enumerate(fam.examples)]
    for kind in ("moe_markers", "multimodal_markers"):
        for marker in getattr(TABLES, kind):
            cases += [pytest.param(kind, marker, ex, id=f"{kind}-{marker.pattern}-{i}")
                      for i, ex in enumerate(marker.examples)]
    for pkg in TABLES.packages:
        cases += [pytest.param("package", pkg, ex, id=f"{pkg.signal}-{i}") for i, ex in enumerate(pkg.examples)]
    for known in TABLES.known_lines:
        cases += [pytest.param("known", known, ex, id=f"{known.signal}-{i}") for i, ex in enumerate(known.examples)]
    return cases


@pytest.mark.parametrize("kind, entry, example", _cases())
def test_every_table_example_is_recognised(kind, entry, example):
    if kind == "gpu":
        found = signals(example)
        assert (found.get("gpu.model"), found.get("gpu.compute_capability")) == (entry.name, entry.compute_capability)
        assert found["gpu.bf16"] is (entry.compute_capability >= 8.0)
        assert found["gpu.p2p_limited"] is entry.p2p_limited
    elif kind == "family":
        assert re.search(entry.pattern, example.lower()), "the example does not match its own pattern"
        assert signals(f"model_name_or_path: {example}").get("model.family") == entry.family
    elif kind in ("moe_markers", "multimodal_markers"):
        assert re.search(f"(?i){entry.pattern}", example), "the example does not match its own pattern"
        name = "model.is_moe" if kind == "moe_markers" else "model.is_multimodal"
        assert signals(f"model_name_or_path: {example}").get(name) is True
    elif kind == "package":
        assert entry.signal in signals(example)
    else:
        assert signals(example).get(entry.signal) is True


@pytest.mark.parametrize("entry", TABLES.templates, ids=lambda e: e.template)
def test_every_template_matches_its_families(entry):
    for family in entry.families:
        model = next(f.examples[0] for f in TABLES.families if f.family == family)
        found = signals(f"model_name_or_path: {model}\ntemplate: {entry.template}")
        assert found.get("template.matches_model") is True, (family, model)


@pytest.mark.parametrize("template", TABLES.generic_templates)
def test_generic_templates_fit_base_models_only(template):
    assert signals(f"model_name_or_path: meta-llama/Llama-2-7b-hf\ntemplate: {template}")["template.matches_model"]
    assert not signals(f"model_name_or_path: meta-llama/Llama-2-7b-chat-hf\ntemplate: {template}")[
        "template.matches_model"]


# ---------------------------------------------------------------- malformed tables fail clearly


def _broken(tmp_path: Path, file: str, edit) -> Path:
    root = tmp_path / "tables"
    shutil.copytree(TABLES_DIR, root)
    data = yaml.safe_load((root / file).read_text(encoding="utf-8"))
    edit(data)
    (root / file).write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return root


def _set(section: str, index: int, **fields):
    def edit(data):
        data[section][index].update(fields)
    return edit


def _drop(section: str, index: int, key: str):
    def edit(data):
        del data[section][index][key]
    return edit


@pytest.mark.parametrize("file, edit, message", [
    ("gpus.yaml", _set("gpus", 0, pattern=r"\bH100(\b"), r"gpus\.yaml: gpus entry 0 \('H100'\): pattern: .*invalid regex"),
    ("gpus.yaml", _set("gpus", 1, compute_capability="fast"), r"gpus entry 1 \('H800'\): compute_capability"),
    ("gpus.yaml", _drop("gpus", 2, "p2p_limited"), r"gpus entry 2 \('H200'\): p2p_limited: Field required"),
    ("gpus.yaml", _set("gpus", 3, examples=[]), r"gpus entry 3 \('H20'\): examples"),
    ("gpus.yaml", _set("gpus", 4, bf16=True), r"gpus entry 4 \('A100'\): bf16: Extra inputs"),
    ("gpus.yaml", _set("gpus", 5, name="A100"), r"gpus\.yaml: gpus entry 5 \('A100'\): duplicate name"),
    ("model-families.yaml", _set("templates", 0, families=["qwen", "qwen9"]),
     r"model-families\.yaml: templates entry 0 \('qwen'\): unknown families \['qwen9'\]"),
    ("model-families.yaml", _set("families", 0, pattern="mini[cpm"), r"families entry 0 \('minicpm'\): pattern"),
    ("packages.yaml", _set("packages", 0, signal="torch"), r"packages\.yaml: packages entry 0 \('torch'\): signal"),
    ("known-lines.yaml", _set("known_lines", 0, signal="warning.no_such_thing"),
     r"known-lines\.yaml: known_lines entry 0 \('warning\.no_such_thing'\): not a signal"),
])
def test_a_malformed_entry_names_the_file_and_the_entry(tmp_path, file, edit, message):
    root = _broken(tmp_path, file, edit)
    with pytest.raises(KnowledgeBaseError, match=message):
        load_tables(root)


def test_a_missing_section_is_named(tmp_path):
    root = _broken(tmp_path, "model-families.yaml", lambda data: data.pop("generic_templates"))
    with pytest.raises(KnowledgeBaseError, match=r"model-families\.yaml: expected exactly the keys"):
        load_tables(root)
