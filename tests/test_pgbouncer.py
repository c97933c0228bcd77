"""Behind PgBouncer in transaction mode (docs/operators.md, PgBouncer): the server's
connections are handed between server sessions at every transaction, so nothing may
rely on session state; psycopg's own prepared statements are turned off in the URL.

Runs where PgBouncer is installed (`.ci/run` installs Debian's), on PostgreSQL runs.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import tempfile
import time

import httpx
import pytest

from .support.constants import ROOMS_URL, TOKEN_URL
from .support.server import ServerProcess, free_port

PGBOUNCER = shutil.which("pgbouncer") or next(
    (path for path in ("/usr/sbin/pgbouncer",) if os.access(path, os.X_OK)), None)

pytestmark = [
    pytest.mark.skipif(os.environ.get("MEET_TEST_DATABASE", "sqlite") != "postgresql",
                       reason="PgBouncer stands before PostgreSQL: runs with MEET_TEST_DATABASE=postgresql"),
    pytest.mark.skipif(PGBOUNCER is None,
                       reason="PgBouncer is not installed (apt-get install pgbouncer; .ci/run does)"),
]


@pytest.fixture
def bouncer(database_url):
    """PgBouncer in transaction mode on a free port, in front of the run's database."""
    name = database_url.rsplit("/", 1)[1]
    port = free_port()
    # Its own directory under /tmp: pytest's are closed to the postgres user.
    directory = pathlib.Path(tempfile.mkdtemp(prefix="meet-pgbouncer-"))
    (directory / "users.txt").write_text('"postgres" ""\n')
    (directory / "pgbouncer.ini").write_text(f"""[databases]
{name} = host=127.0.0.1 port=5432 dbname={name}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {directory / 'users.txt'}
pool_mode = transaction
default_pool_size = 4
ignore_startup_parameters = options
""")
    shutil.chown(directory, "postgres")  # PgBouncer will not run as root: it runs as postgres
    for path in directory.iterdir():
        shutil.chown(path, "postgres")
    process = subprocess.Popen([PGBOUNCER, "-u", "postgres", str(directory / "pgbouncer.ini")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"pgbouncer exited: {process.stderr.read().decode()}")
        try:
            import psycopg

            psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/{name}", connect_timeout=1).close()
            break
        except psycopg.OperationalError:
            time.sleep(0.1)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/{name}?prepare_threshold=none"
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(directory, ignore_errors=True)


def test_the_api_works_behind_pgbouncer_in_transaction_mode(bouncer, credentials, user,
                                                           tmp_path: pathlib.Path):
    with ServerProcess(bouncer, workers=2).start(str(tmp_path / "server.log")) as server, \
            httpx.Client(base_url=server.url, timeout=30) as http:
        # More than psycopg's prepare threshold (5) of each statement, over several connections.
        statuses = []
        for _ in range(8):
            token = http.post(TOKEN_URL, json=credentials.token_request(user.email))
            auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
            created = http.post(ROOMS_URL, headers=auth)
            listed = http.get(ROOMS_URL, headers=auth)
            retrieved = http.get(f"{ROOMS_URL}/{created.json()['id']}", headers=auth)
            statuses.append((token.status_code, created.status_code, listed.status_code,
                             retrieved.status_code))
        assert statuses == [(200, 201, 200, 200)] * 8
        assert listed.json()["count"] == 8
        assert "Internal Server Error" not in server.log()
