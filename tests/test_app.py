"""The app factory (meet_external/app.py): every operation resolves, or start-up fails."""

import threading

import pytest
from a2wsgi import WSGIMiddleware
from connexion.exceptions import ResolverError

import meet_external.app
from meet_external.app import create_app, load_spec, spec_operations


def test_every_operation_of_the_file_has_a_handler():
    _, spec = load_spec()
    assert {op["operationId"] for _, _, op in spec_operations(spec)} == set(meet_external.app.OPERATIONS)


def test_an_operation_without_handler_stops_start_up(base_config, monkeypatch):
    monkeypatch.delitem(meet_external.app.OPERATIONS, "retrieveRoom")
    expected = r"no handler for operationId 'retrieveRoom' \(GET /rooms/\{id\}\)"
    with pytest.raises(ResolverError, match=expected):
        create_app(base_config)



def test_flask_runs_in_the_apps_own_thread_pool(base_config):
    """app.py replaces Connexion's private `_middleware_app.asgi_app` (no public setting for
    a2wsgi's threads): if Connexion renames it, the assignment silently does nothing, and this
    fails. The handlers must run on threads of that pool, at most WSGI_THREADS of them."""
    app = create_app(base_config)
    wsgi = app._middleware_app.asgi_app
    assert isinstance(wsgi, WSGIMiddleware)
    assert wsgi.app == app.app.wsgi_app
    assert wsgi.executor._max_workers == meet_external.app.WSGI_THREADS
    names = set()
    original = wsgi.app

    def recording(environ, start_response):
        names.add(threading.current_thread().name)
        return original(environ, start_response)

    wsgi.app = recording
    with app.test_client() as local:
        for _ in range(3):
            assert local.get("/healthz").status_code == 200
    assert names, "requests do not go through the pool app.py installed"
