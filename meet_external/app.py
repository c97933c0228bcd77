"""The application factory: Connexion 3 serving openapi.yaml as it is."""

from __future__ import annotations

import functools
import importlib.resources
import json
import pathlib
import urllib.parse
from typing import Callable, Dict, Iterator, NamedTuple, Tuple

import connexion
import flask
import yaml
from connexion.exceptions import ProblemException, ResolverError
from connexion.jsonifier import Jsonifier
from connexion.middleware import MiddlewarePosition
from connexion.resolver import Resolver
from starlette.exceptions import HTTPException

from . import models
from .api import extension
from .api.context import EXTENSION, Services
from .api.validation import VALIDATOR_MAP
from .auth.application import TokenSigner
from .auth.bearer import Callers, bearer_handler_class
from .config import Config
from .errors import error_handler
from .handlers import rooms, token
from .http.middleware import BodyLimit, HostHeader, JsonMediaType, VerbatimFile, WholeBody
from .http.oauth_clients import OAuthClientRequests
from .http.paths import SpecPaths
from .http.proxies import TrustedProxies
from .http.routes import RouteTable
from .internals import replace_wsgi_app
from .models.access.clients import ClientAuthenticator
from .models.access.credentials import SecretCache
from .models.access.throttle import FailureBrake
from .models.rooms.policy import RoomPolicy
from .models.storage.db import connection, database
from .models.storage.schema import require_servable
from .ops import audit, error_reports, logs, metrics, probes, tracing
from .ops.request_ids import RequestIds
from .server.threads import HandlerThreads

METRICS_PATH = "/metrics"
OPERATIONS: Dict[str, Callable] = {
    "generateToken": token.generate_token,
    "listRooms": rooms.list_rooms,
    "createRoom": rooms.create_room,
    "retrieveRoom": rooms.retrieve_room,
    "updateRoom": rooms.update_room,
    "deleteRoom": rooms.delete_room,
    "grantRoomAccess": rooms.grant_room_access,
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


def with_database(handler: Callable) -> Callable:
    """Run a handler on its thread's database connection, with outages mapped to 503."""

    @functools.wraps(handler)
    def run(*args, **kwargs):
        with connection():
            return handler(*args, **kwargs)

    return run


def spec_operations(*specs: dict) -> Iterator[Tuple[str, str, dict]]:
    """(path, method, operation) for every operation of the documents."""
    for spec in specs:
        for path, item in spec["paths"].items():
            for method, operation in item.items():
                if isinstance(operation, dict) and "operationId" in operation:
                    yield path, method, operation


def operation_resolver(*specs: dict) -> Resolver:
    """Maps each operationId of the documents to its handler, wrapped for the database.

    Fails at start-up, not at the first request, if an operation has no handler.
    """
    for path, method, operation in spec_operations(*specs):
        if operation["operationId"] not in OPERATIONS:
            raise ResolverError(
                f"no handler for operationId {operation['operationId']!r} ({method.upper()} {path})"
            )
    return Resolver(function_resolver=lambda operation_id: with_database(OPERATIONS[operation_id]))


class Documents(NamedTuple):
    """The two documents the app serves, and the paths read from them."""

    raw_spec: bytes
    spec: dict
    extension_spec: dict
    base_path: str
    token_path: str

    @classmethod
    def load(cls) -> Documents:
        raw_spec, spec = load_spec()
        _, extension_spec = extension.load_extension()
        base_path = base_path_of(spec)
        return cls(raw_spec, spec, extension_spec, base_path, f"{base_path}/application/token/")


def create_app(config: Config) -> connexion.FlaskApp:
    """A ready Connexion app bound to the configured database."""
    documents = Documents.load()
    resolver = operation_resolver(documents.spec, documents.extension_spec)
    signer = TokenSigner(config)
    layout = models.open_database(config.database_url)
    require_servable(layout)
    traces = _start_observability(config)
    app = _connexion_app(config, signer, documents.token_path)
    _add_apis(app, documents, resolver)
    app.app.extensions[EXTENSION] = _services(config, signer, documents.base_path)
    probes.add_probes(app, layout)
    routes = route_table(documents.spec, documents.extension_spec)
    _add_error_handler(app, routes, documents.token_path)
    _add_request_rules(app, config, documents, routes)
    # Added first, outermost: every answer carries the request's id, the last-resort 500 too.
    app.add_middleware(RequestIds, MiddlewarePosition.BEFORE_EXCEPTION, routes=routes,
                       access_log=config.ops.access_log,
                       request_span=traces.request_span if traces else None)
    if config.metrics_enabled:
        _add_metrics(app, config, routes)
    return app


def _start_observability(config: Config) -> tracing.Tracing | None:
    """The log stream, the audit log, error reports and traces, before the first request."""
    logs.configure(config.ops.log_format)
    audit.configure()
    error_reports.enable(config.ops)
    return tracing.enable(config.ops, database.obj)


def _connexion_app(config: Config, signer: TokenSigner, token_path: str) -> connexion.FlaskApp:
    app = connexion.FlaskApp(
        __name__,
        security_map={"bearer": bearer_handler_class(Callers(config, signer))},
        validator_map=VALIDATOR_MAP,
        jsonifier=Jsonifier(json),
    )
    # Outside the base path Flask routes the probes; `//healthz` must be a 404 there,
    # not werkzeug's redirect to `/healthz` (set before any rule is added).
    app.app.url_map.merge_slashes = False
    replace_wsgi_app(app, HandlerThreads(app.app.wsgi_app, token_paths=(token_path,),
                                         request_threads=config.request_threads))
    return app


def _add_apis(app: connexion.FlaskApp, documents: Documents, resolver: Resolver) -> None:
    """The extension document, then the file, with the Swagger UI offering both."""
    base_path = documents.base_path
    # The extension's Mount must come first: the file's, at the base path, would take every
    # path under it, and hand the ones it has no operation for to Flask unauthenticated.
    app.add_api(
        extension.extension_path(),
        base_path=base_path + extension.PREFIX,
        resolver=resolver,
        swagger_ui_options=connexion.options.SwaggerUIOptions(swagger_ui=False, serve_spec=False),
    )
    app.add_api(
        spec_path(),
        resolver=resolver,
        swagger_ui_options=connexion.options.SwaggerUIOptions(
            swagger_ui=True,
            swagger_ui_template_arguments={"urls": [
                {"name": "Meet External API", "url": f"{base_path}/openapi.json"},
                {"name": "Extensions",
                 "url": f"{base_path}{extension.PREFIX}/openapi.json"},
            ]},
        ),
    )


def _services(config: Config, signer: TokenSigner, base_path: str) -> Services:
    """What handlers reach through meet_external/api/context.py, made once per app."""
    return Services(
        config=config, signer=signer, room_policy=RoomPolicy.from_config(config),
        authenticator=ClientAuthenticator(
            FailureBrake(config.token_rate_limit.attempts, config.token_rate_limit.window_seconds),
            SecretCache.from_signing_key(config.jwt_secret_key)),
        base_path=base_path,
    )


def _add_error_handler(app: connexion.FlaskApp, routes: RouteTable, token_path: str) -> None:
    handle_exception = error_handler(
        routes.allowed_methods, token_paths=(token_path, token_path.rstrip("/"))
    )
    for exception_class in (Exception, HTTPException, ProblemException):
        app.add_error_handler(exception_class, handle_exception)


def _add_request_rules(app: connexion.FlaskApp, config: Config, documents: Documents,
                       routes: RouteTable) -> None:
    """The middleware between the client and Connexion's routing, in the order it runs."""
    base_path, token_path = documents.base_path, documents.token_path
    # Added in this order, they run in this order: the Host, proxies, the body's size, then the
    # whole body is read, then its media type, then paths.
    app.add_middleware(HostHeader, MiddlewarePosition.BEFORE_SWAGGER)
    app.add_middleware(TrustedProxies, MiddlewarePosition.BEFORE_SWAGGER, proxies=config.trusted_proxies)
    app.add_middleware(BodyLimit, MiddlewarePosition.BEFORE_SWAGGER, limit=config.max_body_bytes)
    app.add_middleware(WholeBody, MiddlewarePosition.BEFORE_SWAGGER)
    app.add_middleware(JsonMediaType, MiddlewarePosition.BEFORE_SWAGGER)
    app.add_middleware(SpecPaths, MiddlewarePosition.BEFORE_SWAGGER, routes=routes)
    app.add_middleware(OAuthClientRequests, MiddlewarePosition.BEFORE_SWAGGER,
                       token_paths=(token_path,))
    # Connexion serves openapi.json and .yaml re-rendered with $refs inlined; the
    # .yaml is replaced by the file itself, byte for byte.
    app.add_middleware(VerbatimFile, MiddlewarePosition.BEFORE_SWAGGER,
                       path=f"{base_path}/openapi.yaml", content=documents.raw_spec,
                       media_type="application/yaml")
    # The extension document as served says what this server's settings accept.
    served_extension = extension.ServedDocument.for_settings(config.allow_public_access)
    for suffix, content, media_type in (("yaml", served_extension.yaml, "application/yaml"),
                                        ("json", served_extension.json, "application/json")):
        app.add_middleware(VerbatimFile, MiddlewarePosition.BEFORE_SWAGGER,
                           path=f"{base_path}{extension.PREFIX}/openapi.{suffix}", content=content,
                           media_type=media_type)


def route_table(spec: dict, extension_spec: dict) -> RouteTable:
    """Where each request goes and what names it: the documents' operations, the probes, /metrics."""

    def operations(document: dict) -> list:
        return [(path, method, operation["operationId"])
                for path, method, operation in spec_operations(document)]

    return RouteTable(base_path_of(spec), operations(spec), extensions=operations(extension_spec),
                      extension_prefix=extension.PREFIX, routes={**probes.ROUTES, METRICS_PATH: "metrics"})


def _add_metrics(app: connexion.FlaskApp, config: Config, routes: RouteTable) -> None:
    instruments = metrics.enable(config.metrics_dir)
    # Outermost but for Starlette's last-resort 500: answers of the error handler are counted.
    app.add_middleware(metrics.RequestMetrics, MiddlewarePosition.BEFORE_EXCEPTION,
                       instruments=instruments, routes=routes)

    def scrape():
        body, media_type = instruments.render()
        return flask.Response(body, content_type=media_type)

    app.add_url_rule(METRICS_PATH, "metrics", scrape)
