"""The scan: the ELF facts of every native file of an artifact (and of every file named like one), and each
file's role (engine, Node addon, shared library, executable)."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass

from bundler.elf import (
    ElfFacts,
    ElfResult,
    NotElf,
    guess_format,
    is_elf,
    read_elf,
)
from bundler.engines import EngineName, is_cli_engine, parse_engine_filename
from bundler.limits import format_size
from bundler.verify.artifacts import _READ_ERRORS, MAX_LINK_BYTES, MAX_NATIVE_BYTES, _Artifact, _Entry, _ZipArtifact

_SHARED_LIB = re.compile(r"\.so(?:\.\d+)*$")


def _role(name: str, engine: EngineName | None, facts: ElfResult | None) -> str:
    if is_cli_engine(name):
        return "cli-engine"
    if engine is not None:
        return "engine"
    if name.endswith(".node"):
        return "addon"
    if isinstance(facts, ElfFacts):
        return "executable" if facts.is_executable else "library"
    if _SHARED_LIB.search(name):
        return "library"
    return "elf"


@dataclass
class _Scanned:
    entry: _Entry
    engine: EngineName | None
    facts: ElfResult | None
    role: str
    read_error: str | None = None


def _scan(artifact: _Artifact, entries: list[_Entry],
          heads: Mapping[str, bytes] | None = None) -> tuple[list[_Scanned], dict[str, str]]:
    """Read the facts of every ELF file (and every file named like a native one).

    heads: the first bytes of each entry as the zip writer saw them, so that a zip just written need not
    be read entry by entry to tell ELF files apart; entries missing from it are read."""
    scanned: list[_Scanned] = []
    links: dict[str, str] = {}
    for entry in entries:
        name = posixpath.basename(entry.path)
        # in a directory, a symbolic link to a file reads like the file itself; in a zip it holds the target
        if entry.symlink and isinstance(artifact, _ZipArtifact):
            try:
                target = artifact.read(entry, MAX_LINK_BYTES).decode("utf-8", "replace")
            except _READ_ERRORS:
                continue
            links[entry.path] = posixpath.normpath(posixpath.join(posixpath.dirname(entry.path), target))
            continue
        engine = parse_engine_filename(name)
        candidate_by_name = engine is not None or name.endswith(".node") or bool(_SHARED_LIB.search(name))
        try:
            known = heads.get(entry.path) if heads is not None else None
            head = known if known is not None else artifact.read(entry, 16) if entry.size else b""
            if not is_elf(head) and not candidate_by_name and not is_cli_engine(name):
                continue
            facts: ElfResult = _read_native(artifact, entry) if is_elf(head) else NotElf(
                entry.path, guess_format(head)
            )
        except _READ_ERRORS as err:
            scanned.append(_Scanned(entry, engine, None, _role(name, engine, None), read_error=str(err)))
            continue
        scanned.append(_Scanned(entry, engine, facts, _role(name, engine, facts)))
    return scanned, links


def _read_native(artifact: _Artifact, entry: _Entry) -> ElfResult:
    """The ELF facts of one entry, read through a seekable file; never more than MAX_NATIVE_BYTES of it."""
    if entry.size > MAX_NATIVE_BYTES:
        raise ValueError(f"it is {format_size(entry.size)}, more than the {format_size(MAX_NATIVE_BYTES)} verify "
                         "reads of one native file (not inspected)")
    with artifact.native(entry) as fh:
        return read_elf(fh, entry.path)
