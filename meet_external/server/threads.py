"""The threads Flask's handlers run on, and the one hop a request makes to reach them.

Connexion runs the Flask app through a2wsgi, in one pool of threads. Two things
here differ from it:

- The token endpoint gets a pool of its own. A token request may wait for a slow
  secret check (a quarter of a second of PBKDF2, one at a time per process:
  models/access/credentials.py); in a shared pool, a burst of wrong secrets would
  fill every thread with waiting token requests and /rooms would queue behind them.
  Two pools of the same Flask app keep them apart: token requests wait for a thread
  of their own pool, on the event loop, holding nothing that /rooms needs.
- A request crosses between the event loop and its thread once each way. a2wsgi
  reads the body from its thread through the loop, and hands each response message
  back through a queue on the loop, its thread waiting for every put: four or five
  crossings for one small JSON answer, each a wake-up of the loop and a switch of
  threads. Here the body is read on the loop before the hop (meet_external/http/
  middleware.py's WholeBody has already read any body that may change something),
  the thread runs Flask to the end and returns the status, headers and body as
  one result, and the loop sends them. Measured in process (`python bench/micro.py
  --bridge --only none`, docs/performance.md "Threads"): /healthz 730 -> 369 µs of
  CPU on SQLite, the 10-room list 1,502 -> 1,236 µs on SQLite and 2,168 -> 1,279 µs
  on PostgreSQL.
  The answers are small JSON documents, so holding one whole costs nothing that
  streaming would save; the environ is a2wsgi's (`build_environ`), so Flask sees
  what it saw before.
"""

from __future__ import annotations

import asyncio
import contextvars
import io
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Collection, List, Tuple

from starlette.requests import ClientDisconnect

from ..http.middleware import read_body
from ..internals import build_environ

# One thread may wait on the slow check while the other serves cached secrets.
TOKEN_THREADS = 2

Answer = Tuple[int, List[Tuple[bytes, bytes]], bytes]


class WsgiPool:
    """An ASGI app running a WSGI app on a pool of threads, one hop there and one back."""

    def __init__(self, wsgi_app: Callable, workers: int, name: str):
        self.app = wsgi_app
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1000})
            return
        try:
            body = await read_body(scope, receive)
        except ClientDisconnect:
            return
        environ = build_environ(scope, io.BytesIO(body))
        # Each handler runs in a copy of the request's context, as a2wsgi ran it (the
        # request id of meet_external/ops/request_ids.py is read there).
        context = contextvars.copy_context()
        status, headers, content = await asyncio.get_running_loop().run_in_executor(
            self.executor, context.run, self.answer, environ)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    def answer(self, environ: dict) -> Answer:
        """Run the WSGI app to the end (PEP 3333), on this thread."""
        started: list = []
        chunks: List[bytes] = []

        def start_response(status: str, headers, exc_info=None):
            # Nothing has been sent yet, so a later call (with exc_info) replaces the first.
            started[:] = [int(status.split(" ", 1)[0]),
                          [(name.strip().lower().encode("latin-1"), value.strip().encode("latin-1"))
                           for name, value in headers]]
            return chunks.append

        iterable = self.app(environ, start_response)
        try:
            chunks.extend(iterable)
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()
        return started[0], started[1], b"".join(chunks)


async def _lifespan(receive, send) -> None:
    for phase in ("startup", "shutdown"):
        await receive()
        await send({"type": f"lifespan.{phase}.complete"})


class HandlerThreads:
    """An ASGI app: the token paths on one pool of threads, every other path on another."""

    def __init__(self, wsgi_app, token_paths: Collection[str], request_threads: int):
        self.requests = WsgiPool(wsgi_app, request_threads, "requests")
        self.tokens = WsgiPool(wsgi_app, TOKEN_THREADS, "tokens")
        self.token_paths = frozenset(token_paths)

    async def __call__(self, scope, receive, send):
        pool = self.tokens if scope.get("path") in self.token_paths else self.requests
        await pool(scope, receive, send)
