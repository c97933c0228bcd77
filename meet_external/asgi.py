"""The ASGI entry point for uvicorn and other servers: `meet_external.asgi:create_asgi_app`."""

from .app import create_app
from .config import Config


def create_asgi_app():
    """Factory for `uvicorn --factory`: configuration is read here, once per process."""
    return create_app(Config.from_env())
