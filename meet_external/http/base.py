"""The opening every HTTP middleware of the project shares."""


class HttpMiddleware:
    """ASGI middleware that acts on HTTP requests; anything else (lifespan) passes through."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            await self.handle(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def handle(self, scope, receive, send):
        await self.app(scope, receive, send)
