"""The app factory (meet_external/app.py): every operation resolves, or start-up fails."""

import pytest
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

