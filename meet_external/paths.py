"""Which paths the API serves: one rule for every path under the base path (CONTRACT §1, §2)."""

from __future__ import annotations

import re
from typing import Dict, Iterable, List, Pattern, Tuple

from .errors import ApiError
from .path_templates import template_pattern

# Connexion's own pages under the base path: the spec as JSON and YAML, and the Swagger UI
# (`ui` redirects to `ui/`, whose files are flat: `ui/index.html`, `ui/swagger-ui.css`...).
DOCUMENT_PATTERNS = (r"/openapi\.json", r"/openapi\.yaml", r"/ui", r"/ui/[^/]*")


class Routes:
    """The file's paths under the base path, the methods each one answers, and the documents."""

    def __init__(self, base_path: str, paths: Dict[str, Iterable[str]],
                 documents: Iterable[str] = DOCUMENT_PATTERNS):
        self.base_path = base_path.rstrip("/")
        self.methods: List[Tuple[Pattern, Tuple[str, ...]]] = [
            (template_pattern(self.base_path + path), _with_head(methods))
            for path, methods in paths.items()
        ]
        self.documents = re.compile(
            "^" + re.escape(self.base_path) + "(?:" + "|".join(documents) + ")$")

    def _methods(self, path: str) -> Tuple[str, ...]:
        for pattern, methods in self.methods:
            if pattern.match(path):
                return methods
        return ()

    def under_base_path(self, path: str) -> bool:
        return path == self.base_path or path.startswith(self.base_path + "/")

    def canonical(self, path: str) -> str | None:
        """The file's spelling of a path that differs only by its trailing slash."""
        if not path.startswith(self.base_path + "/") or self._methods(path):
            return None
        alias = path[:-1] if path.endswith("/") else path + "/"
        if path.endswith("//") or not self._methods(alias):  # one slash toggled, no more
            return None
        return alias

    def served_path(self, path: str) -> str | None:
        """The path to route a request to: the file's spelling of a spec path, a document, or None."""
        if self._methods(path) or self.documents.match(path):
            return path
        return self.canonical(path)

    def allowed_methods(self, path: str) -> Tuple[str, ...]:
        """The methods a path answers, under either spelling."""
        return self._methods(path) or self._methods(self.canonical(path) or "")


def _with_head(methods: Iterable[str]) -> Tuple[str, ...]:
    upper = {m.upper() for m in methods}
    if "GET" in upper:
        upper.add("HEAD")
    return tuple(sorted(upper))


class SpecPaths:
    """Under the base path, a path is a spec path (under either slash spelling) or a 404.

    The file says `/application/token/` and `/rooms`; the reference's clients
    use slashes, generated clients do not: either spelling is rewritten to the
    file's before Connexion routes it, with no redirect. Any other path there
    (`//rooms`, `/rooms//`, `/application/token//`) is a JSON 404 here, before
    Starlette's or werkzeug's routers can answer it with a redirect of their own.
    """

    def __init__(self, app, routes: Routes):
        self.app = app
        self.routes = routes

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and self.routes.under_base_path(scope["path"]):
            served = self.routes.served_path(scope["path"])
            if served is None:
                raise ApiError(404, "Not found.")
            if served != scope["path"]:
                scope = dict(scope, path=served, raw_path=served.encode())
        await self.app(scope, receive, send)
