"""The ASGI factories (meet_external/asgi.py): an app per process, its start-up objects frozen."""

import gc

import pytest

from meet_external import asgi

from .support.constants import SECRET_KEY


@pytest.fixture
def unfreeze():
    yield
    gc.unfreeze()


def test_the_factory_builds_the_app_and_freezes_what_start_up_made(database_url, monkeypatch, unfreeze):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("APPLICATION_JWT_SECRET_KEY", SECRET_KEY)
    gc.unfreeze()

    app = asgi.create_asgi_app()

    # The app's own objects (its parsed documents among them) are out of the collector's walk.
    assert gc.get_freeze_count() > 50_000
    assert app.app.extensions["meet_external"].base_path == "/external-api/v1.0"
