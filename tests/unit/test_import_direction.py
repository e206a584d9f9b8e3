"""Imports run one way: the platform adapters sit below the pipeline and the CLI, never reach back up.

Checked on the source (every import statement, lazy ones inside functions included) and in a fresh
interpreter (importing every adapter loads neither the pipeline nor the CLI).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ABOVE = ("bundler.bundle", "bundler.cli")  # the pipeline and the command line


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _above(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in ABOVE)


def test_no_adapter_source_imports_the_pipeline_or_the_cli() -> None:
    sources = sorted((ROOT / "platforms").rglob("*.py"))
    assert len(sources) > 7  # every adapter is looked at
    back = {p.relative_to(ROOT).as_posix(): sorted(m for m in imported_modules(p) if _above(m)) for p in sources}
    assert {path: mods for path, mods in back.items() if mods} == {}


def test_the_source_check_sees_a_lazy_import(tmp_path: Path) -> None:
    module = tmp_path / "lazy.py"
    module.write_text("def f():\n    from bundler import bundle\n    from bundler.cli.common import x\n",
                      encoding="utf-8")
    assert {m for m in imported_modules(module) if _above(m)} == {"bundler.bundle", "bundler.cli.common",
                                                                   "bundler.cli.common.x"}
    assert not _above("bundler.clients")


def test_importing_every_adapter_loads_neither_the_pipeline_nor_the_cli() -> None:
    code = ("import sys, platforms\n"
            "adapters = [platforms.adapter(key) for key in platforms.REGISTRY]\n"
            f"above = {ABOVE!r}\n"
            "print(len(adapters), ' '.join(sorted(m for m in sys.modules\n"
            "                                     if any(m == a or m.startswith(a + '.') for a in above))))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    count, _, loaded = out.stdout.strip().partition(" ")
    assert int(count) >= 7
    assert loaded == ""
