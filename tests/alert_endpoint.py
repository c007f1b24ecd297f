"""A local HTTP endpoint that apprise's json:// notifications post to: it keeps every body, can
answer 500, and can hold requests until released (a channel that hangs)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Endpoint:
    url: str  # the apprise URL (json://127.0.0.1:PORT/alerts)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    release: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.release.set()


@contextmanager
def alert_endpoint() -> Iterator[Endpoint]:
    state: list[Endpoint] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            ep = state[0]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            ep.bodies.append(json.loads(body))
            ep.arrived.set()
            ep.release.wait(60)
            self.send_response(ep.status)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.append(Endpoint(f"json://127.0.0.1:{server.server_address[1]}/alerts"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state[0]
    finally:
        state[0].release.set()
        server.shutdown()
        server.server_close()
