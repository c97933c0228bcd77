"""`Idempotency-Key` on POST /rooms: safe retries (docs/api-users.md)."""

from __future__ import annotations

import decimal
import hashlib
import json
import re

from ..errors import ApiError

HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x20-\x7e]{1,255}$")
# Enough digits for any integer json.loads reads (Python refuses more than 4300).
MAX_DIGITS = 5000


def idempotency_key(value: str | None) -> str | None:
    """The header's key, None when absent, 400 when malformed."""
    if value is None:
        return None
    if not _KEY.match(value):
        raise ApiError(400, f"{HEADER} must be 1 to 255 printable ASCII characters.",
                       errors={HEADER: ["Must be 1 to 255 printable ASCII characters."]})
    return value


def canonical_json(value) -> str:
    """One spelling per JSON value: keys sorted, no spaces, each number in one form.

    JSON numbers have no int/float distinction: `1`, `1.0` and `1e0` are one
    number, and `1e30` is `1000000000000000000000000000000`. Each becomes the
    shortest exact decimal (`1`, `1E+30`, `0.1`), through Decimal: exact for
    integers of any size, and for floats from their shortest repr.
    """
    if isinstance(value, dict):
        items = sorted(value.items())
        return "{" + ",".join(f"{json.dumps(k)}:{canonical_json(v)}" for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(canonical_json(item) for item in value) + "]"
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return json.dumps(value)
    number = decimal.Decimal(value if isinstance(value, int) else repr(value))
    return "0" if number.is_zero() else str(number.normalize(decimal.Context(prec=MAX_DIGITS)))


def body_fingerprint(body) -> str:
    """SHA-256 of the body's canonical JSON: `{}`, an empty body and no body are the same request."""
    return hashlib.sha256(canonical_json(body or {}).encode()).hexdigest()
