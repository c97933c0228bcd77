"""Request validation helpers (meet_external/api/validation.py): field names and compiled validators,
and input no database can store (NUL, lone surrogates) refused like any other invalid value."""

import json
import subprocess
import sys
import urllib.parse

import pytest
from jsonschema import Draft4Validator

from meet_external.api import validation
from meet_external.models.tables.fields import storable_text

from .conftest import ROOMS_URL, TOKEN_URL, row_counts


@pytest.mark.parametrize("required, instance, field", [
    (["client_id", "scope"], {"scope": "x"}, "client_id"),
    (["client_id", "scope"], {"client_id": "x"}, "scope"),
    (["it's", "b"], {}, "it's"),
    (['say "hi"'], {}, 'say "hi"'),
])
def test_the_missing_field_is_read_from_the_schema_not_the_message(required, instance, field):
    errors = list(Draft4Validator({"type": "object", "required": required}).iter_errors(instance))
    assert validation.field_of(errors[0]) == field


def test_the_first_missing_field_of_the_file_is_named(client):
    response = client.post(TOKEN_URL, json={"grant_type": "client_credentials"})
    assert response.json() == {"error": "client_id: This field is required."}


def test_one_compiled_validator_per_schema_object():
    schema, same_content = {"type": "integer"}, {"type": "integer"}
    validator = validation._schema_validator(schema)
    assert validation._schema_validator(schema) is validator
    assert validation._schema_validator(same_content) is not validator
    assert validator.schema is schema


def test_validation_does_not_depend_on_the_grant():
    """The request layer names the email message without importing the grant logic."""
    code = "import sys, meet_external.api.validation; print('meet_external.auth.grant' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# --- input a database cannot store: the same 400 as any other invalid value ----------------
# PostgreSQL refuses NUL in text, and no driver encodes a lone surrogate; on SQLite both
# could be stored. Either way the answer is the field's usual refusal, on both databases.

INVALID_EMAIL = {"error": "Scope should be a valid email address."}
UNSTORABLE_EMAILS = {
    "NUL at the end": "alice@EXAMPLE.COM\x00",
    "NUL in the domain": "alice@exa\x00mple.com",
    "NUL first": "\x00alice@example.com",
    "lone surrogate": "alice\ud800@example.com",
}
ALL_SCOPES = ("rooms:list", "rooms:retrieve", "rooms:create", "rooms:update", "rooms:delete")


def json_body(value) -> bytes:
    """JSON as a client may send it: NUL and lone surrogates escaped (`\\u0000`, `\\ud800`)."""
    return json.dumps(value).encode()


@pytest.mark.parametrize("email", UNSTORABLE_EMAILS.values(), ids=UNSTORABLE_EMAILS)
def test_an_unstorable_email_is_an_invalid_email_at_the_token_endpoint(client, credentials, user, email):
    before = row_counts()
    as_json = client.post(TOKEN_URL, content=json_body(credentials.token_request(email)),
                          headers={"Content-Type": "application/json"})
    assert (as_json.status_code, as_json.json()) == (400, INVALID_EMAIL)
    if storable_text(email.replace("\x00", "")):  # a form is UTF-8: it cannot carry a lone surrogate
        as_form = client.post(TOKEN_URL, content=urllib.parse.urlencode(credentials.token_request(email)),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert (as_form.status_code, as_form.json()) == (400, INVALID_EMAIL)
    assert row_counts() == before


def test_unstorable_credentials_are_just_wrong_credentials(client, credentials, user):
    for fields in ({"client_id": "\x00"}, {"client_id": "\udc00"}, {"client_secret": "x\x00"},
                   {"client_secret": "\ud800"}):
        body = json_body(credentials.token_request(user.email, **fields))
        response = client.post(TOKEN_URL, content=body, headers={"Content-Type": "application/json"})
        assert (response.status_code, response.json()) == (401, {"error": "Invalid credentials"}), fields
    grant_type = client.post(TOKEN_URL, json=credentials.token_request(
        user.email, grant_type="client_credentials\x00"))
    assert (grant_type.status_code, grant_type.json()) == (
        400, {"error": "grant_type: Must be one of: 'client_credentials'."})


@pytest.fixture
def every_scope(client, make_application, user) -> dict:
    application = make_application(scopes=ALL_SCOPES)
    response = client.post(TOKEN_URL, json=application.token_request(user.email))
    return {"Authorization": f"Bearer {response.json()['access_token']}", "Content-Type": "application/json"}


@pytest.mark.parametrize("email", UNSTORABLE_EMAILS.values(), ids=UNSTORABLE_EMAILS)
def test_an_unstorable_attendee_is_an_invalid_email(client, every_scope, user, make_room, email):
    room = make_room(user)
    body = json_body({"attendees": ["bob@example.com", email]})
    response = client.patch(f"{ROOMS_URL}/{room.id}", content=body, headers=every_scope)
    assert (response.status_code, response.json()) == (400, {
        "detail": "attendees.1: Must be a valid email.",
        "errors": {"attendees.1": ["Must be a valid email."]}})


def test_unstorable_text_elsewhere_is_refused_as_any_invalid_value(client, every_scope, user, make_room):
    room = make_room(user)
    levels = "Must be one of: 'public', 'trusted', 'restricted'."
    unknown = "Unknown field; the fields are: can_publish_sources, everyone_can_mute."
    answers = {
        "PATCH access_level": client.patch(f"{ROOMS_URL}/{room.id}", headers=every_scope,
                                           content=json_body({"access_level": "trusted\x00"})),
        "create access_level": client.post(ROOMS_URL, headers=every_scope,
                                           content=json_body({"access_level": "\ud800"})),
        "create configuration key": client.post(ROOMS_URL, headers=every_scope,
                                                content=json_body({"configuration": {"x\x00": True}})),
        "room id": client.get(f"{ROOMS_URL}/{room.id}%00", headers=every_scope),
        "page": client.get(f"{ROOMS_URL}?page=1%00", headers=every_scope),
        "Idempotency-Key": client.post(ROOMS_URL, headers={**every_scope, "Idempotency-Key": "k\x00"}),
    }
    bad_level = {"detail": f"access_level: {levels}", "errors": {"access_level": [levels]}}
    malformed_key = "Must be 1 to 255 printable ASCII characters."
    assert {name: (answer.status_code, answer.json()) for name, answer in answers.items()} == {
        "PATCH access_level": (400, bad_level),
        "create access_level": (400, bad_level),
        "create configuration key": (400, {"detail": f"configuration: {unknown}",
                                           "errors": {"configuration": [unknown]}}),
        "room id": (404, {"detail": "Not found."}),
        "page": (400, {"detail": "page: A valid integer is required.",
                       "errors": {"page": ["A valid integer is required."]}}),
        "Idempotency-Key": (400, {"detail": "Idempotency-Key must be 1 to 255 printable ASCII characters.",
                                  "errors": {"Idempotency-Key": [malformed_key]}}),
    }


def test_unstorable_text_in_an_ignored_field_creates_a_room(client, every_scope):
    """`POST /rooms` ignores fields it does not know; they are never stored."""
    response = client.post(ROOMS_URL, headers=every_scope, content=json_body({"name": "\x00", "\ud800": 1}))
    assert response.status_code == 201, response.text
