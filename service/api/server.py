"""Running the app under uvicorn with limits a public-facing server needs.

uvicorn times out idle keep-alive connections but not a client that opens a connection and sends its headers or its
body slowly (or never): thousands of such half-open connections exhaust the process. `GuardedHTTPProtocol` gives
every request a read deadline (headers and body must arrive within `TUNEDOC_READ_TIMEOUT` seconds of the first byte
or of the connection) and refuses connections past `TUNEDOC_MAX_CONNECTIONS` per worker.
"""

from __future__ import annotations

import asyncio
import logging
import re

from uvicorn.protocols.http.auto import AutoHTTPProtocol

from service.config import get_settings

_SETTINGS = get_settings()  # read once per worker process: the protocol is created for every connection
READ_TIMEOUT = _SETTINGS.read_timeout
MAX_CONNECTIONS = _SETTINGS.max_connections


class GuardedHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
    """uvicorn's HTTP protocol plus a request read deadline and a per-worker connection cap."""

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > MAX_CONNECTIONS:
            transport.close()  # the client sees a reset, the worker keeps serving the others
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._reading():
            self._arm()
        else:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _reading(self) -> bool:
        """Waiting for a request's headers (none yet, or the last one is answered) or for the rest of its body."""
        cycle = self.cycle
        return cycle is None or cycle.response_complete or bool(getattr(cycle, "more_body", False))

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(READ_TIMEOUT, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self._reading() and not self.transport.is_closing():
            self.transport.close()


_QUERY_VALUE = re.compile(r"([?&][^=&#\s]+=)[^&#\s]*")


class QueryValueFilter(logging.Filter):
    """The access log keeps paths and query keys but never query values: an API key sent as `?key=` stays secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3 and isinstance(record.args[2], str):
            args = list(record.args)
            args[2] = _QUERY_VALUE.sub(r"\1…", str(args[2]))
            record.args = tuple(args)
        return True


def install_log_filters() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, QueryValueFilter) for f in access.filters):
        access.addFilter(QueryValueFilter())


def run(host: str, port: int, workers: int) -> None:
    import uvicorn

    from service.api import reuseport

    options: dict = {"factory": True, "host": host, "port": port, "workers": workers, "http": GuardedHTTPProtocol,
                     "timeout_keep_alive": 5, "limit_concurrency": MAX_CONNECTIONS, "log_level": "info",
                     "access_log": True}
    if workers < 2 or not reuseport.supported():
        uvicorn.run("service.api.app:create_app", **options)
        return
    # Several workers: a listening socket each (service/api/reuseport.py), else a burst of connections can all land
    # on one of them. uvicorn.run's multi-worker path, with the parent's socket and the workers' loop swapped.
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config("service.api.app:create_app", loop="service.api.reuseport:new_event_loop", **options)
    try:
        sock = reuseport.bind_parent(host, port)
    except OSError as exc:
        logging.getLogger("uvicorn.error").error("%s", exc)
        raise SystemExit(1) from exc
    logging.getLogger("uvicorn.error").info("Uvicorn running on http://%s:%d, a listening socket per worker", host,
                                            sock.getsockname()[1])
    try:
        Multiprocess(config, sockets=[sock]).run()
    except KeyboardInterrupt:
        pass
