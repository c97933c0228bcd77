"""Meet's schema dumps for the attached tests (tests/support/meet_dumps.py): without them a test
skips and says what to provide, except under CI, where it fails."""

from __future__ import annotations

import pytest

from .support import meet_dumps


@pytest.fixture
def no_dumps(monkeypatch, tmp_path):
    monkeypatch.setenv(meet_dumps.ENV_SCHEMA_DIR, str(tmp_path))
    return tmp_path


def test_without_the_dumps_a_test_skips_naming_them_and_where_they_come_from(no_dumps, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        with meet_dumps.meet_database("0022"):
            pass
    message = str(skipped.value)
    assert message.startswith(f"Meet's schema dumps meet-493d7b96.sql, meet-e5f0b1c2.sql are not in"
                              f" {no_dumps}: set MEET_TEST_SCHEMA_DIR to the folder that holds them,")
    assert str(meet_dumps.BESIDE_THE_REPOSITORY) in message and "schema.sh" in message


@pytest.mark.parametrize("ci", ["true", "1"])
def test_under_ci_a_missing_dump_fails(no_dumps, monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    (no_dumps / "meet-493d7b96.sql").write_text("-- one of the two\n")
    with pytest.raises(pytest.fail.Exception) as failed:
        with meet_dumps.meet_database("0015"):
            pass
    assert str(failed.value).startswith(f"Meet's schema dumps meet-e5f0b1c2.sql are not in {no_dumps}:")
    assert str(failed.value).endswith("; under CI these tests must run")


def test_the_folder_is_beside_the_repository_unless_named(monkeypatch, tmp_path):
    monkeypatch.delenv(meet_dumps.ENV_SCHEMA_DIR, raising=False)
    assert meet_dumps.schema_dir() == meet_dumps.BESIDE_THE_REPOSITORY
    assert meet_dumps.BESIDE_THE_REPOSITORY.parts[-2:] == ("shared", "meet-schema")
    monkeypatch.setenv(meet_dumps.ENV_SCHEMA_DIR, str(tmp_path))
    assert meet_dumps.schema_dir() == tmp_path
