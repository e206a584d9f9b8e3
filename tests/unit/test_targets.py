from __future__ import annotations

import pytest

from bundler.errors import ConfigError, ProjectError
from bundler.targets import (
    canonical_target,
    load_matrix,
    newest_runtime,
    node_range_allows,
    resolve,
    runtime_for_node_range,
    target_for,
)

# Every Lambda Node runtime from nodejs8.10 to nodejs24.x, on each architecture it runs on (FACTS.md §1).
LAMBDA = [
    ("nodejs8.10", "x86_64", "rhel-openssl-1.0.x", "Amazon Linux 2018.03 (AL1)"),
    ("nodejs10.x", "x86_64", "rhel-openssl-1.0.x", "Amazon Linux 2"),
    ("nodejs12.x", "x86_64", "rhel-openssl-1.0.x", "Amazon Linux 2"),
    ("nodejs12.x", "arm64", "linux-arm64-openssl-1.0.x", "Amazon Linux 2"),
    ("nodejs14.x", "x86_64", "rhel-openssl-1.0.x", "Amazon Linux 2"),
    ("nodejs14.x", "arm64", "linux-arm64-openssl-1.0.x", "Amazon Linux 2"),
    ("nodejs16.x", "x86_64", "rhel-openssl-1.0.x", "Amazon Linux 2"),
    ("nodejs16.x", "arm64", "linux-arm64-openssl-1.0.x", "Amazon Linux 2"),
    ("nodejs18.x", "x86_64", "rhel-openssl-1.0.x", "Amazon Linux 2"),
    ("nodejs18.x", "arm64", "linux-arm64-openssl-1.0.x", "Amazon Linux 2"),
    ("nodejs20.x", "x86_64", "rhel-openssl-3.0.x", "Amazon Linux 2023"),
    ("nodejs20.x", "arm64", "linux-arm64-openssl-3.0.x", "Amazon Linux 2023"),
    ("nodejs22.x", "x86_64", "rhel-openssl-3.0.x", "Amazon Linux 2023"),
    ("nodejs22.x", "arm64", "linux-arm64-openssl-3.0.x", "Amazon Linux 2023"),
    ("nodejs24.x", "x86_64", "rhel-openssl-3.0.x", "Amazon Linux 2023"),
    ("nodejs24.x", "arm64", "linux-arm64-openssl-3.0.x", "Amazon Linux 2023"),
]


@pytest.mark.parametrize(("runtime", "arch", "target", "os_name"), LAMBDA)
def test_lambda_matrix(runtime: str, arch: str, target: str, os_name: str) -> None:
    profile = resolve("lambda", runtime, arch)
    assert profile.target == target
    assert profile.os.name == os_name


def test_matrix_covers_every_lambda_runtime_and_arch() -> None:
    rows = {(r.name, a) for r in load_matrix().runtimes_for("lambda") for a in r.archs}
    assert rows == {(r, a) for r, a, _, _ in LAMBDA}


@pytest.mark.parametrize(("runtime", "target"), [("nodejs10", "debian-openssl-1.1.x"),
                                                 ("nodejs16", "debian-openssl-1.1.x"),
                                                 ("nodejs18", "debian-openssl-3.0.x"),
                                                 ("nodejs24", "debian-openssl-3.0.x")])
def test_gcf_targets(runtime: str, target: str) -> None:
    assert resolve("gcf", runtime).target == target


def test_platforms_sharing_lambda_runtimes() -> None:
    assert resolve("netlify", "nodejs18.x").target == "rhel-openssl-1.0.x"
    assert resolve("up", "nodejs10.x").target == "rhel-openssl-1.0.x"
    assert resolve("now", "nodejs8.10").target == "rhel-openssl-1.0.x"


def test_2019_photon_names_accepted_for_their_runtimes() -> None:
    assert resolve("lambda", "nodejs8.10").accepted_targets == {"rhel-openssl-1.0.x", "linux-glibc-libssl1.0.1"}
    assert resolve("lambda", "nodejs10.x").accepted_targets == {"rhel-openssl-1.0.x", "linux-glibc-libssl1.0.2"}
    assert resolve("lambda", "nodejs20.x").accepted_targets == {"rhel-openssl-3.0.x"}
    assert canonical_target("linux-glibc-libssl1.1.1") == "debian-openssl-1.1.x"
    assert canonical_target("rhel-openssl-3.0.x") == "rhel-openssl-3.0.x"


@pytest.mark.parametrize(("distro", "arch", "ssl", "target"), [
    ("rhel", "x86_64", "1.0.x", "rhel-openssl-1.0.x"),
    ("debian", "x86_64", None, "debian-openssl-1.1.x"),
    ("musl", "x86_64", "1.1.x", "linux-musl"),
    ("musl", "x86_64", "3.0.x", "linux-musl-openssl-3.0.x"),
    ("musl", "arm64", "3.0.x", "linux-musl-arm64-openssl-3.0.x"),
    ("debian", "aarch64", "3.0.x", "linux-arm64-openssl-3.0.x"),
])
def test_target_for(distro: str, arch: str, ssl: str | None, target: str) -> None:
    assert target_for(distro, arch, ssl) == target


def test_unknown_runtime_names_the_closest() -> None:
    with pytest.raises(ConfigError) as err:
        resolve("lambda", "nodejs20")
    assert "did you mean nodejs20.x" in str(err.value)


def test_runtime_without_arm64_is_refused() -> None:
    with pytest.raises(ConfigError, match="does not run on arm64"):
        resolve("lambda", "nodejs10.x", "arm64")


@pytest.mark.parametrize(("spec", "runtime"), [
    ("18.x", "nodejs18.x"), (">=18", "nodejs24.x"), ("^16 || ^18", "nodejs18.x"), ("<20", "nodejs18.x"),
    ("16 - 20", "nodejs20.x"), (">=14 <17", "nodejs16.x"), ("20.11.1", "nodejs20.x"), ("~22.1", "nodejs22.x"),
])
def test_runtime_from_engines_node(spec: str, runtime: str) -> None:
    found = runtime_for_node_range("lambda", spec)
    assert found is not None and found.name == runtime


def test_engines_node_matching_nothing() -> None:
    assert runtime_for_node_range("lambda", "^4") is None
    assert not node_range_allows(">=99", 24)


@pytest.mark.parametrize(("spec", "runtime"), [
    (">=18.0.0-0", "nodejs24.x"), ("^18.0.0-beta", "nodejs18.x"), ("18.x || 20.x", "nodejs20.x"),
    ("^16 || ^18", "nodejs18.x"), ("18.x.x", "nodejs18.x"), ("18.*", "nodejs18.x"), ("*", "nodejs24.x"),
    ("x", "nodejs24.x"), ("16 - 18.2", "nodejs18.x"), ("v20", "nodejs20.x"), (">= 18 < 20", "nodejs18.x"),
    ("<18.1", "nodejs18.x"), ("<18", "nodejs16.x"), (">18", "nodejs24.x"),
])
def test_engines_node_npm_grammar(spec: str, runtime: str) -> None:
    """npm's range grammar (node-semver): prerelease bounds, `||`, x ranges, hyphen ranges."""
    found = runtime_for_node_range("lambda", spec)
    assert found is not None and found.name == runtime


def test_engines_node_a_major_is_admitted_when_one_release_satisfies() -> None:
    assert node_range_allows(">18.0.1", 18)  # 18.0.2 satisfies it
    assert node_range_allows(">=18.999.0 <19", 18)
    assert not node_range_allows(">18", 18)  # npm reads >18 as >=19.0.0
    assert not node_range_allows("<18.0.0-0", 18)
    assert not node_range_allows(">20.0.0-rc.1 <20.0.0", 20)  # only prereleases, no Node release


@pytest.mark.parametrize("spec", ["lts/*", "latest", "node 18", "lts/hydrogen", ">=18 <20 garbage"])
def test_engines_node_that_is_not_a_range_is_refused(spec: str) -> None:
    with pytest.raises(ProjectError, match="is not a semver range") as err:
        runtime_for_node_range("lambda", spec)
    assert f'package.json engines.node "{spec}"' in str(err.value)
    assert err.value.exit_code == 3


def test_newest_runtime_is_not_deprecated() -> None:
    assert newest_runtime("lambda").name == "nodejs24.x"
    assert newest_runtime("gcf").name == "nodejs24"
