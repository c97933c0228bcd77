"""The project's extension document: the operations the file announces as coming soon, those
Meet's integrators ask for, and the file's list and retrieve as this server serves them.

It is an OpenAPI document of its own, shipped beside the verbatim file and
served at `<base path>/extensions/openapi.yaml` (and `.json`); Connexion routes
its operations under `<base path>/extensions`, where the paths middleware sends
them (meet_external/http/paths.py), so that the verbatim file is loaded as it is.

The document as served says what this server's settings accept (`public` rooms only where
they are allowed); Connexion validates with the document as shipped, so that a refused
`public` gets its own message (docs/contract-decisions.md, The extension document).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import importlib.resources
import json
import pathlib

import yaml

PREFIX = "/extensions"


def extension_path() -> pathlib.Path:
    return pathlib.Path(str(importlib.resources.files("meet_external") / "openapi-extensions.yaml"))


@functools.cache
def load_extension() -> tuple:
    """The document's bytes and its parsed form."""
    raw = extension_path().read_bytes()
    return raw, yaml.safe_load(raw)


@dataclasses.dataclass(frozen=True)
class ServedDocument:
    """The extension document as this server serves it, in both forms."""

    yaml: bytes
    json: bytes

    @classmethod
    def for_settings(cls, allow_public_access: bool) -> ServedDocument:
        raw, shipped = load_extension()
        served = narrowed(shipped, allow_public_access)
        as_yaml = raw if served == shipped else _dump_yaml(served)
        return cls(yaml=as_yaml, json=json.dumps(served, indent=2).encode())


def narrowed(document: dict, allow_public_access: bool) -> dict:
    """The document without what these settings refuse: `public` rooms where they are off."""
    if allow_public_access:
        return document
    served = copy.deepcopy(document)
    level = served["components"]["schemas"]["AccessLevel"]
    level["enum"] = [value for value in level["enum"] if value != "public"]
    level["description"] = ("Who may join: `trusted` (the default) and `restricted` rooms admit "
                            "their members without the lobby. This server does not allow `public` "
                            "rooms (EXTERNAL_API_ALLOW_PUBLIC_ACCESS is off).\n")
    return served


class _BlockStrings(yaml.SafeDumper):
    """Multi-line strings as `|` blocks, as the shipped document writes them."""


_BlockStrings.add_representer(str, lambda dumper, value: dumper.represent_scalar(
    "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None))


def _dump_yaml(document: dict) -> bytes:
    return yaml.dump(document, Dumper=_BlockStrings, sort_keys=False, allow_unicode=True,
                     width=100).encode()
