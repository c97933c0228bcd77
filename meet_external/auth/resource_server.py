"""Resource-server tokens: opaque OIDC access tokens, checked by introspection at the provider.

Accepted as La Suite's resource server accepts them (docs/operators.md#resource-server-tokens):
`active` true, `scope` present and sharing a value with OIDC_RS_SCOPES, the audience claim
present, `sub` naming a Meet user (created when OIDC_CREATE_USER). Beyond Meet, an active
answer is kept, keyed by an HMAC of the token, for at most OIDC_RS_CACHE_SECONDS and never
past its `exp`: in `meet_external_introspections`, shared by every worker, with this
process's copy in front; concurrent first uses of one token in a worker make one call.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import contextlib
import hashlib
import hmac
import logging
import time
from typing import Dict

from ..models.access.delegation import RESOURCE_SERVER, Delegation, UnknownUser
from ..models.access.introspections import IntrospectionAnswer, KeptAnswer, user_for_sub
from ..models.storage.db import connection
from .introspection import Introspector
from .jwts import INVALID_TOKEN, unauthorized
from .scopes import scope_values
from .settings import ResourceServerSettings

logger = logging.getLogger("meet_external.auth")

# What rooms made with a resource-server token record as their client: the provider's client,
# apart from any application's client_id (docs/contract-decisions.md).
CLIENT_PREFIX = "oidc:"
MAX_CLIENT_ID_LENGTH = 100  # meet_external_room_creations.client_id
PROCESS_COPIES = 10_000
MAX_SUB_LENGTH = 255  # meet_user.sub


class ResourceServer:
    """One per process: the introspection client, the kept answers and the calls in flight."""

    def __init__(self, settings: ResourceServerSettings):
        self.settings = settings
        self.introspector = Introspector(settings)
        # The database never holds the client secret: its rows alone give no way to test tokens.
        self._key = hmac.new(settings.client_secret.encode(), b"meet-external introspection cache",
                             hashlib.sha256).digest()
        self._copies: Dict[str, KeptAnswer] = {}
        self._in_flight: Dict[str, asyncio.Task] = {}
        # The database's work for the event loop (kept answers, users): a few threads of their own.
        self._threads = concurrent.futures.ThreadPoolExecutor(max_workers=2,
                                                              thread_name_prefix="introspection")

    def digest(self, token: str) -> str:
        return hmac.new(self._key, token.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    async def answer_for(self, bearer: str) -> KeptAnswer:
        """The accepted answer about the bearer: kept, or asked for (once per worker at a time)."""
        token = _unwrapped(bearer)
        digest = self.digest(token)
        copy = self._copies.get(digest)
        if copy is not None and copy.expires_at > time.time():
            return copy
        task = self._in_flight.get(digest)
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            task = asyncio.ensure_future(self._first_use(token, digest))
            self._in_flight[digest] = task
            task.add_done_callback(lambda done: self._forget(digest, done))
        # A request that goes away does not cancel the call the others wait for.
        return await asyncio.shield(task)

    def _forget(self, digest: str, task: asyncio.Task) -> None:
        if self._in_flight.get(digest) is task:
            del self._in_flight[digest]

    async def _first_use(self, token: str, digest: str) -> KeptAnswer:
        caching = self.settings.cache_seconds > 0
        kept = await self._in_thread(IntrospectionAnswer.kept, digest) if caching else None
        if kept is None:
            answer = await self.introspector.introspect(token)
            sub, scope, audience, expires_at = self._accepted(answer)
            user = await self._in_thread(user_for_sub, sub, self.settings.create_user)
            if user is None:
                raise unauthorized(UnknownUser.message)
            kept = KeptAnswer(user.id, scope, audience, expires_at)
            if caching:
                await self._in_thread(IntrospectionAnswer.keep, digest, kept)
        if caching:
            self._keep_copy(digest, kept)
        return kept

    def _accepted(self, answer: dict) -> tuple:
        """(sub, scope, audience, kept until) of an answer La Suite's backend accepts; else 401."""
        settings = self.settings
        if answer.get("active") is not True:
            raise unauthorized(INVALID_TOKEN)
        # A JSON answer must name the provider as its `iss` (a JWT answer's is checked outside):
        # stricter than La Suite's backend, which skips a missing one (docs/contract-decisions.md).
        if not settings.jwt_answers and answer.get("iss") != settings.op_url:
            raise unauthorized(INVALID_TOKEN)
        now = time.time()
        exp = answer.get("exp")
        if isinstance(exp, (int, float)) and not isinstance(exp, bool) and exp <= now:
            raise unauthorized("Token expired.")
        values = scope_values(answer.get("scope"))
        wanted = {scope.lower() for scope in settings.scopes}
        if not values or wanted.isdisjoint(values):
            raise unauthorized(INVALID_TOKEN)
        audience = answer.get(settings.audience_claim)
        if isinstance(audience, list):
            audience = " ".join(str(item) for item in audience)
        sub = answer.get("sub")
        if not audience or not isinstance(sub, str) or not 0 < len(sub) <= MAX_SUB_LENGTH:
            raise unauthorized("Invalid token claims.")
        until = now + settings.cache_seconds
        if isinstance(exp, (int, float)) and not isinstance(exp, bool):
            until = min(until, float(exp))
        return sub, " ".join(values), str(audience), until

    def _keep_copy(self, digest: str, kept: KeptAnswer) -> None:
        if len(self._copies) >= PROCESS_COPIES:
            now = time.time()
            self._copies = {key: value for key, value in self._copies.items() if value.expires_at > now}
            if len(self._copies) >= PROCESS_COPIES:
                self._copies.clear()
        self._copies[digest] = kept

    async def _in_thread(self, function, *args):
        def run():
            with connection():
                return function(*args)

        return await asyncio.get_running_loop().run_in_executor(self._threads, run)

    @staticmethod
    def delegation(kept: KeptAnswer) -> Delegation:
        return Delegation(user_id=kept.user_id, client_id=client_id_of(kept.audience),
                          kind=RESOURCE_SERVER)


def client_id_of(audience: str) -> str:
    """`oidc:` and the provider's client; a fingerprint of it when too long for the records."""
    client_id = CLIENT_PREFIX + audience
    if len(client_id) > MAX_CLIENT_ID_LENGTH:
        client_id = CLIENT_PREFIX + "sha256:" + hashlib.sha256(audience.encode()).hexdigest()[:32]
    return client_id


def _unwrapped(bearer: str) -> str:
    """The token itself: La Suite's resource server also takes it base64-encoded."""
    with contextlib.suppress(binascii.Error, ValueError, UnicodeDecodeError):
        return base64.b64decode(bearer, validate=True).decode("utf-8")
    return bearer
