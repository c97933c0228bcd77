"""What README.md and docs/operators.md say of the code, checked against the code."""

from __future__ import annotations

import pathlib
import re

from meet_external.cli import demo
from meet_external.config import Config
from meet_external.server import threads

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
OPERATORS = (ROOT / "docs" / "operators.md").read_text()
NUMBERS = {"three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}


def recorded_events() -> set:
    """The events the code writes to the audit log (audit.record, and the rooms' _audit)."""
    sources = [path.read_text() for folder in ("meet_external", "handlers", "models")
               for path in (ROOT / folder).rglob("*.py")]
    return {event for text in sources
            for event in re.findall(r"""(?:audit\.record|_audit)\(\s*["']([a-z_]+\.[a-z_]+)["']""", text)}


def test_the_audit_table_lists_every_event_the_code_records():
    section = OPERATORS.split("## Logs: the audit log and the others", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", section, re.M))
    assert {"room.updated", "room.deleted"} <= recorded_events()
    assert documented == recorded_events()


def test_the_demo_prints_as_many_curl_commands_as_the_guide_says(database_url, capsys):
    config = demo.demo_config(Config(database_url=database_url))
    demo.seed_and_print(config, "127.0.0.1", 8000)
    printed = capsys.readouterr().out
    (said,) = re.findall(r"prints the credentials and (\w+) ready `curl` commands", OPERATORS)
    assert NUMBERS[said] == len(re.findall(r"(?:^\s*|\$\()curl ", printed, re.M)) == 7


def test_the_connections_per_worker_are_said_once_and_as_the_threads_hold_them():
    # One connection per handler thread (models/storage/db.py), and one at start-up.
    per_worker = Config().request_threads + threads.TOKEN_THREADS + 1
    assert re.findall(r"(\d+) connections per worker", OPERATORS) == [str(per_worker)]
    assert re.findall(r"workers × (\d+)", OPERATORS) == [str(per_worker)] * 2
    assert not re.search(r"up to \d+ (?:database )?connections", OPERATORS)


def test_the_quick_start_says_it_runs_from_a_checkout():
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)```", quick_start, re.S)
    assert commands[:3] == [
        "git clone <this repository's URL> meet-external && cd meet-external\n",
        "pip install . && meet-external serve --demo\n",
        "pip install 'tox>=4' && tox\n",
    ]


def test_where_the_readme_shows_metrics_it_says_how_to_turn_them_on():
    for paragraph in README.split("\n\n"):
        if "/metrics" in paragraph:
            assert "METRICS_ENABLED=true" in paragraph, paragraph


LAYOUT = (ROOT / "docs" / "layout.md").read_text()


def test_every_path_the_layout_names_exists():
    named = set(re.findall(r"`([\w.]+/[\w/.]*)`", LAYOUT))
    missing = [path for path in named
               if not any((ROOT / base / path).exists() for base in ("", "meet_external", "models"))]
    assert len(named) > 30 and missing == []


def test_the_layout_describes_every_sub_package():
    for folder in ("meet_external", "models"):
        section = LAYOUT.split(f"## {folder}/\n", 1)[1].split("\n## ", 1)[0]
        for init in (ROOT / folder).glob("*/__init__.py"):
            assert f"`{init.parent.name}/`" in section, f"{folder}/{init.parent.name}"
