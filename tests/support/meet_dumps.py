"""La Suite Meet databases for tests: its schema as its migrations make it, at both ends of the
supported range (the dumps in ../meet-schema beside the repository), and the layouts between
them that differ for this project, derived from the newest dump by undoing those migrations.
"""

from __future__ import annotations

import contextlib
import pathlib
from typing import Iterator

import pytest

from . import postgres

SCHEMA_DIR = pathlib.Path(__file__).resolve().parents[3] / "shared" / "meet-schema"
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


@contextlib.contextmanager
def meet_database(layout: str) -> Iterator[str]:
    """A new PostgreSQL database holding Meet's schema at `layout`, dropped afterwards."""
    if not SCHEMA_DIR.is_dir():
        pytest.skip(f"Meet's schema dumps are not at {SCHEMA_DIR}")
    base, undo = DERIVED.get(layout, (layout, []))
    with postgres.fresh_database(SCHEMA_DIR / DUMPS[base]) as url:
        if undo:
            postgres.run_sql(url, undo)
        yield url


def without_project_objects(dump: str) -> list:
    """pg_dump's statements, minus those of the project's own tables and indexes."""
    blocks = [block.strip() for block in dump.split("\n\n") if block.strip()]
    return [block for block in blocks if "meet_external_" not in block]
