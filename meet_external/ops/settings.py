"""The settings of logs, error reports and traces, read with the rest of the configuration
(meet_external/config.py; docs/operators.md, Logs, errors and traces)."""

from __future__ import annotations

import dataclasses

from .logs import LOG_FORMATS
from .tracing import TRACING_EXTRA, check_installed

SENTRY_DSN_SETTINGS = ("DJANGO_SENTRY_DSN", "SENTRY_DSN")  # Meet's name, and the SDK's
OTLP_ENDPOINT_SETTINGS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
OTLP_PROTOCOL_SETTINGS = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
OTLP_PROTOCOL = "http/protobuf"


@dataclasses.dataclass(frozen=True)
class OpsSettings:
    log_format: str = "auto"  # json, text, or auto: text on a terminal, JSON otherwise
    access_log: bool = False
    sentry_dsn: str | None = dataclasses.field(default=None, repr=False)
    sentry_environment: str = "production"
    tracing_enabled: bool = False


def ops_settings(reader) -> OpsSettings:
    """LOG_FORMAT, ACCESS_LOG, Sentry's and OpenTelemetry's settings; a bad one is a ConfigError."""
    from ..config import ConfigError  # it imports this module

    dsns = {name: reader.text(name) for name in SENTRY_DSN_SETTINGS}
    given = {value for value in dsns.values() if value}
    if len(given) > 1:
        raise ConfigError("DJANGO_SENTRY_DSN and SENTRY_DSN are both set, to different values:"
                          " set only one of them")
    dsn = given.pop() if given else None
    if dsn is not None:
        _check_dsn(dsn, next(name for name, value in dsns.items() if value), ConfigError)
    configuration = reader.text("DJANGO_CONFIGURATION")
    return OpsSettings(
        log_format=reader.choice("LOG_FORMAT", LOG_FORMATS, "auto"),
        access_log=reader.boolean("ACCESS_LOG", False),
        sentry_dsn=dsn,
        sentry_environment=(reader.text("SENTRY_ENVIRONMENT")
                            or (configuration.lower() if configuration else "production")),
        tracing_enabled=_tracing_enabled(reader, ConfigError),
    )


def _check_dsn(dsn: str, name: str, error) -> None:
    """A DSN the SDK can use; the refusal does not repeat it (it holds the project's key)."""
    from sentry_sdk.utils import BadDsn, Dsn

    try:
        Dsn(dsn)
    except BadDsn:
        raise error(f"{name} is not a Sentry DSN (https://<key>@<host>/<project id>)") from None


def _tracing_enabled(reader, error) -> bool:
    """On when an OTLP endpoint is set (and OpenTelemetry's own switches do not say off)."""
    endpoint = next((name for name in OTLP_ENDPOINT_SETTINGS if reader.text(name)), None)
    if endpoint is None or reader.boolean("OTEL_SDK_DISABLED", False):
        return False
    if (reader.text("OTEL_TRACES_EXPORTER") or "otlp").lower() == "none":
        return False
    for name in OTLP_PROTOCOL_SETTINGS:
        protocol = reader.text(name)
        if protocol is not None and protocol != OTLP_PROTOCOL:
            raise error(f"{name} must be {OTLP_PROTOCOL} (the only OTLP protocol exported here),"
                        f" got {protocol!r}")
    missing = check_installed()
    if missing is not None:
        raise error(f"{endpoint} is set, but OpenTelemetry is not installed ({missing}):"
                    f" {TRACING_EXTRA}")
    return True
