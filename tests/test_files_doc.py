"""docs/files.md names every module of aim/ and app/ (a package's ``__init__.py`` by its folder, ``aim/study/``) and
every page of app/views/, and every path it names exists: a module added, moved or removed without its line fails
here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "files.md"
PACKAGES = ("aim", "app")
PATH = re.compile(r"`([^`\s]*/[^`\s]*)`")  # a code span with a slash and no space: a path of the repository


def named() -> set[str]:
    return set(PATH.findall(DOC.read_text(encoding="utf-8")))


def modules() -> list[str]:
    """Every .py under aim/ and app/: a package's ``__init__.py`` as its folder (``aim/study/``)."""
    out = []
    for top in PACKAGES:
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT)
            out.append(f"{rel.parent.as_posix()}/" if path.name == "__init__.py" else rel.as_posix())
    return out


def test_every_module_and_package_of_aim_and_app_is_named():
    found = modules()
    assert "aim/runs.py" in found and "aim/study/" in found and "app/views/start.py" in found
    missing = [m for m in found if m not in named()]
    assert not missing, f"docs/files.md does not name {missing}: add a line saying which concept each holds"


def test_every_path_named_exists():
    gone = sorted(p for p in named() if not (ROOT / p).exists())
    assert not gone, f"docs/files.md names paths that do not exist: {gone}"
    folders = sorted(p for p in named() if p.endswith("/") and not (ROOT / p).is_dir())
    assert not folders, f"docs/files.md names these as folders, but they are not: {folders}"
