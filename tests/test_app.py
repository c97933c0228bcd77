"""The app factory (meet_external/app.py): every operation resolves, or start-up fails."""

import dataclasses
import threading

import pytest
from connexion.exceptions import ResolverError

import meet_external.app
from meet_external import internals
from meet_external.api.extension import load_extension
from meet_external.app import create_app, load_spec, spec_operations
from meet_external.server import threads
from meet_external.server.threads import HandlerThreads, WsgiPool

from .support.constants import API


def test_every_operation_of_the_file_and_the_extension_has_a_handler():
    _, spec = load_spec()
    _, extension = load_extension()
    assert {op["operationId"] for _, _, op in spec_operations(spec, extension)} == set(
        meet_external.app.OPERATIONS)


def test_an_extension_operation_without_handler_stops_start_up(base_config, monkeypatch):
    monkeypatch.delitem(meet_external.app.OPERATIONS, "deleteRoom")
    with pytest.raises(ResolverError, match=r"'deleteRoom' \(DELETE /rooms/\{id\}\)"):
        create_app(base_config)


def test_an_operation_without_handler_stops_start_up(base_config, monkeypatch):
    monkeypatch.delitem(meet_external.app.OPERATIONS, "retrieveRoom")
    expected = r"no handler for operationId 'retrieveRoom' \(GET /rooms/\{id\}\)"
    with pytest.raises(ResolverError, match=expected):
        create_app(base_config)



def test_flask_runs_in_the_apps_own_thread_pools(base_config):
    """app.py replaces the WSGI bridge Connexion runs Flask through (meet_external/internals.py):
    if Connexion renames its private name, the assignment silently does nothing, and this fails.
    Token requests run on the token pool's threads, everything else on the other's."""
    app = create_app(base_config)
    pools = internals.wsgi_app_of(app)
    assert isinstance(pools, HandlerThreads)
    assert (pools.requests.executor._max_workers, pools.tokens.executor._max_workers) == (
        base_config.request_threads, threads.TOKEN_THREADS)
    seen = {"requests": set(), "tokens": set()}
    for name in seen:
        pool = getattr(pools, name)
        assert isinstance(pool, WsgiPool) and pool.app == app.app.wsgi_app
        pool.app = _recording(pool.app, seen[name])
    with app.test_client() as local:
        assert local.get("/healthz").status_code == 200
        unknown = {"client_id": "nobody", "client_secret": "x", "grant_type": "client_credentials",
                   "scope": "a@example.com"}
        assert local.post(f"{API}/application/token", json=unknown).status_code == 401
    assert seen["requests"] and seen["tokens"], "requests do not go through the pools app.py installed"
    assert not seen["requests"] & seen["tokens"]


def test_the_request_threads_setting_sizes_the_api_pool_only(base_config):
    pools = internals.wsgi_app_of(create_app(dataclasses.replace(base_config, request_threads=5)))
    assert (pools.requests.executor._max_workers, pools.tokens.executor._max_workers) == (
        5, threads.TOKEN_THREADS)


def _recording(wsgi_app, names: set):
    def recording(environ, start_response):
        names.add(threading.current_thread())
        return wsgi_app(environ, start_response)
    return recording
