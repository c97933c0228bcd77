"""`Idempotency-Key` on POST /rooms: safe retries (CONTRACT §8.2)."""

from __future__ import annotations

import hashlib
import json
import re

from .errors import ApiError

HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x20-\x7e]{1,255}$")


def idempotency_key(value: str | None) -> str | None:
    """The header's key, None when absent, 400 when malformed."""
    if value is None:
        return None
    if not _KEY.match(value):
        raise ApiError(400, f"{HEADER} must be 1 to 255 printable ASCII characters.",
                       errors={HEADER: ["Must be 1 to 255 printable ASCII characters."]})
    return value


def body_fingerprint(body) -> str:
    """Canonical JSON of the body: `{}`, an empty body and no body are the same request."""
    canonical = json.dumps(body or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()
