"""A database URL of the run's kind that cannot be reached: a SQLite file in a directory that
does not exist, or the run's PostgreSQL URL on a port where nothing listens."""

from __future__ import annotations

import contextlib
import pathlib
import shutil
import urllib.parse
from typing import Callable, Iterator

from .server import free_port


def unreachable_url(database_url: str, tmp_path: pathlib.Path) -> str:
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'no-such-dir' / 'x.sqlite3'}"
    parts = urllib.parse.urlsplit(database_url)
    credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{credentials}127.0.0.1:{free_port()}"))


@contextlib.contextmanager
def database_that_goes_away(tmp_path: pathlib.Path) -> Iterator[tuple[str, Callable[[], None]]]:
    """A SQLite database with the tables, bound while the app starts; `gone()` removes it.

    An app reads the database's layout at start-up, so it cannot start on a database it
    cannot reach; what follows an outage is a handler thread opening a connection to a
    database that is no longer there.
    """
    from meet_external import models

    directory = tmp_path / "vanishing"
    directory.mkdir()
    url = f"sqlite:///{directory / 'x.sqlite3'}"
    models.bind(url)
    models.create_tables()
    yield url, lambda: shutil.rmtree(directory)
