"""Running the embedded hub: in the foreground (`hubver hub serve`) or in a background thread."""

from __future__ import annotations

import dataclasses
import logging
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .app import HubApp, HubConfig
from .protocol import ConnectionLimits

if TYPE_CHECKING:
    import uvicorn


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 picks a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on sockets
    # that say so, and without it Nagle plus delayed ACKs hold every small response ~40 ms.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def connection_limits(config: HubConfig) -> ConnectionLimits:
    """The hub's per-connection limits; the connection cap stays below the process's fd limit."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    # Each connection holds one descriptor, a request may open a few more (files, git objects).
    fd_cap = max(8, (soft - 32) // 3) if soft != resource.RLIM_INFINITY else config.max_connections
    return ConnectionLimits(
        max_header_bytes=config.max_header_bytes,
        header_timeout=config.header_timeout,
        body_idle_timeout=config.body_idle_timeout,
        max_connections=min(config.max_connections, fd_cap),
        keep_alive_timeout=config.keep_alive_timeout,
    )


def _uvicorn_server(app: HubApp, log_level: str) -> uvicorn.Server:
    import uvicorn

    from .protocol import GuardedH11Protocol

    limits = connection_limits(app.config)
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=log_level == "debug",
        lifespan="off",
        # h11, whatever else is installed: httptools has no header size limit.
        http=GuardedH11Protocol.with_limits(limits),
        h11_max_incomplete_event_size=limits.max_header_bytes,
        timeout_keep_alive=int(limits.keep_alive_timeout),
        # Large request bodies stream through the app; keep uvicorn's own buffers default.
    )
    return uvicorn.Server(config)


def serve_forever(app: HubApp, sock: socket.socket, log_level: str = "warning") -> None:
    """Serve on `sock` until interrupted (Ctrl-C / SIGTERM)."""
    server = _uvicorn_server(app, log_level)
    server.run(sockets=[sock])


@dataclass
class RunningHub:
    """A hub serving from a background thread; `stop()` ends it."""

    url: str
    app: HubApp
    _server: object
    _thread: threading.Thread

    @property
    def data_dir(self) -> Path:
        return Path(self.app.config.data_dir)

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True  # type: ignore[attr-defined]
        self._thread.join(timeout)

    def __enter__(self) -> RunningHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(
    config: HubConfig,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    sock: socket.socket | None = None,
    log_level: str = "warning",
) -> RunningHub:
    """Start a hub in a daemon thread and return once it accepts connections."""
    sock = sock or bind(host, port)
    if config.public_url is None:
        config = dataclasses.replace(config, public_url=base_url(sock))
    app = HubApp(config)
    server = _uvicorn_server(app, log_level)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])  # uvicorn leaves signals alone outside the main thread
        except BaseException as e:  # surfaced to the starter below
            failure.append(e)

    thread = threading.Thread(target=run, name="hubver-hub", daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        thread.join(0.01)
    if failure or not server.started:
        raise RuntimeError(f"The embedded hub failed to start: {failure[0] if failure else 'unknown error'}")
    logging.getLogger("hubver.server").debug("hub at %s", base_url(sock))
    return RunningHub(base_url(sock), app, server, thread)
