"""One settings object, read from the environment, plus the offline switches every entry point applies."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Nothing is downloaded at run time: models load from their package path, and these stop the libraries from
# phoning home (a hub lookup by name would otherwise hang ~70 s before failing offline).
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def apply_offline_env() -> None:
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


def _env_bool(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _env_int(name: str, default: int | None) -> int | None:
    raw = os.environ.get(name)
    return int(raw) if raw else default


@dataclass(frozen=True)
class Settings:
    kb_dir: Path = field(default_factory=lambda: Path(os.environ.get("TUNEDOC_KB_DIR", REPO_ROOT / "kb")))
    data_dir: Path = field(default_factory=lambda: Path(os.environ.get("TUNEDOC_DATA_DIR", REPO_ROOT / ".tunedoc")))
    chroma_host: str | None = field(default_factory=lambda: os.environ.get("TUNEDOC_CHROMA_HOST") or None)
    chroma_port: int | None = field(default_factory=lambda: _env_int("TUNEDOC_CHROMA_PORT", None))
    embedding_model: str = field(default_factory=lambda: os.environ.get("TUNEDOC_EMBEDDING_MODEL", "use-multilingual"))
    collection: str = field(default_factory=lambda: os.environ.get("TUNEDOC_COLLECTION", "tunedoc-kb"))
    # REST API
    api_key: str | None = field(default_factory=lambda: os.environ.get("TUNEDOC_API_KEY") or None)
    read_requires_key: bool = field(default_factory=lambda: _env_bool("TUNEDOC_READ_REQUIRES_KEY"))
    max_body_bytes: int = field(default_factory=lambda: _env_int("TUNEDOC_MAX_BODY_BYTES", 5 * 1024 * 1024) or 0)
    max_triage_reports: int = field(default_factory=lambda: _env_int("TUNEDOC_MAX_TRIAGE_REPORTS", 100) or 0)
    cors_origins: tuple[str, ...] = field(default_factory=lambda: tuple(
        o.strip() for o in os.environ.get("TUNEDOC_CORS_ORIGINS", "").split(",") if o.strip()))


def get_settings() -> Settings:
    return Settings()
