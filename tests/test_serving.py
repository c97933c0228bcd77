"""`serve` (meet_external/server/serving.py) as a real process on the run's database: a graceful stop on
SIGTERM (in-flight requests finish, bounded; new connections refused; exit 0), WEB_CONCURRENCY,
and nothing but uvicorn's lines and the audit log on standard error."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time

import httpx
import pytest

from meet_external import models
from meet_external.models import ResourceAccess, Room, RoomCreation

from .support.constants import ROOMS_URL, TOKEN_URL
from .support.server import ServerProcess

GRACE = 5  # --graceful-timeout of these servers, seconds
LOADERS = 6
STOP_AFTER = 30  # rooms answered 201 before SIGTERM


def token_for(server: ServerProcess, credentials, user) -> str:
    response = httpx.post(server.url + TOKEN_URL, json=credentials.token_request(user.email), timeout=20)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def stopped(server: ServerProcess, within: float) -> int:
    """SIGTERM to the server's own process only, as Kubernetes and podman send it; its exit status."""
    os.kill(server.process.pid, signal.SIGTERM)
    return server.process.wait(timeout=within)


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def stored_rooms() -> set:
    with models.database.connection_context():
        rooms = {str(room.resource_id) for room in Room.select(Room.resource)}
        # All or nothing: every room has its owner and its audit record.
        assert ResourceAccess.select().where(ResourceAccess.role == "owner").count() == len(rooms)
        assert RoomCreation.select().count() == len(rooms)
    return rooms


def test_sigterm_under_a_create_load(database_url, tmp_path, credentials, user):
    outcomes: dict = {"created": [], "answered": [], "refused": 0, "closed": 0, "hung": []}
    lock = threading.Lock()
    with ServerProcess(database_url, workers=2, args=["--graceful-timeout", str(GRACE)]) as server:
        server.start(str(tmp_path / "server.log"))
        headers = {"Authorization": f"Bearer {token_for(server, credentials, user)}"}

        def load(index: int) -> None:
            # Half the loaders keep their connection alive, half open one per request.
            limits = httpx.Limits(max_keepalive_connections=1 if index % 2 else 0)
            with httpx.Client(base_url=server.url, timeout=GRACE + 10, limits=limits) as http:
                for _ in range(2000):  # bounded; ends at the first refusal
                    try:
                        response = http.post(ROOMS_URL, headers=headers)
                    except httpx.ConnectError:
                        with lock:
                            outcomes["refused"] += 1
                        return
                    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
                        with lock:
                            outcomes["closed"] += 1
                        continue  # a connection closed by the stop: try a new one
                    except httpx.TimeoutException as exc:
                        with lock:
                            outcomes["hung"].append(repr(exc))
                        return
                    with lock:
                        outcomes["created" if response.status_code == 201 else "answered"].append(response)

        threads = [threading.Thread(target=load, args=(i,), name=f"loader-{i}") for i in range(LOADERS)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while len(outcomes["created"]) < STOP_AFTER and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(outcomes["created"]) >= STOP_AFTER, server.log()
        status = stopped(server, within=GRACE + 15)
        for thread in threads:
            thread.join(GRACE + 20)
        assert not any(thread.is_alive() for thread in threads)
        assert refused(server.port)

    assert status == 0, server.log()
    assert outcomes["hung"] == []
    assert [(r.status_code, r.text) for r in outcomes["answered"]] == []
    assert outcomes["refused"] == LOADERS  # every loader ended on a refused connection
    created = {response.json()["id"] for response in outcomes["created"]}
    assert len(created) == len(outcomes["created"])
    assert created <= stored_rooms()


def slow_create(port: int, token: str) -> socket.socket:
    """A POST /rooms whose body is still on its way: in flight, inside the app."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=GRACE + 10)
    sock.sendall((f"POST {ROOMS_URL} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                  "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{").encode())
    return sock


def read_response(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


@pytest.mark.parametrize("workers", [1, 2])
def test_an_in_flight_request_finishes_while_new_connections_are_refused(
        database_url, tmp_path, credentials, user, workers):
    with ServerProcess(database_url, workers=workers, args=["--graceful-timeout", str(GRACE)]) as server:
        server.start(str(tmp_path / "server.log"))
        sock = slow_create(server.port, token_for(server, credentials, user))
        time.sleep(0.5)  # the request has reached the app, which waits for its body
        os.kill(server.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + GRACE
        while not refused(server.port) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert refused(server.port), "new connections are still accepted during the stop"
        assert server.process.poll() is None, "the server did not wait for the request in flight"
        sock.sendall(b"}")
        head, _, body = read_response(sock).partition(b"\r\n\r\n")
        sock.close()
        status = server.process.wait(timeout=GRACE + 10)
    assert head.split(b"\r\n")[0] == b"HTTP/1.1 201 Created", head
    assert b"connection: close" in head.lower()
    assert json.loads(body)["id"] in stored_rooms()
    assert status == 0, server.log()


def test_a_request_that_never_ends_is_cut_after_the_grace_period(database_url, tmp_path, credentials,
                                                                 user):
    with ServerProcess(database_url, workers=2, args=["--graceful-timeout", "2"]) as server:
        server.start(str(tmp_path / "server.log"))
        sock = slow_create(server.port, token_for(server, credentials, user))
        time.sleep(0.5)
        started = time.monotonic()
        status = stopped(server, within=15)
        took = time.monotonic() - started
        try:
            answer = read_response(sock)  # the connection is closed, not left hanging
        except ConnectionResetError:
            answer = b""
        sock.close()
    # uvicorn cancels it: it answers its own plain-text 500 when nothing was sent yet (see
    # docs/operators.md, Stopping), then closes the connection.
    assert status == 0
    assert answer.split(b"\r\n")[0] == b"HTTP/1.1 500 Internal Server Error", answer
    assert b"connection: close" in answer.lower()
    assert 2 <= took < 8, took
    assert "timeout graceful shutdown exceeded" in server.log()


def test_web_concurrency_sets_the_default_number_of_workers(database_url, tmp_path):
    server = ServerProcess(database_url, env={"WEB_CONCURRENCY": "2"})
    server.command = [part for part in server.command if part not in ("--workers", "1")]
    with server:
        server.start(str(tmp_path / "server.log"))
        deadline = time.monotonic() + 20
        while server.log().count("Application startup complete.") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert stopped(server, within=20) == 0
    assert "Started parent process" in server.log()
    assert server.log().count("Application startup complete.") == 2


def test_standard_error_holds_only_uvicorn_lines_and_the_audit_log(database_url, tmp_path, credentials,
                                                                  user):
    # Every warning enabled: a dependency's deprecation, at start or during a request, would show.
    env = {"PYTHONWARNINGS": "always", "METRICS_ENABLED": "true"}
    with ServerProcess(database_url, workers=2, env=env) as server:
        server.start(str(tmp_path / "server.log"))
        token = token_for(server, credentials, user)
        with httpx.Client(base_url=server.url, timeout=20,
                          headers={"Authorization": f"Bearer {token}"}) as http:
            room = http.post(ROOMS_URL, json={}).json()
            for path in (ROOMS_URL, f"{ROOMS_URL}/{room['id']}", f"{ROOMS_URL}/nope", "/nope",
                         "/external-api/v1.0/ui/", "/external-api/v1.0/openapi.json", "/metrics",
                         "/__heartbeat__", "/__lbheartbeat__", "/__version__"):
                assert http.get(path).status_code < 500, path
            assert http.post(ROOMS_URL, content=b"{", headers={"Content-Type": "application/json"}
                             ).status_code == 400
            assert http.post(TOKEN_URL, data={"grant_type": "client_credentials"}).status_code == 400
        assert stopped(server, within=20) == 0
    lines = server.log().splitlines()
    unexpected = [line for line in lines if not _uvicorn_line(line) and not _audit_line(line)]
    assert unexpected == []
    assert any('"event": "room.created"' in line for line in lines)


def _uvicorn_line(line: str) -> bool:
    """One of uvicorn's own lines, on the one JSON stream (meet_external/ops/logs.py)."""
    try:
        parsed = json.loads(line)
    except ValueError:
        return False
    return parsed.get("level") == "info" and parsed.get("logger", "").startswith("uvicorn.")


def _audit_line(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict) and "event" in json.loads(line)
    except ValueError:
        return False


def test_access_log_reaches_the_workers_environment_only_while_serving(monkeypatch):
    from meet_external.server.serving import access_log_setting

    monkeypatch.delenv("ACCESS_LOG", raising=False)
    with access_log_setting(True):
        assert os.environ["ACCESS_LOG"] == "true"
    assert "ACCESS_LOG" not in os.environ
