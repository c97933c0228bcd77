"""The database URL as models/storage/db.py reads it, and the dialect chosen when it is bound."""

from __future__ import annotations

import os

import peewee
import pytest

from meet_external import models
from meet_external.models.storage.db import (
    POSTGRES_CONNECTION_DEFAULTS,
    dialect,
    make_database,
    postgres_parameters,
)
from meet_external.models.storage.dialect import POSTGRESQL, SQLITE


def test_a_postgresql_url_is_read_over_the_projects_defaults():
    params = postgres_parameters("postgresql://we%20ird%40user:p%40ss%2Fw@db.internal:5433/db%2Fname"
                                 "?connect_timeout=2&sslmode=require")
    assert params == {**POSTGRES_CONNECTION_DEFAULTS, "connect_timeout": 2, "sslmode": "require",
                      "user": "we ird@user", "password": "p@ss/w", "host": "db.internal", "port": 5433,
                      "database": "db/name"}


@pytest.mark.parametrize(("query", "threshold"), [("none", None), ("None", None), ("0", 0), ("-1", -1)])
def test_prepare_threshold_is_an_integer_or_none(query, threshold):
    assert postgres_parameters(f"postgres://h/db?prepare_threshold={query}")["prepare_threshold"] == threshold


def test_a_parameter_without_a_value_is_ignored_and_the_database_defaults_to_postgres():
    params = postgres_parameters("postgresql://h?prepare_threshold=&connect_timeout=")
    assert "prepare_threshold" not in params
    assert params["connect_timeout"] == POSTGRES_CONNECTION_DEFAULTS["connect_timeout"]
    assert params["database"] == "postgres"


@pytest.mark.parametrize(("url", "path"), [("sqlite:///meet.sqlite3", "meet.sqlite3"),
                                           ("sqlite:////var/lib/meet/db.sqlite3", "/var/lib/meet/db.sqlite3"),
                                           ("sqlite:///odd?name#here", "odd?name#here"),
                                           ("sqlite:///", ":memory:")])
def test_a_sqlite_url_is_the_files_path_as_written(url, path):
    db = make_database(url)
    assert isinstance(db, peewee.SqliteDatabase) and db.database == path


def test_the_dialect_is_the_bound_databases():
    expected = POSTGRESQL if os.environ.get("MEET_TEST_DATABASE", "sqlite") == "postgresql" else SQLITE
    assert dialect() is expected
    assert isinstance(models.database.obj, peewee.SqliteDatabase) == (expected is SQLITE)
