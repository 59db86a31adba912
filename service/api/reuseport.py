"""A listening socket per worker process, so that the kernel spreads connections over the workers (Linux).

uvicorn's workers share one listening socket, and the first worker to wake accepts every connection queued on it
(uvloop accepts until the queue is empty). Clients that connect at once — 32 keep-alive clients starting together —
could all land on one worker and leave the other idle for as long as they stay connected: on the 2-core box one
run in six to ten of `benchmarks.load` served 32 clients at the throughput of one worker (1.07× the single client
against 1.9×). With SO_REUSEPORT each worker listens on a socket of its own bound to the same address, and the
kernel hands each new connection to one of them by a hash of its addresses: 32 connections split about evenly,
never all on one worker.

The parent process binds the address first with a plain socket (so a port already in use fails as before, rather
than being shared with another process of the same user), then holds it with a SO_REUSEPORT socket that never
listens; each worker's event loop swaps the socket uvicorn hands it for a fresh SO_REUSEPORT one on the same address
(`BalancedLoop.create_server`) and listens only once the worker is ready.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from typing import Any


def supported() -> bool:
    """Linux's SO_REUSEPORT balances connections over the listening sockets; elsewhere it does not, or is absent."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _reuse_port_socket(family: socket.AddressFamily, address: tuple) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    return sock


def bind_parent(host: str, port: int) -> socket.socket:
    """The parent's socket: reserves host:port for the workers' sockets and never listens. Raises OSError when the
    address is in use (checked with a plain socket first, which SO_REUSEPORT would not have refused)."""
    family = _family(host)
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
    sock = _reuse_port_socket(family, (host, port))
    sock.set_inheritable(True)
    return sock


def worker_socket(shared: socket.socket) -> socket.socket:
    """A new SO_REUSEPORT socket on the shared socket's address, for one worker to listen on."""
    return _reuse_port_socket(shared.family, shared.getsockname()[:2])


try:
    import uvloop

    _Base: type[asyncio.AbstractEventLoop] = uvloop.Loop
except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
    _Base = asyncio.SelectorEventLoop


class BalancedLoop(_Base):  # type: ignore[valid-type,misc]
    """The worker's event loop: a server started on a TCP socket listens on a socket of its own instead."""

    async def create_server(self, protocol_factory: Any, *args: Any, sock: socket.socket | None = None,
                            **kwargs: Any) -> asyncio.AbstractServer:
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock = worker_socket(sock)
        return await super().create_server(protocol_factory, *args, sock=sock, **kwargs)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvicorn's loop factory for the workers (`Config(loop="service.api.reuseport:new_event_loop")`)."""
    return BalancedLoop()
