"""ELF fixtures compiled with the machine's gcc at test time (no binary is ever committed).

`build_fixtures(directory)` compiles every fixture once into `directory` and returns their paths;
test modules wrap it in a session-scoped pytest fixture. `make_zip` writes a real zip with chosen
Unix modes, the way a deployment artifact stores them.

Each fixture and what it needs (checked with objdump -T / readelf -V on Debian 12, glibc 2.36, GCC 12):

* static_exe   -- gcc -static: no interpreter, no DT_NEEDED; runs on every x86_64 runtime.
* plain_so     -- shared object with no DT_NEEDED at all (-nostdlib); stands in for an engine library.
* libssl3_so   -- shared object calling SSL_new / OPENSSL_init_ssl: NEEDED libssl.so.3,
                  requires OPENSSL_3.0.0 (prototypes declared here, so no libssl-dev headers needed).
* glibc234_exe -- dynamic executable calling closefrom(): requires GLIBC_2.34 (and __libc_start_main
                  is GLIBC_2.34 for any executable linked against glibc >= 2.34).
* glibc236_so  -- shared object calling arc4random(): requires GLIBC_2.36.
* cxx_so       -- C++ shared object calling std::condition_variable::wait: requires GLIBCXX_3.4.30.
* musl_exe     -- PIE executable with interpreter /lib/ld-musl-x86_64.so.1, NEEDED libc.musl-x86_64.so.1
                  (a stub library with that soname is built to link against; no glibc symbols).
* aarch64_exe  -- static_exe with e_machine patched to EM_AARCH64 (183): an ELF header for arm64
                  (a cross compiler is not assumed to be installed).
* truncated    -- the first 300 bytes of glibc234_exe (program headers cut off).
* header_only  -- the first 40 bytes of an ELF file (shorter than an ELF header).
* rpath_exe    -- executable NEEDing libshipped.so.1 with RUNPATH $ORIGIN/../lib; libshipped_so is that
                  library (soname libshipped.so.1, defines version SHIPPED_1.0).
* norpath_exe  -- the same executable without RUNPATH: found only where the runtime's search path looks.
* libshipped_v2_so -- another libshipped.so.1 that defines SHIPPED_2.0 but not SHIPPED_1.0.
"""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

# (archive path, content, Unix mode or None for "no Unix attributes")
Member = tuple[str, Union[bytes, Path], Optional[int]]

EM_AARCH64 = 183
E_MACHINE_OFFSET = 18  # e_machine in the ELF header (after e_ident[16] and e_type[2])

_STATIC_C = "int main(void) { return 0; }\n"
_PLAIN_C = "int plain_answer(void) { return 42; }\n"
_LIBSSL3_C = """
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
int OPENSSL_init_ssl(unsigned long long opts, const void *settings);
SSL *SSL_new(SSL_CTX *ctx);
void SSL_free(SSL *ssl);
int uses_openssl(SSL_CTX *ctx) {
    if (!OPENSSL_init_ssl(0, 0)) return -1;
    SSL *s = SSL_new(ctx);
    SSL_free(s);
    return 0;
}
"""
_GLIBC234_C = """
#define _GNU_SOURCE
#include <unistd.h>
int main(void) { closefrom(3); return 0; }
"""
_GLIBC236_C = """
#include <stdint.h>
uint32_t arc4random(void);
uint32_t random_word(void) { return arc4random(); }
"""
_CXX_CC = """
#include <condition_variable>
#include <mutex>
static std::mutex m;
static std::condition_variable cv;
extern "C" void wait_once() { std::unique_lock<std::mutex> lk(m); cv.wait(lk); }
"""
_MUSL_STUB_C = "int musl_marker(void) { return 0; }\n"
_MUSL_EXE_C = """
int musl_marker(void);
void _start(void) {
    musl_marker();
    __asm__ volatile("mov $60, %eax\\n xor %edi, %edi\\n syscall");
}
"""
_SHIPPED_C = "int shipped_answer(void) { return 7; }\n"
_SHIPPED_MAP = "SHIPPED_1.0 { global: shipped_answer; local: *; };\n"
_RPATH_C = "int shipped_answer(void);\nint main(void) { return shipped_answer(); }\n"


@dataclass(frozen=True)
class ElfFixtures:
    root: Path
    static_exe: Path
    plain_so: Path
    libssl3_so: Path
    glibc234_exe: Path
    glibc236_so: Path
    cxx_so: Path
    musl_exe: Path
    aarch64_exe: Path
    truncated: Path
    header_only: Path
    rpath_exe: Path
    norpath_exe: Path
    libshipped_so: Path
    libshipped_v2_so: Path


def have_compilers() -> bool:
    return shutil.which("gcc") is not None and shutil.which("g++") is not None


def compile_source(source: str, out: Path, *flags: str, cxx: bool = False, suffix: str = ".c") -> Path:
    """Compile `source` to `out` with gcc (or g++); raise with the compiler's message on failure."""
    src = out.with_name(out.name + (".cc" if cxx else suffix))
    src.write_text(source)
    cmd = ["g++" if cxx else "gcc", "-O1", "-o", str(out), str(src), *flags]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr}")
    return out


def patch_machine(source: Path, out: Path, machine: int) -> Path:
    data = bytearray(source.read_bytes())
    data[E_MACHINE_OFFSET : E_MACHINE_OFFSET + 2] = machine.to_bytes(2, "little")
    out.write_bytes(bytes(data))
    out.chmod(0o755)
    return out


def build_fixtures(root: Path) -> ElfFixtures:
    root.mkdir(parents=True, exist_ok=True)
    static_exe = compile_source(_STATIC_C, root / "static_exe", "-static")
    plain_so = compile_source(_PLAIN_C, root / "plain.so", "-shared", "-fPIC", "-nostdlib")
    libssl3_so = compile_source(_LIBSSL3_C, root / "libuses_ssl.so", "-shared", "-fPIC", "-l:libssl.so.3")
    glibc234_exe = compile_source(_GLIBC234_C, root / "glibc234_exe")
    glibc236_so = compile_source(_GLIBC236_C, root / "libglibc236.so", "-shared", "-fPIC")
    cxx_so = compile_source(_CXX_CC, root / "libcxx30.so", "-shared", "-fPIC", cxx=True)
    musl_lib = compile_source(
        _MUSL_STUB_C, root / "libc.musl-x86_64.so.1", "-shared", "-fPIC", "-nostdlib",
        "-Wl,-soname,libc.musl-x86_64.so.1",
    )
    musl_exe = compile_source(
        _MUSL_EXE_C, root / "musl_exe", "-nostdlib", "-fPIE", "-pie",
        "-Wl,--dynamic-linker=/lib/ld-musl-x86_64.so.1", str(musl_lib),
    )
    aarch64_exe = patch_machine(static_exe, root / "aarch64_exe", EM_AARCH64)
    truncated = root / "truncated_exe"
    truncated.write_bytes(glibc234_exe.read_bytes()[:300])
    header_only = root / "header_only"
    header_only.write_bytes(static_exe.read_bytes()[:40])
    (root / "shipped.map").write_text(_SHIPPED_MAP)
    libshipped_so = compile_source(
        _SHIPPED_C, root / "libshipped.so.1", "-shared", "-fPIC", "-Wl,-soname,libshipped.so.1",
        f"-Wl,--version-script={root / 'shipped.map'}",
    )
    rpath_exe = compile_source(
        _RPATH_C, root / "rpath_exe", str(libshipped_so), "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/../lib",
    )
    norpath_exe = compile_source(_RPATH_C, root / "norpath_exe", str(libshipped_so))
    v2 = root / "v2"
    v2.mkdir(exist_ok=True)
    (v2 / "shipped.map").write_text(_SHIPPED_MAP.replace("SHIPPED_1.0", "SHIPPED_2.0"))
    libshipped_v2_so = compile_source(
        _SHIPPED_C, v2 / "libshipped.so.1", "-shared", "-fPIC", "-Wl,-soname,libshipped.so.1",
        f"-Wl,--version-script={v2 / 'shipped.map'}",
    )
    return ElfFixtures(
        root=root,
        static_exe=static_exe,
        plain_so=plain_so,
        libssl3_so=libssl3_so,
        glibc234_exe=glibc234_exe,
        glibc236_so=glibc236_so,
        cxx_so=cxx_so,
        musl_exe=musl_exe,
        aarch64_exe=aarch64_exe,
        truncated=truncated,
        header_only=header_only,
        rpath_exe=rpath_exe,
        norpath_exe=norpath_exe,
        libshipped_so=libshipped_so,
        libshipped_v2_so=libshipped_v2_so,
    )


def make_zip(path: Path, members: Sequence[Member]) -> Path:
    """A zip whose members carry the given Unix modes (None: no Unix attributes, as Windows tools write)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, content, mode in members:
            data = content.read_bytes() if isinstance(content, Path) else content
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode is None:  # MS-DOS attributes only (archive bit), as Windows tools write
                info.create_system = 0
                info.external_attr = 0x20
            else:
                info.create_system = 3
                info.external_attr = (0o100000 | mode) << 16
            zf.writestr(info, data)
    return path


def make_tree(root: Path, members: Sequence[Member]) -> Path:
    """The same as make_zip, as an unpacked directory."""
    for name, content, mode in members:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.read_bytes() if isinstance(content, Path) else content)
        target.chmod(0o644 if mode is None else mode)
    return root
