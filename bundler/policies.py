"""Runtime policies: what each runtime operating system offers a native file (platforms/policies.toml),
loaded once and checked on load, against itself (a newer OS of a family allows a superset) and against
runtimes.toml (libc, glibc, the OpenSSL series and so-names agree). The data auditwheel keeps in
manylinux-policy.json; bundler/verify/ judges files against it.
"""

from __future__ import annotations

import posixpath
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from bundler.elf import version_key
from bundler.errors import ConfigError
from bundler.resources import data_file
from bundler.targets import Matrix, load_matrix

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib

POLICY_FILE = data_file("platforms", "policies.toml")

# The so-names of each OpenSSL series (FACTS.md section 3); 1.0 has Red Hat's and Debian's names.
SSL_SONAMES: dict[str, tuple[frozenset[str], ...]] = {
    "3.0.x": (frozenset({"libssl.so.3", "libcrypto.so.3"}),),
    "1.1.x": (frozenset({"libssl.so.1.1", "libcrypto.so.1.1"}),),
    "1.0.x": (frozenset({"libssl.so.10", "libcrypto.so.10"}), frozenset({"libssl.so.1.0.0", "libcrypto.so.1.0.0"})),
}
MARCH = {"x86_64": "x86_64", "arm64": "aarch64"}


def openssl_series(version: str) -> tuple[int, ...]:
    """ABI series of an OpenSSL version: 3.x is one series (libssl.so.3); 1.1 and 1.0 are their own."""
    numbers = [n for n, _ in version_key(version)]
    return tuple(numbers[:1]) if numbers and numbers[0] >= 3 else tuple(numbers[:2])


@dataclass(frozen=True)
class OpenSslPolicy:
    version: str
    sonames: tuple[str, ...]
    tags: frozenset[str]

    def allows(self, number: str) -> bool:
        """Whether an `OPENSSL_<number>` version tag exists in this OpenSSL: same series, not newer."""
        return openssl_series(number) == openssl_series(self.version) and version_key(number) <= version_key(
            self.version
        )


@dataclass(frozen=True)
class Policy:
    """What one runtime operating system offers to a native file."""

    key: str
    family: str
    order: int
    libc: str
    glibc: str | None
    symbols: Mapping[str, str]
    openssl: OpenSslPolicy
    libraries: tuple[str, ...]
    search_path: tuple[str, ...]
    uncertain: tuple[str, ...] = ()
    note: str = ""

    def system_libraries(self, arch: str, interpreter: str) -> frozenset[str]:
        names = {lib.replace("{march}", MARCH.get(arch, arch)) for lib in self.libraries}
        names.add(posixpath.basename(interpreter))
        return frozenset(names)

    def is_uncertain(self, what: str) -> bool:
        return what in self.uncertain


@dataclass(frozen=True)
class Policies:
    interpreters: Mapping[str, Mapping[str, str]]
    by_os: Mapping[str, Policy]

    def for_os(self, key: str) -> Policy:
        try:
            return self.by_os[key]
        except KeyError:
            raise ConfigError(f"no runtime policy for operating system {key!r} in {POLICY_FILE.name}") from None

    def interpreter(self, libc: str, arch: str) -> str:
        return self.interpreters[libc][arch]


@lru_cache(maxsize=4)
def load_policies(path: Path = POLICY_FILE) -> Policies:
    """The runtime policies, checked against themselves and against runtimes.toml."""
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"cannot read runtime policies {path}: {err}") from None
    policies = _build_policies(raw, path)
    check_policies(policies, load_matrix(), path)
    return policies


def _build_policies(raw: dict[str, Any], path: Path) -> Policies:
    try:
        by_os = {
            key: Policy(
                key=key,
                family=value["family"],
                order=int(value["order"]),
                libc=value["libc"],
                glibc=value.get("glibc"),
                symbols=dict(value.get("symbols", {})),
                openssl=OpenSslPolicy(
                    version=value["openssl"]["version"],
                    sonames=tuple(value["openssl"]["sonames"]),
                    tags=frozenset(value["openssl"].get("tags", ())),
                ),
                libraries=tuple(value["libraries"]),
                search_path=tuple(value.get("search_path", ["@system"])),
                uncertain=tuple(value.get("uncertain", ())),
                note=value.get("note", ""),
            )
            for key, value in raw["policy"].items()
        }
        interpreters = {libc: dict(by_arch) for libc, by_arch in raw["interpreters"].items()}
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"{path}: invalid runtime policy data: missing or bad field {err}") from None
    return Policies(interpreters=interpreters, by_os=by_os)


def check_policies(policies: Policies, matrix: Matrix, path: Path = POLICY_FILE) -> None:
    """Invariants of the policy data; a violation is a bug in the data, reported with the file name."""
    problems: list[str] = []
    for key in sorted(set(matrix.oses) - set(policies.by_os)):
        problems.append(f"os {key} of runtimes.toml has no policy")
    for key in sorted(set(policies.by_os) - set(matrix.oses)):
        problems.append(f"policy {key} names no os of runtimes.toml")
    for libc, by_arch in policies.interpreters.items():
        if set(by_arch) != {"x86_64", "arm64"}:
            problems.append(f"interpreters.{libc}: need exactly x86_64 and arm64, got {sorted(by_arch)}")
    for policy in policies.by_os.values():
        problems.extend(_policy_problems(policy, policies, matrix))
    families: dict[str, list[Policy]] = {}
    for policy in policies.by_os.values():
        families.setdefault(policy.family, []).append(policy)
    for family, members in families.items():
        members.sort(key=lambda p: p.order)
        orders = [p.order for p in members]
        if len(set(orders)) != len(orders):
            problems.append(f"family {family}: two policies share an order")
        for older, newer in zip(members, members[1:]):
            if older.libc != newer.libc:
                problems.append(f"family {family}: {older.key} and {newer.key} differ in libc")
            for ns, highest in older.symbols.items():
                if ns not in newer.symbols:
                    problems.append(f"family {family}: {newer.key} lacks {ns}, which the older {older.key} has")
                elif version_key(newer.symbols[ns]) < version_key(highest):
                    problems.append(
                        f"family {family}: {newer.key} allows {ns} up to {newer.symbols[ns]}, "
                        f"below the older {older.key}'s {highest} (a newer OS must allow a superset)"
                    )
    if problems:
        raise ConfigError(f"{path}: invalid runtime policy data:\n  " + "\n  ".join(problems))


def _policy_problems(policy: Policy, policies: Policies, matrix: Matrix) -> Iterator[str]:
    where = f"policy {policy.key}"
    if policy.libc not in policies.interpreters:
        yield f"{where}: libc {policy.libc!r} has no interpreters entry"
    os_ = matrix.oses.get(policy.key)
    if os_ is not None:
        if policy.libc != os_.libc:
            yield f"{where}: libc {policy.libc} but runtimes.toml says {os_.libc}"
        if policy.glibc != os_.glibc:
            yield f"{where}: glibc {policy.glibc} but runtimes.toml says {os_.glibc}"
        if version_key(policy.openssl.version)[: len(version_key(os_.openssl))] != version_key(os_.openssl):
            yield f"{where}: openssl.version {policy.openssl.version} disagrees with runtimes.toml's {os_.openssl}"
        if openssl_series(policy.openssl.version) != openssl_series(os_.ssl.replace(".x", ".0")):
            yield f"{where}: openssl.version {policy.openssl.version} is not in the {os_.ssl} series of runtimes.toml"
        if frozenset(policy.openssl.sonames) not in SSL_SONAMES.get(os_.ssl, ()):
            yield f"{where}: openssl.sonames {list(policy.openssl.sonames)} are not the {os_.ssl} so-names"
    if policy.libc == "glibc":
        if policy.glibc is None or policy.symbols.get("GLIBC") != policy.glibc:
            yield f"{where}: symbols.GLIBC must equal glibc ({policy.glibc})"
    elif "GLIBC" in policy.symbols or policy.glibc is not None:
        yield f"{where}: a {policy.libc} system has no glibc and no GLIBC symbol versions"
    for ns, highest in policy.symbols.items():
        if not version_key(highest):
            yield f"{where}: symbols.{ns} = {highest!r} is not a version number"
    missing = [s for s in policy.openssl.sonames if s not in policy.libraries]
    if missing:
        yield f"{where}: openssl.sonames {missing} are not in libraries"
    if len(set(policy.libraries)) != len(policy.libraries):
        yield f"{where}: a library is listed twice"
    fields = {"glibc", "libc", "libraries", "search_path"} | {f"symbols.{ns}" for ns in policy.symbols}
    fields |= {"openssl.version", "openssl.sonames", "openssl.tags"}
    for name in policy.uncertain:
        if name not in fields:
            yield f"{where}: uncertain names {name!r}, which is not a field of the policy"
    if policy.uncertain and not policy.note:
        yield f"{where}: uncertain fields need a note saying why"
