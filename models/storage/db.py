"""The database handle: one proxy, bound once from DATABASE_URL at start-up, with its dialect.

Each thread keeps its own connection open across requests (Peewee's default, thread-local
connections): the handlers run in a fixed pool of threads, so a process holds as many
connections as it has threads, and a request costs no connect, no pool check-out and no
liveness query. A connection the server has closed is noticed locally (its socket turns
readable while idle) and replaced before the request uses it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import select
import threading
import urllib.parse

import peewee
from playhouse import db_url

from ..refusals import RETRY_SOON, Refusal
from .dialect import POSTGRESQL, SQLITE, Dialect

database = peewee.DatabaseProxy()

# The PostgreSQL driver (psycopg 3); the command line names it when it is missing.
POSTGRES_DRIVER = "psycopg"
# A server that stops answering (a partition, not a refusal) must become a 503 within
# seconds, not hold a request thread until the kernel gives up. Any of these can be
# overridden in DATABASE_URL's query string.
POSTGRES_CONNECTION_DEFAULTS = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 15000,
    # Short OLTP statements: JIT compilation (tens of ms, triggered by the cost estimates of
    # the page walks) and parallel workers (a process start per statement) only slow them.
    # Prepared statements keep their generic plan: each statement is written for one plan
    # (models/rooms/pages.py names the page's reading itself), and PostgreSQL's default of
    # re-planning when a custom plan looks cheaper held the 10-room list well below its rate
    # with generic plans (docs/performance.md, `python bench/run.py --db postgresql --quick`).
    "options": ("-c statement_timeout=15000 -c jit=off -c max_parallel_workers_per_gather=0"
                " -c plan_cache_mode=force_generic_plan"),
}
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 10000,
    "foreign_keys": 1,
    "synchronous": "normal",
}


class DatabaseUnavailable(Refusal):
    """The database cannot be reached; the request can be retried later."""

    status = 503
    message = "Service temporarily unavailable: the database cannot be reached."
    headers = RETRY_SOON
    logged_as = "database unavailable"
    database_error = "unavailable"


class TablesMissing(DatabaseUnavailable):
    """The database answers, but without the tables this process started with: it was dropped
    and re-created (or restored empty) under the running server."""

    message = ("Service temporarily unavailable: the database's tables are missing (it was "
               "replaced since this server started).")
    logged_as = "database tables missing"


# PostgreSQL's undefined_table and undefined_column (SQLite's words: models/storage/dialect.py).
_MISSING_SQLSTATES = ("42P01", "42703")


def make_database(url: str) -> peewee.Database:
    """A database for a `sqlite:///path` or `postgres(ql)://...` URL (not connected yet).

    PostgreSQL's URL is read by `playhouse.db_url.parse` (user and password percent-decoded),
    over the project's defaults (`POSTGRES_CONNECTION_DEFAULTS`, which the query string may
    override), not by `playhouse.db_url.connect`: its keyword arguments override the URL's
    rather than underlie them, and it has no default database name. Three things are the
    project's own: the database name is percent-decoded and defaults to `postgres`; a query
    parameter with no value is ignored, as an unset one; `prepare_threshold` is psycopg's own
    option, an integer or `none`. The driver is psycopg 3 through Peewee's PostgresqlDatabase.

    A SQLite URL is not parsed: everything after `sqlite:///` is the file's path, `?` and `#`
    included (db_url would read a query string as sqlite3.connect() arguments), and the
    pragmas are the project's (`SQLITE_PRAGMAS`).
    """
    if urllib.parse.urlparse(url).scheme == "sqlite":
        path = url[len("sqlite:///"):] or ":memory:"
        return peewee.SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, check_same_thread=False,
                                     field_types=SQLITE.column_types)
    return peewee.PostgresqlDatabase(**postgres_parameters(url), prefer_psycopg3=True,
                                     field_types=POSTGRESQL.column_types)


def postgres_parameters(url: str) -> dict:
    """The connection parameters of a PostgreSQL URL, over the project's defaults."""
    parsed = urllib.parse.urlparse(url)
    given = db_url.parse(url, unquote_password=True, unquote_user=True)
    given = {name: value for name, value in given.items() if value != ""}
    params = {**POSTGRES_CONNECTION_DEFAULTS, **given,
              "database": urllib.parse.unquote(parsed.path.lstrip("/")) or "postgres"}
    if isinstance(params.get("prepare_threshold"), str):  # "none" and "null" are None already
        params["prepare_threshold"] = int(params["prepare_threshold"])
    return params


@dataclasses.dataclass(frozen=True)
class _Binding:
    """What the models are bound to: the URL, its Peewee database, its dialect and, for a
    SQLite file, the queue of its writers (the project's own state, not attributes hung on
    Peewee's objects)."""

    url: str
    dialect: Dialect
    writers: _SqliteWriters | None = None


# Before any bind: SQLite's dialect, as the default database is.
_bound = _Binding("", SQLITE)


def bind(url: str) -> peewee.Database:
    """Point the models at `url`; binding the same URL again keeps the existing handle."""
    global _bound
    if database.obj is not None and _bound.url == url:
        return database.obj
    db = make_database(url)
    if isinstance(db, peewee.SqliteDatabase):
        writers = _SqliteWriters(db.database) if db.database != ":memory:" else None
        binding = _Binding(url, SQLITE, writers)
    else:
        binding = _Binding(url, POSTGRESQL)
    database.initialize(db)
    _bound = binding
    return db


def dialect() -> Dialect:
    """The dialect of the database the models are bound to (models/storage/dialect.py)."""
    return _bound.dialect


def is_sqlite() -> bool:
    """For tests that state what differs; model modules ask `dialect()` for operations."""
    return _bound.dialect.name == "sqlite"


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
    writers = _bound.writers
    if writers is None:
        with database.atomic():
            yield
        return
    with writers.turn(), database.atomic("IMMEDIATE"):
        yield


def lock_name(name: str) -> None:
    """Hold a lock on `name` until the current transaction ends (check-then-insert rules).

    PostgreSQL: a transaction-scoped advisory lock. SQLite: nothing to do, its
    writers already run one at a time (`write_transaction`).
    """
    statement = _bound.dialect.name_lock
    if statement is not None:
        database.execute_sql(statement, (name,))


@contextlib.contextmanager
def connection():
    """Use this thread's connection, opening or replacing it as needed, mapping outages."""
    try:
        _ensure_live_connection()
    except (peewee.OperationalError, peewee.InterfaceError) as exc:
        raise DatabaseUnavailable(str(exc)) from exc
    try:
        yield
    except (peewee.OperationalError, peewee.InterfaceError, peewee.ProgrammingError) as exc:
        missing = _tables_missing(exc)
        if isinstance(exc, peewee.ProgrammingError) and not missing:
            raise
        if not _is_lock_timeout(exc):
            discard_connection()
        raise (TablesMissing if missing else DatabaseUnavailable)(str(exc)) from exc


@contextlib.contextmanager
def fresh_connection():
    """A new connection for this thread, for clean-up after the previous one failed."""
    discard_connection()
    with connection():
        yield


def _ensure_live_connection() -> None:
    if database.is_closed():
        database.connect()
        return
    if _bound.dialect.server_closes_connections and _closed_by_server(database.connection()):
        discard_connection()
        database.connect()


def _closed_by_server(conn) -> bool:
    """True when an idle PostgreSQL connection has something to read: the server's
    goodbye (idle timeout, restart, pg_terminate_backend) or end of file."""
    if conn.closed or conn.broken:
        return True
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _is_lock_timeout(exc: Exception) -> bool:
    return "locked" in str(exc)


def _tables_missing(exc: Exception) -> bool:
    """The statement named a table or column the database does not have (any more)."""
    driver_error = exc.__cause__ or exc.__context__  # Peewee re-raises the driver's exception
    if getattr(driver_error, "sqlstate", None) in _MISSING_SQLSTATES:
        return True
    return str(exc).startswith(_bound.dialect.missing_object_messages)


def discard_connection() -> None:
    """Close this thread's connection whatever its state; the next use opens a new one.

    Peewee forgets the connection even when closing it fails (a broken socket).
    """
    with contextlib.suppress(peewee.DatabaseError, peewee.InterfaceError):
        database.close()


def ping() -> None:
    with connection():
        database.execute_sql("SELECT 1")
