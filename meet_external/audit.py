"""The audit log: one JSON line per event on standard error (CONTRACT §8.5)."""

from __future__ import annotations

import datetime
import json
import logging
import sys

from . import metrics

logger = logging.getLogger("meet_external.audit")
FIELDS = ("client_id", "user_id", "room_id", "client_address", "reason")


class _AuditLines(logging.StreamHandler):
    """The one stderr handler of the audit log."""


def configure() -> None:
    """Send audit lines to stderr as they are, once, whatever the root logger does."""
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if not any(isinstance(handler, _AuditLines) for handler in logger.handlers):
        handler = _AuditLines(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)


def record(event: str, **fields) -> None:
    """Log one event, and count it in the metrics; only the known, secret-free fields are written."""
    metrics.count_event(event, fields.get("reason"))
    line = {
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
        "event": event,
    }
    for name in FIELDS:
        value = fields.get(name)
        if value is not None:
            line[name] = str(value)
    logger.info(json.dumps(line, ensure_ascii=False))
