"""Slow clients (meet_external/server/slow_clients.py): a request head must arrive within
HEADER_TIMEOUT_SECONDS, an idle kept-alive connection is closed after KEEP_ALIVE_SECONDS; measured
on a real `serve` process, every case at once, so the run waits for the deadline only once."""

from __future__ import annotations

import select
import socket
import threading
import time

from meet_external.server.serving import KEEP_ALIVE_SECONDS
from meet_external.server.slow_clients import HEADER_TIMEOUT_SECONDS

from .support.raw_http import parse_answer

HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
SLACK = 3  # seconds of scheduling on a busy machine


class Client(threading.Thread):
    """One connection following a script; records what it read and when the server closed it."""

    def __init__(self, port: int, script):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=HEADER_TIMEOUT_SECONDS * 3)
        self.script = script
        self.received = b""
        self.closed_after: float | None = None

    def run(self):
        start = time.monotonic()
        try:
            self.script(self.sock)
            while chunk := self.sock.recv(65536):
                self.received += chunk
        except OSError:
            pass
        self.closed_after = time.monotonic() - start
        self.sock.close()


def send_nothing(sock):
    pass


def send_half_a_head(sock):
    sock.sendall(HEAD[:20])


def dribble_a_head(sock):
    """One byte a second, until the server answers: each byte would reset a per-read timer."""
    for byte in HEAD[:-4]:
        sock.sendall(bytes([byte]))
        if select.select([sock], [], [], 1)[0]:
            return


def slow_but_in_time(sock):
    """The head in four parts over three seconds, well within the deadline, then idle."""
    for part in (HEAD[:10], HEAD[10:25], HEAD[25:-2], HEAD[-2:]):
        sock.sendall(part)
        time.sleep(1)


def one_request_then_half_a_head(sock):
    sock.sendall(HEAD)
    time.sleep(1)
    sock.sendall(HEAD[:20])


def one_request_then_idle(sock):
    sock.sendall(HEAD)


def test_request_heads_and_idle_connections_are_bounded(server):
    scripts = [send_nothing, send_half_a_head, dribble_a_head, slow_but_in_time,
               one_request_then_half_a_head, one_request_then_idle]
    clients = {script.__name__: Client(server.port, script) for script in scripts}
    for client in clients.values():
        client.start()
    for client in clients.values():
        client.join(HEADER_TIMEOUT_SECONDS * 3)
    closed = {name: client.closed_after for name, client in clients.items()}
    assert all(after is not None for after in closed.values()), closed

    timeout_body = {"detail": "Request header timeout."}
    for name in ("send_nothing", "send_half_a_head", "dribble_a_head"):
        assert HEADER_TIMEOUT_SECONDS - 1 <= closed[name] <= HEADER_TIMEOUT_SECONDS + SLACK, closed
    assert clients["send_nothing"].received == b""
    for name in ("send_half_a_head", "dribble_a_head"):
        answer = parse_answer(clients[name].received)
        assert (answer.status, answer.headers["content-type"], answer.json()) == (
            408, "application/json", timeout_body)

    # A head that arrives in time is answered; then the connection idles: keep-alive's limit.
    answer = parse_answer(clients["slow_but_in_time"].received)
    assert (answer.status, answer.json()) == (200, {"status": "ok"})
    assert closed["slow_but_in_time"] <= 3 + KEEP_ALIVE_SECONDS + SLACK, closed
    assert closed["one_request_then_idle"] <= KEEP_ALIVE_SECONDS + SLACK, closed
    # The second request of a connection gets its own deadline.
    first, _, rest = clients["one_request_then_half_a_head"].received.partition(b"\n{\"status\":\"ok\"}\n")
    assert parse_answer(first + b"\n").status == 200
    assert parse_answer(rest).status == 408
    assert 1 + HEADER_TIMEOUT_SECONDS - 1 <= closed["one_request_then_half_a_head"] \
        <= 1 + HEADER_TIMEOUT_SECONDS + SLACK, closed
