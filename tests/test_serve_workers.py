"""`tunedoc serve --workers 2`: each worker listens on a socket of its own, and a burst of keep-alive connections
lands on both (service/api/reuseport.py). A real server; the sockets are read from /proc, so Linux only."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import pytest

from tests.services import running

BIN = str(Path(sys.executable).with_name("tunedoc"))
LISTEN, ESTABLISHED = "0A", "01"  # TCP states as /proc/net/tcp writes them

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads sockets from /proc")


def _sockets(port: int, state: str) -> set[int]:
    """Inodes of the TCP sockets whose local port is `port`, in `state`: the server's side of each connection."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                inodes.add(int(fields[9]))
    return inodes


def _holders(inodes: set[int]) -> dict[int, set[int]]:
    """pid -> which of these sockets it holds open."""
    held: dict[int, set[int]] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue  # gone, or not ours to read
        mine = {int(link[8:-1]) for link in links if link.startswith("socket:[")} & inodes
        if mine:
            held[int(pid)] = mine
    return held


def test_a_burst_of_keep_alive_connections_is_spread_over_both_workers(data_dir: Path, retriever) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "TUNEDOC_DATA_DIR": str(data_dir), "TUNEDOC_NO_UI": "1", "TUNEDOC_EMBED_THREADS": "1"}
    with running([BIN, "serve", "--port", str(port), "--workers", "2"], f"http://127.0.0.1:{port}/readyz", env=env):
        deadline = time.monotonic() + 120
        while len(_sockets(port, LISTEN)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)  # the second worker listens once it has started up
        listeners = _holders(_sockets(port, LISTEN))
        # two listening sockets, each held by one worker alone (a shared socket would be held by both)
        assert len(listeners) == 2 and all(len(inodes) == 1 for inodes in listeners.values())
        assert len(set().union(*listeners.values())) == 2

        clients = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(32)]
        try:
            for client in clients:
                client.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            for client in clients:
                assert client.recv(4096).startswith(b"HTTP/1.1 200")  # accepted and answered, still open
            served = {pid: len(inodes) for pid, inodes in _holders(_sockets(port, ESTABLISHED)).items()}
        finally:
            for client in clients:
                client.close()
    # The kernel hashes each connection to a worker: 32 split about evenly (fewer than 4 on one side: p < 1e-5).
    assert set(served) == set(listeners) and sum(served.values()) == 32
    assert min(served.values()) >= 4, served


def test_a_port_in_use_is_refused_not_shared(data_dir: Path) -> None:
    """SO_REUSEPORT would let a second server of the same user share a port: the parent checks with a plain socket
    first, so a busy port fails as it does with one worker."""
    import subprocess

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, "TUNEDOC_DATA_DIR": str(data_dir), "TUNEDOC_NO_UI": "1"}
        proc = subprocess.run([BIN, "serve", "--port", str(port), "--workers", "2"], env=env, capture_output=True,
                              text=True, timeout=120)
    assert proc.returncode != 0
    assert "in use" in proc.stderr and "Traceback" not in proc.stderr
