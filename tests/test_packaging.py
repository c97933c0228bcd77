"""setup.cfg installs every package of the repository under meet_external (docs/layout.md)."""

from __future__ import annotations

import configparser
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def options() -> configparser.SectionProxy:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    return parser["options"]


def listed_packages() -> list:
    return options()["packages"].split()


def folder_mapping() -> dict:
    """setup.cfg's package_dir: installed name -> the repository's folder."""
    lines = [line.split("=") for line in options()["package_dir"].strip().splitlines()]
    return {name.strip(): folder.strip() for name, folder in lines}


def folder_of(package: str) -> pathlib.Path:
    mapping = folder_mapping()
    for name in sorted(mapping, key=len, reverse=True):
        if package == name or package.startswith(name + "."):
            rest = package[len(name):].lstrip(".")
            return ROOT / mapping[name] / rest.replace(".", "/")
    return ROOT / package.replace(".", "/")


def test_nothing_is_installed_outside_meet_external():
    assert all(p == "meet_external" or p.startswith("meet_external.") for p in listed_packages())
    assert folder_mapping() == {"meet_external.models": "models",
                                "meet_external.handlers": "handlers"}


def test_every_listed_package_is_a_folder_with_an_init():
    for package in listed_packages():
        assert (folder_of(package) / "__init__.py").is_file(), package


def test_every_package_folder_is_listed():
    """A new sub-package that setup.cfg forgets would be missing from the installed package."""
    found = set()
    for folder, installed in (("meet_external", "meet_external"), *(
            (f, n) for n, f in folder_mapping().items())):
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((installed, *relative)))
    assert found == set(listed_packages())
