"""Every bundle is verified before it is renamed into place: a binary that would not load stops the run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bundler.cli import cli
from bundler.cli.common import run_guarded
from tests.elf_fixtures import compile_source
from tests.projects import make_project

LIBSSL3 = "void *SSL_CTX_new(const void *m);\nvoid *photon_ctx(void) { return SSL_CTX_new(0); }\n"


def test_engine_linking_openssl3_fails_on_amazon_linux_2(tmp_path: Path, elf_cache: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "app", elf_cache=elf_cache)
    # a "rhel-openssl-1.0.x" engine that was really built against OpenSSL 3 (e.g. on a Debian 12 CI box)
    engine = project / "node_modules/.prisma/client/libquery_engine-rhel-openssl-1.0.x.so.node"
    compile_source(LIBSSL3, tmp_path / "bad.so", "-shared", "-fPIC", "-l:libssl.so.3")
    shutil.copy(tmp_path / "bad.so", engine)
    out = tmp_path / "out"
    code = run_guarded(cli, ["lambda", str(project), "--out", str(out), "--runtime", "nodejs18.x"])
    err = capsys.readouterr().err
    assert code == 5, err
    assert "libquery_engine-rhel-openssl-1.0.x.so.node" in err and "libssl.so.3" in err
    assert "verify function.zip\n" in err and ".tmp" not in err  # the artifact's name, not its temp file's
    assert "Traceback" not in err
    assert list(out.iterdir()) == []  # no artifact, no manifest, no temp file
    # the same engine is fine where OpenSSL 3 is the system library, and --no-verify lets it through
    (project / "node_modules/.prisma/client/libquery_engine-rhel-openssl-3.0.x.so.node").write_bytes(
        (tmp_path / "bad.so").read_bytes())
    assert run_guarded(cli, ["lambda", str(project), "--out", str(out), "--runtime", "nodejs20.x", "-q"]) == 0
    assert run_guarded(cli, ["lambda", str(project), "--out", str(out), "--runtime", "nodejs18.x", "--no-verify",
                             "-q"]) == 0


def test_manifest_records_the_verdict(tmp_path: Path, elf_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "app", elf_cache=elf_cache)
    assert run_guarded(cli, ["lambda", str(project), "--out", str(tmp_path / "o"), "--runtime", "nodejs20.x",
                             "--format", "both", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verify"]["skipped"] is False
    assert doc["verify"]["artifacts"]["layer.zip"]["errors"] == 0
    assert doc["verify"]["artifacts"]["function.zip"]["errors"] == 0


def test_heads_from_the_writer_give_the_same_report_as_reading_the_zip(tmp_path: Path, elf_cache: Path) -> None:
    """The pipeline hands verify the first bytes the zip writer saw; the verdict must not change."""
    from bundler.archive import write_zip
    from bundler.targets import resolve
    from bundler.verify import verify_artifact
    from tests.projects import compile_elf

    project = make_project(tmp_path / "app", elf_cache=elf_cache)
    addon = compile_elf(tmp_path / "addon.node", shared=True, marker="addon")
    big = tmp_path / "big.bin"  # segmented by the writer: its head comes from the first segment
    big.write_bytes(addon.read_bytes() + b"\0" * (5 << 20))
    engine = project / "node_modules/.prisma/client/libquery_engine-rhel-openssl-3.0.x.so.node"

    class Entry:
        def __init__(self, arc: str, source: Path) -> None:
            self.arc, self.source, self.data, self.mode = arc, source, None, 0o755

    entries = [Entry("a/addon.node", addon), Entry("b/big.bin", big), Entry("c/handler.js", project / "handler.js"),
               Entry(f"node_modules/.prisma/client/{engine.name}", engine)]
    result = write_zip(entries, tmp_path / "t.zip")
    heads = {e.arc: e.head for e in result.entries}
    assert heads["b/big.bin"] == addon.read_bytes()[:16] and heads["a/addon.node"].startswith(b"\x7fELF")
    profile = resolve("lambda", "nodejs20.x", "x86_64")
    with_heads = verify_artifact(result.path, profile, engine_kind="library", heads=heads)
    reading = verify_artifact(result.path, profile, engine_kind="library")
    assert [f.path for f in with_heads.files] == [f.path for f in reading.files] == \
        ["a/addon.node", "b/big.bin", f"node_modules/.prisma/client/{engine.name}"]
    assert with_heads.verdict == reading.verdict
    assert [(f.file, f.message) for f in with_heads.errors] == [(f.file, f.message) for f in reading.errors]


def test_verify_through_the_writer_sees_the_zipped_bytes_not_a_changed_source(tmp_path: Path,
                                                                             elf_cache: Path) -> None:
    """The pipeline verifies a zip it just wrote through the writer's result (no second read of the zip): same
    report as reading the zip; and a native source changed after it was zipped is not what gets verified."""
    from bundler.archive import write_zip
    from bundler.targets import resolve
    from bundler.verify import verify_artifact
    from tests.projects import compile_elf

    project = make_project(tmp_path / "app", elf_cache=elf_cache)
    addon = compile_elf(tmp_path / "addon.node", shared=True, marker="addon")
    bad = compile_source(LIBSSL3, tmp_path / "bad.node", "-shared", "-fPIC", "-l:libssl.so.3")
    engine = project / "node_modules/.prisma/client/libquery_engine-rhel-openssl-1.0.x.so.node"

    class Entry:
        def __init__(self, arc: str, source: Path | None, data: bytes | None = None) -> None:
            self.arc, self.source, self.data, self.mode = arc, source, data, 0o755

    entries = [Entry("a/addon.node", addon), Entry("b/bad.node", bad), Entry("c/handler.js", project / "handler.js"),
               Entry("d/generated.node", None, addon.read_bytes()), Entry(f"e/{engine.name}", engine)]
    result = write_zip(entries, tmp_path / "t.zip")
    sources = {e.arc: e.source for e in entries}
    profile = resolve("lambda", "nodejs18.x", "x86_64")  # Amazon Linux 2: OpenSSL 1.0, no libssl.so.3
    written = verify_artifact(result.path, profile, engine_kind="library", written=(result.entries, sources))
    reading = verify_artifact(result.path, profile, engine_kind="library")
    assert [(f.path, f.verdict) for f in written.files] == [(f.path, f.verdict) for f in reading.files]
    assert [f.path for f in written.files] == ["a/addon.node", "b/bad.node", "d/generated.node", f"e/{engine.name}"]
    assert [(f.file, f.message) for f in written.errors] == [(f.file, f.message) for f in reading.errors]
    assert written.sizes == reading.sizes and written.verdict == reading.verdict == "fail"
    assert {f.file for f in written.errors} == {"b/bad.node"}
    # the sources change after zipping: the good addon becomes the bad one and vice versa; the zip still holds
    # the old bytes, and that is what verify reports on
    bad_bytes, good_bytes = bad.read_bytes(), addon.read_bytes()
    addon.write_bytes(bad_bytes)
    bad.write_bytes(good_bytes)
    after = verify_artifact(result.path, profile, engine_kind="library", written=(result.entries, sources))
    assert [(f.file, f.message) for f in after.errors] == [(f.file, f.message) for f in reading.errors]
