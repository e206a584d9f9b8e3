"""Which prisma-engines commit a project needs (FACTS.md section 4): the version part of every engine URL.

Precedence: env `BINARY_DOWNLOAD_VERSION` (Prisma's own override) > `@prisma/engines-version`'s
package.json (`prisma.enginesVersion`) > `@prisma/client`'s, then `@prisma/photon`'s package.json
(`prisma.version`, when it is a commit: the 2.0 previews published "latest" there) > the generated client's
own header (`Query Engine version: <commit>` in the index.js of @prisma/photon, @prisma/client or the 2019
@generated/photon) > the CLI packages' package.json `prisma.version` (`prisma2`, then `prisma`: the CLI
and the client of one release share the engine) > `--engine-version`. `node_modules` is looked up from the
project directory upwards, the way Node resolves packages (hoisted monorepos keep them in a parent).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from bundler.errors import ConfigError, ProjectError

ENV_OVERRIDE = "BINARY_DOWNLOAD_VERSION"
ENGINES_VERSION_PACKAGE = ("@prisma", "engines-version")
CLIENT_PACKAGE = ("@prisma", "client")
# Where the 2.0 previews and the CLI kept the engine commit (prisma.version), after the two above.
COMMIT_PACKAGES: tuple[tuple[str, ...], ...] = (("@prisma", "photon"),)
CLI_PACKAGES: tuple[tuple[str, ...], ...] = (("prisma2",), ("prisma",))
# The generated client's index.js names the engine it was generated with (photonjs TSClient.ts header).
GENERATED_HEADERS: tuple[tuple[str, ...], ...] = (
    ("@prisma", "photon"), ("@prisma", "client"), ("@generated", "photon"))
_HEADER = re.compile(r"Query Engine version:\s*([0-9a-f]{40})")
HEADER_READ_BYTES = 65536

# A version becomes a URL segment and a cache folder name: keep it to characters that are safe in both.
_SAFE_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def check_version(version: str, *, origin: str) -> str:
    """Return `version` stripped, or raise ConfigError when it cannot be a prisma-engines version."""
    value = version.strip()
    if not _SAFE_VERSION.match(value):
        raise ConfigError(
            f"engine version {version!r} from {origin} is not a prisma-engines version",
            hint="use the commit hash from node_modules/@prisma/engines-version/package.json "
            '("prisma": {"enginesVersion": ...}), e.g. --engine-version 605197351a3c8bdd595af2d2a9bc3025bca48ea2',
        )
    return value


def _package_dirs(project_root: Path, package: tuple[str, ...]) -> Iterator[Path]:
    for folder in (project_root, *project_root.parents):
        yield folder.joinpath("node_modules", *package, "package.json")


def _read_engines_version(manifest: Path, *, commit_fallback: bool) -> str | None:
    """`prisma.enginesVersion` of a package.json; None when the file or the field is absent."""
    try:
        raw = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ProjectError(
            f"cannot read {manifest}: {err}",
            hint="reinstall the project's dependencies (npm ci / yarn install), or pass --engine-version",
        ) from None
    prisma = raw.get("prisma") if isinstance(raw, dict) else None
    if not isinstance(prisma, dict):
        return None
    value = prisma.get("enginesVersion")
    if isinstance(value, str) and value.strip():
        return check_version(value, origin=str(manifest))
    # Prisma 2.0-era manifests carried the engine commit as `prisma.version`; accept it only if it is one.
    value = prisma.get("version")
    if commit_fallback and isinstance(value, str) and _COMMIT.match(value.strip()):
        return value.strip()
    return None


def _from_package(project_root: Path, package: tuple[str, ...], commit_fallback: bool,
                  looked: list[str]) -> str | None:
    for manifest in _package_dirs(project_root, package):
        version = _read_engines_version(manifest, commit_fallback=commit_fallback)
        if version is not None:
            return version
        if manifest.is_file():
            wanted = "commit in prisma.version" if package in (*COMMIT_PACKAGES, *CLI_PACKAGES) else \
                "prisma.enginesVersion"
            looked.append(f"{manifest} (no {wanted})")
            return None  # Node would resolve this package here: a parent's copy is not the project's
    where = project_root.joinpath("node_modules", *package, "package.json")
    looked.append(f"{where} (missing, nor in any parent folder)")
    return None


def _from_header(project_root: Path, package: tuple[str, ...], looked: list[str]) -> str | None:
    """The commit in a generated client's `Query Engine version:` header, for the first copy Node resolves."""
    for manifest in _package_dirs(project_root, package):
        index = manifest.with_name("index.js")
        try:
            with index.open("rb") as fh:
                head = fh.read(HEADER_READ_BYTES).decode("utf-8", errors="replace")
        except OSError:
            continue
        found = _HEADER.search(head)
        if found:
            return found.group(1)
        looked.append(f"{index} (no \"Query Engine version\" header)")
        return None
    return None


def engines_version(project_root: Path, options_version: str | None, env: Mapping[str, str], *,
                    flag: str = "--engine-version") -> str:
    """The prisma-engines commit hash the project's client was built for.

    Raises ProjectError, naming every place it looked, when no source gives a version; `flag` is how the
    calling command spells the option that gives it (`engines fetch` says --version).
    """
    override = env.get(ENV_OVERRIDE, "").strip()
    if override:
        return check_version(override, origin=f"${ENV_OVERRIDE}")
    looked: list[str] = []
    sources: list[tuple[tuple[str, ...], bool]] = [(ENGINES_VERSION_PACKAGE, False), (CLIENT_PACKAGE, True),
                                                   *((p, True) for p in COMMIT_PACKAGES)]
    for package, commit_fallback in sources:
        version = _from_package(project_root, package, commit_fallback, looked)
        if version is not None:
            return version
    for package in GENERATED_HEADERS:
        version = _from_header(project_root, package, looked)
        if version is not None:
            return version
    for package in CLI_PACKAGES:
        version = _from_package(project_root, package, True, looked)
        if version is not None:
            return version
    if options_version is not None and options_version.strip():
        return check_version(options_version, origin=flag)
    raise ProjectError(
        "cannot tell which engine version to fetch; looked in:\n    "
        + "\n    ".join([*looked, f"{flag} (not given)"]),
        hint="install the project's dependencies (npm ci) so @prisma/engines-version is present, or pass "
        f"{flag} <prisma-engines commit hash> (or set {ENV_OVERRIDE})",
    )
