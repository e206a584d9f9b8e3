"""Engine kinds and file names (FACTS.md section 4): which file a target needs, and what a file is.

Pure: no I/O. The sources that supply an engine file live beside this module
(local.py, cache.py, mirror.py, docker.py); acquire.py tries them in order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

EngineKind = Literal["binary", "library", "client"]
ENGINE_KINDS: tuple[EngineKind, ...] = ("binary", "library", "client")

# CLI-only engines: never needed at run time (schema-engine was migration-engine before Prisma 5).
CLI_ENGINE_PREFIXES = ("schema-engine-", "migration-engine-", "introspection-engine-", "prisma-fmt-")

_BINARY = re.compile(r"^query-engine-(?P<target>.+?)(?:\.exe)?$")
_LIBRARY = re.compile(r"^(?:lib)?query_engine-(?P<target>.+?)\.(?:so|dylib|dll)\.node$")
# Photon.js (2019) shipped the engine as `prisma-<platform>` next to the generated client.
_PHOTON = re.compile(r"^prisma-(?P<target>(?:linux|darwin|windows).*)$")


@dataclass(frozen=True)
class EngineName:
    kind: EngineKind
    target: str


def engine_filename(kind: EngineKind, target: str) -> str:
    """The file name Prisma's client looks for on disk."""
    if kind == "binary":
        return f"query-engine-{target}" + (".exe" if target == "windows" else "")
    if kind == "library":
        if target == "windows":
            return "query_engine-windows.dll.node"
        suffix = "dylib" if target.startswith("darwin") else "so"
        return f"libquery_engine-{target}.{suffix}.node"
    raise ValueError("the client engine has no native file")


def mirror_filename(kind: EngineKind, target: str) -> str:
    """The file name on Prisma's download server (before the .gz)."""
    if kind == "binary":
        return "query-engine.exe" if target == "windows" else "query-engine"
    if kind == "library":
        if target == "windows":
            return "query_engine.dll.node"
        return "libquery_engine.dylib.node" if target.startswith("darwin") else "libquery_engine.so.node"
    raise ValueError("the client engine has no native file")


def parse_engine_filename(name: str) -> EngineName | None:
    """What query engine a file name denotes, or None when it is not one."""
    if "engine" not in name and not name.startswith("prisma-"):  # what every pattern needs: most names stop here
        return None
    for pattern, kind in ((_BINARY, "binary"), (_LIBRARY, "library"), (_PHOTON, "binary")):
        m = pattern.match(name)
        if m:
            return EngineName(kind=kind, target=m.group("target"))  # type: ignore[arg-type]
    return None


def is_cli_engine(name: str) -> bool:
    return name.startswith(CLI_ENGINE_PREFIXES)
