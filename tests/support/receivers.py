"""Tiny HTTP endpoints on 127.0.0.1 that receive what a server sends out: Sentry's envelopes
(the SDK's real HTTP transport) and OTLP/HTTP trace exports (protobuf)."""

from __future__ import annotations

import gzip
import http.server
import json
import threading
import time
import zlib
from typing import Callable, List


class Receiver:
    """Collects the decoded bodies of POSTs to paths that end with `suffix`; answers 200."""

    def __init__(self, suffix: str, decode: Callable[[bytes], object], answer: bytes = b""):
        self.suffix = suffix
        self.received: List[object] = []
        self.raw: List[bytes] = []
        self.paths: List[str] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                encoding = (self.headers.get("Content-Encoding") or "").lower()
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                if self.path.endswith(receiver.suffix):
                    receiver.raw.append(body)
                    receiver.paths.append(self.path)
                    receiver.received.append(decode(body))
                self.send_response(200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def wait_for(self, predicate: Callable[[List[object]], bool], timeout: float = 20) -> List[object]:
        """What was received once `predicate` holds (an AssertionError after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.received):
                return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"not received within {timeout} s: {self.received!r}")

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def envelope_items(body: bytes) -> list:
    """A Sentry envelope's items as (item header, payload), the payload parsed when it is JSON."""
    lines = body.split(b"\n")
    items = []
    position = 1  # line 0 is the envelope's header
    while position < len(lines):
        if not lines[position].strip():
            position += 1
            continue
        header = json.loads(lines[position])
        payload = lines[position + 1] if position + 1 < len(lines) else b""
        try:
            payload = json.loads(payload)
        except ValueError:
            pass
        items.append((header, payload))
        position += 2
    return items


def sentry_receiver() -> Receiver:
    """A Sentry ingestion endpoint: DSN `http://key@127.0.0.1:<port>/1`."""
    return Receiver("/envelope/", envelope_items)


def otlp_receiver() -> Receiver:
    """An OTLP/HTTP traces endpoint: OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:<port>."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
    )

    return Receiver("/v1/traces", ExportTraceServiceRequest.FromString,
                    answer=ExportTraceServiceResponse().SerializeToString())


def spans(requests: list) -> list:
    """Every span of received OTLP export requests."""
    return [span for request in requests for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans for span in scope_spans.spans]
