"""Probes outside the API's base path: this project's and Dockerflow's, as Meet's Helm chart
uses them (docs/operators.md, Health checks and database outages).

| path               | checks                     |
| ------------------ | -------------------------- |
| `/healthz`         | the process answers        |
| `/__lbheartbeat__` | the process answers        |
| `/readyz`          | the database answers       |
| `/__heartbeat__`   | the database answers       |
| `/__version__`     | nothing: what is running   |

A database that does not answer raises DatabaseUnavailable, and one whose layout changed since
start-up (Meet was migrated) LayoutChanged; the one error path turns both into 503
`{"detail": ...}`.
"""

from __future__ import annotations

import importlib.resources
import json
import re
from typing import Dict

import connexion

from .. import __version__
from ..models.storage.db import connection
from ..models.storage.schema import Layout, require_same_layout

# Written into the package when an image is built (Dockerfile: COMMIT, SOURCE); absent in a
# checkout, where the commit is not known.
BUILD_FILE = "build.json"
DISTRIBUTION = "meet-external"
_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
# Path -> endpoint name; the names also label these routes in the metrics.
ROUTES = {"/healthz": "healthz", "/__lbheartbeat__": "lbheartbeat", "/readyz": "readyz",
          "/__heartbeat__": "heartbeat", "/__version__": "version"}


def add_probes(app: connexion.FlaskApp, layout: Layout) -> None:
    version = version_info()

    def alive():
        return {"status": "ok"}

    def ping():
        # Reachable, and still the layout the statements were built for: after Meet's
        # migrations the process must restart (docs/operators.md, Upgrading Meet).
        with connection():
            require_same_layout(layout)

    def database_reachable():
        ping()
        return {"status": "ok", "database": "reachable"}

    def heartbeat():
        ping()
        return {"status": "ok", "checks": {"database": "ok"}}

    views = {"healthz": alive, "lbheartbeat": alive, "readyz": database_reachable,
             "heartbeat": heartbeat, "version": lambda: version}
    for path, name in ROUTES.items():
        app.add_url_rule(path, name, views[name])


def version_info() -> Dict[str, str]:
    """Dockerflow's version object: `source`, `version`, and `commit` where the build said it."""
    build = _build_file()
    info = {"source": DISTRIBUTION, "version": __version__}
    source = build.get("source")
    if isinstance(source, str) and source.isprintable() and 0 < len(source) <= 255:
        info["source"] = source
    commit = build.get("commit")
    if isinstance(commit, str) and _COMMIT.match(commit):
        info["commit"] = commit
    return info


def _build_file() -> dict:
    try:
        data = json.loads((importlib.resources.files("meet_external") / BUILD_FILE).read_text("utf-8"))
    except (OSError, ValueError):  # no file (a checkout), or not JSON: nothing is known
        return {}
    return data if isinstance(data, dict) else {}
