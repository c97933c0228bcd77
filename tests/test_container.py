"""The container image (Dockerfile), built with podman and run against the machine's PostgreSQL:
init-db and the command line from the image, then `serve` with Meet's DB_* settings and the
signing key from a mounted file: probes, a token, a room, the list, metrics, a non-root process,
and exit 0 on `podman stop`.

Opt-in (building the image takes a minute or two): MEET_TEST_CONTAINER=1. It also needs podman
and a base image already on the machine (no image registry is reachable here):
MEET_TEST_CONTAINER_BASE, else localhost/debian-base:bookworm, else python:3.12-slim.
`.ci/prepare-container-test` installs podman and makes the Debian base (docs/operators.md).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import time
import urllib.parse
import uuid

import httpx
import jwt
import pytest

from .support import postgres
from .support.constants import ROOMS_URL, TOKEN_URL
from .support.server import free_port

ROOT = pathlib.Path(__file__).resolve().parent.parent
BASES = ("localhost/debian-base:bookworm", "python:3.12-slim")
HOST_CA = pathlib.Path("/etc/ssl/certs/ca-certificates.crt")
BUILD_SECONDS = 900
# podman on a machine without systemd or raised ulimits (docs/operators.md, Container image).
CONTAINERS_CONF = '[containers]\ndefault_ulimits = []\n\n[engine]\ncgroup_manager = "cgroupfs"\n'

pytestmark = pytest.mark.skipif(
    os.environ.get("MEET_TEST_CONTAINER") != "1",
    reason="the container test is opt-in: MEET_TEST_CONTAINER=1 (needs podman and a base image;"
           " see .ci/prepare-container-test)")


class Podman:
    def __init__(self, conf_dir: pathlib.Path):
        self.env = dict(os.environ)
        if "CONTAINERS_CONF" not in self.env:
            conf = conf_dir / "containers.conf"
            conf.write_text(CONTAINERS_CONF)
            self.env["CONTAINERS_CONF"] = str(conf)
        self.prefix = ["podman"] + (["--runtime", "runc"] if shutil.which("runc") else [])

    def __call__(self, *args: str, timeout: float = 120, check: bool = True) -> str:
        result = subprocess.run([*self.prefix, *args], env=self.env, capture_output=True, text=True,
                                timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"podman {' '.join(args[:2])} failed ({result.returncode}):"
                                 f" {result.stderr[-3000:]}")
        return result.stdout

    def has_image(self, name: str) -> bool:
        return subprocess.run([*self.prefix, "image", "exists", name], env=self.env,
                              capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def podman(tmp_path_factory) -> Podman:
    if not shutil.which("podman"):
        pytest.skip("podman is not installed (apt-get install -y podman runc)")
    return Podman(tmp_path_factory.mktemp("podman"))


@pytest.fixture(scope="module")
def image(podman) -> str:
    wanted = os.environ.get("MEET_TEST_CONTAINER_BASE")
    base = wanted if wanted else next((b for b in BASES if podman.has_image(b)), None)
    if base is None or not podman.has_image(base):
        pytest.skip(f"no base image on this machine ({wanted or ' or '.join(BASES)}); no registry is"
                    " reachable here: make one with .ci/prepare-container-test")
    tag = f"localhost/meet-external-test:{uuid.uuid4().hex[:10]}"
    args = ["build", "--network=host", "--build-arg", f"BASE_IMAGE={base}",
            "--build-arg", f"COMMIT={commit()}", "-t", tag]
    if HOST_CA.exists():  # pip inside the build trusts what the host trusts
        args += ["-v", f"{HOST_CA}:/run/host-ca.crt:ro", "--build-arg", "PIP_CERT=/run/host-ca.crt"]
    podman(*args, str(ROOT), timeout=BUILD_SECONDS)
    yield tag
    podman("rmi", "-f", tag, check=False)


def commit() -> str:
    result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else ""


@pytest.fixture
def database():
    with postgres.fresh_database() as url:
        yield urllib.parse.urlsplit(url)


def run(podman: Podman, image: str, env: dict, *command: str) -> str:
    flags = [f"--env={name}={value}" for name, value in env.items()]
    return podman("run", "--rm", "--network=host", "--ulimit", "host", *flags, image, *command)


def test_the_image_serves_the_api_as_a_non_root_user(podman, image, database, tmp_path):
    key = uuid.uuid4().hex * 2
    settings = {"DB_HOST": database.hostname, "DB_PORT": str(database.port or 5432),
                "DB_NAME": database.path.lstrip("/"), "DB_USER": database.username or "postgres"}
    assert run(podman, image, settings, "init-db").startswith("tables ready in postgresql://")
    created = json.loads(run(podman, image, settings, "applications", "create", "--name", "Container",
                             "--json"))
    run(podman, image, settings, "users", "create", "--email", "alice@example.org")

    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "jwt").write_text(key + "\n")
    os.chmod(secrets / "jwt", 0o644)
    port = free_port()
    flags = [f"--env={name}={value}" for name, value in settings.items()]
    container = podman(
        "run", "-d", "--network=host", "--ulimit", "host", *flags,
        "--env=APPLICATION_JWT_SECRET_KEY_FILE=/run/secrets/jwt", "--env=METRICS_ENABLED=true",
        "-v", f"{secrets}:/run/secrets:ro", image, "serve", "--host", "127.0.0.1", "--port", str(port),
    ).strip()
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/__lbheartbeat__", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail(f"the container did not answer: {podman('logs', container, check=False)}")
        with httpx.Client(base_url=base, timeout=20) as http:
            assert http.get("/__heartbeat__").json() == {"status": "ok", "checks": {"database": "ok"}}
            assert http.get("/__version__").json() == {"source": "meet-external", "version": "0.1.0",
                                                       **({"commit": commit()} if commit() else {})}
            token = http.post(TOKEN_URL, json={
                "client_id": created["client_id"], "client_secret": created["client_secret"],
                "grant_type": "client_credentials", "scope": "alice@example.org"}).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            room = http.post(ROOMS_URL, headers=auth)
            assert room.status_code == 201
            listed = http.get(ROOMS_URL, headers=auth).json()
            assert listed == {"count": 1, "next": None, "previous": None, "results": [room.json()]}
            scraped = http.get("/metrics").text
            assert 'meet_external_http_requests_total{operation="createRoom",status="201"} 1.0' in scraped
        # The key the server signs with is the file's, less its newline.
        assert jwt.decode(token, key, algorithms=["HS256"], issuer="lasuite-meet")["delegated"] is True
        assert podman("inspect", "--format", "{{.Config.User}}", container).strip() == "10001:10001"
        users = podman("top", container, "user").split()[1:]
        assert users and set(users) == {"meet"}, users  # the server and both workers
        assert podman("exec", container, "id", "-u").strip() == "10001"
        podman("stop", "-t", "30", container, timeout=60)
        assert podman("inspect", "--format", "{{.State.ExitCode}}", container).strip() == "0"
    finally:
        podman("rm", "-f", container, check=False)


def test_the_image_on_its_default_sqlite_database_in_a_directory_the_user_may_write(podman, image):
    # No database setting: the SQLite file in the working directory, /data, owned by the user.
    assert run(podman, image, {}, "init-db") == "tables ready in sqlite:///meet_external.sqlite3\n"
    users = run(podman, image, {}, "users", "create", "--email", "bob@example.org", "--json")
    assert json.loads(users)["email"] == "bob@example.org"
