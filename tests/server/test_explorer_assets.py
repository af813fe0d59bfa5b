"""The explorer's files: vendored libraries exactly as recorded, shipped in the wheel, and no
code of ours that could turn text into HTML."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pyflow_cli.server.explorer as explorer

STATIC = Path(explorer.__file__).parent / "static"
REPO = Path(__file__).resolve().parents[2]
# What would put markup, or code, into the page from a string.
HTML_SINKS = re.compile(r"\.innerHTML|\.outerHTML|insertAdjacentHTML|dangerouslySetInnerHTML|"
                        r"document\.write|\beval\(|new Function\(|setAttribute\(\s*[\"']style")


def test_vendored_files_are_the_recorded_npm_files() -> None:
    manifest = json.loads((STATIC / "vendor" / "manifest.json").read_text())
    assert set(manifest) == {"preact", "htm", "uplot"}
    for folder, package in manifest.items():
        assert package["version"] and package["license"] and package["npm_integrity"].startswith("sha512-")
        assert "LICENSE" in package["files"]
        for name, recorded in package["files"].items():
            digest = hashlib.sha256((STATIC / "vendor" / folder / name).read_bytes()).hexdigest()
            assert digest == recorded["sha256"], f"vendor/{folder}/{name} differs from {package['package']}"
    listed = {f"{folder}/{name}" for folder, p in manifest.items() for name in p["files"]}
    on_disk = {p.relative_to(STATIC / "vendor").as_posix() for p in (STATIC / "vendor").rglob("*")
               if p.is_file() and p.parent != STATIC / "vendor"}
    assert on_disk == listed


def test_our_scripts_never_write_html() -> None:
    ours = [p for p in STATIC.rglob("*.js") if "vendor" not in p.parts]
    assert len(ours) > 10
    for path in ours:
        text = path.read_text(encoding="utf-8")
        assert not HTML_SINKS.search(text), f"{path.name} writes markup or code from a string"


# Boolean DOM properties: Preact assigns them as properties, so a quoted "false" (a non-empty,
# truthy string) turns them on. They take ${true} / ${false}.
BOOLEAN_AS_STRING = re.compile(r"(?<![\w-])(spellcheck|draggable|hidden|disabled|checked|readOnly|required|"
                               r"autofocus|multiple|open|inert)=\"(true|false)\"")


def test_our_scripts_give_boolean_properties_booleans() -> None:
    for path in (p for p in STATIC.rglob("*.js") if "vendor" not in p.parts):
        found = BOOLEAN_AS_STRING.search(path.read_text(encoding="utf-8"))
        assert found is None, f"{path.name}: {found and found.group(0)} is a string, not a boolean"


def test_every_static_file_ships_in_the_wheel() -> None:
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = setuptools["package-data"]["pyflow_cli.server.explorer"]
    for path in STATIC.rglob("*"):
        if path.is_file():
            relative = path.relative_to(STATIC.parent).as_posix()
            assert any(fnmatch(relative, pattern) and relative.count("/") == pattern.count("/")
                       for pattern in patterns), f"{relative} is not in package-data"
