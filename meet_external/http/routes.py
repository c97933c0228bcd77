"""The route table: where a request's path is served and which operation it reaches.

One table, built once from the two documents, the routes outside the base path (the probes,
`/metrics`) and the documents' own pages, answers both questions, so that a request is named
by the operation its path is served to: the path rule (meet_external/http/paths.py) and the error
handler's `Allow` ask where a path goes and what it allows; the metrics and the logs ask which
operation it names, and that operation's path template.

Connexion's own routing result (`scope["extensions"]["connexion_routing"]`) cannot serve here:
the names are taken in the outermost middlewares, before the path rule rewrites the path for
Connexion's router, and for requests that router never sees (the path rule's 404s, the probes and
`/metrics`, which Flask serves, the documents). Templates are compiled by Starlette's
`compile_path`, as Connexion's router compiles them.
"""

from __future__ import annotations

import re
from typing import Dict, Iterable, List, Pattern, Tuple

from starlette.routing import compile_path

DOCS = "docs"
OTHER = "other"
# Connexion's own pages under the base path: the spec as JSON and YAML, and the Swagger UI
# (`ui` redirects to `ui/`, whose files are flat: `ui/index.html`, `ui/swagger-ui.css`...);
# then the extension document (meet_external/api/extension.py).
DOCUMENT_PATTERNS = (r"/openapi\.json", r"/openapi\.yaml", r"/ui", r"/ui/[^/]*",
                     r"/extensions/openapi\.json", r"/extensions/openapi\.yaml")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Operation = Tuple[str, str, str]  # (the document's path, method, operationId)
ByMethod = Dict[str, str]  # method -> operationId


class _Template:
    """One path template under the base path, and the operation of each method in each document."""

    __slots__ = ("pattern", "file", "extension")

    def __init__(self, template: str):
        self.pattern: Pattern = compile_path(template)[0]
        self.file: ByMethod = {}
        self.extension: ByMethod = {}


class RouteTable:
    """The API's paths under the base path, the operation of each method, and the documents.

    `operations` are the file's; `extensions` those of the extension document, which Connexion
    serves under `extension_prefix` (meet_external/api/extension.py). `routes` names the paths
    outside the base path (path -> name), whatever the method.
    """

    def __init__(self, base_path: str, operations: Iterable[Operation],
                 extensions: Iterable[Operation] = (), extension_prefix: str = "",
                 routes: Dict[str, str] | None = None, documents: Iterable[str] = DOCUMENT_PATTERNS):
        self.base_path = base_path.rstrip("/")
        self.extension_base = self.base_path + extension_prefix
        self.routes = dict(routes or {})
        self.templates: Dict[str, str] = {name: path for path, name in self.routes.items()}
        paths: Dict[str, _Template] = {}
        for extended, group in ((False, operations), (True, extensions)):
            for path, method, name in group:
                template = self.base_path + path
                self.templates[name] = template
                if template not in paths:
                    paths[template] = _Template(template)
                by_method = paths[template].extension if extended else paths[template].file
                by_method[method.upper()] = name
                if method.upper() == "GET":
                    by_method.setdefault("HEAD", name)  # a GET's route answers HEAD too
        self._paths: List[_Template] = list(paths.values())
        self.documents = re.compile(
            "^" + re.escape(self.base_path) + "(?:" + "|".join(documents) + ")$")

    def _operations(self, path: str) -> Tuple[ByMethod, ByMethod]:
        """The operations a path reaches in the file and in the extension, by method."""
        file: ByMethod = {}
        extension: ByMethod = {}
        for entry in self._paths:
            if entry.pattern.match(path):
                file.update(entry.file)
                extension.update(entry.extension)
        return file, extension

    def _methods(self, path: str) -> Tuple[str, ...]:
        """The methods of a path, under this spelling only."""
        file, extension = self._operations(path)
        return tuple(sorted(file.keys() | extension.keys()))

    def _served(self, path: str, method: str) -> Tuple[str | None, str]:
        """Where a request is routed (or None: a 404), and the name of what it reaches there."""
        if self.documents.match(path):
            return path, DOCS
        if _CONTROL.search(path):
            # No path of the API holds one, and Connexion's and Flask's routers disagree on
            # a newline in a path parameter (one matches, the other not: a 500).
            return None, OTHER
        spelling: str | None = path
        file, extension = self._operations(path)
        if not (file or extension):
            spelling = self.canonical(path)
            if spelling is None:
                return None, OTHER
            file, extension = self._operations(spelling)
        # The extension's operations, and any method of a path only the extension has (so
        # that its 405 is answered there), are routed under the extension's prefix.
        if method in extension or not file:
            return self.extension_base + spelling[len(self.base_path):], extension.get(method, OTHER)
        return spelling, file.get(method, OTHER)

    def under_base_path(self, path: str) -> bool:
        return path == self.base_path or path.startswith(self.base_path + "/")

    def canonical(self, path: str) -> str | None:
        """The document's spelling of a path that differs only by its trailing slash."""
        if not path.startswith(self.base_path + "/") or self._methods(path):
            return None
        alias = path[:-1] if path.endswith("/") else path + "/"
        if path.endswith("//") or not self._methods(alias):  # one slash toggled, no more
            return None
        return alias

    def served_path(self, path: str, method: str = "GET") -> str | None:
        """The path to route a request to: the spelling of a spec path (moved under the extension
        prefix for the extension's operations), a document, or None."""
        return self._served(path, method)[0]

    def allowed_methods(self, path: str) -> Tuple[str, ...]:
        """The methods a path answers, under either spelling."""
        return self._methods(path) or self._methods(self.canonical(path) or "")

    def name(self, method: str, path: str) -> str:
        """The operation a request reaches: its operationId, a route's name, `docs` or `other`."""
        route = self.routes.get(path)
        if route is not None:
            return route
        return self._served(path, method)[1]

    def template(self, name: str) -> str | None:
        """The path template of an operation or route name; None for `docs` and `other`."""
        return self.templates.get(name)
