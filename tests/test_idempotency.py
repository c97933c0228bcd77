"""`Idempotency-Key` on POST /rooms (docs/api-users.md)."""

import concurrent.futures
import datetime

import httpx
import pytest

from meet_external import models
from meet_external.models import IdempotencyRecord, Room

from .conftest import ROOMS_URL, TOKEN_URL
from .support.server import ServerProcess


def create(client, auth, key, **kwargs):
    return client.post(ROOMS_URL, headers={**auth, "Idempotency-Key": key}, **kwargs)


def room_count():
    with models.database.connection_context():
        return Room.select().count()


def test_a_repeated_key_replays_the_first_201(client, auth):
    first = create(client, auth, "order-42", json={})
    again = create(client, auth, "order-42", json={})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert room_count() == 1


@pytest.mark.parametrize("second", [{}, {"content": b""}, {"json": {}}, {"content": b"{ }"}])
def test_empty_object_empty_body_and_no_body_are_the_same_request(client, auth, second):
    first = create(client, auth, "k")
    headers = {"Content-Type": "application/json"} if "content" in second else {}
    again = client.post(ROOMS_URL, headers={**auth, **headers, "Idempotency-Key": "k"}, **second)
    assert again.status_code == 201
    assert again.json() == first.json()


def test_bodies_are_compared_as_canonical_json(client, auth):
    headers = {**auth, "Content-Type": "application/json", "Idempotency-Key": "k"}
    first = client.post(ROOMS_URL, content=b'{"a": 1, "b": [1, 2]}', headers=headers)
    again = client.post(ROOMS_URL, content=b'{"b":[1,2],"a":1}', headers=headers)
    assert again.json() == first.json()


@pytest.mark.parametrize("first, again", [
    (b'{"a": 1}', b'{"a": 1.0}'),
    (b'{"a": 10}', b'{"a": 1e1}'),
    (b'{"a": 1000000000000000000000000000000}', b'{"a": 1e30}'),
    (b'{"a": [0.5, -0]}', b'{"a": [5e-1, 0.0]}'),
    (b'{"a": {"y": 1, "x": 2.50}}', b'{"a": {"x": 2.5, "y": 1.0}}'),
])
def test_equal_numbers_are_the_same_body(client, auth, first, again):
    headers = {**auth, "Content-Type": "application/json", "Idempotency-Key": "k"}
    created = client.post(ROOMS_URL, content=first, headers=headers)
    replayed = client.post(ROOMS_URL, content=again, headers=headers)
    assert (replayed.status_code, replayed.json()) == (201, created.json())
    assert room_count() == 1


@pytest.mark.parametrize("first, again", [
    (b'{"a": 1}', b'{"a": "1"}'), (b'{"a": 1}', b'{"a": true}'), (b'{"a": 0}', b'{"a": null}'),
    (b'{"a": 0.1}', b'{"a": 0.10001}'), (b'{"a": [1, 2]}', b'{"a": [2, 1]}'),
])
def test_different_values_are_different_bodies(client, auth, first, again):
    headers = {**auth, "Content-Type": "application/json", "Idempotency-Key": "k"}
    assert client.post(ROOMS_URL, content=first, headers=headers).status_code == 201
    assert client.post(ROOMS_URL, content=again, headers=headers).status_code == 422


def test_same_key_different_body_is_422(client, auth):
    create(client, auth, "k", json={"a": 1})
    response = create(client, auth, "k", json={"a": 2})
    assert response.status_code == 422
    assert response.json() == {"detail": "This Idempotency-Key was used with a different request body."}
    assert room_count() == 1


def test_while_the_first_request_runs_the_answer_is_409(client, auth, user, credentials):
    from meet_external.api.idempotency import body_fingerprint
    with models.database.connection_context():
        IdempotencyRecord.claim(credentials.client_id, user.id, "busy", body_fingerprint({}))
    response = create(client, auth, "busy")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "A request with this Idempotency-Key is still in progress; retry later."}
    assert room_count() == 0


def test_an_abandoned_first_request_is_taken_over_after_60_seconds(client, auth, user, credentials):
    from meet_external.api.idempotency import body_fingerprint
    with models.database.connection_context():
        record, _ = IdempotencyRecord.claim(credentials.client_id, user.id, "stale", body_fingerprint({}))
        IdempotencyRecord.update(started_at=record.started_at - datetime.timedelta(seconds=61)).execute()
    assert create(client, auth, "stale").status_code == 201
    assert room_count() == 1


def test_keys_expire_after_24_hours(client, auth):
    first = create(client, auth, "old")
    with models.database.connection_context():
        record = IdempotencyRecord.get()
        record.created_at -= datetime.timedelta(hours=24, seconds=1)
        record.save()
    again = create(client, auth, "old")
    assert again.status_code == 201
    assert again.json()["id"] != first.json()["id"]


def test_a_failed_first_request_frees_the_key(make_client, credentials, user, monkeypatch):
    with make_client() as client:
        token = client.post(TOKEN_URL, json=credentials.token_request(user.email)).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        monkeypatch.setattr("meet_external.models.rooms.creation.new_slug", lambda: "aaa-aaaa-aaa")
        assert create(client, auth, "free").status_code == 201
        assert create(client, auth, "fails").status_code == 503  # every slug collides
        monkeypatch.undo()
        assert create(client, auth, "fails").status_code == 201
    assert room_count() == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there"])
def test_malformed_keys_are_400(client, auth, key):
    response = client.post(ROOMS_URL, headers={**auth, "Idempotency-Key": key.encode("utf-8")})
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Idempotency-Key must be 1 to 255 printable ASCII characters.",
        "errors": {"Idempotency-Key": ["Must be 1 to 255 printable ASCII characters."]},
    }


def test_keys_of_different_users_or_applications_never_meet(client, make_user, make_application, auth):
    mine = create(client, auth, "shared-key")
    other_user = make_user("bob@example.com")
    other_app = make_application(name="Other")
    for credentials, email in ((other_app, "alice@example.com"), (other_app, other_user.email)):
        token = client.post(TOKEN_URL, json=credentials.token_request(email)).json()["access_token"]
        theirs = create(client, {"Authorization": f"Bearer {token}"}, "shared-key")
        assert theirs.status_code == 201
        assert theirs.json()["id"] != mine.json()["id"]
    assert room_count() == 3


def test_concurrent_duplicates_across_workers_create_one_room(database_url, tmp_path, credentials, user):
    with ServerProcess(database_url, workers=2).start(str(tmp_path / "s.log")) as server:
        token = httpx.post(f"{server.url}{TOKEN_URL}",
                           json=credentials.token_request(user.email)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "once"}

        def post(_):
            return httpx.post(f"{server.url}{ROOMS_URL}", headers=headers, json={}, timeout=30)

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(post, range(16)))
        # Retry the 409s until the first request has finished: all end on the same room.
        final = [r if r.status_code != 409 else post(0) for r in responses]
    assert {r.status_code for r in responses} <= {201, 409}
    assert {r.status_code for r in final} == {201}
    assert len({r.json()["id"] for r in final}) == 1
    assert room_count() == 1
