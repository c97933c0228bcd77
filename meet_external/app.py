"""The application factory: Connexion 3 serving openapi.yaml as it is."""

from __future__ import annotations

import functools
import importlib.resources
import json
import pathlib
import urllib.parse
from typing import Callable, Dict, Iterator, Tuple

import connexion
import flask
import yaml
from a2wsgi import WSGIMiddleware
from connexion.exceptions import ProblemException, ResolverError
from connexion.jsonifier import Jsonifier
from connexion.middleware import MiddlewarePosition
from connexion.resolver import Resolver
from starlette.exceptions import HTTPException

import handlers.rooms
import handlers.token
import models
from models.db import connection
from models.rooms import RoomPolicy

from . import audit, metrics, probes
from .config import Config
from .context import EXTENSION, Services
from .errors import error_handler
from .http import BodyLimit, PathAliases, Routes, TrustedProxies, VerbatimFile
from .oauth_clients import OAuthClientRequests
from .security import bearer_handler_class, load_principal
from .tokens import TokenSigner
from .validation import VALIDATOR_MAP

WSGI_THREADS = 4
METRICS_PATH = "/metrics"
OPERATIONS: Dict[str, Callable] = {
    "generateToken": handlers.token.generate_token,
    "listRooms": handlers.rooms.list_rooms,
    "createRoom": handlers.rooms.create_room,
    "retrieveRoom": handlers.rooms.retrieve_room,
}


def spec_path() -> pathlib.Path:
    """openapi.yaml as shipped with the package (a copy of the project's root file)."""
    return pathlib.Path(str(importlib.resources.files("meet_external") / "openapi.yaml"))


def load_spec() -> tuple:
    """The file's bytes and its parsed form."""
    raw = spec_path().read_bytes()
    return raw, yaml.safe_load(raw)


def base_path_of(spec: dict) -> str:
    return urllib.parse.urlparse(spec["servers"][0]["url"]).path.rstrip("/")


def with_database(handler: Callable, secured: bool) -> Callable:
    """Run a handler with a pooled connection borrowed for its thread.

    For a secured operation the principal is checked first, on that same
    connection: the event loop only verified the token's signature and scope.
    """

    @functools.wraps(handler)
    def run(*args, **kwargs):
        with connection():
            if secured:
                token_info = kwargs["token_info"]
                token_info["principal"] = load_principal(token_info["claims"])
            return handler(*args, **kwargs)

    return run


def spec_operations(spec: dict) -> Iterator[Tuple[str, str, dict]]:
    """(path, method, operation) for every operation of the file."""
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "operationId" in operation:
                yield path, method, operation


def operation_resolver(spec: dict) -> Resolver:
    """Maps each operationId to its handler, wrapped for the database.

    Fails at start-up, not at the first request, if an operation has no handler.
    """
    secured = set()
    for path, method, operation in spec_operations(spec):
        if operation["operationId"] not in OPERATIONS:
            raise ResolverError(
                f"no handler for operationId {operation['operationId']!r} ({method.upper()} {path})"
            )
        if operation.get("security", spec.get("security")):
            secured.add(operation["operationId"])
    return Resolver(function_resolver=lambda operation_id: with_database(
        OPERATIONS[operation_id], operation_id in secured))


def create_app(config: Config) -> connexion.FlaskApp:
    """A ready Connexion app bound to the configured database."""
    raw_spec, spec = load_spec()
    resolver = operation_resolver(spec)
    base_path = base_path_of(spec)
    signer = TokenSigner(config)
    models.bind(config.database_url)
    audit.configure()

    app = connexion.FlaskApp(
        __name__,
        security_map={"bearer": bearer_handler_class(signer)},
        validator_map=VALIDATOR_MAP,
        jsonifier=Jsonifier(json),
    )
    # Connexion runs Flask in a2wsgi's pool of 10 threads; on 2 cores, 4 threads
    # measured faster (less GIL contention). There is no public setting for it.
    app._middleware_app.asgi_app = WSGIMiddleware(app.app.wsgi_app, workers=WSGI_THREADS)
    app.add_api(
        spec_path(),
        resolver=resolver,
        swagger_ui_options=connexion.options.SwaggerUIOptions(swagger_ui=True),
    )
    app.app.extensions[EXTENSION] = Services(
        config=config, signer=signer, room_policy=RoomPolicy.from_config(config),
        base_path=base_path,
    )
    probes.add_probes(app)
    routes = Routes(base_path, {path: list(item) for path, item in spec["paths"].items()})
    token_path = f"{base_path}/application/token/"
    handle_exception = error_handler(
        routes.allowed_methods, token_paths=(token_path, token_path.rstrip("/"))
    )
    for exception_class in (Exception, HTTPException, ProblemException):
        app.add_error_handler(exception_class, handle_exception)
    # Added in this order, they run in this order: proxies first, then the body limit, then aliases.
    app.add_middleware(TrustedProxies, MiddlewarePosition.BEFORE_SWAGGER, proxies=config.trusted_proxies)
    app.add_middleware(BodyLimit, MiddlewarePosition.BEFORE_SWAGGER, limit=config.max_body_bytes)
    app.add_middleware(PathAliases, MiddlewarePosition.BEFORE_SWAGGER, routes=routes)
    app.add_middleware(OAuthClientRequests, MiddlewarePosition.BEFORE_SWAGGER,
                       token_paths=(token_path,))
    # Connexion serves openapi.json and .yaml re-rendered with $refs inlined; the
    # .yaml is replaced by the file itself, byte for byte.
    app.add_middleware(VerbatimFile, MiddlewarePosition.BEFORE_SWAGGER,
                       path=f"{base_path}/openapi.yaml", content=raw_spec,
                       media_type="application/yaml")
    if config.metrics_enabled:
        _add_metrics(app, config, spec, base_path)
    return app


def _add_metrics(app: connexion.FlaskApp, config: Config, spec: dict, base_path: str) -> None:
    instruments = metrics.enable(config.metrics_dir)
    names = metrics.OperationNames(
        base_path,
        [(path, method, operation["operationId"]) for path, method, operation in spec_operations(spec)],
        routes={**probes.ROUTES, METRICS_PATH: "metrics"},
    )
    # Outermost but for Starlette's last-resort 500: answers of the error handler are counted.
    app.add_middleware(metrics.RequestMetrics, MiddlewarePosition.BEFORE_EXCEPTION,
                       instruments=instruments, names=names)

    def scrape():
        body, media_type = instruments.render()
        return flask.Response(body, content_type=media_type)

    app.add_url_rule(METRICS_PATH, "metrics", scrape)
