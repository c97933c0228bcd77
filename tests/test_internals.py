"""The dependencies' private names that meet_external/internals.py relies on still hold.

Each test fails when a release of Connexion or uvicorn moves one, before the behaviour that
depends on it changes silently (setup.cfg pins the ranges they were checked in).
"""

import inspect

from connexion.validators import AbstractRequestBodyValidator

from meet_external import internals
from meet_external.app import create_app
from meet_external.server.threads import HandlerThreads


def test_flask_runs_through_the_wsgi_bridge_the_app_installs(base_config):
    app = create_app(base_config)
    assert isinstance(internals.wsgi_app_of(app), HandlerThreads)


def test_a_body_validator_holds_its_schema_and_whether_it_is_required():
    schema = {"type": "object"}
    validator = AbstractRequestBodyValidator(schema=schema, required=True, encoding="utf-8",
                                             strict_validation=False)
    assert internals.body_schema(validator) is schema
    assert internals.body_required(validator) is True


def test_uvicorns_httptools_protocol_has_the_hooks_the_head_timeout_overrides():
    hooks = ("connection_made", "on_message_begin", "on_headers_complete", "connection_lost")
    assert all(callable(getattr(internals.HttpToolsProtocol, hook, None)) for hook in hooks)
    # The timer is armed on the protocol's loop and closes its transport.
    assert "self.loop =" in inspect.getsource(internals.HttpToolsProtocol.__init__)
    assert "self.transport =" in inspect.getsource(internals.HttpToolsProtocol.connection_made)


def test_uvicorns_supervisor_stops_its_workers_through_terminate_all():
    assert callable(internals.Multiprocess.terminate_all)
    assert "sockets" in inspect.signature(internals.Multiprocess.__init__).parameters


def test_a2wsgis_environ_is_built_from_the_scope_and_the_body_stream():
    body = object()
    environ = internals.build_environ(
        {"type": "http", "method": "GET", "path": "/rooms", "root_path": "", "query_string": b"a=1",
         "headers": [(b"content-type", b"application/json")], "http_version": "1.1",
         "scheme": "http", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 4000)}, body)
    assert environ["wsgi.input"] is body
    assert (environ["REQUEST_METHOD"], environ["PATH_INFO"], environ["QUERY_STRING"],
            environ["CONTENT_TYPE"]) == ("GET", "/rooms", "a=1", "application/json")
