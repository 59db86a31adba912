"""Shared test set-up: offline switches, a network guard, and session-wide engine objects.

The guard makes any socket connection to a non-loopback address fail the test, so a hidden model download or a
telemetry call cannot pass unnoticed.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from pathlib import Path

import pytest

from service.config import apply_offline_env
from tests.services import running

apply_offline_env()

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(address: object) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) else address
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class NetworkBlocked(RuntimeError):
    pass


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_local(address):
        raise NetworkBlocked(f"test tried to connect to {address!r}: only loopback is allowed")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not _is_local(address):
        raise NetworkBlocked(f"test tried to connect to {address!r}: only loopback is allowed")
    return _real_connect_ex(self, address)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def rules():
    from service.pipeline import load_rules

    return load_rules()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One index for the whole session (building it embeds the KB once)."""
    path = tmp_path_factory.mktemp("tunedoc-data")
    os.environ["TUNEDOC_DATA_DIR"] = str(path)
    return path


@pytest.fixture(scope="session")
def retriever(data_dir: Path):
    from service.retrieval import open_retriever

    return open_retriever(build_if_stale=True)


@pytest.fixture(scope="session")
def server(data_dir: Path, retriever):
    """A real `tunedoc serve` on a free loopback port, on the session's index."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "TUNEDOC_DATA_DIR": str(data_dir), "TUNEDOC_EMBED_THREADS": "1"}
    base = f"http://127.0.0.1:{port}"
    with running([str(Path(sys.executable).with_name("tunedoc")), "serve", "--port", str(port)], f"{base}/readyz",
                 env=env):
        yield base
