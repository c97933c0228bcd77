"""One log stream: every line of the process on standard error, as JSON or as text
(docs/operators.md, Logs, errors and traces).

uvicorn's own lines (start, stop, its errors), the access lines, errors with their traceback
and the audit events all go through the one handler installed on the root logger, formatted by
structlog's ProcessorFormatter. A JSON line has `time`, `level`, `logger`, `message` and,
during a request, `request_id`; an access line adds `method`, `path` (the operation's path
template, never the raw path), `operation`, `status`, `duration_ms` and `client_address`; an
error adds `exception` (its traceback). An audit event keeps the audit log's own fields
(meet_external/ops/audit.py: `time`, `event`, `client_id`...), `request_id` added. In messages and
tracebacks, anything shaped like an email address or a bearer token is replaced before the
line is written: a database's error text can quote the row it refused.
"""

from __future__ import annotations

import datetime
import logging
import re
import sys
import traceback
from typing import Callable

import structlog

LOG_FORMATS = ("json", "text", "auto")
ACCESS_LOGGER = "meet_external.access"
AUDIT_RECORD = "audit"  # the attribute of a log record that holds an audit event's fields
FIELDS_RECORD = "fields"  # extra fields of one of this project's lines (the access line)
# uvicorn's loggers: their lines go to the root's handler; uvicorn's own access log is replaced
# by the access line of meet_external/ops/request_ids.py (path templates, request ids).
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.asgi")
UVICORN_ACCESS = "uvicorn.access"
# Connexion says at INFO which documents it adds, at each start of each worker, and httpx a
# line per call to an OIDC provider: noise in a served process (uvicorn's configuration sets
# them to WARNING; left alone in a process that embeds the app).
QUIET_LOGGERS = ("connexion", "httpx")

_EMAIL = re.compile(r"[\w.!#$%&'*+^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[\w.~+/=-]{16,}")
_JWT = re.compile(r"\beyJ[\w-]*\.[\w-]+\.[\w-]*")
access_logger = logging.getLogger(ACCESS_LOGGER)
# The current span's (trace_id, span_id) in hex, or None: set while traces are on
# (meet_external/ops/tracing.py), so that a line and its trace can be found from each other.
_trace_ids: Callable[[], tuple | None] | None = None


def add_trace_ids(current_ids: Callable[[], tuple | None]) -> None:
    global _trace_ids
    _trace_ids = current_ids


def resolve(log_format: str) -> str:
    """`auto` is text when standard error is a terminal, JSON otherwise (a container, a file)."""
    if log_format != "auto":
        return log_format
    isatty = getattr(sys.stderr, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


def redact(text: str) -> str:
    """Emails and tokens out of a free text (a message, an exception's text)."""
    text = _JWT.sub("[token]", text)
    text = _BEARER.sub(lambda match: f"{match.group(1)} [token]", text)
    return _EMAIL.sub("[email]", text)


def timestamp(created: float) -> str:
    """UTC, ISO 8601 with milliseconds: the audit log's format."""
    moment = datetime.datetime.fromtimestamp(created, datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds")


class StandardError(logging.StreamHandler):
    """The process's one handler: standard error as it is when the line is written."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass  # always sys.stderr


def _line(text: bool):
    """structlog processor: the stable fields of a line out of a standard library record."""

    from . import request_ids  # noqa: PLC0415 - request_ids imports this module

    def process(_logger, _method, event: dict) -> dict:
        record: logging.LogRecord = event["_record"]
        meta = {"_record": record, "_from_structlog": event["_from_structlog"]}
        audit = getattr(record, AUDIT_RECORD, None)
        if audit is not None:
            if text:  # the event's name as the line's message, its fields after it
                return {"time": audit["time"], "level": "info", "message": audit["event"],
                        **{k: v for k, v in audit.items() if k not in ("time", "event")}, **meta}
            return {**audit, **meta}
        line = {"time": timestamp(record.created), "level": record.levelname.lower(),
                "logger": record.name}
        fields = getattr(record, FIELDS_RECORD, None)
        line["message"] = event["event"] if fields is not None else redact(event["event"])
        request_id = request_ids.current_id()
        if request_id is not None:
            line["request_id"] = request_id
        ids = _trace_ids() if _trace_ids is not None else None
        if ids is not None:
            line["trace_id"], line["span_id"] = ids
        if fields is not None:
            line.update(fields)
        exc_info = event.get("exc_info")
        if exc_info:
            if exc_info is True:
                exc_info = sys.exc_info()
            line["exception"] = redact("".join(traceback.format_exception(*exc_info)).rstrip())
        return {**line, **meta}

    return process


def formatter(log_format: str = "json") -> logging.Formatter:
    """The formatter of the one handler (also named in uvicorn's logging configuration)."""
    text = resolve(log_format) == "text"
    if text:
        renderer = structlog.dev.ConsoleRenderer(
            colors=False, timestamp_key="time", event_key="message", sort_keys=False,
            pad_event_to=0, exception_formatter=structlog.dev.plain_traceback)
    else:
        renderer = structlog.processors.JSONRenderer(ensure_ascii=False)
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[_line(text)],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )


def dict_config(log_format: str) -> dict:
    """The logging configuration given to uvicorn (meet_external/server/serving.py): its own lines and
    every other logger's through the one handler; its access log off."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"one": {"()": f"{__name__}.formatter", "log_format": log_format}},
        "handlers": {"stderr": {"()": f"{__name__}.StandardError", "formatter": "one"}},
        "root": {"handlers": ["stderr"], "level": "INFO"},
        "loggers": {
            **{name: {"handlers": [], "propagate": True} for name in UVICORN_LOGGERS},
            UVICORN_ACCESS: {"handlers": [], "propagate": False},
            **{name: {"level": "WARNING"} for name in QUIET_LOGGERS},
        },
    }


def configure(log_format: str) -> None:
    """The one handler on the root logger, in this format, once (the app factory calls it, so a
    server other than `serve`, such as uvicorn run by hand, logs the same way)."""
    root = logging.getLogger()
    ours = [handler for handler in root.handlers if isinstance(handler, StandardError)]
    if not ours:
        handler = StandardError()
        root.addHandler(handler)
        ours = [handler]
    for handler in ours:
        handler.setFormatter(formatter(log_format))
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    for name in UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers = []
        uvicorn_logger.propagate = True
    access = logging.getLogger(UVICORN_ACCESS)
    access.handlers = []
    access.propagate = False


def access(request, status: int, seconds: float) -> None:
    """One access line: the request's operation and path template, never its raw path."""
    path = request.path
    fields = {"method": request.method, "path": path, "operation": request.operation,
              "status": status, "duration_ms": round(seconds * 1000, 2),
              "client_address": request.client[0] if request.client else None}
    access_logger.info("%s %s %d", request.method, path or request.operation, status,
                       extra={FIELDS_RECORD: fields})
