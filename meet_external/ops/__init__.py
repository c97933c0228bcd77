"""What operators see of a running server: request ids, the one log stream, error reports to
Sentry and OpenTelemetry traces (docs/operators.md, Logs, errors and traces)."""
