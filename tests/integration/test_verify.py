"""`verify` end to end on real gcc-built ELF files, in real zips and directories (bundler/verify/)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from bundler.cli.common import run_guarded
from bundler.cli.verify_cmd import verify
from bundler.targets import PlatformInfo, Runtime, RuntimeProfile, load_matrix, profile_for, resolve
from bundler.verify import Finding, Report, format_report, unzipped_size, verify_artifact
from tests.elf_fixtures import ElfFixtures, Member, build_fixtures, have_compilers, make_tree, make_zip

pytestmark = pytest.mark.skipif(not have_compilers(), reason="gcc/g++ not installed")

AL1 = ("lambda", "nodejs8.10")
AL2 = ("lambda", "nodejs18.x")
AL2023 = ("lambda", "nodejs20.x")
UBUNTU1804 = ("gcf", "nodejs16")
UBUNTU2204 = ("gcf", "nodejs20")
UBUNTU2404 = ("gcf", "nodejs24")
ENGINE_DIR = "node_modules/.prisma/client"


@pytest.fixture(scope="session")
def fx(tmp_path_factory: pytest.TempPathFactory) -> ElfFixtures:
    return build_fixtures(tmp_path_factory.mktemp("elf-verify"))


def alpine(os_key: str = "alpine317", arch: str = "x86_64") -> RuntimeProfile:
    """A profile for a Docker image on Alpine (no serverless platform in runtimes.toml runs on musl)."""
    info = PlatformInfo(key="docker", title="Docker", zip_max=None, unzipped_max=None, runtimes_from="docker")
    runtime = Runtime("docker", "node20-alpine", 20, load_matrix().oses[os_key], ("x86_64", "arm64"), ())
    return profile_for(runtime, info, arch)  # type: ignore[arg-type]


def profile(which: tuple[str, str] | RuntimeProfile, arch: str = "x86_64") -> RuntimeProfile:
    return which if isinstance(which, RuntimeProfile) else resolve(which[0], which[1], arch)


def check_one(
    tmp_path: Path, content: Path | bytes, which: tuple[str, str] | RuntimeProfile, *, name: str = "lib/native.so",
    mode: int = 0o755, arch: str = "x86_64",
) -> Report:
    """Verify a folder holding one native file, expecting no engine."""
    root = make_tree(tmp_path / f"art-{abs(hash((str(which), name, arch)))}", [(name, content, mode)])
    return verify_artifact(root, profile(which, arch), engine_kind=None)


def failing(report: Report) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for f in report.errors:
        out.setdefault(f.check, []).append(f)
    return out


# ------------------------------------------------------------------------------------------- per file


def test_static_executable_passes_every_x86_64_runtime(fx: ElfFixtures, tmp_path: Path) -> None:
    matrix = load_matrix()
    profiles = [
        profile_for(r, matrix.platform(p), "x86_64")
        for p in matrix.platforms
        for r in matrix.runtimes_for(p)
        if "x86_64" in r.archs
    ]
    profiles += [alpine("alpine316"), alpine("alpine317")]
    for p in profiles:
        report = check_one(tmp_path, fx.static_exe, p, name="bin/tool")
        assert report.ok, (p.platform.key, p.runtime.name, format_report(report))
        assert report.files[0].verdict == "pass"
        assert report.files[0].checks["exec-bit"] == "pass"


def test_libssl3_object_fails_al2_passes_al2023_and_ubuntu2204(fx: ElfFixtures, tmp_path: Path) -> None:
    al2 = check_one(tmp_path, fx.libssl3_so, AL2, name="node_modules/db/build/Release/db.node")
    assert not al2.ok
    (libs,) = failing(al2)["libraries"]
    assert "libssl.so.3" in libs.message and "Amazon Linux 2" in libs.message
    assert "OpenSSL 1.0.2k" in libs.has and "libssl.so.10" in libs.has
    assert "nodejs20.x" in libs.fix  # the runtime where it would load
    assert al2.files[0].checks["libraries"] == "fail" and al2.files[0].checks["arch"] == "pass"
    for good in (AL2023, UBUNTU2204, UBUNTU2404):
        report = check_one(tmp_path, fx.libssl3_so, good, name="node_modules/db/build/Release/db.node")
        assert report.ok, format_report(report)
    assert not check_one(tmp_path, fx.libssl3_so, UBUNTU1804).ok
    assert not check_one(tmp_path, fx.libssl3_so, alpine("alpine316")).ok
    assert check_one(tmp_path, fx.libssl3_so, alpine("alpine317")).ok


def test_glibc_234_fails_al2_passes_al2023(fx: ElfFixtures, tmp_path: Path) -> None:
    al2 = check_one(tmp_path, fx.glibc234_exe, AL2, name="bin/tool")
    (sym,) = failing(al2)["symbols"]
    assert sym.file == "bin/tool"
    assert "GLIBC_2.34" in sym.message
    assert "GLIBC_2.26" in sym.has
    assert "nodejs20.x" in sym.fix and "build-nodejs18.x" in sym.fix
    assert al2.files[0].checks == {
        "elf": "pass", "arch": "pass", "libc": "pass", "libraries": "pass", "symbols": "fail", "exec-bit": "pass",
    }
    assert al2.files[0].verdict == "fail"
    assert not check_one(tmp_path, fx.glibc234_exe, AL1).ok
    assert not check_one(tmp_path, fx.glibc234_exe, UBUNTU1804).ok
    for good in (AL2023, UBUNTU2204, UBUNTU2404):
        assert check_one(tmp_path, fx.glibc234_exe, good, name="bin/tool").ok


def test_glibc_236_needs_ubuntu_2404(fx: ElfFixtures, tmp_path: Path) -> None:
    for bad in (AL2023, UBUNTU2204):
        (sym,) = failing(check_one(tmp_path, fx.glibc236_so, bad))["symbols"]
        assert "GLIBC_2.36" in sym.message
    ubuntu2204 = check_one(tmp_path, fx.glibc236_so, UBUNTU2204)
    assert "nodejs24" in failing(ubuntu2204)["symbols"][0].fix
    assert check_one(tmp_path, fx.glibc236_so, UBUNTU2404).ok


def test_cxx_object_needs_recent_glibcxx(fx: ElfFixtures, tmp_path: Path) -> None:
    for bad in (AL2, AL2023, UBUNTU1804):
        (sym,) = failing(check_one(tmp_path, fx.cxx_so, bad))["symbols"]
        assert "GLIBCXX_3.4.30" in sym.message
    al2023 = failing(check_one(tmp_path, fx.cxx_so, AL2023))["symbols"][0]
    assert "GLIBCXX_3.4.29" in al2023.has and "uncertain" in al2023.has  # AL2023's libstdc++ level is flagged
    for good in (UBUNTU2204, UBUNTU2404):
        assert check_one(tmp_path, fx.cxx_so, good).ok
    # Alpine 3.17's libstdc++ has GLIBCXX_3.4.30 too, but this object was linked against glibc
    on_musl = check_one(tmp_path, fx.cxx_so, alpine("alpine317"))
    assert on_musl.files[0].checks["symbols"] == "pass"
    assert set(failing(on_musl)) == {"libc", "libraries"}


def test_musl_executable(fx: ElfFixtures, tmp_path: Path) -> None:
    glibc = check_one(tmp_path, fx.musl_exe, AL2023, name="bin/tool")
    (libc,) = failing(glibc)["libc"]
    assert "musl" in libc.message and "/lib/ld-musl-x86_64.so.1" in libc.message
    assert "glibc" in libc.has and "/lib64/ld-linux-x86-64.so.2" in libc.has
    assert glibc.files[0].checks["libc"] == "fail"
    musl = check_one(tmp_path, fx.musl_exe, alpine("alpine317"), name="bin/tool")
    assert musl.ok, format_report(musl)
    # a glibc executable on Alpine fails the libc check the other way round
    (other,) = failing(check_one(tmp_path, fx.glibc234_exe, alpine("alpine317"), name="bin/tool"))["libc"]
    assert "needs glibc" in other.message and "musl" in other.has


def test_aarch64_file(fx: ElfFixtures, tmp_path: Path) -> None:
    x86 = check_one(tmp_path, fx.aarch64_exe, AL2023, name="bin/tool")
    (arch,) = failing(x86)["arch"]
    assert "arm64" in arch.message and "EM_AARCH64" in arch.message and "x86_64" in arch.has
    assert "--arch arm64" in arch.fix
    assert check_one(tmp_path, fx.aarch64_exe, AL2023, name="bin/tool", arch="arm64").ok
    (back,) = failing(check_one(tmp_path, fx.static_exe, AL2023, name="bin/tool", arch="arm64"))["arch"]
    assert "x86_64" in back.message


def test_broken_and_foreign_files_are_reported_and_the_run_goes_on(fx: ElfFixtures, tmp_path: Path) -> None:
    zip_path = make_zip(
        tmp_path / "fn.zip",
        [
            ("node_modules/a/build/Release/a.node", fx.truncated, 0o644),
            ("node_modules/b/b.node", fx.header_only, 0o644),
            ("node_modules/c/c.node", b"\xcf\xfa\xed\xfe" + bytes(100), 0o644),
            ("node_modules/d/prebuilds/darwin-arm64/d.node", b"\xcf\xfa\xed\xfe" + bytes(100), 0o644),
            ("node_modules/d/prebuilds/linux-x64/d.musl.node", fx.musl_exe, 0o644),
            ("node_modules/e/e.node", fx.plain_so, 0o644),
            ("index.js", b"exports.handler = async () => 1\n", 0o644),
        ],
    )
    report = verify_artifact(zip_path, resolve(*AL2023), engine_kind=None)
    by_file = {f.path: f for f in report.files}
    assert "index.js" not in by_file
    assert by_file["node_modules/a/build/Release/a.node"].checks["elf"] == "fail"
    assert by_file["node_modules/b/b.node"].checks["elf"] == "fail"
    assert by_file["node_modules/c/c.node"].verdict == "fail"
    assert by_file["node_modules/d/prebuilds/darwin-arm64/d.node"].verdict == "skip"
    assert by_file["node_modules/d/prebuilds/linux-x64/d.musl.node"].verdict == "skip"
    assert by_file["node_modules/e/e.node"].verdict == "pass"
    messages = {f.file: f.message for f in report.errors}
    assert "truncated" in messages["node_modules/a/build/Release/a.node"]
    assert "Mach-O" in messages["node_modules/c/c.node"]


def test_library_shipped_on_runpath_or_search_path(fx: ElfFixtures, tmp_path: Path) -> None:
    shipped: list[Member] = [("bin/app", fx.rpath_exe, 0o755), ("lib/libshipped.so.1", fx.libshipped_so, 0o644)]
    for which in (AL2023, UBUNTU2204):
        report = verify_artifact(make_tree(tmp_path / f"ok-{which[1]}", shipped), profile(which), engine_kind=None)
        assert report.ok, format_report(report)
    missing = verify_artifact(make_tree(tmp_path / "missing", shipped[:1]), profile(AL2023), engine_kind=None)
    (libs,) = failing(missing)["libraries"]
    assert "libshipped.so.1" in libs.message
    # without RUNPATH: Lambda's LD_LIBRARY_PATH has /var/task and /var/task/lib; GCF has neither
    at_root: list[Member] = [("bin/app", fx.norpath_exe, 0o755), ("libshipped.so.1", fx.libshipped_so, 0o644)]
    assert verify_artifact(make_tree(tmp_path / "root-l", at_root), profile(AL2023), engine_kind=None).ok
    gcf = verify_artifact(make_tree(tmp_path / "root-g", at_root), profile(UBUNTU2204), engine_kind=None)
    assert set(failing(gcf)) == {"libraries"}


def test_version_needed_from_a_shipped_library(fx: ElfFixtures, tmp_path: Path) -> None:
    # a shipped libshipped.so.1 without the SHIPPED_1.0 version the executable was linked against
    members: list[Member] = [("bin/app", fx.rpath_exe, 0o755), ("lib/libshipped.so.1", fx.libshipped_v2_so, 0o644)]
    report = verify_artifact(make_zip(tmp_path / "wrong.zip", members), resolve(*UBUNTU2204), engine_kind=None)
    (sym,) = report.errors
    assert (sym.file, sym.check) == ("bin/app", "symbols")
    assert "SHIPPED_1.0" in sym.message and "lib/libshipped.so.1" in sym.message and "SHIPPED_2.0" in sym.has
    # a shipped library without version definitions satisfies any version (glibc only warns)
    members = [("bin/app", fx.rpath_exe, 0o755), ("lib/libshipped.so.1", fx.plain_so, 0o644)]
    assert verify_artifact(make_zip(tmp_path / "unversioned.zip", members), resolve(*UBUNTU2204), engine_kind=None).ok


def test_symbolic_links_to_shipped_libraries(fx: ElfFixtures, tmp_path: Path) -> None:
    # lib/libshipped.so.1 -> libshipped.so.1.0.0, as `cp -P` / zip --symlinks store it
    zip_path = tmp_path / "links.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.writestr(_unix_info("bin/app", 0o100755), fx.rpath_exe.read_bytes())
        zf.writestr(_unix_info("lib/libshipped.so.1", 0o120777), b"libshipped.so.1.0.0")
        zf.writestr(_unix_info("lib/libshipped.so.1.0.0", 0o100644), fx.libshipped_v2_so.read_bytes())
    report = verify_artifact(zip_path, resolve(*AL2023), engine_kind=None)
    (sym,) = report.errors  # the link was followed to the library, whose versions do not match
    assert sym.file == "bin/app" and "lib/libshipped.so.1.0.0" in sym.message
    assert {f.path for f in report.files} == {"bin/app", "lib/libshipped.so.1.0.0"}
    members: list[Member] = [("bin/app", fx.rpath_exe, 0o755), ("real/libshipped.so.1", fx.libshipped_so, 0o644)]
    tree = make_tree(tmp_path / "links", members)
    (tree / "lib").mkdir()
    (tree / "lib" / "libshipped.so.1").symlink_to("../real/libshipped.so.1")
    assert verify_artifact(tree, resolve(*AL2023), engine_kind=None).ok


def _unix_info(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.create_system = 3
    info.external_attr = mode << 16
    return info


def test_directory_and_zip_give_the_same_verdicts(fx: ElfFixtures, tmp_path: Path) -> None:
    members: list[Member] = [
        (f"{ENGINE_DIR}/libquery_engine-rhel-openssl-1.0.x.so.node", fx.plain_so, 0o644),
        ("node_modules/db/db.node", fx.libssl3_so, 0o644),
        ("bin/tool", fx.glibc234_exe, 0o755),
    ]
    as_zip = verify_artifact(make_zip(tmp_path / "a.zip", members), resolve(*AL2))
    as_dir = verify_artifact(make_tree(tmp_path / "a", members), resolve(*AL2))
    assert [f.to_json() for f in as_zip.files] == [f.to_json() for f in as_dir.files]
    assert as_zip.findings == as_dir.findings
    assert as_zip.sizes.zip_bytes is not None and as_dir.sizes.zip_bytes is None


# ------------------------------------------------------------------------------------------- artifact


def test_engine_present_only_and_executable(fx: ElfFixtures, tmp_path: Path) -> None:
    good = make_zip(tmp_path / "good.zip", [(f"{ENGINE_DIR}/query-engine-rhel-openssl-3.0.x", fx.static_exe, 0o755)])
    report = verify_artifact(good, resolve(*AL2023), engine_kind="binary")
    assert report.ok and report.checks == {"engine": "pass", "size": "pass", "paths": "pass"}, format_report(report)
    assert verify_artifact(good, resolve(*AL2023)).ok  # auto


@pytest.mark.parametrize("mode", [0o644, None])
def test_zip_whose_engine_lost_its_exec_bit(fx: ElfFixtures, tmp_path: Path, mode: int | None) -> None:
    name = f"{ENGINE_DIR}/query-engine-rhel-openssl-3.0.x"
    zip_path = make_zip(tmp_path / "noexec.zip", [(name, fx.static_exe, mode)])
    report = verify_artifact(zip_path, resolve(*AL2023))
    (finding,) = report.errors
    assert (finding.file, finding.check) == (name, "exec-bit")
    assert ("0644" if mode else "no Unix permissions") in finding.message
    assert "EROFS" in finding.has and "chmod 755" in finding.fix
    assert report.files[0].checks["exec-bit"] == "fail" and report.files[0].checks["symbols"] == "pass"


def test_zip_with_the_engine_of_another_target(fx: ElfFixtures, tmp_path: Path) -> None:
    other = f"{ENGINE_DIR}/libquery_engine-debian-openssl-3.0.x.so.node"
    report = verify_artifact(make_zip(tmp_path / "other.zip", [(other, fx.plain_so, 0o644)]), resolve(*AL2023))
    engine = [f for f in report.errors if f.check == "engine"]
    assert {f.file for f in engine} == {"", other}
    missing = next(f for f in engine if f.file == "")
    assert "rhel-openssl-3.0.x" in missing.message
    assert "libquery_engine-rhel-openssl-3.0.x.so.node" in missing.message
    assert other in missing.has
    assert 'binaryTargets = ["native", "rhel-openssl-3.0.x"]' in missing.fix
    assert "--engine-source docker" in missing.fix
    wrong = next(f for f in engine if f.file == other)
    assert "debian-openssl-3.0.x" in wrong.message
    assert report.checks["engine"] == "fail"
    assert report.files[0].verdict == "skip"  # never loaded, so its ELF facts are not judged


def test_engine_named_right_but_built_wrong(fx: ElfFixtures, tmp_path: Path) -> None:
    name = f"{ENGINE_DIR}/query-engine-rhel-openssl-1.0.x"
    report = verify_artifact(make_zip(tmp_path / "e.zip", [(name, fx.glibc234_exe, 0o755)]), resolve(*AL2))
    (sym,) = report.errors
    assert (sym.file, sym.check) == (name, "symbols") and "GLIBC_2.34" in sym.message
    assert "--engine-source mirror" in sym.fix and "build-nodejs18.x" in sym.fix
    assert report.checks["engine"] == "pass"


def test_extra_engine_next_to_the_right_one(fx: ElfFixtures, tmp_path: Path) -> None:
    members: list[Member] = [
        (f"{ENGINE_DIR}/libquery_engine-rhel-openssl-1.0.x.so.node", fx.plain_so, 0o644),
        (f"{ENGINE_DIR}/libquery_engine-darwin-arm64.dylib.node", b"\xcf\xfa\xed\xfe" + bytes(64), 0o644),
    ]
    report = verify_artifact(make_tree(tmp_path / "two", members), resolve(*AL2))
    (extra,) = report.errors
    assert extra.check == "engine" and "darwin-arm64" in extra.message


def test_engine_kind_is_a_parameter(fx: ElfFixtures, tmp_path: Path) -> None:
    library = f"{ENGINE_DIR}/libquery_engine-rhel-openssl-3.0.x.so.node"
    with_library = make_tree(tmp_path / "lib", [(library, fx.plain_so, 0o644)])
    no_engine = make_tree(tmp_path / "client", [("index.js", b"module.exports = {}\n", 0o644)])
    assert verify_artifact(with_library, resolve(*AL2023), engine_kind="library").ok
    binary_expected = verify_artifact(with_library, resolve(*AL2023), engine_kind="binary")
    assert {f.check for f in binary_expected.errors} == {"engine"}
    # Prisma 7 / engineType client: no native engine expected, none present -> ok
    assert verify_artifact(no_engine, resolve(*AL2023), engine_kind=None).ok
    assert verify_artifact(no_engine, resolve(*AL2023), engine_kind="client").ok
    assert not verify_artifact(no_engine, resolve(*AL2023)).ok
    # ... and a leftover engine is only a warning
    leftover = verify_artifact(with_library, resolve(*AL2023), engine_kind=None)
    assert leftover.ok and [f.check for f in leftover.warnings] == ["engine"]


def test_legacy_photon_engine_name(fx: ElfFixtures, tmp_path: Path) -> None:
    engine = "node_modules/@generated/photon/runtime/prisma-linux-glibc-libssl1.0.2"
    photon: list[Member] = [(engine, fx.static_exe, 0o755)]
    report = verify_artifact(make_zip(tmp_path / "photon.zip", photon), resolve("lambda", "nodejs10.x"))
    assert report.ok, format_report(report)
    assert not verify_artifact(make_zip(tmp_path / "p2.zip", photon), resolve(*AL2023)).ok


def test_cli_engines_are_flagged_not_judged(fx: ElfFixtures, tmp_path: Path) -> None:
    members: list[Member] = [
        (f"{ENGINE_DIR}/libquery_engine-rhel-openssl-3.0.x.so.node", fx.plain_so, 0o644),
        ("node_modules/@prisma/engines/schema-engine-debian-openssl-1.1.x", fx.aarch64_exe, 0o644),
    ]
    report = verify_artifact(make_tree(tmp_path / "cli", members), resolve(*AL2023))
    assert report.ok
    (warning,) = report.warnings
    assert "CLI-only" in warning.message


def test_size_limits(fx: ElfFixtures, tmp_path: Path) -> None:
    members: list[Member] = [(f"{ENGINE_DIR}/libquery_engine-rhel-openssl-3.0.x.so.node", fx.plain_so, 0o644),
               ("big.bin", bytes(200_000), 0o644)]
    zip_path = make_zip(tmp_path / "big.zip", members)
    default = verify_artifact(zip_path, resolve(*AL2023))
    assert default.ok and default.sizes.zip_max == 52_428_800 and default.sizes.unzipped_max == 262_144_000
    small = verify_artifact(zip_path, resolve(*AL2023), limits=(1000, None))
    (size,) = small.errors
    assert size.check == "size" and "zip" in size.message and "1000 bytes" in size.has
    unzipped = unzipped_size(zip_path)
    assert unzipped == default.sizes.unzipped_bytes > 200_000
    layered = verify_artifact(zip_path, resolve(*AL2023), extra_unzipped=10_000, limits=(None, unzipped + 5_000))
    (combined,) = layered.errors
    assert "layers" in combined.message
    assert verify_artifact(zip_path, resolve(*AL2023), extra_unzipped=4_000, limits=(None, unzipped + 5_000)).ok
    vercel = verify_artifact(zip_path, resolve("vercel", "nodejs20.x"))
    assert vercel.sizes.unzipped_max == 262_144_000 - 26_214_400 and vercel.sizes.zip_max is None


def test_report_json_and_table(fx: ElfFixtures, tmp_path: Path) -> None:
    members: list[Member] = [
        (f"{ENGINE_DIR}/query-engine-rhel-openssl-1.0.x", fx.static_exe, 0o644),
        ("node_modules/db/db.node", fx.libssl3_so, 0o644),
    ]
    report = verify_artifact(make_zip(tmp_path / "r.zip", members), resolve(*AL2))
    doc = json.loads(json.dumps(report.to_json()))
    assert doc["version"] == 1 and doc["ok"] is False and doc["verdict"] == "fail"
    assert doc["target"] == "rhel-openssl-1.0.x" and doc["os"]["glibc"] == "2.26"
    assert doc["summary"]["errors"] == len(report.errors) == 2
    files = {f["path"]: f for f in doc["files"]}
    assert files["node_modules/db/db.node"]["facts"]["needed"] == ["libssl.so.3"]
    assert files["node_modules/db/db.node"]["checks"]["libraries"] == "fail"
    assert {f["check"] for f in doc["findings"]} == {"exec-bit", "libraries"}
    assert all(set(f) == {"file", "check", "severity", "message", "has", "fix"} for f in doc["findings"])
    table = format_report(report)
    for text in ("node_modules/db/db.node", "libssl.so.3", "runtime: Amazon Linux 2 has OpenSSL 1.0.2k",
                 "fix:", "FAIL", "result: FAILED (2 errors, 0 warnings)"):
        assert text in table


# ------------------------------------------------------------------------------------------- command


def run(argv: list[str]) -> int:
    return run_guarded(verify, argv)


def test_cli_exit_codes_and_json(fx: ElfFixtures, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = make_zip(tmp_path / "good.zip", [(f"{ENGINE_DIR}/query-engine-rhel-openssl-3.0.x", fx.static_exe, 0o755)])
    bad = make_zip(tmp_path / "bad.zip", [(f"{ENGINE_DIR}/query-engine-rhel-openssl-3.0.x", fx.static_exe, 0o644)])
    assert run([str(good), "--platform", "lambda", "--runtime", "nodejs20.x"]) == 0
    out = capsys.readouterr()
    assert out.out == "" and "result: OK" in out.err

    assert run([str(bad), "--platform", "lambda", "--runtime", "nodejs20.x", "--json"]) == 5
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert doc["ok"] is False and doc["findings"][0]["check"] == "exec-bit"
    assert "fails verification: 1 error against AWS Lambda nodejs20.x" in out.err
    assert "Traceback" not in out.err

    # with engineType client the engine is never loaded: a warning, not a failure
    assert run([str(bad), "--platform", "lambda", "--runtime", "nodejs20.x", "--engine", "client"]) == 0
    assert "engineType client loads no native engine" in capsys.readouterr().err
    assert run([str(bad), "--platform", "lambda", "--runtime", "nodejs20.x", "-q"]) == 5
    out = capsys.readouterr()
    assert out.out == "" and out.err.startswith("error:")
    assert run([str(good), "--platform", "lambda", "--runtime", "nodejs20.x", "--max-zip", "100"]) == 5
    assert run([str(good), "--platform", "lambda", "--runtime", "nodejs20.x", "--max-unzipped", "1kb",
                "--layer", str(good)]) == 5
    capsys.readouterr()


def test_cli_user_errors_are_one_message(fx: ElfFixtures, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_zip = tmp_path / "fn.zip"
    not_zip.write_text("hello")
    assert run([str(not_zip), "--platform", "lambda", "--runtime", "nodejs20.x"]) == 3
    assert run([str(tmp_path), "--platform", "lambda"]) == 2  # no default runtime on Lambda
    assert run([str(tmp_path), "--platform", "lamda", "--runtime", "nodejs20.x"]) == 2
    assert run([str(tmp_path), "--platform", "gcf", "--runtime", "nodejs20", "--arch", "arm64"]) == 2
    assert run([str(tmp_path / "nope.zip"), "--platform", "lambda", "--runtime", "nodejs20.x"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "did you mean lambda?" in err and "as a zip file" in err
    assert run([str(tmp_path), "--platform", "up", "--engine", "client"]) == 0  # up's default runtime
