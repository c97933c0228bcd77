"""meet-external: a server for the Meet External API."""

from .server.quiet import silence_known_dependency_warnings

__version__ = "0.1.0"

silence_known_dependency_warnings()
