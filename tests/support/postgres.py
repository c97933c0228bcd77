"""A throw-away PostgreSQL database on the machine's server (127.0.0.1:5432, trust auth)."""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import subprocess
import uuid

import pytest

SERVER_URL = os.environ.get("MEET_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _admin_connection():
    try:
        import psycopg
    except ImportError:
        pytest.skip("psycopg is not installed (pip install '.[postgres]')")
    try:
        return psycopg.connect(SERVER_URL, connect_timeout=3, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server answers at {SERVER_URL}: {str(exc).strip()}")


@contextlib.contextmanager
def fresh_database(sql_file: pathlib.Path | None = None):
    """Create a uniquely named database (loaded from a dump, with psql), yield its URL, drop it."""
    name = f"meet_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_connection()
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    url = SERVER_URL.rsplit("/", 1)[0] + "/" + name
    try:
        if sql_file is not None:
            load_sql(url, sql_file)
        yield url
    finally:
        from meet_external import models
        from meet_external.models.storage.db import discard_connection

        if models.database.obj is not None:
            discard_connection()
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def load_sql(url: str, sql_file: pathlib.Path) -> None:
    """Run a pg_dump file into the database, as an operator would (`psql -f`)."""
    psql = shutil.which("psql")
    if psql is None:
        pytest.skip("psql is not installed: the PostgreSQL client loads the schema dumps")
    subprocess.run([psql, "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", str(sql_file)],
                   check=True, capture_output=True, timeout=120)


def schema_dump(url: str) -> str:
    """`pg_dump --schema-only`, without the lines that change from one dump to the next."""
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.skip("pg_dump is not installed: it is how Meet's schema is compared")
    text = subprocess.run([pg_dump, "--schema-only", "--no-owner", "--no-privileges", url],
                          check=True, capture_output=True, text=True, timeout=120).stdout
    session_tokens = ("\\restrict", "\\unrestrict")
    return "\n".join(line for line in text.splitlines() if not line.startswith(session_tokens))


def run_sql(url: str, statements: list) -> None:
    """Run statements on a database of the test server, each in its own transaction."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement)
