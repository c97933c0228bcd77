"""Error reports to Sentry, with La Suite Meet's settings (docs/operators.md, Logs, errors and
traces).

On when `DJANGO_SENTRY_DSN` (Meet's name) or `SENTRY_DSN` is set; otherwise sentry-sdk is not
even imported. The environment and the release are set as Meet's settings set them: the
lowercased `DJANGO_CONFIGURATION` (`SENTRY_ENVIRONMENT` first if set; `production` when
neither is), and the version `/__version__` shows.

What is reported is every line logged at ERROR: the one error path (meet_external/errors.py)
logs the cause of each 5xx answer so (an unhandled exception with its traceback, the database's
refusal), and so does the request-id middleware for anything past it. Each report is tagged
with the request's `request_id` and `operation`, its transaction is the method and the path
template.

What is never sent: the SDK collects no request (its web-framework integrations are off),
no body, header, cookie, user or local variable (`send_default_pii`, `include_local_variables`
off), its scrubber drops any field named like a secret, and `before_send` replaces anything
shaped like an email address or a token in every string of the report (exception texts,
messages), as the log lines do.
"""

from __future__ import annotations

import logging

from . import logs, request_ids

logger = logging.getLogger(__name__)
# Besides sentry-sdk's own list (password, secret, token, authorization, cookie, session...).
DENYLIST_ADDITIONS = ["client_secret", "access_token", "id_token", "assertion", "scope", "email",
                      "attendees", "dsn", "database_url", "db_password", "secret_key"]
APPLICATION_TAG = "meet-external"  # Meet tags its own reports application=backend


def enable(config) -> None:
    """Start the SDK in this process, when a DSN is set."""
    if not config.sentry_dsn:
        return
    import sentry_sdk
    from sentry_sdk.integrations.atexit import AtexitIntegration
    from sentry_sdk.integrations.dedupe import DedupeIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration
    from sentry_sdk.scrubber import DEFAULT_DENYLIST, EventScrubber

    from .probes import version_info

    sentry_sdk.init(
        dsn=config.sentry_dsn,
        environment=config.sentry_environment,
        release=version_info()["version"],
        # Only these: no web-framework integration collects requests, no breadcrumbs of lines.
        default_integrations=False,
        auto_enabling_integrations=False,
        integrations=[LoggingIntegration(level=None, event_level=logging.ERROR),
                      DedupeIntegration(), AtexitIntegration(callback=_pending)],
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        max_breadcrumbs=0,
        event_scrubber=EventScrubber(denylist=DEFAULT_DENYLIST + DENYLIST_ADDITIONS, recursive=True),
        before_send=before_send,
    )
    sentry_sdk.set_tag("application", APPLICATION_TAG)


def before_send(event: dict, hint: dict) -> dict:
    """The request's id and operation as tags; no request data; emails and tokens redacted."""
    request = request_ids.current()
    if request is not None:
        tags = event.setdefault("tags", {})
        tags["request_id"] = request.id
        tags["operation"] = request.operation
        event["transaction"] = f"{request.method} {request.path or request.operation}"
    event.pop("request", None)
    event.pop("user", None)
    return _redacted(event)


def _redacted(value):
    if isinstance(value, str):
        return logs.redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redacted(item) for item in value]
    return value


def _pending(pending: int, timeout: float) -> None:
    """At exit, instead of the SDK's own print."""
    logger.info("sending %d pending error reports to Sentry (at most %.0f s)", pending, timeout)
