"""One seam per outside system: only one module imports each SDK (STYLE.md), checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SEAMS = {
    "docker": {"bundler/dockerio/daemon.py", "bundler/dockerio/images.py",  # the Docker daemon: bundler/dockerio/
               "bundler/dockerio/containers.py"},
    "elftools": {"bundler/elf.py"},  # reading ELF files
    "boto3": {"bundler/aws.py"},  # AWS (photon-bundle publish, the shared cache on S3)
    "botocore": {"bundler/aws.py"},
}


def imported_packages(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(SEAMS))
def test_only_the_seam_imports_the_sdk(package: str) -> None:
    importers = {p.relative_to(ROOT).as_posix() for folder in ("bundler", "platforms")
                 for p in (ROOT / folder).rglob("*.py") if package in imported_packages(p)}
    assert importers == SEAMS[package]
