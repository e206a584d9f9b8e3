"""Pure ELF facts: what a native file is built for and what it needs from the system.

`read_elf` turns bytes (or a seekable stream, or a path) into one of three values and never raises
for bad input: `ElfFacts` (class, machine, interpreter, DT_NEEDED, RPATH/RUNPATH, required and defined
symbol versions), `NotElf` (with a guess of what the file is), or `BrokenElf` (with the reason).
The verdict against a runtime is a separate step (bundler/verify/), as in auditwheel's elfutils.

pyelftools is imported inside the functions that use it, so importing this module stays cheap.
"""

from __future__ import annotations

import io
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, Union

ELF_MAGIC = b"\x7fELF"

# e_machine (pyelftools' names) -> the architecture names of the runtime matrix (targets.ARCHES),
# plus the common others so a report can say what a foreign file is built for.
MACHINES: dict[str, str] = {
    "EM_X86_64": "x86_64",
    "EM_AARCH64": "arm64",
    "EM_386": "i386",
    "EM_ARM": "arm",
    "EM_PPC64": "ppc64",
    "EM_S390": "s390x",
    "EM_RISCV": "riscv",
    "EM_MIPS": "mips",
}

Libc = Literal["glibc", "musl", "none", "unknown"]

_DF_1_PIE = 0x08000000
_MAX_SECTIONS = 0xFF00  # SHN_LORESERVE: more sections need extended numbering, which no loader-facing file uses
_VERSION = re.compile(r"^(?P<ns>[A-Za-z][A-Za-z0-9_]*?)_(?P<ver>\d[0-9A-Za-z._]*)$")
_VERSION_PART = re.compile(r"(\d+)([a-z]*)")

Source = Union[bytes, bytearray, memoryview, IO[bytes], Path]


@dataclass(frozen=True)
class VersionNeed:
    """The symbol versions a file requires from one library (one .gnu.version_r entry)."""

    library: str
    versions: tuple[str, ...]


@dataclass(frozen=True)
class ElfFacts:
    name: str
    elf_class: int  # 32 or 64
    little_endian: bool
    machine: str  # pyelftools' e_machine name, e.g. "EM_X86_64"
    elf_type: str  # "ET_EXEC", "ET_DYN", "ET_REL", ...
    interpreter: str | None
    needed: tuple[str, ...]
    soname: str | None
    rpath: tuple[str, ...]
    runpath: tuple[str, ...]
    version_needs: tuple[VersionNeed, ...]
    version_defs: tuple[str, ...]
    pie: bool = False

    @property
    def arch(self) -> str:
        """The architecture in the runtime matrix's terms (x86_64, arm64), or a plain name for others."""
        return MACHINES.get(self.machine, self.machine.removeprefix("EM_").lower())

    @property
    def libc(self) -> Libc:
        """Which C library the file needs: from the interpreter, else from DT_NEEDED and symbol versions."""
        if self.interpreter:
            base = posixpath.basename(self.interpreter)
            if base.startswith("ld-musl"):
                return "musl"
            if base.startswith(("ld-linux", "ld64.so", "ld.so")):
                return "glibc"
        if any(n.startswith(("libc.musl-", "ld-musl")) or n == "libc.so" for n in self.needed):
            return "musl"
        if "libc.so.6" in self.needed or "GLIBC" in self.highest_versions():
            return "glibc"
        if not self.needed and not self.interpreter:
            return "none"
        return "unknown"

    @property
    def is_executable(self) -> bool:
        """A program (static, dynamic or PIE), as opposed to a shared library or object file."""
        return self.elf_type == "ET_EXEC" or (
            self.elf_type == "ET_DYN" and (self.pie or (self.interpreter is not None and self.soname is None))
        )

    @property
    def is_static(self) -> bool:
        return self.interpreter is None and not self.needed and self.is_executable

    def required_versions(self) -> Iterator[tuple[str, str]]:
        """(library, version name) pairs from .gnu.version_r."""
        for need in self.version_needs:
            for version in need.versions:
                yield need.library, version

    def highest_versions(self, libraries: Iterable[str] | None = None) -> dict[str, str]:
        """Highest required version per namespace (GLIBC, GLIBCXX, CXXABI, GCC, OPENSSL ...).

        `libraries` limits the scan to the version needs of those libraries.
        """
        wanted = None if libraries is None else set(libraries)
        highest: dict[str, str] = {}
        for library, version in self.required_versions():
            if wanted is not None and library not in wanted:
                continue
            split = split_version(version)
            if split is None:
                continue
            ns, number = split
            if ns not in highest or version_key(number) > version_key(highest[ns]):
                highest[ns] = number
        return highest

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "elf",
            "class": self.elf_class,
            "endian": "little" if self.little_endian else "big",
            "machine": self.machine,
            "arch": self.arch,
            "type": self.elf_type,
            "interpreter": self.interpreter,
            "libc": self.libc,
            "needed": list(self.needed),
            "soname": self.soname,
            "rpath": list(self.rpath),
            "runpath": list(self.runpath),
            "version_needs": {n.library: list(n.versions) for n in self.version_needs},
            "version_defs": list(self.version_defs),
            "highest_versions": self.highest_versions(),
            "executable": self.is_executable,
        }


@dataclass(frozen=True)
class NotElf:
    name: str
    format: str  # "Mach-O", "PE", "script", "empty", "data", ...

    def to_json(self) -> dict[str, Any]:
        return {"kind": "not-elf", "format": self.format}


@dataclass(frozen=True)
class BrokenElf:
    name: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": "broken-elf", "reason": self.reason}


ElfResult = Union[ElfFacts, NotElf, BrokenElf]


def split_version(name: str) -> tuple[str, str] | None:
    """`GLIBC_2.34` -> ("GLIBC", "2.34"); `OPENSSL_1_1_0d` -> ("OPENSSL", "1_1_0d"); `GLIBC_PRIVATE` -> None."""
    m = _VERSION.match(name)
    return (m.group("ns"), m.group("ver")) if m else None


def version_key(number: str) -> tuple[tuple[int, str], ...]:
    """Order version numbers: "2.34" < "2.35"; "1_1_0" < "1_1_0d" < "1_1_1"; "1.0.1_EC" ~ "1.0.1"."""
    return tuple((int(n), letters) for n, letters in _VERSION_PART.findall(number))


def is_elf(head: bytes) -> bool:
    return head[:4] == ELF_MAGIC


def guess_format(head: bytes) -> str:
    """What a non-ELF file probably is, from its first bytes (for the report)."""
    if not head:
        return "empty"
    if head[:4] in (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe"):
        return "Mach-O (macOS)"
    if head[:4] == b"\xca\xfe\xba\xbe":
        return "Mach-O universal (macOS)"
    if head[:2] == b"MZ":
        return "PE (Windows)"
    if head[:2] == b"#!":
        return "script"
    if head[:4] == b"\x00asm":
        return "WebAssembly"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:4] == b"PK\x03\x04":
        return "zip"
    if head[:8] == b"!<arch>\n":
        return "ar archive"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "data"
    return "text"


def read_elf(source: Source, name: str) -> ElfResult:
    """The facts of one file (bytes, a binary stream read from its position, or a path).

    A seekable stream at offset 0 (an open file) is read in place, only the parts the facts need (headers,
    the dynamic and version sections), so a large file is never held in memory; another stream is copied
    from its position. Never raises for bad content (a malformed file is a BrokenElf, in bounded time: counts
    in the file are checked against the sizes of their sections before they are iterated); a Path or stream
    that cannot be read raises OSError.
    """
    if isinstance(source, Path):
        with source.open("rb") as fh:
            return read_elf(fh, name)
    stream: IO[bytes]
    if isinstance(source, (bytes, bytearray, memoryview)):
        stream = io.BytesIO(bytes(source))
    elif source.seekable() and source.tell() == 0:
        stream = source
    else:
        # pyelftools reads from offset 0 and seeks freely: work on a copy from the current position
        stream = io.BytesIO(source.read())
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    head = stream.read(16)
    stream.seek(0)
    if not is_elf(head):
        return NotElf(name=name, format=guess_format(head))
    try:
        return _facts(stream, name, size)
    except _TruncatedError as err:
        return BrokenElf(name=name, reason=str(err))
    except Exception as err:  # noqa: BLE001 - pyelftools raises many types for malformed input
        return BrokenElf(name=name, reason=f"{type(err).__name__}: {err}".rstrip(": "))


class _TruncatedError(Exception):
    pass


def _facts(stream: IO[bytes], name: str, size: int) -> ElfFacts:
    from elftools.elf.elffile import ELFFile
    from elftools.elf.segments import InterpSegment

    if size < 52:
        raise _TruncatedError(f"truncated: {size} bytes, shorter than an ELF header")
    elf = ELFFile(stream)
    header = elf.header
    _check_extent(size, header["e_phoff"], header["e_phnum"] * header["e_phentsize"], "program headers")
    _check_extent(size, header["e_shoff"], header["e_shnum"] * header["e_shentsize"], "section headers")
    if header["e_shnum"] > _MAX_SECTIONS:
        raise _TruncatedError(f"malformed: {header['e_shnum']} section headers (at most {_MAX_SECTIONS} exist)")
    interpreter: str | None = None
    dynamic_segment = None
    for segment in elf.iter_segments():
        kind = segment["p_type"]
        if kind in ("PT_LOAD", "PT_INTERP", "PT_DYNAMIC"):
            _check_extent(size, segment["p_offset"], segment["p_filesz"], f"segment {kind}")
        if isinstance(segment, InterpSegment):
            interpreter = segment.get_interp_name()
        elif kind == "PT_DYNAMIC":
            dynamic_segment = segment
    dynamic, verneed, verdef = _sections(elf, size)
    if dynamic is None:
        dynamic = dynamic_segment
    needed: list[str] = []
    rpath: list[str] = []
    runpath: list[str] = []
    soname: str | None = None
    pie = False
    if dynamic is not None:
        for tag in dynamic.iter_tags():
            kind = tag.entry.d_tag
            if kind == "DT_NEEDED":
                needed.append(tag.needed)
            elif kind == "DT_RPATH":
                rpath.extend(p for p in tag.rpath.split(":") if p)
            elif kind == "DT_RUNPATH":
                runpath.extend(p for p in tag.runpath.split(":") if p)
            elif kind == "DT_SONAME":
                soname = tag.soname
            elif kind == "DT_FLAGS_1":
                pie = bool(tag.entry.d_val & _DF_1_PIE)
    needs = tuple(
        VersionNeed(library=vn.name, versions=tuple(aux.name for aux in auxes))
        for vn, auxes in (_versions(verneed, 16, 16) if verneed is not None else ())
    )
    defs: list[str] = []
    if verdef is not None:
        for _vd, auxes in _versions(verdef, 20, 8):
            first = next(iter(auxes), None)
            if first is not None:
                defs.append(first.name)
    return ElfFacts(
        name=name,
        elf_class=elf.elfclass,
        little_endian=elf.little_endian,
        machine=str(header["e_machine"]),
        elf_type=str(header["e_type"]),
        interpreter=interpreter,
        needed=tuple(needed),
        soname=soname,
        rpath=tuple(rpath),
        runpath=tuple(runpath),
        version_needs=needs,
        version_defs=tuple(defs),
        pie=pie,
    )


def _versions(section: Any, entry_size: int, aux_size: int) -> list[tuple[Any, list[Any]]]:
    """A .gnu.version_r / .gnu.version_d section's entries with their auxiliaries, read eagerly.

    The section says how many entries it has (sh_info) and each entry how many auxiliaries: counts up to
    2**32 that pyelftools would iterate as they are (a crafted file loops for hours). Each count is checked
    against what the section's size can hold before it is iterated."""
    section_size = section["sh_size"]
    what = f"section {section.name or '?'}"
    count = section.num_versions()
    if count * entry_size > section_size:
        raise _TruncatedError(f"malformed: {what} claims {count} version entries, its {section_size} bytes hold "
                              f"at most {section_size // entry_size}")
    budget = section_size // aux_size  # auxiliaries of all entries together
    cnt_field = section.field_prefix + "_cnt"
    out: list[tuple[Any, list[Any]]] = []
    for version, auxes in section.iter_versions():
        cnt = version.entry[cnt_field]
        if cnt > budget:
            raise _TruncatedError(f"malformed: {what} claims more version names than its {section_size} bytes "
                                  "can hold")
        budget -= cnt
        out.append((version, list(auxes)))
    return out


def _sections(elf: Any, size: int) -> tuple[Any, Any, Any]:
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.gnuversions import GNUVerDefSection, GNUVerNeedSection

    dynamic = verneed = verdef = None
    for section in elf.iter_sections():
        if section["sh_type"] != "SHT_NOBITS":
            _check_extent(size, section["sh_offset"], section["sh_size"], f"section {section.name or '?'}")
        if isinstance(section, DynamicSection) and dynamic is None:
            dynamic = section
        elif isinstance(section, GNUVerNeedSection):
            verneed = section
        elif isinstance(section, GNUVerDefSection):
            verdef = section
    return dynamic, verneed, verdef


def _check_extent(size: int, offset: int, length: int, what: str) -> None:
    if length and offset + length > size:
        raise _TruncatedError(f"truncated: {what} end at byte {offset + length}, the file has {size} bytes")
