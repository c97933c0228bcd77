"""Which paths the API serves: one rule for every path under the base path (docs/api-users.md).

Where each path goes is the route table's to say (meet_external/http/routes.py).
"""

from __future__ import annotations

from ..errors import ApiError
from .routes import RouteTable


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

    def __init__(self, app, routes: RouteTable):
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
