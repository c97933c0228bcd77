"""La Suite Meet databases for tests: its schema as its migrations make it, at both ends of the
supported range (the dumps in ../shared/meet-schema beside the repository, or in the folder
MEET_TEST_SCHEMA_DIR names), and the layouts between them that differ for this project, derived
from the newest dump by undoing those migrations.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
from typing import Iterator

import pytest

from . import postgres

# Where the dumps are: MEET_TEST_SCHEMA_DIR (tox passes MEET_TEST_* on), else the project's
# shared folder beside the repository.
ENV_SCHEMA_DIR = "MEET_TEST_SCHEMA_DIR"
BESIDE_THE_REPOSITORY = pathlib.Path(__file__).resolve().parents[3] / "shared" / "meet-schema"
DUMPS = {"0015": "meet-493d7b96.sql", "0022": "meet-e5f0b1c2.sql"}
# Derived layouts: (the dump they start from, SQL that takes it back to that migration).
_UNDO_0022 = [
    "ALTER TABLE meet_user DROP COLUMN default_room_access_level",
    "ALTER TABLE meet_user DROP COLUMN default_room_configuration",
    "DELETE FROM django_migrations WHERE app = 'core' AND name >= '0022'",
]
_UNDO_0019 = [
    "DROP INDEX unique_email_when_sub_is_null",
    "DELETE FROM django_migrations WHERE app = 'core' AND name >= '0019'",
]
DERIVED = {
    "0021": ("0022", _UNDO_0022),
    "0018": ("0022", _UNDO_0022 + _UNDO_0019),
}
LAYOUTS = ("0015", "0018", "0021", "0022")
# The newest core migration of each layout, as django_migrations names it.
MIGRATIONS = {
    "0015": "0015_application_and_more",
    "0018": "0018_rename_active_application_is_active",
    "0021": "0021_recording_external_process_id_alter_recording_status",
    "0022": "0022_user_default_room_access_level_and_more",
}


def schema_dir() -> pathlib.Path:
    configured = os.environ.get(ENV_SCHEMA_DIR, "").strip()
    return pathlib.Path(configured) if configured else BESIDE_THE_REPOSITORY


def require_dumps() -> pathlib.Path:
    """The dumps' folder; without them the test skips, saying what to provide, or fails under CI."""
    folder = schema_dir()
    missing = [name for name in DUMPS.values() if not (folder / name).is_file()]
    if not missing:
        return folder
    reason = (f"Meet's schema dumps {', '.join(missing)} are not in {folder}: set {ENV_SCHEMA_DIR}"
              f" to the folder that holds them, or put the project's shared meet-schema folder at"
              f" {BESIDE_THE_REPOSITORY} (pg_dump --schema-only of La Suite Meet's database migrated"
              f" at commits 493d7b96 and e5f0b1c2, as the meet-peer scripts' schema.sh makes them:"
              f" docs/meet-compatibility.md)")
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason}; under CI these tests must run", pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def meet_database(layout: str) -> Iterator[str]:
    """A new PostgreSQL database holding Meet's schema at `layout`, dropped afterwards."""
    folder = require_dumps()
    base, undo = DERIVED.get(layout, (layout, []))
    with postgres.fresh_database(folder / DUMPS[base]) as url:
        if undo:
            postgres.run_sql(url, undo)
        yield url


def without_project_objects(dump: str) -> list:
    """pg_dump's statements, minus those of the project's own tables and indexes."""
    blocks = [block.strip() for block in dump.split("\n\n") if block.strip()]
    return [block for block in blocks if "meet_external_" not in block]
