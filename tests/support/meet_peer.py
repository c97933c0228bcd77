"""La Suite Meet's own backend as a peer of this server, for tests/test_meet_peer.py.

The peer is prepared outside this repository (docs/meet-compatibility.md): a work folder made
by the meet-peer scripts' `setup.sh` from a copy of Meet's source, holding Meet's venv, its
settings (`env`) and a database migrated by Meet's own migrations. Here each run clones that
database, attaches this server to the clone, starts Meet's gunicorn on it (`start.sh`, which also
provisions an application, a user and rooms through Meet's ORM) and this server's `serve`, and
stops both by PID and drops the clone at the end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pathlib
import subprocess
import sys
import uuid
from typing import Dict, List

from .server import ServerProcess, free_port

ENV_WORK = "MEET_PEER_WORK"  # work folders, separated by os.pathsep
ENV_SCRIPTS = "MEET_PEER_SCRIPTS"  # the folder of setup.sh, start.sh, stop.sh, manage.sh
SHELL_SCRIPT = pathlib.Path(__file__).with_name("meet_peer_shell.py")
PEER_EMAIL = "alice@example.com"
PEER_ROOMS = 2
# The same settings on both sides (the documented names, Meet's defaults otherwise).
SHARED_SETTINGS = {
    "ROOM_TELEPHONY_ENABLED": "true",
    "APPLICATION_ALLOW_USER_CREATION": "true",
    "APPLICATION_BASE_URL": "https://meet.example.test",
}
# Meet creates provisional users only with these two as well; LiveKit's key signs the join
# tokens of Meet's own room API (its server is never contacted).
MEET_ONLY_SETTINGS = {
    "OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION": "true",
    "OIDC_USER_SUB_FIELD_IMMUTABLE": "false",
    "LIVEKIT_API_KEY": "meet-peer-key",
    "LIVEKIT_API_SECRET": "meet-peer-livekit-secret-0123456789abcdef",
    "LIVEKIT_API_URL": "http://127.0.0.1:9",
    "UPSTREAM_WORKERS": "1",
}


def configured() -> List[str]:
    return [path for path in os.environ.get(ENV_WORK, "").split(os.pathsep) if path]


def unavailable_reason() -> str | None:
    """Why the peer tests cannot run here, or None."""
    if not configured():
        return (f"{ENV_WORK} names no prepared La Suite Meet peer (a fresh machine has no copy of "
                "Meet's source; see docs/meet-compatibility.md)")
    scripts = os.environ.get(ENV_SCRIPTS, "")
    if not all(os.access(os.path.join(scripts, name), os.X_OK) for name in ("start.sh", "stop.sh")):
        return f"{ENV_SCRIPTS} must name the folder of the meet-peer scripts (start.sh, stop.sh)"
    missing = [work for work in configured() if not os.path.exists(os.path.join(work, "env"))]
    if missing:
        return f"{ENV_WORK}: {missing[0]} has no env file (run setup.sh first)"
    return None


def peer_settings(work: str) -> Dict[str, str]:
    """The values of the work folder's env file, read in a clean environment."""
    out = subprocess.run(["env", "-i", f"PATH={os.environ['PATH']}", "bash", "-c",
                          'source "$0/env" && env -0', work],
                         check=True, capture_output=True, timeout=30).stdout
    return dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)


@dataclasses.dataclass
class Peer:
    work: str
    scripts: str
    settings: Dict[str, str]
    database: str
    url: str
    schema_before: str = ""
    schema_after: str = ""
    init_db_output: str = ""
    meet: dict = dataclasses.field(default_factory=dict)
    server: ServerProcess | None = None

    @property
    def commit(self) -> str:
        return self.settings["UPSTREAM_COMMIT"]

    def query(self, sql: str, params: tuple = ()) -> List[dict]:
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(self.url, row_factory=dict_row) as connection:
            return connection.execute(sql, params).fetchall()

    def core_migration(self) -> str:
        """The newest migration of Meet's app `core` applied to this database."""
        return self.query("SELECT max(name) AS name FROM django_migrations WHERE app = 'core'")[0]["name"]

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = {**os.environ, "DATABASE_URL": self.url, **SHARED_SETTINGS}
        return subprocess.run([sys.executable, "-m", "meet_external", *args], env=env, check=check,
                              capture_output=True, text=True, timeout=120)

    def manage(self, *args: str, database: str | None = None) -> subprocess.CompletedProcess:
        """Meet's manage.py (this peer's code) on this database, or on another one."""
        env = {**os.environ, **MEET_ONLY_SETTINGS, **SHARED_SETTINGS, "DB_NAME": database or self.database}
        return subprocess.run([os.path.join(self.scripts, "manage.sh"), self.work, *args], env=env,
                              capture_output=True, text=True, timeout=300)

    def shell(self, *requests: dict, database: str | None = None) -> list:
        """Answers of Meet's own code to `requests` (tests/support/meet_peer_shell.py)."""
        env = {**os.environ, **MEET_ONLY_SETTINGS, **SHARED_SETTINGS, "DB_NAME": database or self.database,
               "MEET_PEER_REQUESTS": json.dumps(list(requests))}
        with open(SHELL_SCRIPT, "rb") as script:
            done = subprocess.run([os.path.join(self.scripts, "manage.sh"), self.work, "shell"],
                                  stdin=script, env=env, capture_output=True, timeout=120)
        lines = [line for line in done.stdout.decode().splitlines() if line.startswith("MEET-PEER-RESULT ")]
        if done.returncode or not lines:
            raise AssertionError(f"Meet's shell failed ({done.returncode}): {done.stderr.decode()[-3000:]}")
        return json.loads(lines[-1].split(" ", 1)[1])

    def start_meet(self, extra: Dict[str, str] | None = None, email: str = PEER_EMAIL,
                   rooms: int = PEER_ROOMS) -> dict:
        """Meet's gunicorn on this database (start.sh); returns start.sh's JSON."""
        env = {**os.environ, **MEET_ONLY_SETTINGS, **SHARED_SETTINGS, **(extra or {}),
               "DB_NAME": self.database}
        done = subprocess.run([os.path.join(self.scripts, "start.sh"), self.work, str(free_port()),
                               "--rooms", str(rooms), "--email", email],
                              env=env, capture_output=True, text=True, timeout=180)
        if done.returncode:
            raise AssertionError(f"start.sh failed: {done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def stop_meet(self, meet: dict) -> None:
        subprocess.run([os.path.join(self.scripts, "stop.sh"), self.work, str(meet["pid"])],
                       capture_output=True, timeout=60)

    def start_server(self, log_path: str, extra: Dict[str, str] | None = None) -> ServerProcess:
        """This server's `serve` on the same database, with Meet's signing key."""
        env = {**SHARED_SETTINGS, "APPLICATION_JWT_SECRET_KEY": self.meet["jwt_secret"], **(extra or {})}
        return ServerProcess(self.url, env=env).start(log_path)


def _admin(settings: Dict[str, str]):
    import psycopg

    return psycopg.connect(f"{settings['UPSTREAM_PG']}/postgres", autocommit=True, connect_timeout=5)


@contextlib.contextmanager
def cloned_database(work: str, scripts: str):
    """A Peer on a new clone of the work folder's migrated database, dropped at the end."""
    settings = peer_settings(work)
    database = f"meet_peer_{uuid.uuid4().hex[:12]}"
    with _admin(settings) as admin:
        admin.execute(f'CREATE DATABASE "{database}" TEMPLATE "{settings["UPSTREAM_TEMPLATE_DB"]}"')
    try:
        yield Peer(work, scripts, settings, database, f"{settings['UPSTREAM_PG']}/{database}")
    finally:
        with _admin(settings) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@contextlib.contextmanager
def running_peer(work: str, scripts: str, log_dir: pathlib.Path, schema_dump):
    """The clone attached by `init-db`, then served by Meet and by this server side by side."""
    with cloned_database(work, scripts) as peer:
        try:
            peer.schema_before = schema_dump(peer.url)
            peer.init_db_output = peer.cli("init-db").stdout
            peer.schema_after = schema_dump(peer.url)
            peer.meet = peer.start_meet()
            peer.server = peer.start_server(str(log_dir / "meet-external.log"))
            yield peer
        finally:
            if peer.server:
                peer.server.stop()
            if peer.meet:
                peer.stop_meet(peer.meet)
