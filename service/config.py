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
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw.isdigit() else default


def _env_float(name: str, default: float | None) -> float | None:
    raw = os.environ.get(name, "").strip()
    try:
        return float(raw) if raw else default
    except ValueError:
        return default


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
    no_ui: bool = field(default_factory=lambda: _env_bool("TUNEDOC_NO_UI"))
    read_timeout: float = field(default_factory=lambda: _env_float("TUNEDOC_READ_TIMEOUT", 15.0) or 15.0)
    max_connections: int = field(default_factory=lambda: _env_int("TUNEDOC_MAX_CONNECTIONS", 512) or 512)
    # Engine
    parse_budget: float = field(default_factory=lambda: _env_float("TUNEDOC_PARSE_BUDGET", 10.0) or 10.0)
    threshold: float | None = field(default_factory=lambda: _env_float("TUNEDOC_THRESHOLD", None))
    embed_threads: int | None = field(default_factory=lambda: _env_int("TUNEDOC_EMBED_THREADS", None))
    request_threads: int | None = field(default_factory=lambda: _env_int("TUNEDOC_REQUEST_THREADS", None))
    embed_batch: int = field(default_factory=lambda: _env_int("TUNEDOC_EMBED_BATCH", 16) or 16)
    # Triage --apply-github
    github_api: str = field(default_factory=lambda: os.environ.get("TUNEDOC_GITHUB_API") or "https://api.github.com")
    github_write_interval: float = field(
        default_factory=lambda: _env_float("TUNEDOC_GITHUB_WRITE_INTERVAL", 1.0) or 0.0)


def get_settings() -> Settings:
    """The environment as it is now (every TUNEDOC_* read goes through here; the process may change it, as
    `serve` and `triage` do for the embedding threads of their workers)."""
    return Settings()
