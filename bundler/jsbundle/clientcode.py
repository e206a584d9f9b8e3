"""Where Prisma's client is, seen from a bundle: which bundle holds the client's code, which generated client it
was made from (and so which schema.prisma belongs beside it), and which packages it still requires.

Read in @prisma/client 5.22.0 (runtime/library.js `resolveEnginePath` and the generated index.js): the bundled
client searches its engine in `config.dirname` (the bundle's own folder when a schema.prisma is beside it,
else <cwd>/node_modules/.prisma/client), the bundle folder's parent, the generator's `output` (the build
machine's absolute path), <bundle folder>/../../../.prisma/client, /tmp/prisma-engines and the schema folder
(relativePath from config.dirname). Prisma's documented fix for bundlers, and what photon-bundle does: the
schema.prisma and the one engine beside the bundle (bundler/_node/check.js checks the same order)."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

# Text only Prisma's client code carries (the generated client or its runtime, bundled or not): 2.x-6.x.
CLIENT_MARKERS = re.compile(
    rb"PrismaClientInitializationError|Prisma Client could not locate the Query Engine|prisma-client-js")
LOCAL_RUNTIME = ("runtime/library.js", "runtime/binary.js", "runtime/index.js")


def holds_client(text: bytes) -> bool:
    """True when a JavaScript file contains Prisma's client code."""
    return CLIENT_MARKERS.search(text) is not None


def client_folders(inputs: Iterable[str], root: Path) -> list[str]:
    """The generated client folders a bundle was made from (metafile inputs, relative to root): the folder of
    an input file that has a schema.prisma beside it, as `prisma generate` writes it. Sorted, unique."""
    found: set[str] = set()
    for rel in inputs:
        folder = posixpath.dirname(rel)
        if folder and (root / folder / "schema.prisma").is_file():
            found.add(folder)
    return sorted(found)


def reads_client(inputs: Iterable[str]) -> bool:
    """True when esbuild read Prisma's client code: the generated client or @prisma/client's runtime."""
    return any("/.prisma/client/" in "/" + rel or "@prisma/client/" in rel or "@generated/photon/" in rel
               for rel in inputs)


def schema_source(root: Path, folders: list[str], fallback: str | None) -> Path | None:
    """The schema.prisma to put beside the bundle: the generated client's copy (what the client was generated
    from), else the project's schema."""
    for folder in folders:
        path = root / folder / "schema.prisma"
        if path.is_file():
            return path
    if fallback is not None and (root / fallback).is_file():
        return root / fallback
    return None


def imported_externals(meta: Mapping[str, object], outfile_key: str) -> list[str]:
    """Bare module names a bundle still imports (esbuild's metafile: outputs[...].imports marked external)."""
    outputs = meta.get("outputs")
    if not isinstance(outputs, dict):
        return []
    output = outputs.get(outfile_key)
    imports = output.get("imports", []) if isinstance(output, dict) else []
    names = []
    for item in imports if isinstance(imports, list) else []:
        if isinstance(item, dict) and item.get("external") and isinstance(item.get("path"), str):
            names.append(str(item["path"]))
    return names
