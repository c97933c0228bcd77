"""How many SQL statements each request sends (models/rooms/queries.py, models/rooms/creation.py,
models/access/clients.py): the principal check rides in the request's first statement."""

from __future__ import annotations

import contextlib
import logging

import pytest

from meet_external import models
from meet_external.models.storage.db import is_sqlite

from .conftest import ROOMS_URL, TOKEN_URL


class _Statements(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.sql = []

    def emit(self, record):
        if isinstance(record.msg, tuple):
            self.sql.append(record.msg[0])


@contextlib.contextmanager
def statements():
    """The statements Peewee sends while the block runs (it logs each one at DEBUG)."""
    handler, logger = _Statements(), logging.getLogger("peewee")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler.sql
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture
def warm(client, auth, credentials, user):
    """A first list, create and token: whatever a process does once is done."""
    client.get(ROOMS_URL, headers=auth)
    client.post(TOKEN_URL, json=credentials.token_request(user.email))
    return client.post(ROOMS_URL, headers=auth).json()


def test_a_list_is_one_statement(client, auth, warm):
    with statements() as sent:
        assert client.get(ROOMS_URL, headers=auth).json()["count"] == 1
    assert len(sent) == 1


def test_a_retrieve_is_one_statement(client, auth, warm):
    with statements() as sent:
        assert client.get(f"{ROOMS_URL}/{warm['id']}", headers=auth).status_code == 200
    assert len(sent) == 1


def test_a_create_is_the_check_then_one_statement_on_postgresql(client, auth, warm):
    with statements() as sent:
        assert client.post(ROOMS_URL, headers=auth).status_code == 201
    # SQLite runs in the process (no round trips): the four rows are four inserts in one transaction.
    assert len(sent) == (5 if is_sqlite() else 2)
    assert sent[1].startswith("INSERT" if is_sqlite() else "WITH")


def test_a_token_for_a_cached_secret_is_two_statements(client, credentials, user, warm):
    with statements() as sent:
        assert client.post(TOKEN_URL, json=credentials.token_request(user.email)).status_code == 200
    assert len(sent) == 2


def test_postgresql_sessions_keep_generic_plans_without_jit_or_parallel_workers(client, auth, warm):
    if is_sqlite():
        pytest.skip("PostgreSQL's session settings (models/storage/db.py): "
                    "runs with MEET_TEST_DATABASE=postgresql")
    with models.database.connection_context():
        settings = [models.database.execute_sql(f"SHOW {name}").fetchone()[0]
                    for name in ("plan_cache_mode", "jit", "max_parallel_workers_per_gather")]
    assert settings == ["force_generic_plan", "off", "0"]
