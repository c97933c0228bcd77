"""Dependency warnings (meet_external/server/quiet.py): the known ones never reach standard error, any
other still does. A real server's whole output is checked in tests/test_serving.py."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .test_cli import ROOT


def python(program: str, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *flags, "-c", program], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "PYTHONUTF8": "1"})


@pytest.mark.parametrize("module", ["meet_external.app", "meet_external.cli.main", "meet_external.asgi"])
def test_importing_the_server_warns_of_nothing_even_when_every_warning_is_an_error(module):
    result = python(f"import {module}; import connexion.json_schema; print('imported')", "-W", "error")
    assert (result.returncode, result.stdout, result.stderr) == (0, "imported\n", "")


def test_the_same_imports_do_warn_without_the_filters():
    # The filters are what keeps these quiet: the dependencies do warn (if they stop, drop the filters).
    result = python("import connexion", "-W", "always")
    assert "StarletteDeprecationWarning" in result.stderr
    assert "jsonschema.RefResolver is deprecated" in result.stderr


def test_other_warnings_still_show():
    result = python("import meet_external.app, warnings;"
                    " warnings.warn('jsonschema.RefResolver is deprecated, said someone else',"
                    " DeprecationWarning)", "-W", "always")
    assert "DeprecationWarning: jsonschema.RefResolver is deprecated, said someone else" in result.stderr
