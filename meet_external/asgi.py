"""The ASGI entry points for uvicorn and other servers: `meet_external.asgi:create_asgi_app`."""

import gc

from .app import create_app
from .cli.demo import demo_config
from .config import Config


def create_asgi_app():
    """Factory for `uvicorn --factory`: configuration is read here, once per process."""
    return _frozen(create_app(Config.from_env()))


def create_demo_asgi_app():
    """`serve --demo`'s factory: without APPLICATION_JWT_SECRET_KEY, the key kept in the database."""
    return _frozen(create_app(demo_config(Config.from_env())))


def _frozen(app):
    """The app, with everything made at start-up out of the garbage collector's sight.

    A full collection walked the tens of thousands of objects an app is built of (Connexion's
    parsed documents, compiled validators, Flask's and Starlette's routing) with the GIL held
    (`python bench/gc_cost.py` measures it), while every request of the worker waited: one of
    the causes of the p99s in docs/performance.md. Those
    objects live as long as the process; `gc.freeze()` keeps collections to what requests
    allocate.
    """
    gc.collect()
    gc.freeze()
    return app
