"""The runtime policy data (platforms/policies.toml): its invariants, and that the loader enforces them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bundler.elf import version_key
from bundler.errors import ConfigError
from bundler.policies import POLICY_FILE, OpenSslPolicy, Policies, check_policies, load_policies, openssl_series
from bundler.targets import load_matrix


@pytest.fixture(scope="module")
def policies() -> Policies:
    return load_policies()


def test_every_runtime_os_has_a_policy_and_back(policies: Policies) -> None:
    assert set(policies.by_os) == set(load_matrix().oses)
    for runtime in load_matrix().runtimes:
        assert policies.for_os(runtime.os.key).key == runtime.os.key


def test_glibc_agrees_with_runtimes_toml(policies: Policies) -> None:
    for key, os_ in load_matrix().oses.items():
        policy = policies.by_os[key]
        assert policy.libc == os_.libc
        assert policy.glibc == os_.glibc
        if os_.libc == "glibc":
            assert policy.symbols["GLIBC"] == os_.glibc
        else:
            assert "GLIBC" not in policy.symbols


def test_known_numbers(policies: Policies) -> None:
    by_os = policies.by_os
    assert by_os["al2"].symbols["GLIBC"] == "2.26"
    assert by_os["al2023"].symbols["GLIBC"] == "2.34"
    assert by_os["al2"].symbols["GLIBCXX"] == "3.4.24"  # libstdc++ 7.3.1 in lambci's AL2 package list
    assert by_os["ubuntu2204"].symbols["GLIBCXX"] == "3.4.30"
    assert "libssl.so.10" in by_os["al2"].openssl.sonames
    assert "libssl.so.3" in by_os["al2023"].openssl.sonames
    assert "libssl.so.3" not in by_os["al2"].libraries


def test_newer_os_of_a_family_allows_a_superset(policies: Policies) -> None:
    families: dict[str, list[str]] = {}
    for policy in sorted(policies.by_os.values(), key=lambda p: (p.family, p.order)):
        families.setdefault(policy.family, []).append(policy.key)
    assert families == {
        "amazonlinux": ["al1", "al2", "al2023"],
        "ubuntu": ["ubuntu1804", "ubuntu2204", "ubuntu2404"],
        "alpine": ["alpine316", "alpine317"],
    }
    for keys in families.values():
        for older, newer in zip(keys, keys[1:]):
            old, new = policies.by_os[older].symbols, policies.by_os[newer].symbols
            for ns, highest in old.items():
                assert version_key(new[ns]) >= version_key(highest), (older, newer, ns)


def test_openssl_data_matches_the_series(policies: Policies) -> None:
    for key, os_ in load_matrix().oses.items():
        openssl = policies.by_os[key].openssl
        assert openssl_series(openssl.version) == openssl_series(os_.ssl.replace(".x", ".0"))
        assert set(openssl.sonames) <= set(policies.by_os[key].libraries)


def test_uncertain_numbers_are_explained(policies: Policies) -> None:
    assert any(p.uncertain for p in policies.by_os.values())
    for policy in policies.by_os.values():
        if policy.uncertain:
            assert policy.note.strip()


def test_interpreters_per_libc_and_arch(policies: Policies) -> None:
    assert policies.interpreter("glibc", "x86_64") == "/lib64/ld-linux-x86-64.so.2"
    assert policies.interpreter("glibc", "arm64") == "/lib/ld-linux-aarch64.so.1"
    assert policies.interpreter("musl", "x86_64") == "/lib/ld-musl-x86_64.so.1"
    alpine = policies.by_os["alpine317"]
    assert "libc.musl-aarch64.so.1" in alpine.system_libraries("arm64", policies.interpreter("musl", "arm64"))
    assert "ld-linux-x86-64.so.2" in policies.by_os["al2"].system_libraries("x86_64", "/lib64/ld-linux-x86-64.so.2")


@pytest.mark.parametrize(
    ("version", "tag", "allowed"),
    [
        ("3.2.2", "3.0.0", True),
        ("3.2.2", "3.2.0", True),
        ("3.2.2", "3.3.0", False),
        ("3.0.2", "3.0.3", False),
        ("3.0.13", "3.0.3", True),
        ("3.2.2", "1_1_0", False),
        ("1.1.1", "1_1_0d", True),
        ("1.1.1", "1_1_1", True),
        ("1.1.1", "1_1_1a", False),
        ("1.1.1", "3.0.0", False),
        ("1.0.2k", "1.0.1_EC", True),
        ("1.0.2k", "1.0.2", True),
        ("1.0.2k", "1_1_0", False),
    ],
)
def test_openssl_tag_rule(version: str, tag: str, allowed: bool) -> None:
    assert OpenSslPolicy(version=version, sonames=(), tags=frozenset()).allows(tag) is allowed


def _replace(policies: Policies, key: str, **changes: object) -> Policies:
    by_os = dict(policies.by_os)
    by_os[key] = dataclasses.replace(by_os[key], **changes)  # type: ignore[arg-type]
    return dataclasses.replace(policies, by_os=by_os)


def test_loader_rejects_a_newer_os_with_lower_versions(policies: Policies) -> None:
    symbols = {**policies.by_os["al2023"].symbols, "GLIBCXX": "3.4.20"}
    with pytest.raises(ConfigError, match="superset"):
        check_policies(_replace(policies, "al2023", symbols=symbols), load_matrix())


def test_loader_rejects_glibc_that_disagrees_with_runtimes(policies: Policies) -> None:
    symbols = {**policies.by_os["al2"].symbols, "GLIBC": "2.28"}
    with pytest.raises(ConfigError, match=r"al2: glibc 2\.28 but runtimes\.toml says 2\.26"):
        check_policies(_replace(policies, "al2", glibc="2.28", symbols=symbols), load_matrix())


def test_loader_rejects_wrong_openssl_sonames(policies: Policies) -> None:
    openssl = dataclasses.replace(policies.by_os["al2023"].openssl, sonames=("libssl.so.10", "libcrypto.so.10"))
    with pytest.raises(ConfigError, match=r"not the 3\.0\.x so-names"):
        check_policies(_replace(policies, "al2023", openssl=openssl), load_matrix())


def test_loader_rejects_missing_os_and_unknown_uncertain_field(policies: Policies) -> None:
    by_os = {k: v for k, v in policies.by_os.items() if k != "ubuntu1804"}
    with pytest.raises(ConfigError, match=r"ubuntu1804 of runtimes\.toml has no policy"):
        check_policies(dataclasses.replace(policies, by_os=by_os), load_matrix())
    with pytest.raises(ConfigError, match=r"uncertain names 'symbols\.ZLIB'"):
        check_policies(_replace(policies, "al2", uncertain=("symbols.ZLIB",)), load_matrix())


def test_loader_rejects_glibc_versions_on_musl(policies: Policies) -> None:
    symbols = {**policies.by_os["alpine317"].symbols, "GLIBC": "2.35"}
    with pytest.raises(ConfigError, match="no glibc"):
        check_policies(_replace(policies, "alpine317", symbols=symbols), load_matrix())


def test_broken_policy_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "policies.toml"
    bad.write_text("[policy.al2\n")
    with pytest.raises(ConfigError, match="cannot read runtime policies"):
        load_policies(bad)
    incomplete = tmp_path / "incomplete.toml"
    incomplete.write_text(POLICY_FILE.read_text().replace('family = "alpine"\n', "", 1))
    with pytest.raises(ConfigError, match="missing or bad field 'family'"):
        load_policies(incomplete)
