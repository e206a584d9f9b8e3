"""Size strings, budgets and the breakdown of what makes a bundle big.

Size strings follow the npm `bytes` package that now.json uses: b, kb, mb, gb, tb are powers of 1024,
case-insensitive ("25mb", "50MB"); the IEC forms "KiB", "MiB", "GiB" mean the same; plain digits are bytes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from bundler.errors import ConfigError, echo

_UNITS = {"b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30, "tb": 1 << 40,
          "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}
SIZE_MAX = 1 << 50  # 1 PiB: any larger size is a typo, and would not even print as a float
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_size(text: str | int) -> int:
    """Bytes for a size like 25mb, 50MB, 250MiB, 1.5gb or 52428800."""
    if isinstance(text, int):
        if not 0 <= text <= SIZE_MAX:
            raise ConfigError(f"size {echo(text)} is out of range", hint="write it like 25mb or 250MiB")
        return text
    m = _SIZE.match(text) if len(text) <= 64 else None
    unit = m.group(2).lower() if m else ""
    if not m or (unit and unit not in _UNITS):
        raise ConfigError(f"cannot read size {echo(text)}",
                          hint="write it like 25mb, 50MB, 250MiB or a number of bytes")
    size = int(Decimal(m.group(1)) * _UNITS[unit or "b"])
    if size > SIZE_MAX:
        raise ConfigError(f"size {echo(text)} is larger than any artifact can be", hint="write it like 25mb or 250MiB")
    return size


def format_size(n: int) -> str:
    """Human size in powers of 1024, e.g. 12.3 MiB."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


@dataclass(frozen=True)
class Limit:
    name: str  # e.g. "AWS Lambda zip (direct upload)" or "--max-size"
    what: str  # "zipped" | "unzipped"
    limit: int
    actual: int

    @property
    def ok(self) -> bool:
        return self.actual <= self.limit

    @property
    def headroom(self) -> int:
        return self.limit - self.actual


@dataclass(frozen=True)
class Contributor:
    name: str
    size: int
    files: int


def breakdown(items: Iterable[tuple[str, str, int]], top: int = 10) -> tuple[list[Contributor], list[Contributor]]:
    """Largest contributors by package and by file, from (path, package, size) triples."""
    by_package: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    files: list[Contributor] = []
    for path, package, size in items:
        by_package[package][0] += size
        by_package[package][1] += 1
        files.append(Contributor(path, size, 1))
    packages = [Contributor(name, s, n) for name, (s, n) in by_package.items()]
    packages.sort(key=lambda c: (-c.size, c.name))
    files.sort(key=lambda c: (-c.size, c.name))
    return packages[:top], files[:top]


def format_breakdown(packages: list[Contributor], files: list[Contributor]) -> str:
    lines = ["largest packages (unzipped):"]
    lines += [f"  {format_size(c.size):>10}  {c.files:>6} files  {c.name}" for c in packages]
    lines.append("largest files (unzipped):")
    lines += [f"  {format_size(c.size):>10}  {c.name}" for c in files]
    return "\n".join(lines)
