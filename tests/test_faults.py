"""Faults: the database going away and coming back, and a server killed mid-load (issue 3, item 4).

- PostgreSQL unreachable: a TCP proxy in this test stands between the server
  process and PostgreSQL; stopping it closes the port and every connection.
  Every route that needs the database answers 503 JSON, /readyz says so,
  /healthz stays up; once the proxy is back the same process serves again.
- SIGKILL in the middle of a create load: every room answered 201 is there
  after a restart on the same database, with its access and audit record.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from meet_external import models
from meet_external.models import Resource, ResourceAccess, Room, RoomCreation

from .support import postgres
from .support.constants import ROOMS_URL, SECRET_KEY, TOKEN_URL
from .support.server import ServerProcess

UNAVAILABLE = "Service temporarily unavailable: the database cannot be reached."
TIMEOUT = httpx.Timeout(20.0)


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; `stop()` closes the port and cuts every
    connection, `start()` listens again on the same port. Runs its own event loop thread."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy", daemon=True)
        self._thread.start()
        self._server: asyncio.base_events.Server | None = None
        self._transports: set = set()

    def _run(self, coroutine, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def _serve(self, client_reader, client_writer) -> None:
        self._transports.add(client_writer.transport)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            self._transports.discard(client_writer.transport)
            return
        self._transports.add(upstream_writer.transport)
        try:
            await asyncio.gather(self._pipe(client_reader, upstream_writer),
                                 self._pipe(upstream_reader, client_writer))
        finally:
            self._transports.discard(client_writer.transport)
            self._transports.discard(upstream_writer.transport)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port,
                                                  reuse_address=True)

    async def _close(self) -> None:
        self._server.close()
        for transport in list(self._transports):
            transport.abort()  # a reset, as when the database host goes down
        self._transports.clear()
        await self._server.wait_closed()
        self._server = None

    def start(self) -> TcpProxy:
        self._run(self._listen())
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._run(self._close())

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@contextlib.contextmanager
def proxied_postgres(database_url: str):
    """A running proxy to the run's PostgreSQL, and the database URL that goes through it."""
    parsed = urllib.parse.urlsplit(database_url)
    proxy = TcpProxy(parsed.hostname, parsed.port or 5432).start()
    netloc = parsed.netloc.rsplit("@", 1)
    host_part = f"127.0.0.1:{proxy.port}"
    through = parsed._replace(netloc=f"{netloc[0]}@{host_part}" if len(netloc) == 2 else host_part)
    try:
        yield proxy, urllib.parse.urlunsplit(through)
    finally:
        proxy.close()


def fetch_token(http: httpx.Client, credentials, email: str) -> str:
    response = http.post(TOKEN_URL, json=credentials.token_request(email))
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def assert_json(response: httpx.Response, status: int, body: dict) -> None:
    assert (response.status_code, response.headers.get("content-type"), response.json()) == (
        status, "application/json", body), response.request.url


def owners_view(created: dict) -> dict:
    """The room as its owner retrieves it: the created body with its (no) attendees."""
    return {**created, "attendees": []}


def list_every_room(http: httpx.Client, headers: dict) -> list:
    url = f"{ROOMS_URL}?page_size=100"
    rooms = []
    for _ in range(100):  # bounded
        response = http.get(url, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        rooms += page["results"]
        if page["next"] is None:
            return rooms
        url = page["next"]
    pytest.fail("too many pages")


# --- the database unreachable ------------------------------------------------------------


def each_route(http: httpx.Client, credentials, email: str, headers: dict, room_id: str) -> dict:
    """One request to every route that needs the database, and to both probes."""
    return {
        "token": http.post(TOKEN_URL, json=credentials.token_request(email)),
        "list": http.get(ROOMS_URL, headers=headers),
        "create": http.post(ROOMS_URL, headers=headers),
        "retrieve": http.get(f"{ROOMS_URL}/{room_id}", headers=headers),
        "readyz": http.get("/readyz"),
        "healthz": http.get("/healthz"),
    }


def test_postgresql_unreachable_is_503_then_recovers_without_restart(database_url, tmp_path,
                                                                     credentials, user):
    if not database_url.startswith("postgres"):
        pytest.skip(
            "PostgreSQL only: SQLite is a file the server process holds open, not a server it "
            "reaches over a connection. Removing or renaming the path does not cut open handles "
            "(measured: every route kept answering 200/201), and as root file permissions do not "
            "bind; the open-time failure (no such directory: 503, /readyz 503) is covered "
            "in-process by test_http.py, and a lock held past the busy timeout by "
            "test_sqlite_write_lock_past_the_busy_timeout_is_503_then_recovers below.")
    with proxied_postgres(database_url) as (proxy, through_proxy), \
            ServerProcess(through_proxy) as server, \
            httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
        server.start(str(tmp_path / "server.log"))
        headers = {"Authorization": f"Bearer {fetch_token(http, credentials, user.email)}"}
        room = http.post(ROOMS_URL, headers=headers).json()
        # Fill the server's pool with several connections, all of which the outage will cut.
        with ThreadPoolExecutor(8) as pool:
            warm = list(pool.map(lambda _: httpx.get(f"{server.url}{ROOMS_URL}", headers=headers,
                                                     timeout=TIMEOUT), range(16)))
        assert {response.status_code for response in warm} == {200}

        proxy.stop()
        for _ in range(2):
            down = each_route(http, credentials, user.email, headers, room["id"])
            assert_json(down["token"], 503, {"error": UNAVAILABLE})
            for name in ("list", "create", "retrieve", "readyz"):
                assert_json(down[name], 503, {"detail": UNAVAILABLE})
            assert_json(down["healthz"], 200, {"status": "ok"})

        proxy.start()
        # The same process, at once: the first request to each route succeeds.
        up = each_route(http, credentials, user.email, headers, room["id"])
        assert up["token"].status_code == 200, up["token"].text
        assert_json(up["list"], 200, {"count": 1, "next": None, "previous": None, "results": [room]})
        assert up["create"].status_code == 201, up["create"].text
        assert_json(up["retrieve"], 200, owners_view(room))
        assert_json(up["readyz"], 200, {"status": "ok", "database": "reachable"})
        with ThreadPoolExecutor(8) as pool:
            burst = list(pool.map(lambda _: httpx.get(f"{server.url}{ROOMS_URL}", headers=headers,
                                                      timeout=TIMEOUT), range(16)))
        assert [response.status_code for response in burst] == [200] * 16
        # The creates refused during the outage stored nothing: two rooms, the first and the last.
        assert burst[0].json()["count"] == 2
        assert server.process.poll() is None


def test_sqlite_write_lock_past_the_busy_timeout_is_503_then_recovers(database_url, tmp_path,
                                                                      credentials, user):
    """The SQLite outage a running server can meet: another process holds the write lock
    (a backup, a migration, a stuck writer) past busy_timeout. Writes answer 503 JSON instead
    of hanging or failing with 500; reads go on (WAL); once the lock goes, writes succeed."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only: a PostgreSQL outage is tested through the proxy above")
    path = database_url[len("sqlite:///"):]
    with ServerProcess(database_url) as server, \
            httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
        server.start(str(tmp_path / "server.log"))
        headers = {"Authorization": f"Bearer {fetch_token(http, credentials, user.email)}"}
        room = http.post(ROOMS_URL, headers=headers).json()

        holder = sqlite3.connect(path, isolation_level=None, timeout=5)
        try:
            holder.execute("BEGIN IMMEDIATE")
            started = time.monotonic()
            with ThreadPoolExecutor(6) as pool:
                futures = {name: pool.submit(call) for name, call in {
                    "create": lambda: http.post(ROOMS_URL, headers=headers),
                    "token": lambda: http.post(TOKEN_URL, json=credentials.token_request(user.email)),
                    "list": lambda: http.get(ROOMS_URL, headers=headers),
                    "retrieve": lambda: http.get(f"{ROOMS_URL}/{room['id']}", headers=headers),
                    "readyz": lambda: http.get("/readyz"),
                }.items()}
                locked = {name: future.result() for name, future in futures.items()}
            waited = time.monotonic() - started
        finally:
            holder.execute("ROLLBACK")
            holder.close()

        assert_json(locked["create"], 503, {"detail": UNAVAILABLE})
        assert waited < TIMEOUT.read, "the busy timeout must end the wait"
        assert locked["token"].status_code == 200, locked["token"].text
        assert_json(locked["list"], 200, {"count": 1, "next": None, "previous": None, "results": [room]})
        assert_json(locked["retrieve"], 200, owners_view(room))
        assert_json(locked["readyz"], 200, {"status": "ok", "database": "reachable"})

        again = http.post(ROOMS_URL, headers=headers)
        assert again.status_code == 201, again.text
        assert http.get(ROOMS_URL, headers=headers).json()["count"] == 2


# --- the database replaced under a running server -------------------------------------------

REPLACED = ("Service temporarily unavailable: the database's tables are missing (it was replaced "
            "since this server started).")
LAYOUT_CHANGED = ("The database's layout changed since this server started (La Suite Meet was "
                  "migrated): restart meet-external.")
EVERY_SCOPE = ("rooms:list", "rooms:retrieve", "rooms:create", "rooms:update", "rooms:delete")


def cli(database_url: str, *args: str) -> dict:
    """`meet-external ... --json` on a database, its output parsed."""
    env = {**os.environ, "DATABASE_URL": database_url, "APPLICATION_JWT_SECRET_KEY": SECRET_KEY}
    result = subprocess.run([sys.executable, "-m", "meet_external", *args, "--json"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@contextlib.contextmanager
def throw_away_database(database_url: str, tmp_path):
    """A database of its own for one server: on PostgreSQL a new one, on SQLite a new file."""
    if database_url.startswith("postgres"):
        with postgres.fresh_database() as url:
            yield url
        return
    yield f"sqlite:///{tmp_path / 'replaced.sqlite3'}"


def empty_the_database(url: str) -> None:
    """PostgreSQL: DROP DATABASE and CREATE DATABASE (the server's connections are cut). SQLite:
    every table dropped from the file the server has open (a replaced file would not be seen:
    the process keeps the old one open; see the unreachable test above)."""
    if url.startswith("postgres"):
        name = urllib.parse.urlsplit(url).path.lstrip("/")
        postgres.run_sql(postgres.SERVER_URL, [f'DROP DATABASE "{name}" WITH (FORCE)',
                                               f'CREATE DATABASE "{name}"'])
        return
    with contextlib.closing(sqlite3.connect(url[len("sqlite:///"):], isolation_level=None)) as db:
        db.execute("PRAGMA foreign_keys = OFF")
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for name in tables:
            db.execute(f'DROP TABLE "{name}"')


def test_database_replaced_is_503_on_every_operation(database_url, tmp_path):
    """The database emptied under a running server: its tables are gone. Every API operation
    answers 503 with Retry-After, as the probes do, and none a 500."""
    with throw_away_database(database_url, tmp_path) as url, ServerProcess(url) as server, \
            httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
        server.start(str(tmp_path / "server.log"))
        email = cli(url, "users", "create", "--email", "alice@example.com")["email"]
        scopes = [arg for scope in EVERY_SCOPE for arg in ("--scope", scope)]
        application = cli(url, "applications", "create", "--name", "replaced", *scopes)
        token_request = {"client_id": application["client_id"], "grant_type": "client_credentials",
                         "client_secret": application["client_secret"], "scope": email}
        token = http.post(TOKEN_URL, json=token_request)
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        room = http.post(ROOMS_URL, headers=headers).json()

        empty_the_database(url)
        for _ in range(2):  # the first requests meet the cut connections, the next new ones
            answers = {
                "token": http.post(TOKEN_URL, json=token_request),
                "list": http.get(ROOMS_URL, headers=headers),
                "create": http.post(ROOMS_URL, headers=headers, json={"access_level": "restricted"}),
                "retrieve": http.get(f"{ROOMS_URL}/{room['id']}", headers=headers),
                "update": http.patch(f"{ROOMS_URL}/{room['id']}", headers=headers,
                                     json={"attendees": [email]}),
                "delete": http.delete(f"{ROOMS_URL}/{room['id']}", headers=headers),
                "readyz": http.get("/readyz"),
                "heartbeat": http.get("/__heartbeat__"),
            }
            assert {name: (answer.status_code, answer.headers.get("content-type"),
                           answer.headers.get("retry-after"), answer.json())
                    for name, answer in answers.items()} == {
                "token": (503, "application/json", "5", {"error": REPLACED}),
                **{name: (503, "application/json", "5", {"detail": REPLACED})
                   for name in ("list", "create", "retrieve", "update", "delete")},
                "readyz": (503, "application/json", "5", {"detail": LAYOUT_CHANGED}),
                "heartbeat": (503, "application/json", "5", {"detail": LAYOUT_CHANGED}),
            }

        # `init-db` makes the tables again: the same process serves, on what is now there.
        subprocess.run([sys.executable, "-m", "meet_external", "init-db"], check=True, timeout=60,
                       env={**os.environ, "DATABASE_URL": url}, capture_output=True)
        assert_json(http.get("/readyz"), 200, {"status": "ok", "database": "reachable"})
        assert_json(http.post(TOKEN_URL, json=token_request), 401, {"error": "Invalid credentials"})
        assert "Traceback" not in server.log()


# --- SIGKILL in the middle of a create load ------------------------------------------------

LOADERS = 6
KILL_AFTER = 40  # rooms answered 201 before the kill


def test_sigkill_mid_load_keeps_every_room_answered_201(database_url, tmp_path, credentials, user):
    acknowledged: list = []
    refused: list = []
    lock = threading.Lock()
    stop = threading.Event()

    with ServerProcess(database_url, env={"ROOM_TELEPHONY_ENABLED": "true"}) as server:
        server.start(str(tmp_path / "killed.log"))
        with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
            headers = {"Authorization": f"Bearer {fetch_token(http, credentials, user.email)}"}

        def load() -> None:
            with httpx.Client(base_url=server.url, timeout=httpx.Timeout(10.0)) as http:
                while not stop.is_set():
                    try:
                        response = http.post(ROOMS_URL, headers=headers)
                    except httpx.HTTPError:
                        return  # the server is gone: an answer that never came proves nothing
                    with lock:
                        (acknowledged if response.status_code == 201 else refused).append(response)

        threads = [threading.Thread(target=load, name=f"loader-{i}") for i in range(LOADERS)]
        for thread in threads:
            thread.start()
        try:
            deadline = time.monotonic() + 60
            while len(acknowledged) < KILL_AFTER and time.monotonic() < deadline:
                time.sleep(0.01)
            server.kill()  # SIGKILL to the whole process group, mid-load
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)
        assert not any(thread.is_alive() for thread in threads)

    assert len(acknowledged) >= KILL_AFTER, "the load did not get going before the deadline"
    assert [(r.status_code, r.text) for r in refused] == []
    answered = {response.json()["id"]: response.json() for response in acknowledged}
    assert len(answered) == len(acknowledged)

    with ServerProcess(database_url, env={"ROOM_TELEPHONY_ENABLED": "true"}) as restarted, \
            httpx.Client(base_url=restarted.url, timeout=TIMEOUT) as http:
        restarted.start(str(tmp_path / "restarted.log"))
        headers = {"Authorization": f"Bearer {fetch_token(http, credentials, user.email)}"}
        listed = {room["id"]: room for room in list_every_room(http, headers)}
        # Every 201 survived, as it was answered; rooms whose answer was lost in the kill may
        # exist too (committed, not yet answered): they are whole, as checked below.
        assert {room_id: listed.get(room_id) for room_id in answered} == answered
        with ThreadPoolExecutor(4) as pool:
            retrieved = list(pool.map(
                lambda room_id: http.get(f"{ROOMS_URL}/{room_id}", headers=headers), answered))
        for response, body in zip(retrieved, answered.values(), strict=True):
            assert_json(response, 200, owners_view(body))

    # All or nothing: no room without its owner access and its audit record.
    with models.database.connection_context():
        rooms = Room.select().count()
        assert rooms == len(listed)
        assert ResourceAccess.select().where(ResourceAccess.role == "owner").count() == rooms
        assert RoomCreation.select().count() == Resource.select().count() == rooms
