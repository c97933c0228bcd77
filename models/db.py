"""The database handle: one proxy, bound once from DATABASE_URL at start-up.

Each thread keeps its own connection open across requests (Peewee's default, thread-local
connections): the handlers run in a fixed pool of threads, so a process holds as many
connections as it has threads, and a request costs no connect, no pool check-out and no
liveness query. A connection the server has closed is noticed locally (its socket turns
readable while idle) and replaced before the request uses it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import threading
import urllib.parse

import peewee

from .fields import COLUMN_TYPES, dialect
from .refusals import RETRY_SOON, Refusal

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
    # (models/room_pages.py names the page's reading itself), and PostgreSQL's default of
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


# PostgreSQL's undefined_table and undefined_column; SQLite says it in words.
_MISSING_SQLSTATES = ("42P01", "42703")
_MISSING_SQLITE = ("no such table", "no such column")


def make_database(url: str) -> peewee.Database:
    """A database for a `sqlite:///path` or `postgresql://...` URL (not connected yet)."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "sqlite":
        path = url[len("sqlite:///"):] or ":memory:"
        db = peewee.SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, check_same_thread=False,
                                   field_types=COLUMN_TYPES["sqlite"])
        db.meet_writers = _SqliteWriters(path) if path != ":memory:" else None
        return db
    params = {**POSTGRES_CONNECTION_DEFAULTS, **dict(urllib.parse.parse_qsl(parsed.query))}
    if "prepare_threshold" in params:
        # psycopg's own option, not libpq's: an integer, or "none" to never prepare
        # (PgBouncer before 1.21 in transaction mode).
        raw = str(params["prepare_threshold"]).lower()
        params["prepare_threshold"] = None if raw in ("none", "") else int(raw)
    db = peewee.PostgresqlDatabase(
        urllib.parse.unquote(parsed.path.lstrip("/")) or "postgres",
        user=urllib.parse.unquote(parsed.username or "") or None,
        password=urllib.parse.unquote(parsed.password or "") or None,
        host=parsed.hostname,
        port=parsed.port,
        prefer_psycopg3=True,
        field_types=COLUMN_TYPES["postgresql"],
        **params,
    )
    db.meet_writers = None
    return db


def bind(url: str) -> peewee.Database:
    """Point the models at `url`; binding the same URL again keeps the existing handle."""
    if database.obj is not None and getattr(database.obj, "meet_url", None) == url:
        return database.obj
    db = make_database(url)
    db.meet_url = url
    database.initialize(db)
    dialect.sqlite = is_sqlite()
    return db


def is_sqlite() -> bool:
    return isinstance(database.obj, peewee.SqliteDatabase)


def one_of(column: peewee.Node) -> peewee.Expression:
    """`column` is in a list bound as one parameter (`list_param`), so that a statement's text,
    and its prepared plan, do not depend on the list's length: `= ANY(%s)` on PostgreSQL,
    `IN (SELECT value FROM json_each(?))` on SQLite."""
    if is_sqlite():
        return column.in_(peewee.SQL("(SELECT value FROM json_each(?))", ["[]"]))
    return column == peewee.fn.ANY(peewee.Value([], unpack=False))


def list_param(field: peewee.Field, values) -> object:
    """The parameter of `one_of`: the values as `field` stores them (a JSON array on SQLite;
    on PostgreSQL, UUIDs stay UUIDs, so that psycopg sends a `uuid[]`)."""
    if is_sqlite():
        return json.dumps([field.db_value(value) for value in values])
    return list(values)


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


def lock_name(name: str) -> None:
    """Hold a lock on `name` until the current transaction ends (check-then-insert rules).

    PostgreSQL: a transaction-scoped advisory lock. SQLite: nothing to do, its
    writers already run one at a time (`write_transaction`).
    """
    if not is_sqlite():
        database.execute_sql("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (name,))


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
    if not is_sqlite() and _closed_by_server(database.connection()):
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
    return is_sqlite() and str(exc).startswith(_MISSING_SQLITE)


def discard_connection() -> None:
    """Close this thread's connection whatever its state; the next use opens a new one.

    Peewee forgets the connection even when closing it fails (a broken socket).
    """
    with contextlib.suppress(peewee.DatabaseError, peewee.InterfaceError):
        database.close()


def ping() -> None:
    with connection():
        database.execute_sql("SELECT 1")
