"""Raw HTTP/1.1 over a socket, for what an HTTP client library refuses to send."""

from __future__ import annotations

import dataclasses
import json
import socket

from .server import ServerProcess


@dataclasses.dataclass
class RawAnswer:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


def parse_answer(received: bytes) -> RawAnswer | None:
    """The first response in bytes read from a connection; None if there is none."""
    head, separator, body = received.partition(b"\r\n\r\n")
    if not separator:
        return None
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawAnswer(int(status_line.split()[1]), headers, body)


def raw_request(server: ServerProcess, request: bytes, timeout: float = 30) -> RawAnswer | None:
    """Send bytes as they are, read until the server closes; None for a closed or reset
    connection without an answer."""
    received = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        try:
            sock.sendall(request)
        except OSError:  # the server may answer and close before reading everything
            pass
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return parse_answer(received)


def http_request(method: str, target: str, headers: dict | None = None, body: bytes = b"",
                 host: str | None = "127.0.0.1") -> bytes:
    """A request with a Content-Length (for any body, and for every POST) and `Connection: close`."""
    lines = [f"{method} {target} HTTP/1.1".encode("latin-1")]
    if host is not None:
        lines.append(b"Host: " + host.encode("latin-1"))
    for name, value in (headers or {}).items():
        encoded = value if isinstance(value, bytes) else value.encode("latin-1")
        lines.append(name.encode("latin-1") + b": " + encoded)
    if body or method == "POST":
        lines.append(b"Content-Length: " + str(len(body)).encode())
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
