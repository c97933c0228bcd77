"""OpenTelemetry traces, optional (docs/operators.md, Logs, errors and traces).

On when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set and the
`tracing` extra is installed: a server span per request, named by the method and the path
template and tagged with the request's id, and a client span per database statement under
it, exported over OTLP/HTTP (protobuf) in batches. The SDK reads the standard `OTEL_*`
variables itself (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`,
`OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_BSP_*`...); an incoming `traceparent` continues the
caller's trace.

Off, nothing of OpenTelemetry is imported and nothing runs per request: the request-id
middleware has no span to open and Peewee's list of statement hooks stays empty.

Spans carry no value of a request: the statement's text has placeholders (Peewee binds
every value), a failed statement or request is marked by its exception's type, never its
text (a database's error can quote the row it refused).
"""

from __future__ import annotations

import contextlib
import time

from .. import __version__
from . import logs

TRACING_EXTRA = "pip install 'meet-external[tracing]'"
SERVICE_NAME = "meet-external"
_MARK = "_meet_external_tracing"


def check_installed() -> str | None:
    """None when the SDK and the OTLP/HTTP exporter import, else why not (one line)."""
    try:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter  # noqa: F401
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError as exc:
        return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return None


class Tracing:
    """A tracer provider of this process, and what spans requests and statements."""

    def __init__(self, span_processor=None):
        from opentelemetry import propagate, trace
        from opentelemetry.sdk.resources import OTELResourceDetector, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.trace import SpanKind, Status, StatusCode

        if span_processor is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            span_processor = BatchSpanProcessor(OTLPSpanExporter())
        # Ours, then what OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES say over it.
        resource = Resource.create({"service.name": SERVICE_NAME, "service.version": __version__})
        self.provider = TracerProvider(resource=resource.merge(OTELResourceDetector().detect()))
        self.provider.add_span_processor(span_processor)
        self.tracer = self.provider.get_tracer("meet_external", __version__)
        self._trace, self._extract = trace, propagate.extract
        self._server, self._client = SpanKind.SERVER, SpanKind.CLIENT
        self._error = lambda kind: Status(StatusCode.ERROR, kind)

    @contextlib.contextmanager
    def request_span(self, request, scope, answer):
        """The request's span, current while the app answers (its statements' parent)."""
        carrier = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        route = request.path
        attributes = {"http.request.method": request.method, "meet_external.request_id": request.id,
                      "meet_external.operation": request.operation}
        if route is not None:
            attributes["http.route"] = route
        with self.tracer.start_as_current_span(
                f"{request.method} {route}" if route else request.method,
                context=self._extract(carrier), kind=self._server, attributes=attributes,
                record_exception=False, set_status_on_exception=False) as span:
            try:
                yield span
            finally:
                status = answer["status"]
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(self._error(str(status)))

    def current_ids(self) -> tuple | None:
        """The current span's trace and span ids in hex, as OTLP and W3C write them; None outside one."""
        context = self._trace.get_current_span().get_span_context()
        if not context.is_valid:
            return None
        return format(context.trace_id, "032x"), format(context.span_id, "016x")

    def instrument(self, database) -> None:
        """A span for each statement Peewee runs for a request (its query hooks, peewee >= 4.5)."""
        system = "sqlite" if database.__class__.__name__.startswith("Sqlite") else "postgresql"
        tracer, current_span = self.tracer, self._trace.get_current_span

        def on_statement(event) -> None:
            if not current_span().get_span_context().is_valid:
                return  # not for a request (start-up's checks)
            end = time.time_ns()
            words = event.sql.split(None, 1)
            span = tracer.start_span(
                words[0].upper() if words else "SQL", kind=self._client,
                start_time=end - int(event.duration * 1e9),
                attributes={"db.system.name": system, "db.query.text": event.sql})
            if event.exception is not None:
                span.set_attribute("error.type", type(event.exception).__name__)
                span.set_status(self._error(type(event.exception).__name__))
            span.end(end_time=end)

        setattr(on_statement, _MARK, True)
        database.query_hooks[:] = [hook for hook in database.query_hooks
                                   if not getattr(hook, _MARK, False)] + [on_statement]


def enable(config, database) -> Tracing | None:
    """This process's tracing when the configuration turns it on, its statements instrumented."""
    if not config.tracing_enabled:
        return None
    tracing = Tracing()
    tracing.instrument(database)
    logs.add_trace_ids(tracing.current_ids)
    return tracing
