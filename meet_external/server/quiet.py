"""Dependency warnings that say nothing to an operator, silenced by exact name before they fire.

Each filter names one warning: its category, the start of its message and the module that
triggers it. Anything else (a new deprecation, a warning of this project's own) still shows.
They are installed when the package is imported, before Connexion is: the warnings fire at
Connexion's import.

- Connexion 3.3 imports `starlette.testclient` from its app module, for a test helper the
  server never uses. Starlette then warns that its test client wants `httpx2`. The other way
  out, installing a second HTTP client library in production for an import the server does
  not use, costs more than the filter.
- Connexion 3.3 (the latest release) resolves `$ref`s with jsonschema's `RefResolver` and
  imports `RefResolutionError`, both deprecated since jsonschema 4.18 in favour of
  `referencing`. Connexion exposes no other resolver, so there is no cause to fix here.
"""

from __future__ import annotations

import warnings

KNOWN_WARNINGS = (
    # (category, message regex, module that triggers it). Starlette's warning class is a
    # UserWarning subclass; naming its base keeps Starlette from being imported here.
    (UserWarning, r"Using `httpx` with `starlette\.testclient` is deprecated", r"connexion\.apps\.abstract"),
    (DeprecationWarning, r"jsonschema\.RefResolver is deprecated", r"connexion\.json_schema"),
    (DeprecationWarning, r"jsonschema\.exceptions\.RefResolutionError is deprecated",
     r"connexion\.json_schema"),
)


def silence_known_dependency_warnings() -> None:
    for category, message, module in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
