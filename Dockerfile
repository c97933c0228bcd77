# meet-external: the API server as a container image (docs/operators.md, Container image).
#
#   docker build -t meet-external .
#   docker build --build-arg COMMIT=$(git rev-parse HEAD) -t meet-external .
#
# Build arguments:
#   BASE_IMAGE  the image both stages start from (default: the official Python image). A base
#               without Python (a plain Debian) gets Debian's python3.
#   COMMIT      the source commit, shown by GET /__version__ (optional).
#   SOURCE      the source repository's URL, shown by GET /__version__ (optional).
#   PIP_CERT    a CA bundle for pip, for networks that re-sign TLS (optional; mount it in).
#   EXTRAS      the package's extras installed (default: postgres; postgres,tracing adds
#               OpenTelemetry's traces: docs/operators.md, Logs, errors and traces).
ARG BASE_IMAGE=python:3.12-slim

# --- build: the project's wheel and those of everything it needs, installed into a venv -----
FROM ${BASE_IMAGE} AS build
ARG PIP_CERT=""
ARG COMMIT=""
ARG SOURCE=""
ARG EXTRAS="postgres"
RUN if ! command -v python3 >/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends python3 python3-venv \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
    && python3 -m venv /opt/meet-external
WORKDIR /src
COPY . .
# The build's own facts, for /__version__ (meet_external/ops/probes.py reads them).
RUN COMMIT="$COMMIT" SOURCE="$SOURCE" /opt/meet-external/bin/python -c 'import json, os; \
json.dump({k: os.environ[k.upper()] for k in ("commit", "source") if os.environ[k.upper()]}, \
open("meet_external/build.json", "w"))'
RUN /opt/meet-external/bin/pip wheel --no-cache-dir ${PIP_CERT:+--cert "$PIP_CERT"} \
      --wheel-dir /wheels ".[${EXTRAS}]" \
    && /opt/meet-external/bin/pip install --no-cache-dir --no-index --find-links /wheels \
      "meet-external[${EXTRAS}]"

# --- runtime: Python and that venv, nothing else (no sources, wheels, compiler or pip cache) --
FROM ${BASE_IMAGE}
RUN if ! command -v python3 >/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends python3 \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
    && groupadd --system --gid 10001 meet \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --shell /usr/sbin/nologin meet \
    && mkdir /data && chown meet:meet /data
# The same base in both stages, so the venv's interpreter path is valid here too.
COPY --from=build /opt/meet-external /opt/meet-external
ENV PATH=/opt/meet-external/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    WEB_CONCURRENCY=2
# The working directory is where a SQLite database would be made (DATABASE_URL's default).
WORKDIR /data
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["meet-external"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
