"""Which paths the API serves: one rule for every path under the base path (docs/api-users.md)."""

from __future__ import annotations

import re
from typing import Dict, Iterable, List, Pattern, Tuple

from .errors import ApiError
from .path_templates import template_pattern

# Connexion's own pages under the base path: the spec as JSON and YAML, and the Swagger UI
# (`ui` redirects to `ui/`, whose files are flat: `ui/index.html`, `ui/swagger-ui.css`...);
# then the extension document (meet_external/extension.py).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
DOCUMENT_PATTERNS = (r"/openapi\.json", r"/openapi\.yaml", r"/ui", r"/ui/[^/]*",
                     r"/extensions/openapi\.json", r"/extensions/openapi\.yaml")


class Routes:
    """The API's paths under the base path, the methods each one answers, and the documents.

    `paths` are the file's; `extensions` those of the extension document, whose
    operations Connexion serves under `extension_prefix` (meet_external/extension.py).
    """

    def __init__(self, base_path: str, paths: Dict[str, Iterable[str]],
                 extensions: Dict[str, Iterable[str]] | None = None, extension_prefix: str = "",
                 documents: Iterable[str] = DOCUMENT_PATTERNS):
        self.base_path = base_path.rstrip("/")
        self.extension_base = self.base_path + extension_prefix
        self.methods: List[Tuple[Pattern, Tuple[str, ...], bool]] = [
            (template_pattern(self.base_path + path), _with_head(methods), extended)
            for extended, group in ((False, paths), (True, extensions or {}))
            for path, methods in group.items()
        ]
        self.documents = re.compile(
            "^" + re.escape(self.base_path) + "(?:" + "|".join(documents) + ")$")

    def _methods(self, path: str, extended: bool | None = None) -> Tuple[str, ...]:
        found = set()
        for pattern, methods, in_extension in self.methods:
            if (extended is None or extended == in_extension) and pattern.match(path):
                found.update(methods)
        return tuple(sorted(found))

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

    def served_path(self, path: str, method: str = "GET") -> str | None:
        """The path to route a request to: the spelling of a spec path (moved under the extension
        prefix for the extension's operations, and for any method of a path only the extension
        has, so that its 405 is answered there), a document, or None."""
        if self.documents.match(path):
            return path
        if _CONTROL.search(path):
            # No path of the API holds one, and Connexion's and Flask's routers disagree on
            # a newline in a path parameter (one matches, the other not: a 500).
            return None
        served = path if self._methods(path) else self.canonical(path)
        if served is not None and (method in self._methods(served, extended=True)
                                   or not self._methods(served, extended=False)):
            return self.extension_base + served[len(self.base_path):]
        return served

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
    file's before Connexion routes it, with no redirect (and the extension's
    operations to where Connexion serves them). Any other path there (`//rooms`,
    `/rooms//`, `/application/token//`) is a JSON 404 here, before Starlette's or
    werkzeug's routers can answer it with a redirect of their own.

    OPTIONS is a 204 without `Allow` (RFC 9110 §9.3.7 makes it optional): the
    methods of `/rooms/{id}` are described by two documents, and an `Allow` of all
    of them contradicts the file while one of the file's hides the extension
    (docs/contract-decisions.md, OPTIONS).
    """

    def __init__(self, app, routes: Routes):
        self.app = app
        self.routes = routes

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and self.routes.under_base_path(scope["path"]):
            served = self.routes.served_path(scope["path"], scope["method"])
            if served is None:
                raise ApiError(404, "Not found.")
            if scope["method"] == "OPTIONS":
                await send({"type": "http.response.start", "status": 204, "headers": []})
                await send({"type": "http.response.body", "body": b""})
                return
            if served != scope["path"]:
                scope = dict(scope, path=served, raw_path=served.encode())
        await self.app(scope, receive, send)
