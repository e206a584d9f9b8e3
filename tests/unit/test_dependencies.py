"""Every runtime dependency pyproject.toml declares is imported by the tool's own code (bundler/, platforms/):
none is declared for nothing, and each package the code imports is declared (the optional `doctor` drivers
included), or installed by one that is (botocore by boto3, requests by docker)."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]
OWN = {"bundler", "platforms"}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _names(requirements: list[str]) -> set[str]:
    return {_canonical(re.split(r"[\s<>=!~;\[(]", r, maxsplit=1)[0]) for r in requirements}


def project() -> dict[str, list[str]]:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        data = tomllib.load(fh)["project"]
    return {"": data["dependencies"], **data["optional-dependencies"]}


def imported_distributions() -> set[str]:
    modules: set[str] = set()
    for path in [*(ROOT / "bundler").rglob("*.py"), *(ROOT / "platforms").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module.split(".")[0])
    by_module = packages_distributions()
    return {_canonical(dist) for m in modules - OWN - set(sys.stdlib_module_names) for dist in by_module.get(m, [m])}


def _requires(dist: str) -> list[str]:
    try:
        return requires(dist) or []
    except PackageNotFoundError:  # tomli, on the Pythons that have tomllib
        return []


def test_runtime_dependencies_are_used_and_used_packages_declared() -> None:
    declared = project()
    runtime = _names(declared[""])
    used = imported_distributions()
    # tomli is imported only on Python < 3.11 (tomllib before), behind a version check the source still shows
    assert runtime - used == set(), "declared in [project] dependencies, never imported by bundler/ or platforms/"
    installed_with = {dep for dist in runtime for dep in _names(_requires(dist))}
    undeclared = used - runtime - _names(declared["doctor"]) - installed_with
    assert undeclared == set(), "imported, but neither declared nor installed by a declared dependency"
    assert {"botocore", "requests"} <= used & installed_with  # what the check above lets through, and why
