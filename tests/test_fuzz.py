"""Conformance fuzzing with schemathesis against a real server process (docs/contract-decisions.md).

The file and the extension document, each with all checks and all phases; the
only relaxation is `status_code_conformance` on the file's listRooms and
createRoom (the extension documents its own 400s). FUZZ_MAX_EXAMPLES (tox -e fuzz)
raises the budget.
"""

import os
import re
import shutil
import subprocess
import uuid

import httpx
import pytest

from meet_external import models
from meet_external.models import Application, User
from meet_external.models.access.credentials import make_secret_hash
from meet_external.models.tables.applications import KNOWN_SCOPES

from .support.server import ServerProcess

# The file's own example credentials: the examples phase then succeeds end to end.
EXAMPLE_CLIENT_ID = "550e8400-e29b-41d4-a716-446655440000"
EXAMPLE_SECRET = "1234567890abcdefghijklmnopqrstuvwxyz"
EXAMPLE_EMAIL = "user@example.com"
# The room of the documents' examples: the examples phase then reaches it.
EXAMPLE_ROOM = uuid.UUID("7c9e6679-7425-40de-944b-e07fc1f90ae7")

CONFIG = """
seed = {seed}
suppress-health-check = ["all"]

[generation]
max-examples = {max_examples}

[checks]
enabled = true
"""
FILE_RELAXATION = """
[[operations]]
include-operation-id = ["listRooms", "createRoom"]
checks.status_code_conformance.enabled = false
"""
# document -> (its path, its relaxation, the server's settings). The extension is fuzzed as a
# server with the default settings serves it (no `public` rooms: meet_external/api/extension.py),
# but for user creation: which emails name users is data, not schema, so with it off a valid
# attendee or grantee can be a documented 400 (tested in tests/test_room_changes.py and
# tests/test_room_grants.py).
DOCUMENTS = {
    "file": ("openapi.json", FILE_RELAXATION, {}),
    "extension": ("extensions/openapi.json", "", {"APPLICATION_ALLOW_USER_CREATION": "true"}),
}
# The users the extension's examples name (attendees, a grantee): they exist, as a client's would.
EXAMPLE_PEOPLE = ("alice@example.org", "bob@example.org")


@pytest.fixture
def seeded_example_credentials():
    with models.database.connection_context():
        Application.create(name="Example", client_id=EXAMPLE_CLIENT_ID,
                           client_secret=make_secret_hash(EXAMPLE_SECRET), scopes=list(KNOWN_SCOPES))
        user = User.create_user(EXAMPLE_EMAIL)
        for email in EXAMPLE_PEOPLE:
            User.create_user(email)
        with models.database.atomic():
            models.Resource.create(id=EXAMPLE_ROOM)
            models.Room.create(resource=EXAMPLE_ROOM, name="aae-erez-aaz", slug="aae-erez-aaz",
                               access_level="trusted", configuration={})
            models.ResourceAccess.grant(EXAMPLE_ROOM, user.id, "owner")
            models.RoomCreation.create(room_id=EXAMPLE_ROOM, user_id=user.id, client_id=EXAMPLE_CLIENT_ID)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_schemathesis_finds_no_failure(database_url, tmp_path, seeded_example_credentials, document):
    path, relaxation, settings = DOCUMENTS[document]
    schemathesis = shutil.which("schemathesis") or shutil.which("st")
    assert schemathesis, "schemathesis is a test dependency: pip install '.[test]'"
    max_examples = int(os.environ.get("FUZZ_MAX_EXAMPLES", "15"))
    (tmp_path / "schemathesis.toml").write_text(
        CONFIG.format(seed=os.environ.get("FUZZ_SEED", "20261128"), max_examples=max_examples)
        + relaxation)
    # The brute-force brake would turn the fuzzer's wrong secrets into 429s.
    server = ServerProcess(database_url, env={"TOKEN_RATE_LIMIT": "1000000/second", **settings})
    with server.start(str(tmp_path / "server.log")):
        token = httpx.post(f"{server.url}/external-api/v1.0/application/token/", json={
            "client_id": EXAMPLE_CLIENT_ID, "client_secret": EXAMPLE_SECRET,
            "grant_type": "client_credentials", "scope": EXAMPLE_EMAIL,
        }).json()["access_token"]
        result = subprocess.run(
            [schemathesis, "run", f"{server.url}/external-api/v1.0/{path}",
             "--phases", "examples,coverage,fuzzing,stateful",
             "-H", f"Authorization: Bearer {token}", "--no-color"],
            cwd=tmp_path, capture_output=True, text=True, timeout=900,
        )
    summary = re.search(r"Test cases:\n\s*(.*)", result.stdout)
    print(f"schemathesis on the {document} (max-examples {max_examples}):"
          f" {summary.group(1) if summary else '?'}")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Internal Server Error" not in server.log()
