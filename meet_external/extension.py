"""The project's extension document: the operations the file announces as coming soon.

It is an OpenAPI document of its own, shipped beside the verbatim file and
served at `<base path>/extensions/openapi.yaml` (and `.json`); Connexion routes
its operations under `<base path>/extensions`, where the paths middleware sends
them (meet_external/paths.py), so that the verbatim file is loaded as it is.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import pathlib

import yaml
from connexion.json_schema import resolve_refs

PREFIX = "/extensions"


def extension_path() -> pathlib.Path:
    return pathlib.Path(str(importlib.resources.files("meet_external") / "openapi-extensions.yaml"))


@functools.cache
def load_extension() -> tuple:
    """The document's bytes and its parsed form."""
    raw = extension_path().read_bytes()
    return raw, yaml.safe_load(raw)


def as_json() -> bytes:
    return json.dumps(load_extension()[1], indent=2).encode()


@functools.cache
def component_schema(name: str) -> dict:
    """One of the document's schemas, its references resolved."""
    return resolve_refs(load_extension()[1])["components"]["schemas"][name]
