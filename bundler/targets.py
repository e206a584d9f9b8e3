"""Engine target names and the runtime matrix: platform + runtime + arch -> RuntimeProfile -> target.

The matrix is data (platforms/runtimes.toml), loaded once into frozen dataclasses and checked on load.
`target_for` is Prisma's own rule (get-platform) for combining distro, architecture and OpenSSL series;
runtime profiles and `photon-bundle detect` both use it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from bundler.errors import ConfigError, ProjectError, closest, echo
from bundler.resources import data_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib

Arch = Literal["x86_64", "arm64"]
ARCHES: tuple[Arch, ...] = ("x86_64", "arm64")
SSL_SERIES = ("1.0.x", "1.1.x", "3.0.x")
DISTROS = ("rhel", "debian", "musl", "nixos", "arm")

DATA_FILE = data_file("platforms", "runtimes.toml")

# Every binaryTargets name Prisma knows today (FACTS.md section 2).
CURRENT_TARGETS: frozenset[str] = frozenset(
    [
        "native", "darwin", "darwin-arm64", "windows", "linux-nixos", "linux-static-x64",
        "linux-static-arm64", "linux-musl", "linux-musl-openssl-3.0.x", "openbsd", "netbsd", "arm",
        *[f"{d}-openssl-{s}" for d in ("debian", "rhel", "linux-arm64", "linux-arm") for s in SSL_SERIES],
        *[f"linux-musl-arm64-openssl-{s}" for s in ("1.1.x", "3.0.x")],
        *[f"freebsd{n}" for n in range(11, 16)],
    ]
)


@dataclass(frozen=True)
class OsProfile:
    key: str
    name: str
    distro: str
    libc: str
    openssl: str
    ssl: str
    glibc: str | None = None


@dataclass(frozen=True)
class PlatformInfo:
    key: str
    title: str
    zip_max: int | None
    unzipped_max: int | None
    runtimes_from: str
    default_max: int | None = None
    reserve: int = 0
    default_runtime: str | None = None
    function_filename: str = "function.zip"
    layer_filename: str = "layer.zip"
    layers: bool = False  # whether the platform deploys layers (--format layer / both)

    @property
    def zip_limit(self) -> int | None:
        """The compressed-size limit of one artifact before --max-size: the default where the platform has one
        (Now's maxLambdaSize), else the maximum; None when the platform limits only the unzipped size."""
        return self.default_max if self.default_max is not None else self.zip_max


@dataclass(frozen=True)
class Runtime:
    platform: str
    name: str
    node: int
    os: OsProfile
    archs: tuple[Arch, ...]
    images: tuple[tuple[str, str], ...]
    deprecated: bool = False
    legacy: str | None = None


@dataclass(frozen=True)
class RuntimeProfile:
    """One concrete runtime on one architecture: what the engine must be built for."""

    platform: PlatformInfo
    runtime: Runtime
    arch: Arch
    target: str

    @property
    def os(self) -> OsProfile:
        return self.runtime.os

    @property
    def image(self) -> str | None:
        return dict(self.runtime.images).get(self.arch)

    @property
    def accepted_targets(self) -> frozenset[str]:
        """The target name, plus the 2019 Photon name that served this runtime, if any."""
        names = {self.target}
        if self.runtime.legacy and self.arch == "x86_64":
            names.add(self.runtime.legacy)
        return frozenset(names)


@dataclass(frozen=True)
class Matrix:
    oses: dict[str, OsProfile]
    platforms: dict[str, PlatformInfo]
    runtimes: tuple[Runtime, ...]
    legacy_targets: dict[str, str]

    def runtimes_for(self, platform: str) -> list[Runtime]:
        source = self.platform(platform).runtimes_from
        return [r for r in self.runtimes if r.platform == source]

    def platform(self, platform: str) -> PlatformInfo:
        try:
            return self.platforms[platform]
        except KeyError:
            raise ConfigError(
                f"unknown platform {echo(platform)}", hint=closest(platform, list(self.platforms))
            ) from None


def target_for(distro: str, arch: str, ssl: str | None) -> str:
    """Prisma's rule: combine distro family, CPU architecture and libssl series into a target name."""
    if ssl is not None and ssl not in SSL_SERIES:
        raise ValueError(f"unknown OpenSSL series {ssl!r}")
    series = ssl or "1.1.x"
    if arch in ("arm64", "aarch64"):
        if distro == "musl":
            return f"linux-musl-arm64-openssl-{'3.0.x' if series == '3.0.x' else '1.1.x'}"
        return f"linux-arm64-openssl-{series}"
    if distro == "musl":
        return "linux-musl-openssl-3.0.x" if series == "3.0.x" else "linux-musl"
    if distro == "nixos":
        return "linux-nixos"
    if distro == "arm":
        return f"linux-arm-openssl-{series}"
    if distro not in ("rhel", "debian"):
        raise ValueError(f"unknown distro family {distro!r}")
    return f"{distro}-openssl-{series}"


def canonical_target(name: str) -> str:
    """Map a 2019 Photon.js platform name to today's binaryTargets name; leave others as they are."""
    return load_matrix().legacy_targets.get(name, name)


def is_known_target(name: str) -> bool:
    return name in CURRENT_TARGETS or name in load_matrix().legacy_targets


@lru_cache(maxsize=1)
def load_matrix(path: Path = DATA_FILE) -> Matrix:
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    return _build_matrix(raw, path)


def _build_matrix(raw: dict[str, Any], path: Path) -> Matrix:
    oses = {key: OsProfile(key=key, **value) for key, value in raw["os"].items()}
    platforms = {
        key: PlatformInfo(
            key=key,
            title=value["title"],
            zip_max=value.get("zip_max"),
            unzipped_max=value.get("unzipped_max"),
            runtimes_from=value.get("runtimes_from", key),
            default_max=value.get("default_max"),
            reserve=value.get("reserve", 0),
            default_runtime=value.get("default_runtime"),
            function_filename=value.get("function_filename", "function.zip"),
            layer_filename=value.get("layer_filename", "layer.zip"),
            layers=value.get("layers", False),
        )
        for key, value in raw["platform"].items()
    }
    runtimes = tuple(
        Runtime(
            platform=r["platform"],
            name=r["name"],
            node=r["node"],
            os=oses[r["os"]],
            archs=tuple(r["archs"]),
            images=tuple(sorted(r.get("images", {}).items())),
            deprecated=r.get("deprecated", False),
            legacy=r.get("legacy"),
        )
        for r in raw["runtime"]
    )
    matrix = Matrix(oses=oses, platforms=platforms, runtimes=runtimes, legacy_targets=raw["legacy_targets"])
    check_matrix(matrix, path)
    return matrix


def check_matrix(matrix: Matrix, path: Path) -> None:
    """Invariants of the data file; a violation is a bug in the data, reported with the file name."""
    problems: list[str] = []
    for os_ in matrix.oses.values():
        if os_.ssl not in SSL_SERIES:
            problems.append(f"os {os_.key}: ssl {os_.ssl!r} not one of {SSL_SERIES}")
        if os_.distro not in DISTROS:
            problems.append(f"os {os_.key}: distro {os_.distro!r} unknown")
        if (os_.libc == "glibc") != (os_.glibc is not None):
            problems.append(f"os {os_.key}: glibc version must be given exactly for glibc systems")
    seen: set[tuple[str, str]] = set()
    for platform in matrix.platforms.values():
        if platform.runtimes_from not in matrix.platforms:
            problems.append(f"platform {platform.key}: runtimes_from {platform.runtimes_from!r} unknown")
    by_platform: dict[str, list[Runtime]] = {}
    for r in matrix.runtimes:
        if (r.platform, r.name) in seen:
            problems.append(f"runtime {r.platform}/{r.name} listed twice")
        seen.add((r.platform, r.name))
        if r.platform not in matrix.platforms:
            problems.append(f"runtime {r.name}: platform {r.platform!r} unknown")
        if not r.archs or any(a not in ARCHES for a in r.archs):
            problems.append(f"runtime {r.platform}/{r.name}: archs {r.archs} invalid")
        if set(dict(r.images)) - set(r.archs):
            problems.append(f"runtime {r.platform}/{r.name}: image for an arch it does not run on")
        if r.legacy is not None and r.legacy not in matrix.legacy_targets:
            problems.append(f"runtime {r.platform}/{r.name}: legacy target {r.legacy!r} unknown")
        by_platform.setdefault(r.platform, []).append(r)
    for platform_key, runtimes in by_platform.items():
        nodes = [r.node for r in runtimes]
        if nodes != sorted(nodes):
            problems.append(f"platform {platform_key}: runtimes must be listed oldest first")
    for legacy, modern in matrix.legacy_targets.items():
        if modern not in CURRENT_TARGETS:
            problems.append(f"legacy target {legacy} maps to unknown target {modern}")
    if problems:
        raise ConfigError(f"{path}: invalid runtime data:\n  " + "\n  ".join(problems))


def profile_for(runtime: Runtime, platform: PlatformInfo, arch: Arch) -> RuntimeProfile:
    return RuntimeProfile(
        platform=platform,
        runtime=runtime,
        arch=arch,
        target=target_for(runtime.os.distro, arch, runtime.os.ssl),
    )


def resolve(platform: str, runtime: str, arch: str = "x86_64") -> RuntimeProfile:
    """The profile for a runtime name on an architecture, or a ConfigError naming the closest choices."""
    matrix = load_matrix()
    info = matrix.platform(platform)
    runtimes = matrix.runtimes_for(platform)
    names = [r.name for r in runtimes]
    found = next((r for r in runtimes if r.name == runtime), None)
    if found is None:
        raise ConfigError(
            f"unknown {info.title} runtime {echo(runtime)}",
            hint=closest(runtime, names) + f" (supported: {', '.join(names)})",
        )
    if arch not in ARCHES:
        raise ConfigError(f"unknown architecture {echo(arch)}", hint=f"use one of: {', '.join(ARCHES)}")
    if arch not in found.archs:
        raise ConfigError(
            f"{info.title} runtime {runtime} does not run on {arch}",
            hint=f"use --arch {' or '.join(found.archs)}",
        )
    return profile_for(found, info, arch)


def newest_runtime(platform: str) -> Runtime:
    runtimes = load_matrix().runtimes_for(platform)
    current = [r for r in runtimes if not r.deprecated] or runtimes
    return current[-1]


def runtime_for_node_range(platform: str, spec: str, where: str = "package.json") -> Runtime | None:
    """The newest runtime of a platform whose Node major version satisfies package.json engines.node."""
    for r in reversed(load_matrix().runtimes_for(platform)):
        if node_range_allows(spec, r.node, where):
            return r
    return None


def node_range_allows(spec: str, major: int, where: str = "package.json") -> bool:
    """Whether an npm semver range (engines.node) admits some release of Node `major`.

    The range is read by node-semver (npm's own grammar: `||`, x ranges, hyphen ranges, `^`/`~`,
    prerelease bounds such as `>=18.0.0-0`). Node `major` is admitted when one of its releases satisfies
    the range: the lowest release of the major that any comparator's lower bound allows is a candidate,
    and so is `major.0.0`, so the search is exact for every range. A spec that is not a range (`lts/*`,
    `latest`, a codename) is a ProjectError naming `where`.
    """
    semver_range = _node_range(spec, where)
    candidates = {(major, 0, 0)}
    for alternative in semver_range.set:
        for comparator in alternative:
            version = comparator.semver
            if not hasattr(version, "major") or version.major != major:
                continue
            base = (version.major, version.minor, version.patch)
            bump = comparator.operator == ">" and not version.prerelease
            candidates.add((base[0], base[1], base[2] + 1) if bump else base)
    import nodesemver

    return any(semver_range.test(nodesemver.make_semver(f"{a}.{b}.{c}", loose=False))
               for a, b, c in sorted(candidates))


@lru_cache(maxsize=64)
def _node_range(spec: str, where: str) -> Any:
    """node-semver's Range for an engines.node spec; a spec it cannot read is a clear ProjectError."""
    import nodesemver  # only when an engines.node is read: `--help` starts without it

    try:
        return nodesemver.make_range(spec.strip(), loose=False)
    except (ValueError, TypeError):
        raise ProjectError(
            f'{where} engines.node "{spec}" is not a semver range',
            hint='write an npm semver range such as ">=18", "18.x" or "^18 || ^20" (aliases like lts/* are '
                 "nvm's, not npm's), or pass --runtime",
        ) from None
