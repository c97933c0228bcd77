"""The threads Flask's handlers run on: the token endpoint gets a pool of its own.

Connexion runs the Flask app through a2wsgi, in one pool of threads. A token
request may wait for a slow secret check (a quarter of a second of PBKDF2,
one at a time per process: models/access/credentials.py); in a shared pool, a burst
of wrong secrets would fill every thread with waiting token requests and
/rooms would queue behind them. Two pools of the same Flask app keep them
apart: token requests wait for a thread of their own pool, on the event
loop, holding nothing that /rooms needs.
"""

from __future__ import annotations

from typing import Collection

from a2wsgi import WSGIMiddleware

# On 2 cores, 4 threads measured faster than a2wsgi's default 10 (less GIL contention).
REQUEST_THREADS = 4
# One thread may wait on the slow check while the other serves cached secrets.
TOKEN_THREADS = 2


class HandlerThreads:
    """An ASGI app: the token paths on one pool of a2wsgi threads, every other path on another."""

    def __init__(self, wsgi_app, token_paths: Collection[str]):
        self.requests = WSGIMiddleware(wsgi_app, workers=REQUEST_THREADS)
        self.tokens = WSGIMiddleware(wsgi_app, workers=TOKEN_THREADS)
        self.token_paths = frozenset(token_paths)

    async def __call__(self, scope, receive, send):
        pool = self.tokens if scope.get("path") in self.token_paths else self.requests
        await pool(scope, receive, send)
