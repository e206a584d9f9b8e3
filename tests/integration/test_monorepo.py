"""A function of a pnpm monorepo is bundled without reading a file outside its closure.

The monorepo is benchmarks/monorepo.py's generator at a test-sized scale (the benchmark times it at 10k-100k
files): eight workspaces, a pnpm-style store of linked packages, the function `packages/api` loading Prisma,
a workspace library and part of the store. Every file the bundler opens and every folder it lists is seen
through a Python audit hook (`open` covers open() and os.open(); `os.scandir` and `os.listdir` the listings),
and each is held against the closure the generator knows: the function's own folder, the workspace it uses,
the store packages it reaches, the Prisma client and its generated folder. The load check is off: the
generated packages are small valid JavaScript, but not the real @prisma/client the load check requires.
"""

from __future__ import annotations

import os
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.monorepo import FUNCTION, WORKSPACES, Monorepo, generate
from bundler.cli import cli
from bundler.cli.common import run_guarded

_RECORDING: list[list[tuple[str, str]]] = []  # the (event, absolute path) list of the test that records, if any


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _RECORDING or event not in ("open", "os.scandir", "os.listdir"):
        return
    path = args[0] if args else None
    if isinstance(path, (str, bytes, os.PathLike)):
        _RECORDING[0].append((event, os.path.normpath(Path(os.fsdecode(path)).absolute())))


sys.addaudithook(_audit)  # hooks cannot be removed: it does nothing unless a test records


@pytest.fixture
def seen() -> Iterator[list[tuple[str, str]]]:
    _RECORDING.append([])
    try:
        yield _RECORDING[0]
    finally:
        _RECORDING.clear()


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Monorepo:
    base = tmp_path_factory.mktemp("mono")
    return generate(base / "repo", 4000, heads=base / "heads")


def _inside(path: str, folders: set[str]) -> bool:
    return any(path == f or path.startswith(f + "/") for f in folders)


def test_the_audit_hook_sees_opens_and_listings(tmp_path: Path, seen: list[tuple[str, str]]) -> None:
    """The check below can fail: an open and a listing outside the closure are recorded."""
    (tmp_path / "x.js").write_text("1")
    with (tmp_path / "x.js").open() as fh:
        fh.read()
    fd = os.open(tmp_path / "x.js", os.O_RDONLY)
    os.close(fd)
    list(os.scandir(tmp_path))
    assert [e for e, p in seen if p.startswith(str(tmp_path))] == ["open", "open", "open", "os.scandir"]


def test_bundling_one_function_reads_only_its_closure(repo: Monorepo, tmp_path: Path,
                                                      seen: list[tuple[str, str]]) -> None:
    root = str(repo.root.resolve())
    out = tmp_path / "out"
    code = run_guarded(cli, ["lambda", str(repo.function_dir), "--out", str(out), "--no-load-check", "-q"])
    assert code == 0
    markers = {f"{root}/{name}" for name in ("package.json", "pnpm-workspace.yaml", "pnpm-lock.yaml",
                                             "node_modules/.modules.yaml", ".git", ".yarnrc.yml")}
    files_read = {p for e, p in seen if e == "open" and p.startswith(root + "/")}
    # a probe of a path that does not exist (Node's lookup, Prisma's other client names) reads nothing
    outside = sorted(p for p in files_read if not _inside(p, repo.closure) and p not in markers
                     and not p.startswith(str(out)) and Path(p).exists())
    assert outside == [], f"{len(outside)} files outside the function's closure were opened, e.g. {outside[:5]}"
    # folders listed: closure folders only; never another workspace or a store package the function cannot load
    listed = {p for e, p in seen if e != "open" and p.startswith(root + "/")}
    others = {str((repo.root / "packages" / ws).resolve()) for ws in WORKSPACES if ws not in (FUNCTION, "shared")}
    store = str((repo.root / "node_modules" / ".pnpm").resolve())
    bad = sorted(p for p in listed
                 if _inside(p, others) or (p.startswith(store + "/") and not _inside(p, repo.closure)))
    assert bad == [], f"folders outside the closure were listed: {bad[:5]}"
    # and the artifact holds the closure: the handler, the workspace library, the engine; nothing of the others
    with zipfile.ZipFile(out / "function.zip") as zf:
        names = zf.namelist()
    assert "handler.js" in names
    assert any(n.startswith("node_modules/@mono/shared/src/") for n in names)
    assert "node_modules/.prisma/client/libquery_engine-rhel-openssl-3.0.x.so.node" in names
    assert not any("/@mono/web/" in n or "/@mono/worker-email/" in n or n.startswith("node_modules/.pnpm/")
                   for n in names)
    bundled_packages = {n.split("/")[1] if not n.startswith("node_modules/@") else "/".join(n.split("/")[1:3])
                        for n in names if n.startswith("node_modules/") and "/.prisma/" not in n}
    closure_names = {Path(f).name if not Path(f).parent.name.startswith("@") else f"{Path(f).parent.name}/"
                     f"{Path(f).name}" for f in repo.closure if "/.pnpm/" in f and "/.prisma" not in f}
    assert bundled_packages == closure_names | {"@mono/shared"}
    assert len(files_read) < repo.files / 2  # the function's part of the repository, not all of it
