"""More of `photon-bundle lambda` on fixture projects: the engine type, the layer's exec wrapper with a binary
engine, the function + layer unzipped limit, the default project folder, and `--engine-source mirror`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from bundler.engines import parse_engine_filename
from tests.cli_helpers import bundle_ok, run_cli, zip_modes, zip_names
from tests.mirror_server import MirrorServer, publish_engine
from tests.mirror_server import compile_elf as compile_served_elf
from tests.projects import compile_elf, make_project, tree_digest

pytestmark = pytest.mark.usefixtures("own_engine_cache")

TARGET = "rhel-openssl-3.0.x"  # nodejs20.x on x86_64: Amazon Linux 2023
VERSION = "0123456789abcdef0123456789abcdef01234567"  # make_project's @prisma/engines-version
CLIENT = "node_modules/.prisma/client"
LAMBDA_UNZIPPED_MAX = 262_144_000  # platforms/runtimes.toml [platform.lambda] unzipped_max


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing from the machine's environment steers the engine type, the mirror or the engine path."""
    for name in ("PRISMA_CLIENT_ENGINE_TYPE", "PRISMA_QUERY_ENGINE_BINARY", "PRISMA_QUERY_ENGINE_LIBRARY",
                 "PRISMA_ENGINES_MIRROR", "PRISMA_BINARIES_MIRROR", "BINARY_DOWNLOAD_VERSION",
                 "PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING", "PHOTON_BUNDLE_DEBUG", "SOURCE_DATE_EPOCH"):
        monkeypatch.delenv(name, raising=False)


def engine_names(zip_path: Path) -> list[str]:
    """Every entry of the zip whose file name denotes a query engine (any kind, any target)."""
    return [n for n in zip_names(zip_path) if parse_engine_filename(n.rsplit("/", 1)[-1]) is not None]


def drop_engine_type(project: Path) -> None:
    """Remove the generator's engineType line, as in a schema that never set it."""
    for schema in (project / "prisma" / "schema.prisma", project / CLIENT / "schema.prisma"):
        schema.write_text("".join(line for line in schema.read_text().splitlines(keepends=True)
                                  if "engineType" not in line))


def sparse_file(path: Path, size: int) -> Path:
    """A file of `size` zero bytes that takes no disk space."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.truncate(size)
    return path


# ------------------------------------------------------------------------------------------ engine type
# bundler/engines/local.py engine_kind(): the generator's engineType, else PRISMA_CLIENT_ENGINE_TYPE, else what
# was generated (only query-engine-* files: binary; any library file: library), else by generator
# (all "prisma-client": client), else library.


def test_generator_engine_type_binary_bundles_the_binary_engine(tmp_path: Path, elf_cache: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "app", engine_kind="binary", elf_cache=elf_cache)
    out = tmp_path / "out"
    doc = bundle_ok("lambda", project, out, capsys, "--runtime", "nodejs20.x", "--no-verify")
    assert engine_names(out / "function.zip") == [f"{CLIENT}/query-engine-{TARGET}"]
    assert zip_modes(out / "function.zip")[f"{CLIENT}/query-engine-{TARGET}"] == 0o100755
    assert not [n for n in zip_names(out / "function.zip") if "libquery_engine" in n]
    assert (doc["engine"]["kind"], doc["engine"]["target"], doc["engine"]["source"]) == ("binary", TARGET, "local")
    assert doc["engine"]["file"] == f"{CLIENT}/query-engine-{TARGET}"


def test_generator_engine_type_wins_over_generated_files_and_the_env_over_both(
        tmp_path: Path, elf_cache: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Prisma's order (getClientEngineType): PRISMA_CLIENT_ENGINE_TYPE, then the generator's engineType;
    photon-bundle then falls back to what was generated."""
    project = make_project(tmp_path / "app", engine_kind="binary", elf_cache=elf_cache)
    # a library engine of the target lies beside the binary one (what-was-generated alone would say library)
    library = compile_elf(project / CLIENT / f"libquery_engine-{TARGET}.so.node", shared=True, marker="stray-library")
    out = tmp_path / "out"
    doc = bundle_ok("lambda", project, out, capsys, "--runtime", "nodejs20.x", "--no-verify")
    assert doc["engine"]["kind"] == "binary"
    assert engine_names(out / "function.zip") == [f"{CLIENT}/query-engine-{TARGET}"]
    with zipfile.ZipFile(out / "function.zip") as zf:
        assert zf.read(f"{CLIENT}/query-engine-{TARGET}") == (project / CLIENT / f"query-engine-{TARGET}").read_bytes()
    monkeypatch.setenv("PRISMA_CLIENT_ENGINE_TYPE", "library")
    doc = bundle_ok("lambda", project, tmp_path / "out-env", capsys, "--runtime", "nodejs20.x", "--no-verify")
    assert doc["engine"]["kind"] == "library"
    with zipfile.ZipFile(tmp_path / "out-env" / "function.zip") as zf:
        assert zf.read(f"{CLIENT}/libquery_engine-{TARGET}.so.node") == library.read_bytes()


def test_env_engine_type_wins_over_generated_files(tmp_path: Path, elf_cache: Path,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # no engineType in the schema; both kinds of the target's engine on disk
    project = make_project(tmp_path / "app", elf_cache=elf_cache)
    binary = compile_elf(project / CLIENT / f"query-engine-{TARGET}", marker="binary-engine")
    without = bundle_ok("lambda", project, tmp_path / "out-default", capsys, "--runtime", "nodejs20.x", "--no-verify")
    assert without["engine"]["kind"] == "library"  # a library file was generated: library
    assert engine_names(tmp_path / "out-default" / "function.zip") == [f"{CLIENT}/libquery_engine-{TARGET}.so.node"]

    monkeypatch.setenv("PRISMA_CLIENT_ENGINE_TYPE", "binary")
    out = tmp_path / "out-env"
    doc = bundle_ok("lambda", project, out, capsys, "--runtime", "nodejs20.x", "--no-verify")
    assert (doc["engine"]["kind"], doc["engine"]["source"]) == ("binary", "local")
    assert engine_names(out / "function.zip") == [f"{CLIENT}/query-engine-{TARGET}"]
    assert zip_modes(out / "function.zip")[f"{CLIENT}/query-engine-{TARGET}"] == 0o100755
    with zipfile.ZipFile(out / "function.zip") as zf:
        assert zf.read(f"{CLIENT}/query-engine-{TARGET}") == binary.read_bytes()


@pytest.mark.parametrize("env_value", [None, "dataproxy"])
def test_generated_files_decide_without_generator_or_env(tmp_path: Path, elf_cache: Path,
                                                         capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         env_value: str | None) -> None:
    """Only query-engine-* files were generated and nothing says a type (a value the code does not know, like
    the old "dataproxy", is ignored): binary. The CLI's library engine in @prisma/engines does not count."""
    project = make_project(tmp_path / "app", engine_kind="binary", elf_cache=elf_cache)
    drop_engine_type(project)
    assert (project / "node_modules/@prisma/engines/libquery_engine-debian-openssl-3.0.x.so.node").is_file()
    if env_value is not None:
        monkeypatch.setenv("PRISMA_CLIENT_ENGINE_TYPE", env_value)
    out = tmp_path / "out"
    doc = bundle_ok("lambda", project, out, capsys, "--runtime", "nodejs20.x", "--no-verify")
    assert doc["engine"]["kind"] == "binary"
    assert engine_names(out / "function.zip") == [f"{CLIENT}/query-engine-{TARGET}"]


def test_prisma_7_client_generator_bundles_no_native_engine(tmp_path: Path, elf_cache: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Generator provider "prisma-client" (Prisma 7) with no native engine files: the client engine runs as
    WebAssembly inside the generated client, so the bundle carries no query engine at all."""
    project = make_project(tmp_path / "app", targets=(), elf_cache=elf_cache)
    shutil.rmtree(project / "node_modules" / ".prisma")  # prisma-client generates into the app, not node_modules
    (project / "prisma" / "schema.prisma").write_text(
        'datasource db {\n  provider = "postgresql"\n}\n\n'
        'generator client {\n  provider = "prisma-client"\n  output   = "../generated/prisma"\n}\n\n'
        "model Order {\n  id Int @id\n}\n")
    generated = project / "generated" / "prisma"
    generated.mkdir(parents=True)
    (generated / "client.js").write_text("// generated Prisma 7 client\nmodule.exports = {};\n")
    (generated / "query_compiler_bg.postgresql.wasm").write_bytes(b"\0asm" + b"q" * 500)
    # the handler loads the client it generated (the stand-in handler's @prisma/client has no .prisma/client here)
    (project / "handler.js").write_text("const { PrismaClient } = require('./generated/prisma/client');\n"
                                        "exports.handler = async () => ({ statusCode: 200 });\n")
    before = tree_digest(project)
    out = tmp_path / "out"
    doc = bundle_ok("lambda", project, out, capsys, "--runtime", "nodejs20.x")
    assert doc["engine"]["kind"] == "client"
    assert doc["engine"]["target"] is None
    assert "file" not in doc["engine"] and "source" not in doc["engine"]
    names = zip_names(out / "function.zip")
    assert engine_names(out / "function.zip") == []
    assert "generated/prisma/client.js" in names
    assert "generated/prisma/query_compiler_bg.postgresql.wasm" in names
    assert tree_digest(project) == before
    # a layer would carry the native engine; there is none, so asking for one is a usage error, not an
    # empty layer.zip that deploys nothing
    for fmt in ("layer", "both"):
        code, _, err = run_cli(["lambda", str(project), "--out", str(tmp_path / f"out-{fmt}"), "--offline",
                                "--runtime", "nodejs20.x", "--format", fmt], capsys)
        assert code == 2 and f"--format {fmt}: the layer carries the native query engine" in err
        assert not (tmp_path / f"out-{fmt}" / "layer.zip").exists()


# ------------------------------------------------------------------------ exec wrapper, binary engine


def test_layer_exec_wrapper_points_at_the_binary_engine(tmp_path: Path, elf_cache: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "app", engine_kind="binary", elf_cache=elf_cache)
    out = tmp_path / "out"
    doc = bundle_ok("lambda", project, out, capsys, "--runtime", "nodejs20.x", "--format", "both", "--no-verify")
    assert engine_names(out / "function.zip") == []
    engine_arc = f"photon-bundle/engines/query-engine-{TARGET}"
    assert engine_names(out / "layer.zip") == [engine_arc]
    modes = zip_modes(out / "layer.zip")
    assert modes[engine_arc] == 0o100755
    assert modes["photon-bundle/exec-wrapper"] == 0o100755
    assert doc["engine"]["runtime_path"] == f"/opt/{engine_arc}"
    # Unpack the layer where Lambda would (/opt -> a temp folder) and run the wrapper like Lambda does.
    opt = tmp_path / "opt"
    with zipfile.ZipFile(out / "layer.zip") as zf:
        zf.extractall(opt)
    wrapper = opt / "photon-bundle" / "exec-wrapper"
    wrapper.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRISMA_QUERY_ENGINE_")}
    show = 'echo "${PRISMA_QUERY_ENGINE_BINARY-unset}|${PRISMA_QUERY_ENGINE_LIBRARY-unset}"'
    printed = subprocess.run([str(wrapper), "sh", "-c", show], capture_output=True, text=True, check=True,
                             env=env).stdout.strip()
    binary_path, library_path = printed.split("|")
    assert binary_path == f"/opt/{engine_arc}"
    assert library_path == "unset"
    # /opt/<path> is the unzipped engine: the project's binary engine, runnable (it prints its target)
    unpacked = opt / binary_path.removeprefix("/opt/")
    engine_src = project / CLIENT / f"query-engine-{TARGET}"
    assert unpacked.read_bytes() == engine_src.read_bytes()
    unpacked.chmod(0o755)
    ran = subprocess.run([str(unpacked)], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == TARGET
    # a value already set on the function wins over the wrapper's
    kept = subprocess.run([str(wrapper), "sh", "-c", show], capture_output=True, text=True, check=True,
                          env={**env, "PRISMA_QUERY_ENGINE_BINARY": "/var/task/my-engine"}).stdout.strip()
    assert kept == "/var/task/my-engine|unset"


# ---------------------------------------------------------------------- function + layer unzipped limit

SPARSE = 140_000_000  # each part alone is under 262,144,000 bytes; the two together are over


def test_function_and_layer_together_over_the_unzipped_limit(tmp_path: Path, elf_cache: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Lambda counts the function and its layers together against 262,144,000 bytes unzipped.

    bundler/bundle.py checks that limit (unzipped_limits, summing every artifact of the plan) right after
    planning, from the walked file sizes, before the output folder is created or any zip is written: the
    280 MB of sparse zeros are never read, so the failing run is cheap. The control runs below do write zips,
    but sparse zeros deflate fast (a fraction of a second here).
    """
    project = make_project(tmp_path / "app", elf_cache=elf_cache)
    sparse_file(project / "assets" / "big-app.bin", SPARSE)  # app file: stays in the function zip
    sparse_file(project / "node_modules" / "debug" / "big-data.bin", SPARSE)  # production dependency: the layer
    before = tree_digest(project)
    args = ["--runtime", "nodejs20.x", "--format", "both", "--layer-node-modules", "--offline", "--no-verify"]
    out = tmp_path / "out"
    code, _, err = run_cli(["lambda", str(project), "--out", str(out), *args], capsys)
    assert code == 4, err
    assert "AWS Lambda unzipped size (function + layer): 267.0 MiB unzipped is over the limit of 250.0 MiB" in err
    # the breakdown shows the two halves where they were planned: one in the function, one in the layer
    assert "assets/big-app.bin" in err and "nodejs/node_modules/debug/big-data.bin" in err
    assert "Traceback" not in err
    assert "a layer does not help" in err and "--format both puts the engine" not in err  # the right advice
    assert not out.exists() or list(out.iterdir()) == []
    assert tree_digest(project) == before

    # Controls: either half alone fits, in the artifact the failing run put it in.
    layer_only = bundle_ok("lambda", project, tmp_path / "out-layer", capsys, *args, "--exclude", "assets/big-app.bin")
    sizes = {a["kind"]: a["unzipped_bytes"] for a in layer_only["artifacts"]}
    assert SPARSE < sizes["layer"] < LAMBDA_UNZIPPED_MAX and sizes["function"] < 1_000_000
    function_only = bundle_ok("lambda", project, tmp_path / "out-function", capsys, *args,
                              "--exclude", "node_modules/debug/big-data.bin")
    sizes = {a["kind"]: a["unzipped_bytes"] for a in function_only["artifacts"]}
    assert SPARSE < sizes["function"] < LAMBDA_UNZIPPED_MAX and sizes["layer"] < 1_000_000
    (limit,) = [lim for lim in function_only["limits"] if lim["what"] == "unzipped"]
    assert limit["name"] == "AWS Lambda unzipped size (function + layer)"
    assert (limit["limit"], limit["actual"]) == (LAMBDA_UNZIPPED_MAX, sum(sizes.values()))


# ------------------------------------------------------------------------ project folder defaults to "."


def test_project_dir_defaults_to_the_current_folder(tmp_path: Path, elf_cache: Path,
                                                    capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    project = make_project(tmp_path / "app", elf_cache=elf_cache)
    (project / "handler.js").write_text("exports.handler = async () => 'from the current folder';\n")
    monkeypatch.chdir(project)
    out = tmp_path / "out"
    code, stdout, err = run_cli(["lambda", "--out", str(out), "--offline", "--json"], capsys)
    assert code == 0, err
    doc = json.loads(stdout)
    assert json.loads((out / "manifest.json").read_text()) == doc
    assert doc["engine"]["file"] == f"{CLIENT}/libquery_engine-{TARGET}.so.node"
    with zipfile.ZipFile(out / "function.zip") as zf:
        assert zf.read("handler.js") == (project / "handler.js").read_bytes()
        assert "lib/util.js" in zf.namelist()


def test_project_dir_and_output_default_to_the_current_folder(tmp_path: Path, elf_cache: Path,
                                                              capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    project = make_project(tmp_path / "app", elf_cache=elf_cache)
    monkeypatch.chdir(project)
    code, _, err = run_cli(["lambda", "--offline", "-q"], capsys)
    assert code == 0, err
    written = project / ".photon-bundle" / "lambda"
    assert {"function.zip", "manifest.json"} <= {p.name for p in written.iterdir()}
    # a second run does not bundle the first run's output
    code, _, err = run_cli(["lambda", "--offline", "--force", "-q"], capsys)
    assert code == 0, err
    assert not [n for n in zip_names(written / "function.zip") if n.startswith(".photon-bundle")]


# ------------------------------------------------------------------------- --engine-source mirror


def _served_engine(tmp_path: Path) -> bytes:
    """A real shared object distinct from every engine of the fixture project."""
    built = compile_served_elf(tmp_path / "build" / "served.so", shared=True,
                               source="int photon_served_engine(void) { return 7; }\n")
    return built.read_bytes()


@pytest.fixture
def _loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy between the CLI (run in this process) and the mirror on 127.0.0.1."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.mark.network
@pytest.mark.usefixtures("_loopback")
def test_engine_source_mirror_fetches_the_targets_engine(tmp_path: Path, elf_cache: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "app", targets=("debian-openssl-3.0.x", "linux-arm64-openssl-3.0.x"),
                           elf_cache=elf_cache)
    before = tree_digest(project)
    mirror_root = tmp_path / "mirror"
    published = publish_engine(mirror_root, VERSION, TARGET, "library", _served_engine(tmp_path))
    out = tmp_path / "out"
    with MirrorServer(mirror_root) as server:
        code, stdout, err = run_cli(["lambda", str(project), "--out", str(out), "--runtime", "nodejs20.x",
                                     "--engine-source", "mirror", "--mirror", server.base_url, "--json"], capsys)
        assert code == 0, err
        assert server.count(published.url_path, status=200) == 1
    doc = json.loads(stdout)
    assert (doc["engine"]["source"], doc["engine"]["target"], doc["engine"]["kind"]) == ("mirror", TARGET, "library")
    assert doc["engine"]["sha256"] == published.sha256
    arc = f"{CLIENT}/libquery_engine-{TARGET}.so.node"
    assert engine_names(out / "function.zip") == [arc]
    assert zip_modes(out / "function.zip")[arc] == 0o100755
    with zipfile.ZipFile(out / "function.zip") as zf:
        assert zf.read(arc) == published.data
    assert tree_digest(project) == before


@pytest.mark.network
@pytest.mark.usefixtures("_loopback")
def test_engine_source_mirror_wins_over_the_engine_on_disk(tmp_path: Path, elf_cache: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "app", elf_cache=elf_cache)  # has the target's engine
    on_disk = (project / CLIENT / f"libquery_engine-{TARGET}.so.node").read_bytes()
    mirror_root = tmp_path / "mirror"
    published = publish_engine(mirror_root, VERSION, TARGET, "library", _served_engine(tmp_path))
    assert published.data != on_disk
    arc = f"{CLIENT}/libquery_engine-{TARGET}.so.node"
    with MirrorServer(mirror_root) as server:
        for run, out in enumerate((tmp_path / "out", tmp_path / "out-again"), start=1):
            code, stdout, err = run_cli(["lambda", str(project), "--out", str(out), "--runtime", "nodejs20.x",
                                         "--engine-source", "mirror", "--mirror", server.base_url, "--json"], capsys)
            assert code == 0, err
            assert json.loads(stdout)["engine"]["source"] == "mirror"
            assert engine_names(out / "function.zip") == [arc]  # the project's copy is left out, not added twice
            assert zip_modes(out / "function.zip")[arc] == 0o100755
            with zipfile.ZipFile(out / "function.zip") as zf:
                assert zf.read(arc) == published.data
            # mirror means the mirror: the copy cached by the first run is not used instead of downloading
            assert server.count(published.url_path, status=200) == run
    # control: the default source takes the project's own engine
    doc = bundle_ok("lambda", project, tmp_path / "out-auto", capsys, "--runtime", "nodejs20.x")
    assert doc["engine"]["source"] == "local"
    with zipfile.ZipFile(tmp_path / "out-auto" / "function.zip") as zf:
        assert zf.read(arc) == on_disk
