"""The audit log: one JSON line per event on standard error (docs/operators.md)."""

from __future__ import annotations

import datetime
import hashlib
import json
import logging

from . import logs, metrics, request_ids

logger = logging.getLogger("meet_external.ops.audit")
FIELDS = ("user_id", "room_id", "client_address", "reason", "token_kind")
MAX_FIELD_LENGTH = 255


def configure() -> None:
    """Audit lines at INFO whatever the root logger's level; they reach standard error through
    the process's one log handler, in its format (meet_external/ops/logs.py)."""
    logger.setLevel(logging.INFO)
    logger.propagate = True


def fingerprint(value: str) -> str:
    """A short, stable stand-in for a value that must not be logged: `sha256:` and 12 hex digits.

    They are the first 12 of the brake's key for that client_id (meet_external_token_failures).
    """
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def record(event: str, *, client_id: str, client_known: bool, **fields) -> None:
    """Log one event, and count it in the metrics; only the known, secret-free fields are written.

    The caller says whether `client_id` is a known application's: one that is
    not may be a secret pasted in the wrong field, so only its fingerprint is
    written. Any value longer than 255 characters is replaced by its fingerprint.
    """
    metrics.count_event(event, fields.get("reason"))
    line = {
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
        "event": event,
    }
    line["client_id"] = client_id if client_known else fingerprint(client_id)
    for name in FIELDS:
        value = fields.get(name)
        if value is not None:
            line[name] = str(value)
    for name, value in line.items():
        if len(value) > MAX_FIELD_LENGTH:
            line[name] = fingerprint(value)
    request_id = request_ids.current_id()  # a sane token (meet_external/ops/request_ids.py)
    if request_id is not None:
        line["request_id"] = request_id
    # The message is the event as one JSON object; the log handler writes the fields themselves.
    logger.info(json.dumps(line, ensure_ascii=False), extra={logs.AUDIT_RECORD: line})
