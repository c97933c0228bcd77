"""The database handle: one proxy, bound once from DATABASE_URL at start-up."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
import urllib.parse

import peewee
from playhouse.pool import MaxConnectionsExceeded, PooledPostgresqlDatabase, PooledSqliteDatabase

database = peewee.DatabaseProxy()

# Connections are handed between a2wsgi's and anyio's worker threads, so the
# pool (not one thread) owns them; a waiting request gives up after this long.
POOL_WAIT_SECONDS = 10
# A server that stops answering (a partition, not a refusal) must become a
# 503 within seconds, not hold a request thread until the kernel gives up.
# Any of these can be overridden in DATABASE_URL's query string.
POSTGRES_CONNECTION_DEFAULTS = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 15000,
    "options": "-c statement_timeout=15000",
}
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 10000,
    "foreign_keys": 1,
    "synchronous": "normal",
}


class DatabaseUnavailable(Exception):
    """The database cannot be reached; the request can be retried later."""


class _PooledPostgres(PooledPostgresqlDatabase):
    """Peewee's pool sends `SELECT 1` at every check-out; a connection handed
    back moments ago is trusted instead (a failed one is discarded by
    `connection()`), which saves a round trip per request under load."""

    TRUST_SECONDS = 5.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._returned_at = {}

    def _can_reuse(self, conn):
        reusable = super()._can_reuse(conn)
        if reusable:
            self._returned_at[id(conn)] = time.monotonic()
        return reusable

    def _is_closed(self, conn):
        if conn.closed:
            return True
        returned = self._returned_at.pop(id(conn), None)
        if returned is not None and time.monotonic() - returned < self.TRUST_SECONDS:
            return False
        return super()._is_closed(conn)


def make_database(url: str) -> peewee.Database:
    """A pooled database for a `sqlite:///path` or `postgresql://...` URL."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "sqlite":
        path = url[len("sqlite:///"):] or ":memory:"
        db = PooledSqliteDatabase(
            path,
            pragmas=SQLITE_PRAGMAS,
            check_same_thread=False,
            max_connections=32,
            timeout=POOL_WAIT_SECONDS,
        )
        db.meet_writers = _SqliteWriters(path) if path != ":memory:" else None
        return db
    return _PooledPostgres(
        urllib.parse.unquote(parsed.path.lstrip("/")) or "postgres",
        user=urllib.parse.unquote(parsed.username or "") or None,
        password=urllib.parse.unquote(parsed.password or "") or None,
        host=parsed.hostname,
        port=parsed.port,
        max_connections=32,
        stale_timeout=300,
        timeout=POOL_WAIT_SECONDS,
        **{**POSTGRES_CONNECTION_DEFAULTS, **dict(urllib.parse.parse_qsl(parsed.query))},
    )


def bind(url: str) -> peewee.Database:
    """Point the models at `url`; binding the same URL again keeps the existing pool."""
    if database.obj is not None and getattr(database.obj, "meet_url", None) == url:
        return database.obj
    db = make_database(url)
    db.meet_url = url
    database.initialize(db)
    return db


class _SqliteWriters:
    """Queues the writers of one SQLite file, across threads and processes, on a kernel lock.

    SQLite's busy handler sleeps up to 100 ms between retries, which under
    concurrent creates showed as p99 latencies near a second; a writer blocked
    in flock() wakes as soon as the previous one commits. The kernel drops the
    lock of a process that dies.
    """

    def __init__(self, database_path: str):
        self.lock_path = f"{database_path}.writer-lock"
        self.thread_lock = threading.RLock()
        self.depth = 0
        self.fd = None

    @contextlib.contextmanager
    def turn(self):
        with self.thread_lock:
            if self.depth == 0:
                if self.fd is None:
                    try:
                        self.fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
                    except OSError as exc:  # the database's directory is gone: an outage
                        raise peewee.OperationalError(str(exc)) from exc
                fcntl.flock(self.fd, fcntl.LOCK_EX)
            self.depth += 1
            try:
                yield
            finally:
                self.depth -= 1
                if self.depth == 0:
                    fcntl.flock(self.fd, fcntl.LOCK_UN)


@contextlib.contextmanager
def write_transaction():
    """A transaction for a writer: on SQLite, in turn, with the write lock taken up front.

    With several processes on one SQLite file, a deferred transaction that
    upgrades to a writer can fail with SQLITE_BUSY without waiting; starting
    IMMEDIATE makes the busy timeout apply.
    """
    writers = getattr(database.obj, "meet_writers", None)
    if writers is None:
        with database.atomic():
            yield
        return
    with writers.turn(), database.atomic("IMMEDIATE"):
        yield


@contextlib.contextmanager
def connection():
    """Borrow a pooled connection for the current thread, mapping outages."""
    try:
        database.connect(reuse_if_open=True)
    except (peewee.OperationalError, peewee.InterfaceError, MaxConnectionsExceeded) as exc:
        raise DatabaseUnavailable(str(exc)) from exc
    try:
        yield
    except (peewee.OperationalError, peewee.InterfaceError) as exc:
        if not _is_lock_timeout(exc):
            _discard_connection()
        raise DatabaseUnavailable(str(exc)) from exc
    finally:
        if not database.is_closed():
            database.close()


def _is_lock_timeout(exc: Exception) -> bool:
    return "locked" in str(exc)


def _discard_connection() -> None:
    """Drop a failed connection, and the idle ones that likely died with it."""
    try:
        database.manual_close()
    except Exception:  # the connection is already broken; nothing to save
        pass
    database.close_idle()


def ping() -> None:
    with connection():
        database.execute_sql("SELECT 1")
