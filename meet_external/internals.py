"""Every private name of a dependency the project relies on, in one place.

Each is used because the dependency has no public way to do what the project needs (said
beside each); the versions they hold for are pinned in setup.cfg, and tests/test_internals.py
fails when a release moves or renames one, instead of the behaviour changing silently.
"""

from __future__ import annotations

from typing import Any

import connexion
from a2wsgi.wsgi import build_environ
from connexion.json_schema import Draft4RequestValidator
from connexion.validators import AbstractRequestBodyValidator
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors.multiprocess import Multiprocess

# build_environ: a2wsgi's WSGI environ from an ASGI scope, undocumented; the environ Flask saw
# through Connexion's bridge, which meet_external/server/threads.py replaces.
__all__ = ["Draft4RequestValidator", "HttpToolsProtocol", "Multiprocess", "body_required",
           "body_schema", "build_environ", "replace_wsgi_app"]


def replace_wsgi_app(app: connexion.FlaskApp, asgi_app: Any) -> None:
    """Run Flask through `asgi_app` instead of Connexion's one a2wsgi pool of 10 threads.

    Connexion 3.3 has no setting for the WSGI bridge it wraps Flask in; the token
    endpoint needs a pool of its own, and a request one hop to its thread
    (meet_external/server/threads.py).
    """
    app._middleware_app.asgi_app = asgi_app


def wsgi_app_of(app: connexion.FlaskApp) -> Any:
    """What Flask runs through (the counterpart of `replace_wsgi_app`, for tests)."""
    return app._middleware_app.asgi_app


def body_schema(validator: AbstractRequestBodyValidator) -> dict:
    """The operation's request-body schema, as Connexion hands it to a body validator."""
    return validator._schema


def body_required(validator: AbstractRequestBodyValidator) -> bool:
    """Whether the operation's request body is required (`requestBody.required`)."""
    return validator._required
