"""Probes (meet_external/ops/probes.py): this project's and Dockerflow's, with the database up and
down, on the run's database (SQLite, or PostgreSQL with MEET_TEST_DATABASE=postgresql)."""

from __future__ import annotations

import json

import pytest

import meet_external
from meet_external.ops import probes

from .support.unreachable import database_that_goes_away

UNAVAILABLE = {"detail": "Service temporarily unavailable: the database cannot be reached."}
PROCESS_ONLY = ["/healthz", "/__lbheartbeat__"]
DATABASE = {"/readyz": {"status": "ok", "database": "reachable"},
            "/__heartbeat__": {"status": "ok", "checks": {"database": "ok"}}}


def assert_json(response, status: int, body: dict) -> None:
    assert (response.status_code, response.headers["content-type"], response.json()) == (
        status, "application/json", body)


@pytest.mark.parametrize("path", PROCESS_ONLY)
def test_process_probes(client, path):
    assert_json(client.get(path), 200, {"status": "ok"})
    head = client.head(path)
    assert (head.status_code, head.content) == (200, b"")


@pytest.mark.parametrize("path", list(DATABASE))
def test_database_probes_when_it_answers(client, path):
    assert_json(client.get(path), 200, DATABASE[path])


def test_with_the_database_down_only_the_database_probes_fail(make_client, tmp_path):
    with database_that_goes_away(tmp_path) as (url, gone), \
            make_client(database_url=url, fresh=True) as client:
        gone()
        for path in PROCESS_ONLY:
            assert_json(client.get(path), 200, {"status": "ok"})
        for path in DATABASE:
            response = client.get(path)
            assert_json(response, 503, UNAVAILABLE)
            assert response.headers["retry-after"] == "5"
        assert_json(client.get("/__version__"), 200, {"source": "meet-external",
                                                      "version": meet_external.__version__})


@pytest.mark.parametrize("path", PROCESS_ONLY + list(DATABASE) + ["/__version__"])
def test_probes_answer_only_reads(client, path):
    response = client.post(path)
    assert_json(response, 405, {"detail": "Method not allowed."})
    assert response.headers["allow"] == "GET, HEAD"


def test_version_without_build_information(client):
    assert_json(client.get("/__version__"), 200, {"source": "meet-external",
                                                  "version": meet_external.__version__})


@pytest.fixture
def build_file():
    """The file an image build writes into the package (Dockerfile), removed afterwards."""
    path = probes.importlib.resources.files("meet_external") / probes.BUILD_FILE
    assert not path.exists(), f"{path} exists already: a build left it in this checkout"

    def write(content: str) -> None:
        path.write_text(content, encoding="utf-8")

    try:
        yield write
    finally:
        if path.exists():
            path.unlink()


def test_version_with_the_commit_and_source_of_the_build(build_file, make_client):
    build_file(json.dumps({"commit": "0123456789abcdef0123456789abcdef01234567",
                           "source": "https://git.example.org/meet-external"}))
    with make_client(fresh=True) as client:
        assert_json(client.get("/__version__"), 200, {
            "source": "https://git.example.org/meet-external",
            "version": meet_external.__version__,
            "commit": "0123456789abcdef0123456789abcdef01234567",
        })


@pytest.mark.parametrize("content", [
    "not json", "[]", json.dumps({"commit": "HEAD; rm -rf /", "source": ""}),
    json.dumps({"commit": 12345678, "source": "x" * 256}),
])
def test_malformed_build_information_is_ignored(build_file, content):
    build_file(content)
    assert probes.version_info() == {"source": "meet-external", "version": meet_external.__version__}
