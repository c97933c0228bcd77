"""Conformance fuzzing with schemathesis against a real server process (CONTRACT §9).

All checks and all phases; the only relaxation is `status_code_conformance` on
listRooms and createRoom. FUZZ_MAX_EXAMPLES (tox -e fuzz) raises the budget.
"""

import os
import re
import shutil
import subprocess

import httpx
import pytest

import models
from models import Application, User
from models.credentials import make_secret_hash

from .support.server import ServerProcess

# The file's own example credentials: the examples phase then succeeds end to end.
EXAMPLE_CLIENT_ID = "550e8400-e29b-41d4-a716-446655440000"
EXAMPLE_SECRET = "1234567890abcdefghijklmnopqrstuvwxyz"
EXAMPLE_EMAIL = "user@example.com"

CONFIG = """
seed = {seed}
suppress-health-check = ["all"]

[generation]
max-examples = {max_examples}

[checks]
enabled = true

[[operations]]
include-operation-id = ["listRooms", "createRoom"]
checks.status_code_conformance.enabled = false
"""


@pytest.fixture
def seeded_example_credentials():
    with models.database.connection_context():
        Application.create(name="Example", client_id=EXAMPLE_CLIENT_ID,
                           client_secret=make_secret_hash(EXAMPLE_SECRET),
                           scopes=["rooms:list", "rooms:retrieve", "rooms:create"])
        User.create_user(EXAMPLE_EMAIL)


def test_schemathesis_finds_no_failure(database_url, tmp_path, seeded_example_credentials):
    schemathesis = shutil.which("schemathesis") or shutil.which("st")
    assert schemathesis, "schemathesis is a test dependency: pip install '.[test]'"
    max_examples = int(os.environ.get("FUZZ_MAX_EXAMPLES", "15"))
    (tmp_path / "schemathesis.toml").write_text(
        CONFIG.format(seed=os.environ.get("FUZZ_SEED", "20261128"), max_examples=max_examples))
    # The brute-force brake would turn the fuzzer's wrong secrets into 429s.
    server = ServerProcess(database_url, env={"TOKEN_RATE_LIMIT": "1000000/second"})
    with server.start(str(tmp_path / "server.log")):
        token = httpx.post(f"{server.url}/external-api/v1.0/application/token/", json={
            "client_id": EXAMPLE_CLIENT_ID, "client_secret": EXAMPLE_SECRET,
            "grant_type": "client_credentials", "scope": EXAMPLE_EMAIL,
        }).json()["access_token"]
        result = subprocess.run(
            [schemathesis, "run", f"{server.url}/external-api/v1.0/openapi.json",
             "--phases", "examples,coverage,fuzzing,stateful",
             "-H", f"Authorization: Bearer {token}", "--no-color"],
            cwd=tmp_path, capture_output=True, text=True, timeout=900,
        )
    summary = re.search(r"Test cases:\n\s*(.*)", result.stdout)
    print(f"schemathesis (max-examples {max_examples}): {summary.group(1) if summary else '?'}")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Internal Server Error" not in server.log()
