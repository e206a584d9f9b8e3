"""Size strings, budgets and the breakdown of what makes a bundle big; the platform's limits on a bundle and the
error when it is over one.

Size strings follow the npm `bytes` package that now.json uses: b, kb, mb, gb, tb are powers of 1024,
case-insensitive ("25mb", "50MB"); the IEC forms "KiB", "MiB", "GiB" mean the same; plain digits are bytes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING

from bundler.errors import ConfigError, SizeLimitError, echo

if TYPE_CHECKING:
    from bundler.options import Options
    from bundler.outdir import Written
    from bundler.plan import BundlePlan
    from platforms.base import PlatformAdapter, Unit

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


def named_for(unit: Unit, limits: list[Limit]) -> list[Limit]:
    """The limits named after their function when the unit has a name."""
    return [replace(lim, name=f"{unit.name}: {lim.name}") for lim in limits] if unit.name else limits


def unit_zipped_limits(adapter: PlatformAdapter, options: Options, unit: Unit, written: list[Written]) -> list[Limit]:
    """The unit's own zip limit (e.g. a now.json build's maxLambdaSize) when the adapter set one."""
    if unit.zip_limit is None:
        return zipped_limits(adapter, options, written)
    limit, name = unit.zip_limit
    return [Limit(f"{w.plan.filename} {name}", "zipped", limit, w.result.zipped_size) for w in written]


def unzipped_limits(adapter: PlatformAdapter, plan: BundlePlan) -> list[Limit]:
    """The platform's unzipped limit (function and layers together) on the plan's sizes."""
    from bundler.targets import load_matrix  # the runtime table loads only when limits are looked up

    info = load_matrix().platform(adapter.key)
    total = sum(a.unzipped_size for a in plan.artifacts) + plan.deferred_bytes
    if info.unzipped_max is None:
        return []
    what = "function + layer" if len(plan.artifacts) > 1 else "function"
    if plan.deferred_bytes:
        what += " + production modules installed at deploy time, measured locally"
    return [Limit(f"{info.title} unzipped size ({what})", "unzipped", info.unzipped_max - info.reserve, total)]


def zipped_limits(adapter: PlatformAdapter, options: Options, written: list[Written]) -> list[Limit]:
    """The platform's zip limit, or --max-size, on each written artifact."""
    limit, name = adapter.zip_limit(), "platform zip limit"
    if options.max_size is not None:
        limit, name = options.max_size, f"max-size ({options.source('max_size')})"
    if limit is None:
        return []
    return [Limit(f"{w.plan.filename} {name}", "zipped", limit, w.result.zipped_size) for w in written]


def raise_if_over(limits: list[Limit], plan: BundlePlan, written: list[Written] | None = None) -> None:
    """SizeLimitError naming each limit the bundle is over, with the packages and files that weigh most."""
    over = [lim for lim in limits if not lim.ok]
    if not over:
        return
    items = [(e.arc, e.package, e.size) for a in plan.artifacts for e in a.entries]
    packages, files = breakdown(items)
    lines = [f"{lim.name}: {format_size(lim.actual)} {lim.what} is over the limit of {format_size(lim.limit)} "
             f"by {format_size(-lim.headroom)}" for lim in over]
    raise SizeLimitError(
        "bundle too large; nothing was written at the final path\n" + "\n".join(lines) + "\n"
        + format_breakdown(packages, files),
        hint=_over_limit_hint(over),
    )


def _over_limit_hint(over: list[Limit]) -> str:
    """What helps depends on the limit: a layer or a larger --max-size help a zip limit, not the unzipped one
    (it counts the function and its layers together)."""
    hint = ("exclude what the function does not load (--exclude 'node_modules/pkg/docs/**') or move dependencies "
            "it does not use to devDependencies")
    if any(lim.what == "zipped" for lim in over):
        hint += "; for the zip limit: --format both puts the engine in a layer, or raise --max-size where the " \
                "platform allows"
    if any(lim.what == "unzipped" for lim in over):
        hint += "; the unzipped limit counts the function and its layers together, so a layer does not help"
    return hint
