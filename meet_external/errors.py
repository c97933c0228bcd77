"""One error path: every exception becomes one of the JSON error bodies of docs/api-users.md."""

from __future__ import annotations

import json
import logging
from typing import Callable, Collection, Dict, Iterable, List, Mapping

import peewee
from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionResponse
from starlette.exceptions import HTTPException

from .models.refusals import Refusal
from .ops import metrics

logger = logging.getLogger("meet_external.errors")

# Said both by request validation (the file's `format: email`) and by the grant's stricter check.
INVALID_EMAIL = "Scope should be a valid email address."
# Outside the file's paths the app serves only documents and probes.
READ_ONLY_METHODS = ("GET", "HEAD")
GENERIC_MESSAGES = {
    400: "Bad request.",
    401: "Authentication credentials were not provided.",
    403: "You do not have permission to perform this action.",
    404: "Not found.",
    405: "Method not allowed.",
    406: "Not acceptable.",
    409: "Conflict.",
    413: "Request body too large.",
    415: "Unsupported media type.",
    422: "Unprocessable request.",
    429: "Too many requests.",
    500: "Internal server error.",
    503: "Service temporarily unavailable.",
}


class ApiError(Exception):
    """A client-visible failure: status, one-line message, optional headers and field errors."""

    # Whether the body is OAuth's `{"error"}`: None for the route's own form; False for Meet's
    # `{"detail"}` on the token endpoint (EXTERNAL_API_USER_NOT_FOUND_STATUS=404).
    speaks_oauth: bool | None = None

    def __init__(
        self,
        status: int,
        message: str,
        headers: Mapping[str, str] | None = None,
        errors: Dict[str, List[str]] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.errors = errors


def field_error(field: str, message: str) -> ApiError:
    """A 400 that names the field, in the message and in `errors`, never repeating the input."""
    return ApiError(400, f"{field}: {message}", errors={field: [message]})


def as_api_error(exc: Exception) -> ApiError:
    """Map any exception to the ApiError the client sees.

    The data's refusals carry their own answers (models/refusals.py); what is left is the
    HTTP stack's own exceptions, and failures nobody foresaw (500).
    """
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, Refusal):
        if exc.database_error:
            metrics.count_database_error(exc.database_error)
        if exc.logged_as and str(exc):
            logger.error(exc.logged_as + ": %s", exc)
        elif exc.logged_as:
            logger.error(exc.logged_as)
        return ApiError(exc.status, exc.message, headers=exc.headers, errors=exc.field_errors())
    if isinstance(exc, (ProblemException, HTTPException)):
        # Connexion's and Starlette's own (routing, media type): keep the status, not the prose.
        status = exc.status if isinstance(exc, ProblemException) else exc.status_code
        return ApiError(status, GENERIC_MESSAGES.get(status, "Error."), headers=dict(exc.headers or {}))
    if isinstance(exc, peewee.DataError):
        # A value the database refused (PostgreSQL: NUL in text): request validation refuses
        # such input by field; whatever still gets this far is the client's input, not a 500.
        metrics.count_database_error("data")
        logger.warning("the database refused a value of the request: %s", exc)
        return ApiError(400, "The request holds a value the database cannot store.")
    if isinstance(exc, peewee.DatabaseError):
        metrics.count_database_error("error")
    logger.error("unhandled error", exc_info=exc)
    return ApiError(500, GENERIC_MESSAGES[500])


def error_body(error: ApiError, oauth: bool) -> dict:
    """The token endpoint speaks OAuth (`error`); every other route speaks `detail`."""
    if oauth if error.speaks_oauth is None else error.speaks_oauth:
        return {"error": error.message}
    body = {"detail": error.message}
    if error.errors:
        body["errors"] = error.errors
    return body


def error_handler(allowed_methods: Callable[[str], Iterable[str]],
                  token_paths: Collection[str]) -> Callable:
    """The Connexion error handler: one mapping for every status and exception.

    Starlette's 405 lists only the first matching route's methods; the
    `Allow` header is recomputed from the file's paths.
    """

    def handle_exception(request, exc: Exception) -> ConnexionResponse:
        path = request.url.path
        error = as_api_error(exc)
        if error.status == 405:
            error.headers["Allow"] = ", ".join(allowed_methods(path) or READ_ONLY_METHODS)
        return ConnexionResponse(
            status_code=error.status,
            mimetype="application/json",
            content_type="application/json",
            body=json.dumps(error_body(error, oauth=path in token_paths)).encode(),
            headers=error.headers,
        )

    return handle_exception
