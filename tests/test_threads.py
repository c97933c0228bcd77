"""The pools Flask runs on (meet_external/server/threads.py): one hop to a thread and one back,
with the request and the answer as the WSGI app sees and gives them."""

import asyncio
import contextvars
import threading

import pytest

from meet_external.server.threads import WsgiPool

REQUEST_ID = contextvars.ContextVar("request_id", default=None)


def call(pool, scope, body_messages=({"type": "http.request", "body": b"", "more_body": False},)):
    """Run one ASGI call of `pool` on a fresh loop; returns the messages sent and the calls that
    wake the loop from another thread."""
    sent, incoming = [], list(body_messages)

    async def receive():
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    async def run():
        loop = asyncio.get_running_loop()
        wakeups = []
        threadsafe = loop.call_soon_threadsafe

        def counted(*args, **kwargs):
            wakeups.append(threading.current_thread())
            return threadsafe(*args, **kwargs)

        loop.call_soon_threadsafe = counted
        REQUEST_ID.set("req-1")
        await pool(scope, receive, send)
        return wakeups

    loop = asyncio.new_event_loop()
    try:
        return sent, loop.run_until_complete(run())
    finally:
        loop.close()


def http_scope(method="GET", path="/rooms", query=b"", headers=()):
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query,
            "root_path": "", "client": ("127.0.0.1", 4000), "server": ("127.0.0.1", 8000),
            "headers": [(b"host", b"127.0.0.1:8000"), *headers]}


@pytest.fixture
def seen():
    return {}


@pytest.fixture
def pool(seen):
    def app(environ, start_response):
        seen.update(method=environ["REQUEST_METHOD"], path=environ["PATH_INFO"],
                    query=environ["QUERY_STRING"], length=environ.get("CONTENT_LENGTH"),
                    body=environ["wsgi.input"].read(), thread=threading.current_thread(),
                    request_id=REQUEST_ID.get())
        write = start_response("201 Created", [("Content-Type", "application/json"),
                                               ("Location", "/rooms/1")])
        write(b'{"id":')
        return [b' "1"', b"}"]

    return WsgiPool(app, workers=2, name="test-pool")


def test_the_answer_is_sent_as_the_wsgi_app_gave_it(pool):
    sent, _ = call(pool, http_scope())
    assert sent == [
        {"type": "http.response.start", "status": 201,
         "headers": [(b"content-type", b"application/json"), (b"location", b"/rooms/1")]},
        {"type": "http.response.body", "body": b'{"id": "1"}'},
    ]


def test_the_request_reaches_the_app_with_its_body_on_a_pool_thread_in_the_requests_context(
        pool, seen):
    scope = http_scope("POST", "/rooms", b"page=2", [(b"content-length", b"11")])
    messages = [{"type": "http.request", "body": b'{"a"', "more_body": True},
                {"type": "http.request", "body": b': "b"}', "more_body": False}]
    call(pool, scope, messages)
    assert seen.pop("thread").name.startswith("test-pool")
    assert seen == {"method": "POST", "path": "/rooms", "query": "page=2", "length": "11",
                    "body": b'{"a": "b"}', "request_id": "req-1"}


def test_a_request_wakes_the_loop_from_its_thread_once(pool):
    """a2wsgi woke it for the body and for every message of the answer (four times or more)."""
    _, wakeups = call(pool, http_scope())
    assert len(wakeups) == 1


def test_a_client_gone_before_its_body_arrived_runs_nothing(pool, seen):
    sent, _ = call(pool, http_scope("POST"), [{"type": "http.disconnect"}])
    assert (sent, seen) == ([], {})


def test_an_error_of_the_app_reaches_the_caller_and_the_iterable_is_closed():
    closed = []

    class Failing:
        def __iter__(self):
            yield b"part"
            raise LookupError("broken")

        def close(self):
            closed.append(True)

    def app(environ, start_response):
        start_response("200 OK", [])
        return Failing()

    with pytest.raises(LookupError, match="broken"):
        call(WsgiPool(app, workers=1, name="failing"), http_scope())
    assert closed == [True]


def test_an_answer_restarted_with_exc_info_replaces_the_first_status():
    def app(environ, start_response):
        start_response("200 OK", [("X-First", "1")])
        start_response("500 Internal Server Error", [("X-Second", "2")], exc_info=(None, None, None))
        return [b"late"]

    sent, _ = call(WsgiPool(app, workers=1, name="restart"), http_scope())
    assert sent[0] == {"type": "http.response.start", "status": 500, "headers": [(b"x-second", b"2")]}


def test_the_lifespan_completes_without_the_app(pool, seen):
    events = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent = []

    async def receive():
        return next(events)

    async def send(message):
        sent.append(message["type"])

    asyncio.run(pool({"type": "lifespan"}, receive, send))
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert seen == {}
