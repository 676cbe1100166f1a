"""The loopback server every fake shares: a real HTTP server on 127.0.0.1 that records requests
and answers from a script of behaviours (see :mod:`tierflow.engines.hosted.fakes`)."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["LoopbackServer", "Recorded", "Reply", "gradient_png", "FakeGemini", "FakeFal"]


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to stall before answering (the "slow" behaviour)

    @classmethod
    def json(cls, status: int, payload: Any, **headers: str) -> "Reply":
        return cls(status, json.dumps(payload).encode(), {"Content-Type": "application/json", **headers})


def gradient_png(width: int, height: int, key: str) -> bytes:
    """A real PNG of ``width`` x ``height``: a two-colour gradient chosen by the hash of ``key``."""
    import numpy as np
    from PIL import Image

    digest = hashlib.sha256(key.encode()).digest()
    a = np.frombuffer(digest[0:3], dtype=np.uint8).astype(np.float32)
    b = np.frombuffer(digest[3:6], dtype=np.uint8).astype(np.float32)
    t = (np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :] + np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]) / 2
    pixels = (a + (b - a) * t[..., None]).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class LoopbackServer:
    """A threaded HTTP server on an ephemeral 127.0.0.1 port; subclasses implement :meth:`answer`."""

    behaviours: frozenset[str] = frozenset()

    def __init__(self, *, default: str = "ok", slow_seconds: float = 3.0, retry_after: str | None = "0") -> None:
        self._check(default)
        self.default = default
        self.slow_seconds = slow_seconds
        self.retry_after = retry_after  # the Retry-After header sent with 429s (None: no header)
        self.requests: list[Recorded] = []
        self._script: deque[str] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting ---------------------------------------------------------------------------
    def script(self, *behaviours: str) -> "LoopbackServer":
        """Queue behaviours for the next requests (one each), then ``default`` again."""
        for name in behaviours:
            self._check(name)
        with self._lock:
            self._script.extend(behaviours)
        return self

    def _check(self, name: str) -> None:
        if name not in self.behaviours:
            raise ValueError(f"unknown behaviour {name!r}; use one of {sorted(self.behaviours)}")

    def _next(self) -> str:
        with self._lock:
            return self._script.popleft() if self._script else self.default

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake is not running; use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "LoopbackServer":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                record = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                if not self.path.startswith("/files/"):
                    with fake._lock:
                        fake.requests.append(record)
                try:
                    reply = fake.answer(record)
                except Exception as e:  # noqa: BLE001 - a bug in the fake answers 599, never hangs the client
                    reply = Reply.json(599, {"error": {"code": 599, "message": f"fake failed: {e!r}"}})
                if reply.delay and fake._stopping.wait(reply.delay):
                    return
                try:
                    self.send_response(reply.status)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout): nothing to tell it

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def answer(self, request: Recorded) -> Reply:  # pragma: no cover - abstract
        raise NotImplementedError

