"""ELF facts from real files compiled with gcc at test time (bundler/elf.py)."""

from __future__ import annotations

import io
import random
import subprocess
import sys
from pathlib import Path

import pytest

from bundler.elf import BrokenElf, ElfFacts, NotElf, guess_format, read_elf, split_version, version_key
from tests.elf_fixtures import ElfFixtures, build_fixtures, have_compilers

pytestmark = pytest.mark.skipif(not have_compilers(), reason="gcc/g++ not installed")


@pytest.fixture(scope="session")
def fx(tmp_path_factory: pytest.TempPathFactory) -> ElfFixtures:
    return build_fixtures(tmp_path_factory.mktemp("elf-unit"))


def facts(path: Path) -> ElfFacts:
    result = read_elf(path, path.name)
    assert isinstance(result, ElfFacts), result
    return result


def test_static_executable(fx: ElfFixtures) -> None:
    f = facts(fx.static_exe)
    assert (f.elf_class, f.little_endian, f.machine, f.arch) == (64, True, "EM_X86_64", "x86_64")
    assert f.interpreter is None and f.needed == () and f.version_needs == ()
    assert f.libc == "none" and f.is_executable and f.is_static


def test_shared_object_linking_libssl3(fx: ElfFixtures) -> None:
    f = facts(fx.libssl3_so)
    assert "libssl.so.3" in f.needed
    assert not f.is_executable
    assert f.highest_versions()["OPENSSL"] == "3.0.0"
    assert ("libssl.so.3", "OPENSSL_3.0.0") in set(f.required_versions())


def test_executable_needing_glibc_234(fx: ElfFixtures) -> None:
    f = facts(fx.glibc234_exe)
    assert f.interpreter == "/lib64/ld-linux-x86-64.so.2"
    assert f.libc == "glibc" and f.is_executable and f.pie
    assert f.needed == ("libc.so.6",)
    assert f.highest_versions()["GLIBC"] == "2.34"


def test_shared_object_needing_glibc_236(fx: ElfFixtures) -> None:
    assert facts(fx.glibc236_so).highest_versions(["libc.so.6"])["GLIBC"] == "2.36"


def test_cxx_object_needing_recent_glibcxx(fx: ElfFixtures) -> None:
    f = facts(fx.cxx_so)
    highest = f.highest_versions()
    assert highest["GLIBCXX"] == "3.4.30"
    assert "CXXABI" in highest and "GCC" in highest
    assert {"libstdc++.so.6", "libgcc_s.so.1"} <= set(f.needed)
    assert f.highest_versions(["libc.so.6"]).keys() == {"GLIBC"}


def test_musl_interpreter(fx: ElfFixtures) -> None:
    f = facts(fx.musl_exe)
    assert f.interpreter == "/lib/ld-musl-x86_64.so.1"
    assert f.needed == ("libc.musl-x86_64.so.1",)
    assert f.libc == "musl" and f.is_executable


def test_aarch64_header(fx: ElfFixtures) -> None:
    f = facts(fx.aarch64_exe)
    assert (f.machine, f.arch) == ("EM_AARCH64", "arm64")


def test_runpath_and_version_definitions(fx: ElfFixtures) -> None:
    exe = facts(fx.rpath_exe)
    assert exe.runpath == ("$ORIGIN/../lib",) and exe.rpath == ()
    assert "libshipped.so.1" in exe.needed
    assert ("libshipped.so.1", "SHIPPED_1.0") in set(exe.required_versions())
    lib = facts(fx.libshipped_so)
    assert lib.soname == "libshipped.so.1"
    assert "SHIPPED_1.0" in lib.version_defs and not lib.is_executable


@pytest.mark.parametrize("name", ["truncated", "header_only"])
def test_broken_elf_is_reported_not_raised(fx: ElfFixtures, name: str) -> None:
    result = read_elf(getattr(fx, name), name)
    assert isinstance(result, BrokenElf)
    assert "truncated" in result.reason
    assert result.to_json()["kind"] == "broken-elf"


def test_not_elf(tmp_path: Path) -> None:
    text = tmp_path / "index.js"
    text.write_text("module.exports = 1\n")
    assert read_elf(text, "index.js") == NotElf("index.js", "text")
    assert read_elf(b"", "empty") == NotElf("empty", "empty")
    assert read_elf(b"\xcf\xfa\xed\xfe" + bytes(60), "x.node") == NotElf("x.node", "Mach-O (macOS)")
    assert guess_format(b"MZ\x90\x00") == "PE (Windows)"
    assert guess_format(b"#!/bin/sh\n") == "script"


def test_bytes_stream_and_path_give_the_same_facts(fx: ElfFixtures) -> None:
    data = fx.cxx_so.read_bytes()
    from_path = read_elf(fx.cxx_so, "x")
    assert read_elf(data, "x") == from_path
    stream = io.BytesIO(b"junk" + data)
    stream.seek(4)
    assert read_elf(stream, "x") == from_path


def test_corrupted_files_never_raise(fx: ElfFixtures) -> None:
    rng = random.Random(1234)
    originals = [fx.glibc234_exe.read_bytes(), fx.cxx_so.read_bytes()]
    kinds: set[type] = set()
    for i in range(300):
        data = bytearray(originals[i % 2])
        if i % 3 == 0:
            data = data[: rng.randrange(16, len(data))]
        else:
            for _ in range(rng.randrange(1, 40)):
                pos = rng.randrange(4, min(len(data), 4096))
                data[pos] = rng.randrange(256)
        result = read_elf(bytes(data), f"mutant{i}")
        assert isinstance(result, (ElfFacts, BrokenElf, NotElf))
        kinds.add(type(result))
        result.to_json()
    assert BrokenElf in kinds


@pytest.mark.parametrize(
    ("name", "split"),
    [
        ("GLIBC_2.34", ("GLIBC", "2.34")),
        ("GLIBCXX_3.4.30", ("GLIBCXX", "3.4.30")),
        ("CXXABI_1.3.13", ("CXXABI", "1.3.13")),
        ("OPENSSL_3.0.0", ("OPENSSL", "3.0.0")),
        ("OPENSSL_1_1_0d", ("OPENSSL", "1_1_0d")),
        ("OPENSSL_1.0.1_EC", ("OPENSSL", "1.0.1_EC")),
        ("CXXABI_TM_1", ("CXXABI_TM", "1")),
        ("GLIBC_PRIVATE", None),
        ("libssl.so.10", None),
    ],
)
def test_split_version(name: str, split: tuple[str, str] | None) -> None:
    assert split_version(name) == split


def test_version_order() -> None:
    assert version_key("2.34") > version_key("2.26") > version_key("2.2.5")
    assert version_key("3.4.30") > version_key("3.4.9")
    assert version_key("1_1_1") > version_key("1_1_0d") > version_key("1_1_0")
    assert version_key("1.3") < version_key("1.3.11")


def test_importing_the_cli_and_elf_modules_does_not_load_pyelftools() -> None:
    code = (
        "import sys, bundler.elf, bundler.cli.verify_cmd;"
        "assert 'elftools' not in sys.modules, 'elftools imported';"
        "assert 'bundler.verify' not in sys.modules, 'bundler.verify imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
