"""meet-external: a server for the Meet External API."""

__version__ = "0.1.0"
