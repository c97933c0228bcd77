"""OpenTelemetry traces (meet_external/ops/tracing.py; docs/operators.md, Logs, errors and
traces): a real server exports to a local OTLP/HTTP receiver, whose protobuf is parsed with
opentelemetry-proto."""

from __future__ import annotations

import json
import sys

import httpx
import pytest

from meet_external import models
from meet_external.config import Config, ConfigError
from meet_external.ops import tracing

from .support.constants import ROOMS_URL, TOKEN_URL
from .support.receivers import otlp_receiver, spans
from .support.server import ServerProcess

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
SERVER, CLIENT = 2, 3  # SpanKind in OTLP's protobuf


def attributes(span) -> dict:
    return {item.key: getattr(item.value, item.value.WhichOneof("value")) for item in span.attributes}


def test_a_span_per_request_and_per_statement(database_url, tmp_path, credentials, user):
    with otlp_receiver() as receiver, ServerProcess(database_url, env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}",
            "OTEL_BSP_SCHEDULE_DELAY": "100", "LOG_FORMAT": "json"}, args=["--access-log"]) as server:
        server.start(str(tmp_path / "server.log"))
        with httpx.Client(base_url=server.url, timeout=20) as http:
            token = http.post(TOKEN_URL, json=credentials.token_request(user.email)).json()["access_token"]
            listed = http.get(ROOMS_URL, headers={
                "Authorization": f"Bearer {token}", "X-Request-Id": "trace-1",
                "traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})
            assert listed.status_code == 200
        received = receiver.wait_for(lambda got: any(
            span.name == "GET /external-api/v1.0/rooms" for span in spans(got)))
        server.stop()
        logged = [json.loads(line) for line in server.log().splitlines()]
    every = spans(received)
    (listing,) = [span for span in every if span.name == "GET /external-api/v1.0/rooms"]
    assert (listing.kind, listing.trace_id.hex(), listing.parent_span_id.hex()) == (
        SERVER, TRACE_ID, PARENT_ID)  # the caller's trace, continued
    assert attributes(listing) == {
        "http.request.method": "GET", "http.route": "/external-api/v1.0/rooms",
        "http.response.status_code": 200, "meet_external.request_id": "trace-1",
        "meet_external.operation": "listRooms"}
    statements = [span for span in every if span.parent_span_id == listing.span_id]
    assert statements and {span.kind for span in statements} == {CLIENT}
    system = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    for span in statements:
        assert attributes(span)["db.system.name"] == system
        assert span.name == attributes(span)["db.query.text"].split()[0].upper()
    # Statements run only for a request: none is a trace of its own (start-up's checks).
    assert all(span.parent_span_id for span in every if span.kind == CLIENT)
    (token_span,) = [span for span in every if span.name == "POST /external-api/v1.0/application/token/"]
    assert [span for span in every if span.parent_span_id == token_span.span_id]
    # The access line names the request's trace and span.
    (access,) = [line for line in logged if line.get("request_id") == "trace-1"]
    assert (access["trace_id"], access["span_id"]) == (TRACE_ID, listing.span_id.hex())
    resource = {item.key: item.value.string_value
                for item in received[0].resource_spans[0].resource.attributes}
    assert resource["service.name"] == "meet-external"
    raw = b"".join(request.SerializeToString() for request in received)
    for secret in (user.email.encode(), token.encode(), credentials.client_secret.encode()):
        assert secret not in raw


def test_off_by_default_and_then_no_statement_hook(make_client):
    assert Config.from_env({}).ops.tracing_enabled is False
    with make_client(fresh=True) as client:
        assert client.get("/healthz").status_code == 200
    assert models.database.obj.query_hooks == []


def test_an_endpoint_without_the_extra_stops_start_up_in_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)  # as if not installed
    with pytest.raises(ConfigError) as refused:
        Config.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("OTEL_EXPORTER_OTLP_ENDPOINT is set, but OpenTelemetry is not installed (")
    assert message.endswith(f"): {tracing.TRACING_EXTRA}")


@pytest.mark.parametrize("environ", [
    {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"},
    {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"}])
def test_opentelemetrys_own_switches_turn_it_off(environ):
    assert Config.from_env(environ).ops.tracing_enabled is False


def test_only_http_protobuf_is_exported():
    with pytest.raises(ConfigError, match="^OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf"):
        Config.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317",
                         "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
