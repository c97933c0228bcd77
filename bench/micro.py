#!/usr/bin/env python3
"""Per-request costs in process: whole requests through the app, then the parts.

    python bench/micro.py [--db sqlite|postgresql] [--n 300]

Seeds a fresh database like bench/run.py (and removes it afterwards), builds the app
with `create_app`, and reports per call: CPU time of this process
(`time.process_time`, so other load on the machine matters little), wall time, the SQL
statements run through Peewee and the wall time spent inside the driver for them
(SQLite's engine runs in process; PostgreSQL's is a round trip). Measured:
  * whole requests through the ASGI app, called directly from an event loop (no sockets,
    no HTTP parsing, no client; every middleware, validation, a2wsgi's thread hop, Flask
    and the handler), with `/healthz` as the cost of the stack around the API;
  * the parts: JWT verify, the principal's database checks, a pooled connection's
    checkout and return, the list's page query, the page body, JSON.
The parts are found by what they call, not by copies of their queries, so the numbers
follow the code as it changes. Output is for people; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

import run as harness  # noqa: E402
import seed  # noqa: E402


class DriverClock:
    """Counts statements and the wall time inside the driver, by wrapping Peewee's cursor call."""

    def __init__(self, db):
        self.statements = 0
        self.seconds = 0.0
        original = db._execute_cursor

        def timed(sql, params, **options):
            start = time.perf_counter()
            try:
                return original(sql, params, **options)
            finally:
                self.seconds += time.perf_counter() - start
                self.statements += 1

        db._execute_cursor = timed


class AsgiDriver:
    """Calls an ASGI app directly from one event loop: no sockets, no HTTP parsing, no client."""

    def __init__(self, app):
        import asyncio

        self.app = app
        self.loop = asyncio.new_event_loop()
        self.startup = self.loop.create_future()
        self.shutdown = asyncio.Event()
        self.lifespan = self.loop.create_task(self._lifespan())
        self.loop.run_until_complete(self.startup)

    async def _lifespan(self):
        events = iter([{"type": "lifespan.startup"}])

        async def receive():
            try:
                return next(events)
            except StopIteration:
                await self.shutdown.wait()
                return {"type": "lifespan.shutdown"}

        async def send(message):
            if message["type"].startswith("lifespan.startup") and not self.startup.done():
                self.startup.set_result(message["type"])

        await self.app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)

    def close(self):
        self.shutdown.set()
        self.loop.run_until_complete(self.lifespan)
        self.loop.close()

    async def request(self, method: str, target: str, headers=(), body: bytes = b""):
        path, _, query = target.partition("?")
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
            "root_path": "", "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000),
            "headers": [(b"host", b"127.0.0.1:8000"), (b"content-length", str(len(body)).encode())]
            + [(k.lower().encode(), v.encode()) for k, v in dict(headers).items()],
            "state": {},
        }
        delivered = False
        status = []

        async def receive():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await self.shutdown.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await self.app(scope, receive, send)
        return status[0]

    def call(self, *args, **kwargs) -> int:
        return self.loop.run_until_complete(self.request(*args, **kwargs))


def measure(fn, n: int, clock: DriverClock) -> dict:
    for _ in range(min(20, n)):
        fn()
    statements, driver = clock.statements, clock.seconds
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        fn()
    return {
        "cpu_us": (time.process_time() - cpu) / n * 1e6,
        "wall_us": (time.perf_counter() - wall) / n * 1e6,
        "statements": (clock.statements - statements) / n,
        "driver_us": (clock.seconds - driver) / n * 1e6,
        "n": n,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--n", type=int, default=300)
    harness.add_postgres_options(parser, layout=False, schema=False)
    parser.add_argument("--only", default="",
                        help="measure only the lines whose name holds this text (e.g. to run the"
                             " list many times under `py-spy record --gil -- python bench/micro.py`)")
    parser.add_argument("--ops", action="store_true",
                        help="also /healthz and the 10-room list with the access log on, then with"
                             " traces exported to a local sink (meet_external/ops/)")
    parser.add_argument("--bridge", action="store_true",
                        help="also /healthz, the 10-room list and a retrieve through an app whose"
                             " Flask runs on a2wsgi's pools (Connexion's bridge), in turns with the"
                             " project's (meet_external/server/threads.py)")
    parser.add_argument("--stack", action="store_true",
                        help="also the 10-room list and /healthz through an app built without the"
                             " project's own ASGI middlewares, in turns with the full app")
    args = parser.parse_args(argv)
    n = args.n

    with harness.Database(args.db, args.pg_url) as db:
        env = {**os.environ, "DATABASE_URL": db.url, "APPLICATION_JWT_SECRET_KEY": "k" * 48}
        subprocess.run([*harness.meet_external(), "init-db"], env=env, check=True,
                       capture_output=True, cwd=tempfile.gettempdir())
        seeded = seed.seed(db.url)
        os.environ.update(env)

        from meet_external import models
        from meet_external.api.pagination import page_links
        from meet_external.app import create_app
        from meet_external.auth.application import TokenSigner
        from meet_external.config import Config
        from meet_external.models.rooms.pages import rooms_page
        from meet_external.models.rooms.policy import RoomPolicy
        from meet_external.models.rooms.queries import visible_room
        from meet_external.models.storage.db import connection, discard_connection

        config = Config.from_env()
        app = create_app(config)
        clock = DriverClock(models.database.obj)
        results = {}
        base = "/external-api/v1.0"
        token_body = harness.token_body(seeded)
        driver = AsgiDriver(app)
        json_type = {"Content-Type": "application/json"}
        try:
            tokens = {}
            for who in ("small", "big", "writer"):
                body = json.dumps({**json.loads(token_body), "scope": seeded["emails"][who]}).encode()
                status = driver.call("POST", f"{base}/application/token/", json_type, body)
                assert status == 200, status
            # The driver does not keep bodies; the tokens come from the signer instead.
            from meet_external.auth.application import TokenSigner as _Signer
            from meet_external.models import Application, User

            application = Application.get(Application.client_id == seeded["client_id"])
            for who in ("small", "big", "writer"):
                user = User.get(User.email == seeded["emails"][who])
                tokens[who] = _Signer(config).mint(application.client_id, str(user.id),
                                                   application.scope_string)
            auth = {k: {"Authorization": f"Bearer {v}"} for k, v in tokens.items()}
            room = seeded["rooms"]["big"][0]
            requests = [
                ("GET /healthz (stack around the API)", n, ("GET", "/healthz")),
                ("POST token", n, ("POST", f"{base}/application/token/", json_type,
                                   token_body.encode())),
                ("GET list, 10-room user", n, ("GET", f"{base}/rooms?page=1&page_size=20",
                                               auth["small"])),
                ("GET list, 100k user, page 1", max(10, n // 5),
                 ("GET", f"{base}/rooms?page=1&page_size=20", auth["big"])),
                ("GET list, 100k user, page 5000", max(5, n // 20),
                 ("GET", f"{base}/rooms?page=5000&page_size=20", auth["big"])),
                ("GET retrieve", n, ("GET", f"{base}/rooms/{room}", auth["big"])),
                ("POST create", n, ("POST", f"{base}/rooms", {**auth["writer"], **json_type}, b"{}")),
            ]
            for name, count, request in requests:
                if args.only not in name:
                    continue
                status = driver.call(*request)
                if status not in (200, 201):
                    print(f"{name}: HTTP {status}, skipped", file=sys.stderr)
                    continue
                results[name] = measure(lambda request=request: driver.call(*request), count, clock)
        finally:
            driver.close()

        signer = TokenSigner(config)
        small = signer.delegation(signer.verify(tokens["small"]))
        big = signer.delegation(signer.verify(tokens["big"]))
        policy = RoomPolicy.from_config(config)

        def with_conn(fn):
            def run():
                with connection():
                    return fn()
            return run

        parts = [
            ("part: TokenSigner.verify (PyJWT)", n * 3, lambda: signer.verify(tokens["small"])),
            ("part: connection(), nothing run", n * 3, with_conn(lambda: None)),
            ("part: rooms_page (with the principal and the count), 10-room user", n,
             with_conn(lambda: rooms_page(small, 1, 20))),
            ("part: rooms_page, 100k user, page 1", max(10, n // 5),
             with_conn(lambda: rooms_page(big, 1, 20))),
            ("part: rooms_page, 100k user, page 5000", max(5, n // 20),
             with_conn(lambda: rooms_page(big, 5000, 20))),
            ("part: visible_room (retrieve, with the principal)", n,
             with_conn(lambda: visible_room(big, room))),
        ]
        for name, count, call in parts:
            if args.only in name:
                results[name] = measure(call, count, clock)
        with connection():
            found = rooms_page(big, 1, 20)
        count, rooms = found.count, found.rooms
        url = f"http://127.0.0.1{base}/rooms"

        def body():
            return {"count": count, **page_links(url, 1, 20, count),
                    "results": [r.as_body(policy) for r in rooms]}

        page = body()
        if args.only in "part: page body, json.dumps":
            results["part: page body (20 x as_body + page_links)"] = measure(body, n * 3, clock)
            results["part: json.dumps of a 20-room page"] = measure(lambda: json.dumps(page), n * 3,
                                                                    clock)
        if args.ops:
            ops_costs(results, n, clock, base, auth["small"])
        if args.stack:
            stack_costs(results, n, clock, config, base, auth["small"])
        if args.bridge:
            bridge_costs(results, n, clock, config, base, auth, room)
        discard_connection()

    width = max(map(len, results), default=10)
    print(f"\nper call, {args.db}, in process, mean of n calls after a warm-up")
    print(f"  {'':<{width}}  {'CPU µs':>8}  {'wall µs':>8}  {'SQL':>4}  {'in driver µs':>12}  {'n':>5}")
    for name, r in results.items():
        print(f"  {name:<{width}}  {r['cpu_us']:8.0f}  {r['wall_us']:8.0f}  {r['statements']:4.1f}"
              f"  {r['driver_us']:12.0f}  {r['n']:5d}")
    return 0


def ops_costs(results: dict, n: int, clock, base: str, auth: dict) -> None:
    """The same requests through apps built with the access log on (its lines to /dev/null),
    then with traces exported over OTLP/HTTP to a sink in this process: the exporter's thread
    is counted in this process's CPU time. Tracing last: its statement hook stays on the database."""
    import asyncio

    from meet_external.api.extension import load_extension
    from meet_external.app import create_app, load_spec, route_table
    from meet_external.config import Config
    from meet_external.ops.request_ids import RequestIds

    # What every request pays with traces and the access log off: the request-id middleware
    # around an app that answers at once.
    async def empty(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def nothing(message):
        pass

    middleware = RequestIds(empty, routes=route_table(load_spec()[1], load_extension()[1]))
    scope = {"type": "http", "method": "GET", "path": f"{base}/rooms", "client": ("127.0.0.1", 1),
             "headers": [(b"x-request-id", b"bench-1")]}
    loop = asyncio.new_event_loop()
    results["part: request-id middleware, access log and traces off"] = measure(
        lambda: loop.run_until_complete(middleware(scope, None, nothing)), n * 10, clock)
    loop.close()
    requests = [("GET /healthz", ("GET", "/healthz")),
                ("GET list, 10-room user", ("GET", f"{base}/rooms?page=1&page_size=20", auth))]
    with open(os.devnull, "w") as devnull, harness.otlp_sink() as endpoint:
        for label, extra in (("access log on", {"ACCESS_LOG": "true"}),
                             ("traces on", {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint})):
            os.environ.update(extra)  # OpenTelemetry's exporter reads its endpoint there
            driver = AsgiDriver(create_app(Config.from_env()))
            stderr, sys.stderr = sys.stderr, devnull
            try:
                for name, request in requests:
                    driver.call(*request)
                    results[f"{name}, {label}"] = measure(
                        lambda request=request, driver=driver: driver.call(*request), n, clock)
            finally:
                sys.stderr = stderr
                driver.close()
                for name in extra:
                    os.environ.pop(name)


def in_turns(results: dict, n: int, clock, drivers: dict, requests: list) -> None:
    """Each request through each driver, in turns (a, b, a, b); the mean of both turns."""
    for name, request in requests:
        for driver in drivers.values():
            assert driver.call(*request) == 200
        runs = {label: [] for label in drivers}
        for _ in range(2):
            for label, driver in drivers.items():
                runs[label].append(measure(lambda request=request, driver=driver: driver.call(*request),
                                           n, clock))
        for label, pair in runs.items():
            results[f"{name}, {label}"] = {**{key: sum(r[key] for r in pair) / 2 for key in pair[0]},
                                           "n": sum(r["n"] for r in pair)}


def bridge_costs(results: dict, n: int, clock, config, base: str, auths: dict, room: str) -> None:
    """What the project's thread pools save against a2wsgi's, which Connexion would run Flask on:
    the same app with both pools replaced by a2wsgi's WSGIMiddleware, in turns with the project's."""
    from a2wsgi import WSGIMiddleware

    from meet_external import internals
    from meet_external.app import create_app
    from meet_external.server import threads

    a2wsgi_app = create_app(config)
    pools = internals.wsgi_app_of(a2wsgi_app)
    pools.requests = WSGIMiddleware(a2wsgi_app.app.wsgi_app, workers=config.request_threads)
    pools.tokens = WSGIMiddleware(a2wsgi_app.app.wsgi_app, workers=threads.TOKEN_THREADS)
    drivers = {"project's pools": AsgiDriver(create_app(config)),
               "a2wsgi's pools": AsgiDriver(a2wsgi_app)}
    requests = [("GET /healthz", ("GET", "/healthz")),
                ("GET list, 10-room user", ("GET", f"{base}/rooms?page=1&page_size=20", auths["small"])),
                ("GET retrieve", ("GET", f"{base}/rooms/{room}", auths["big"]))]
    try:
        in_turns(results, n, clock, drivers, requests)
    finally:
        for driver in drivers.values():
            driver.close()


def stack_costs(results: dict, n: int, clock, config, base: str, auth: dict) -> None:
    """What the project's own ASGI middlewares (app.py's add_middleware: Host, proxies, body
    limit and reading, media type, paths, OAuth client requests, the files served verbatim,
    request ids) cost per request: the same requests through an app built with add_middleware
    made a no-op, in turns with the full app (full, bare, full, bare)."""
    import connexion

    from meet_external.app import create_app

    add_middleware = connexion.FlaskApp.add_middleware
    connexion.FlaskApp.add_middleware = lambda self, *args, **kwargs: None
    try:
        bare = AsgiDriver(create_app(config))
    finally:
        connexion.FlaskApp.add_middleware = add_middleware
    full = AsgiDriver(create_app(config))
    requests = [("GET /healthz", ("GET", "/healthz")),
                ("GET list, 10-room user", ("GET", f"{base}/rooms?page=1&page_size=20", auth))]
    try:
        in_turns(results, n, clock, {"full app": full, "without the project's middlewares": bare},
                 requests)
    finally:
        full.close()
        bare.close()


if __name__ == "__main__":
    sys.exit(main())
