"""The ASGI entry points for uvicorn and other servers: `meet_external.asgi:create_asgi_app`."""

from .app import create_app
from .config import Config
from .demo import demo_config


def create_asgi_app():
    """Factory for `uvicorn --factory`: configuration is read here, once per process."""
    return create_app(Config.from_env())


def create_demo_asgi_app():
    """`serve --demo`'s factory: without APPLICATION_JWT_SECRET_KEY, the key kept in the database."""
    return create_app(demo_config(Config.from_env()))
