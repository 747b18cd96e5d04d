"""The one import name: every folder of the package is mapped into `mikeyshark` by pyproject.toml,
and the installed package finds its data through importlib.resources, not through the checkout."""

from __future__ import annotations

import importlib.resources
import re
import tomllib
from pathlib import Path

from tests.support.paths import ROOT


def _config() -> dict[str, object]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    setuptools = data["tool"]["setuptools"]
    assert isinstance(setuptools, dict)
    return setuptools


def test_every_package_folder_is_listed() -> None:
    cfg = _config()
    package_dir = cfg["package-dir"]
    assert package_dir == {
        "mikeyshark": "analyzer",
        "mikeyshark.dissectors": "dissectors",
        "mikeyshark.templates": "templates",
    }
    want = {"mikeyshark.templates"}
    for top, name in (("analyzer", "mikeyshark"), ("dissectors", "mikeyshark.dissectors")):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top).parts
            want.add(".".join((name, *rel)))
    # data-only folders of the package (no __init__.py) are listed so their files ship
    for data in (ROOT / "analyzer").rglob("*.json"):
        rel = data.parent.relative_to(ROOT / "analyzer").parts
        want.add(".".join(("mikeyshark", *rel)))
    assert set(cfg["packages"]) == want  # type: ignore[call-overload]


def test_data_found_through_the_package() -> None:
    templates = importlib.resources.files("mikeyshark.templates")
    assert "<!DOCTYPE html>" in templates.joinpath("report.html.j2").read_text("utf-8")
    schema = importlib.resources.files("mikeyshark.schema").joinpath("report.schema.json")
    assert '"$schema"' in schema.read_text("utf-8")


def test_python_dash_m(tmp_path: Path) -> None:
    import subprocess
    import sys

    from mikeyshark import __version__

    run = subprocess.run(
        [sys.executable, "-m", "mikeyshark", "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert run.stdout.strip() == f"mikeyshark {__version__}"


def test_the_code_cites_only_documents_it_ships() -> None:
    # a user of the repository or the wheel has docs/ and the README, nothing beside them
    shipped = {p.name for p in ROOT.glob("*.md")} | {p.name for p in (ROOT / "docs").glob("*.md")}
    cited: dict[str, set[str]] = {}
    for top in ("analyzer", "dissectors", "templates"):
        for path in (ROOT / top).rglob("*"):
            if path.suffix in (".py", ".j2", ".json") and "__pycache__" not in path.parts:
                for name in re.findall(r"[\w-]+\.md\b", path.read_text(encoding="utf-8")):
                    cited.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    assert {n: sorted(w) for n, w in cited.items() if n not in shipped} == {}
    assert "rules.md" in cited  # the scan sees the citations there are
