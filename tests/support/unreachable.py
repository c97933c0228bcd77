"""A database URL of the run's kind that cannot be reached: a SQLite file in a directory that
does not exist, or the run's PostgreSQL URL on a port where nothing listens."""

from __future__ import annotations

import pathlib
import urllib.parse

from .server import free_port


def unreachable_url(database_url: str, tmp_path: pathlib.Path) -> str:
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'no-such-dir' / 'x.sqlite3'}"
    parts = urllib.parse.urlsplit(database_url)
    credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{credentials}127.0.0.1:{free_port()}"))
