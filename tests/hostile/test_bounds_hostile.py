"""Hostile inputs against the bounds: memory and time bombs, deep nesting, file-system traps, hostile zips
and mirrors. Each case is made here, run as `python -m bundler ...` in a child process capped at 1 GiB of
address space and 60 s (tests/hostile/harness.py), and must end with a documented exit code, one clear
message and no traceback, in bounded time, leaving the project and everything outside --out untouched."""

from __future__ import annotations

import gzip
import io
import json
import os
import struct
import zipfile
from pathlib import Path

import pytest

from bundler.bounds import MAX_BRACE_EXPANSIONS
from bundler.engines.mirror import MAX_ENGINE_BYTES
from bundler.engines.mirror_http import DEADLINE_FACTOR
from bundler.verify import MAX_NATIVE_BYTES
from bundler.walk import MAX_WALK_ENTRIES
from tests.hostile.harness import CaseResult, assert_clean_failure, assert_success, run_case
from tests.mirror_server import MirrorServer, compile_elf, publish_engine
from tests.projects import make_project, tree_digest

HASH = "0123456789abcdef0123456789abcdef01234567"
ENGINE_DIR = "node_modules/.prisma/client"


# ------------------------------------------------------------------------------------------ helpers


class Guard:
    """Snapshots of the project and of a file beside it: nothing outside --out may change."""

    def __init__(self, tmp_path: Path, project: Path) -> None:
        self.project = project
        self.victim = tmp_path / "victim.txt"
        self.victim.write_text("keep me\n")
        self.before = tree_digest(project)

    def check(self) -> None:
        assert self.victim.read_text() == "keep me\n"
        assert tree_digest(self.project) == self.before, "the project was modified"


def bundle(platform: str, project: Path, out: Path, *extra: str, drop_dac: bool = False) -> CaseResult:
    return run_case([platform, str(project), "--out", str(out), "--offline", *extra], cwd=project.parent,
                    drop_dac=drop_dac)


@pytest.fixture
def app(tmp_path: Path, elf_cache: Path) -> Path:
    return make_project(tmp_path / "app", targets=("rhel-openssl-3.0.x",), elf_cache=elf_cache)


@pytest.fixture
def cache_env(tmp_path: Path) -> dict[str, str]:
    return {"PHOTON_BUNDLE_CACHE": str(tmp_path / "engine-cache"), "HOME": str(tmp_path / "home")}


# ------------------------------------------------------------------------------------- verify


def test_verify_a_device_is_refused_without_reading_it(tmp_path: Path) -> None:
    result = run_case(["verify", "/dev/zero", "--platform", "lambda", "--runtime", "nodejs20.x"], cwd=tmp_path)
    assert_clean_failure(result, 3, mentions=["/dev/zero is not a regular file but a device"], max_seconds=20)
    assert result.peak_rss < 200 * 2**20


def _zero_stream_zip(path: Path, arc: str, head: bytes, zeros: int) -> None:
    """A zip with one deflated entry: `head` then `zeros` zero bytes (a few hundred KB on disk)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        info = zipfile.ZipInfo(arc, date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = 0o100755 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as fh:
            fh.write(head)
            block = bytes(4 * 2**20)
            left = zeros
            while left:
                fh.write(block[: min(left, len(block))])
                left -= min(left, len(block))


def test_verify_an_elf_head_with_a_gigabyte_of_zeros_is_not_read(tmp_path: Path) -> None:
    elf = compile_elf(tmp_path / "engine")
    bomb = tmp_path / "bomb.zip"
    _zero_stream_zip(bomb, f"{ENGINE_DIR}/query-engine-rhel-openssl-3.0.x", elf.read_bytes()[:64],
                     MAX_NATIVE_BYTES + 2**20)
    assert bomb.stat().st_size < 4 * 2**20
    result = run_case(["verify", str(bomb), "--platform", "lambda", "--runtime", "nodejs20.x"], cwd=tmp_path)
    assert_clean_failure(result, 5, mentions=["more than the 512.0 MiB verify reads of one native file"],
                         max_seconds=30, one_error_line=False)
    assert result.peak_rss < 300 * 2**20


def _patched_version_r(elf: bytes) -> bytes:
    """The ELF with .gnu.version_r's sh_info (its entry count) set to 2**32-1: pyelftools would loop for hours."""
    from elftools.elf.elffile import ELFFile

    data = bytearray(elf)
    parsed = ELFFile(io.BytesIO(elf))
    for n, section in enumerate(parsed.iter_sections()):
        if section.name == ".gnu.version_r":
            struct.pack_into("<I", data, parsed.header.e_shoff + n * parsed.header.e_shentsize + 44, 0xFFFFFFFF)
            return bytes(data)
    raise AssertionError("gcc wrote no .gnu.version_r")


def test_verify_a_crafted_version_section_is_a_finding_not_a_hang(tmp_path: Path) -> None:
    exe = compile_elf(tmp_path / "engine")  # dynamic: needs GLIBC versions from libc.so.6
    artifact = tmp_path / "crafted.zip"
    with zipfile.ZipFile(artifact, "w") as zf:
        info = zipfile.ZipInfo(f"{ENGINE_DIR}/query-engine-rhel-openssl-3.0.x")
        info.external_attr = 0o100755 << 16
        zf.writestr(info, _patched_version_r(exe.read_bytes()))
    result = run_case(["verify", str(artifact), "--platform", "lambda", "--runtime", "nodejs20.x"], cwd=tmp_path)
    assert_clean_failure(result, 5, mentions=["is a broken ELF file: malformed: section .gnu.version_r claims"],
                         max_seconds=20, one_error_line=False)


def test_verify_flags_zip_slip_absolute_entries_and_a_symlinked_engine(tmp_path: Path) -> None:
    exe = compile_elf(tmp_path / "engine")
    artifact = tmp_path / "slip.zip"
    with zipfile.ZipFile(artifact, "w") as zf:
        zf.writestr("handler.js", "exports.handler = () => 1;\n")
        zf.writestr("../outside.js", "x")
        zf.writestr("/etc/cron.d/evil", "x")
        real = zipfile.ZipInfo("engines/query-engine-real")
        real.external_attr = 0o100755 << 16
        zf.writestr(real, exe.read_bytes())
        link = zipfile.ZipInfo(f"{ENGINE_DIR}/query-engine-rhel-openssl-3.0.x")
        link.external_attr = 0o120777 << 16
        link.create_system = 3
        zf.writestr(link, "../../../engines/query-engine-real")
    with zipfile.ZipFile(artifact) as zf:
        assert "../outside.js" in zf.namelist()  # the zip really holds the hostile names
    result = run_case(["verify", str(artifact), "--platform", "lambda", "--runtime", "nodejs20.x", "--json"],
                      cwd=tmp_path)
    assert_clean_failure(result, 5, one_error_line=False, max_seconds=20)
    report = json.loads(result.stdout)
    by_file = {(f["file"], f["check"]): f["message"] for f in report["findings"] if f["severity"] == "error"}
    assert "zip slip" in by_file[("../outside.js", "paths")]
    assert "absolute path" in by_file[("/etc/cron.d/evil", "paths")]
    engine = by_file[(f"{ENGINE_DIR}/query-engine-rhel-openssl-3.0.x", "engine")]
    assert "is a symbolic link in the zip" in engine and "missing" not in engine
    assert report["checks"]["paths"] == "fail"
    assert not (tmp_path.parent / "outside.js").exists()


# ------------------------------------------------------------------------------------- downloads


def _fetch(server_url: str, cache_env: dict[str, str], tmp_path: Path, *extra: str) -> CaseResult:
    return run_case(["engines", "fetch", "--target", "rhel-openssl-1.0.x", "--kind", "binary", "--version", HASH,
                     "--mirror", server_url, *extra], cwd=tmp_path, env=cache_env)


def test_a_slow_drip_mirror_hits_the_overall_deadline(tmp_path: Path, cache_env: dict[str, str]) -> None:
    root = tmp_path / "mirror"
    publish_engine(root, HASH, "rhel-openssl-1.0.x", "binary", compile_elf(tmp_path / "engine").read_bytes())
    with MirrorServer(root) as server:
        server.drip(".gz", 0.5)  # one byte every half second: no single read ever times out
        result = _fetch(server.base_url, cache_env, tmp_path, "--timeout", "1")
    deadline = DEADLINE_FACTOR * 1
    assert_clean_failure(result, 6, mentions=["took longer than its deadline", "--timeout"],
                         max_seconds=deadline + 15)
    assert not list(Path(cache_env["PHOTON_BUNDLE_CACHE"]).rglob("*.part"))


def _gzip_bomb(unpacked: int) -> bytes:
    """A multi-member gzip of `unpacked` zero bytes: one 64 MiB member repeated (about 64 KB each)."""
    member = gzip.compress(bytes(64 * 2**20), compresslevel=9, mtime=0)
    count = -(-unpacked // (64 * 2**20))
    return member * count


def test_a_gzip_bomb_stops_at_the_unpacked_cap(tmp_path: Path, cache_env: dict[str, str]) -> None:
    root = tmp_path / "mirror"
    bomb = _gzip_bomb(MAX_ENGINE_BYTES * 3)  # 768 MiB of zeros, 800 KB on the wire
    assert len(bomb) < 2 * 2**20
    # checksums that match the .gz (so the download starts) but not the unpacked file
    publish_engine(root, HASH, "rhel-openssl-1.0.x", "binary", b"\x7fELF-not-this", gz=bomb)
    with MirrorServer(root) as server:
        result = _fetch(server.base_url, cache_env, tmp_path)
    assert_clean_failure(result, 6, mentions=["unpacks to more than", "256 MiB"], max_seconds=40)
    cache = Path(cache_env["PHOTON_BUNDLE_CACHE"])
    leftovers = [p for p in cache.rglob("*") if p.is_file()] if cache.exists() else []
    assert not [p for p in leftovers if p.stat().st_size > 2**20], leftovers


# ------------------------------------------------------------------------------------- config bombs


def _serverless_app(app: Path, yml: str) -> Path:
    (app / "src").mkdir(exist_ok=True)
    (app / "src" / "users.js").write_text("const { PrismaClient } = require('@prisma/client');\n"
                                          "exports.handler = async () => new PrismaClient();\n")
    (app / "serverless.yml").write_text(yml)
    return app


SLS_HEAD = """\
service: bombs
provider:
  name: aws
  runtime: nodejs20.x
functions:
  users:
    handler: src/users.handler
"""


def test_yaml_alias_bomb_in_package_patterns(app: Path, tmp_path: Path) -> None:
    lines = ['l0: &l0 ["a", "a", "a", "a", "a", "a", "a", "a", "a"]']
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 10)]
    _serverless_app(app, "custom:\n" + "".join(f"  {line}\n" for line in lines) + SLS_HEAD
                    + "package:\n  patterns: *l9\n")
    guard = Guard(tmp_path, app)
    result = bundle("serverless", app, tmp_path / "out")
    assert_clean_failure(result, 3, mentions=[str(app / "serverless.yml"), "aliases"], max_seconds=30)
    guard.check()


def test_self_variable_fan_out(app: Path, tmp_path: Path) -> None:
    custom = "".join(f"  v{i}: ${{self:custom.v{i - 1}}}${{self:custom.v{i - 1}}}\n" for i in range(1, 60))
    _serverless_app(app, SLS_HEAD + "    description: ${self:custom.v59}\n    package:\n      patterns:\n"
                    "        - ${self:custom.v59}\ncustom:\n  v0: ab\n" + custom)
    guard = Guard(tmp_path, app)
    result = bundle("serverless", app, tmp_path / "out")
    assert_clean_failure(result, 3, mentions=["serverless.yml", "characters"], max_seconds=30)
    guard.check()


def test_self_variable_fan_out_of_mappings(app: Path, tmp_path: Path) -> None:
    custom = "".join(f"  m{i}:\n    a: ${{self:custom.m{i - 1}}}\n    b: ${{self:custom.m{i - 1}}}\n"
                     for i in range(1, 60))
    _serverless_app(app, SLS_HEAD + "    package:\n      patterns: ${self:custom.m59}\ncustom:\n  m0: x\n" + custom)
    result = bundle("serverless", app, tmp_path / "out")
    assert_clean_failure(result, 3, mentions=["serverless.yml", "steps"], max_seconds=40)


def test_deeply_nested_serverless_yml(app: Path, tmp_path: Path) -> None:
    _serverless_app(app, SLS_HEAD + "custom:\n  deep: " + "[" * 50_000 + "]" * 50_000 + "\n")
    result = bundle("serverless", app, tmp_path / "out")
    assert_clean_failure(result, 3, mentions=[str(app / "serverless.yml"), "nested"], max_seconds=20)


def test_deeply_nested_package_json(app: Path, tmp_path: Path) -> None:
    data = json.loads((app / "package.json").read_text())
    text = json.dumps(data)[:-1] + ', "deep": ' + "[" * 100_000 + "]" * 100_000 + "}"
    (app / "package.json").write_text(text)
    guard = Guard(tmp_path, app)
    result = bundle("lambda", app, tmp_path / "out")
    assert_clean_failure(result, 3, mentions=[str(app / "package.json"), "nested too deeply"], max_seconds=20)
    guard.check()


def test_brace_bomb_in_vercel_include_files(app: Path, tmp_path: Path) -> None:
    (app / "api").mkdir()
    (app / "api" / "orders.js").write_text("module.exports = (req, res) => res.end('ok');\n")
    pattern = "templates/" + "{a,b}" * 40
    (app / "vercel.json").write_text(json.dumps({"functions": {"api/orders.js": {"includeFiles": pattern}}}))
    guard = Guard(tmp_path, app)
    result = bundle("vercel", app, tmp_path / "out")
    assert_clean_failure(result, 3, mentions=[str(app / "vercel.json"), f"more than {MAX_BRACE_EXPANSIONS} globs"],
                         max_seconds=20)
    guard.check()


def test_brace_bomb_in_serverless_patterns(app: Path, tmp_path: Path) -> None:
    _serverless_app(app, SLS_HEAD + "package:\n  patterns:\n    - '" + "{a,b}" * 40 + "'\n")
    result = bundle("serverless", app, tmp_path / "out")
    assert_clean_failure(result, 3, mentions=["serverless.yml", f"more than {MAX_BRACE_EXPANSIONS} globs"],
                         max_seconds=20)


# ------------------------------------------------------------------------------------- the walk


def test_symlink_fan_out_stops_at_the_entry_cap(app: Path, tmp_path: Path) -> None:
    levels = 40  # 2**40 paths through links, no cycle
    for i in range(levels + 1):
        (app / "fan" / f"d{i}").mkdir(parents=True)
        (app / "fan" / f"d{i}" / "f.js").write_text("1;\n")
    for i in range(levels):
        for name in ("a", "b"):
            (app / "fan" / f"d{i}" / name).symlink_to(f"../d{i + 1}")
    guard = Guard(tmp_path, app)
    result = bundle("lambda", app, tmp_path / "out")
    assert_clean_failure(result, 3, mentions=[f"more than {MAX_WALK_ENTRIES:,} files and folders"], max_seconds=45)
    assert result.peak_rss < 700 * 2**20
    guard.check()


def test_1200_level_folders_bundle(app: Path, tmp_path: Path) -> None:
    folder = str(app / "deep")
    os.mkdir(folder)  # noqa: PTH102 - one level at a time: pathlib and os.makedirs recurse per level
    for _ in range(1200):
        folder += "/d"
        os.mkdir(folder)  # noqa: PTH102
    Path(folder, "leaf.js").write_text("module.exports = 1;\n")
    out = tmp_path / "out"
    try:
        # the walk, the zip and the load check's unpacking (bundler/fstree.py: no recursion per level)
        result = bundle("lambda", app, out)
    finally:
        _remove_chain(str(app / "deep"), folder)  # shutil.rmtree (pytest's clean-up) recurses per level
    assert_success(result, max_seconds=45)
    with zipfile.ZipFile(out / "function.zip") as zf:
        assert "deep/" + "d/" * 1200 + "leaf.js" in zf.namelist()


def _remove_chain(top: str, bottom: str) -> None:
    path = bottom
    while True:
        for child in Path(path).iterdir():
            if not child.is_dir():
                child.unlink()
        Path(path).rmdir()
        if path == top:
            return
        path = os.path.dirname(path)  # noqa: PTH120


def test_never_bundled_problem_paths_are_skipped(app: Path, tmp_path: Path) -> None:
    """npm leaves dangling links in node_modules/.bin; a devDependency may hold a dangling link, an
    unreadable folder, or be `npm link`ed from outside: none of it is bundled, so none of it aborts."""
    nm = app / "node_modules"
    (nm / ".bin" / "jest").symlink_to("../jest-lite/bin/missing.js")
    (nm / "jest-lite" / "dangling.js").symlink_to("gone.js")
    locked = nm / "jest-lite" / "private"
    locked.mkdir()
    (locked / "x.js").write_text("1;\n")
    outside = tmp_path / "linked-dev-tool"
    outside.mkdir()
    (outside / "package.json").write_text('{"name": "chalk-lite", "version": "9.9.9"}\n')
    (nm / "chalk-lite").rename(tmp_path / "chalk-lite-moved")
    (nm / "chalk-lite").symlink_to(outside)  # `npm link` of a dev-only package
    guard = Guard(tmp_path, app)
    locked.chmod(0)
    try:
        result = bundle("lambda", app, tmp_path / "out", drop_dac=True)
    finally:
        locked.chmod(0o755)
    assert_success(result, max_seconds=45)
    for path in ("node_modules/jest-lite/dangling.js", "node_modules/jest-lite/private/"):
        assert "skipped (not bundled): " in result.stderr and path in result.stderr, result.describe()
    assert "cannot read folder node_modules/jest-lite/private/" in result.stderr
    # node_modules/.bin is the package manager's, never read; the linked dev tool is followed as Node would
    # follow it, and left out as a devDependency
    assert "node_modules/.bin" not in result.stderr
    names = zipfile.ZipFile(tmp_path / "out" / "function.zip").namelist()
    assert not [n for n in names if n.startswith(("node_modules/chalk-lite/", "node_modules/jest-lite/"))]
    guard.check()


def test_a_dangling_link_in_a_production_package_aborts_with_its_path(app: Path, tmp_path: Path) -> None:
    (app / "node_modules" / "debug" / "src.js").symlink_to("lib/missing.js")
    guard = Guard(tmp_path, app)
    result = bundle("lambda", app, tmp_path / "out")
    assert_clean_failure(result, 3, mentions=["symlink node_modules/debug/src.js is broken"], max_seconds=30)
    assert not (tmp_path / "out" / "function.zip").exists()
    guard.check()


def test_a_production_dependency_linked_from_outside_is_bundled_as_node_loads_it(app: Path, tmp_path: Path) -> None:
    """`npm link` / a workspace link: Node follows a package link wherever it points, and so does the bundle
    (the files are copied in; the zip holds no link)."""
    nm = app / "node_modules"
    (nm / "ms").rename(tmp_path / "ms")
    (nm / "ms").symlink_to(tmp_path / "ms")
    result = bundle("lambda", app, tmp_path / "out")
    assert_success(result, max_seconds=30)
    names = zipfile.ZipFile(tmp_path / "out" / "function.zip").namelist()
    assert "node_modules/ms/index.js" in names


def test_a_symlink_loop_is_called_a_loop(app: Path, tmp_path: Path) -> None:
    (app / "lib" / "a.js").symlink_to("b.js")
    (app / "lib" / "b.js").symlink_to("a.js")
    result = bundle("lambda", app, tmp_path / "out")
    assert_clean_failure(result, 3, mentions=["is a loop"], max_seconds=30)
    assert "broken" not in result.stderr



def test_verify_a_1200_level_folder_artifact(tmp_path: Path) -> None:
    top = str(tmp_path / "artifact")
    folder = top
    os.mkdir(folder)  # noqa: PTH102 - one level at a time: pathlib and os.makedirs recurse per level
    for _ in range(1200):
        folder += "/d"
        os.mkdir(folder)  # noqa: PTH102
    Path(folder, "handler.js").write_text("exports.handler = () => 1;\n")
    try:
        result = run_case(["verify", top, "--platform", "lambda", "--runtime", "nodejs20.x", "--engine", "client"],
                          cwd=tmp_path)
    finally:
        _remove_chain(top, folder)
    assert_success(result, max_seconds=30)


def test_deeply_nested_config_file(app: Path, tmp_path: Path) -> None:
    (app / "photon-bundle.toml").write_text("a = " + "[" * 3000 + "1" + "]" * 3000 + "\n")
    result = bundle("lambda", app, tmp_path / "out")
    assert_clean_failure(result, 2, mentions=["photon-bundle.toml: nested too deeply"], max_seconds=20)
