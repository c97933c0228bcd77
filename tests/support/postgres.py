"""A throw-away PostgreSQL database on the machine's server (127.0.0.1:5432, trust auth)."""

from __future__ import annotations

import contextlib
import os
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
def fresh_database():
    """Create a uniquely named database, yield its URL, drop it afterwards."""
    name = f"meet_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_connection()
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield SERVER_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        import models

        if models.database.obj is not None:
            models.db.discard_connection()
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
