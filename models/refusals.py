"""What the rules of the data refuse, and how the API answers each refusal.

Each refusal carries its answer (status, one-line message, headers, field errors), as
authlib's OAuth errors do: the one error path (meet_external/errors.py) reads them, so a
refusal's wording is written once, beside the rule that raises it. The messages are the
contract's (docs/api-users.md, error reference).
"""

from __future__ import annotations

from typing import Dict, List, Mapping

RETRY_SOON = {"Retry-After": "5"}


class Refusal(Exception):
    """A request the data's rules refuse; subclasses set the answer."""

    status: int = 400
    message: str = "Bad request."
    headers: Mapping[str, str] = {}
    # For failures of the service rather than of the request: the line logged at ERROR
    # (the cause of a 5xx, docs/operators.md) and the database_errors metric's kind.
    logged_as: str | None = None
    database_error: str | None = None

    def field_errors(self) -> Dict[str, List[str]] | None:
        """Messages by field, for the body's `errors` (None: the message alone)."""
        return None


class FieldRefusal(Refusal):
    """A 400 that names the field in the message and in `errors`, never repeating the input."""

    field: str = ""
    field_message: str = ""

    @property
    def message(self) -> str:  # type: ignore[override]
        return f"{self.field}: {self.field_message}"

    def field_errors(self) -> Dict[str, List[str]]:
        return {self.field: [self.field_message]}
