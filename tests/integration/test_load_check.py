"""The load check on real zips and a real node: every artifact is unpacked and required in a fresh node before
it is renamed into place; a bundle that would not load stops the run with exit 5 and writes nothing."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import bundle_ok
from tests.cli_helpers import run_cli as run
from tests.projects import make_project

pytestmark = [pytest.mark.usefixtures("own_engine_cache"),
              pytest.mark.skipif(shutil.which("node") is None, reason="needs the host's node")]

TARGET = "rhel-openssl-3.0.x"
ENGINE = f"node_modules/.prisma/client/libquery_engine-{TARGET}.so.node"


@pytest.fixture
def project(tmp_path: Path, elf_cache: Path) -> Path:
    return make_project(tmp_path / "app", elf_cache=elf_cache)


def fails(platform: str, project: Path, out: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    """Run a bundle that must fail the load check: its stderr; nothing may be at the output folder."""
    code, stdout, err = run([platform, str(project), "--out", str(out), "--offline", *extra], capsys)
    assert code == 5, err
    assert stdout == ""
    assert not out.exists() or not [p for p in out.rglob("*") if p.is_file()], list(out.rglob("*"))
    assert "nothing was written at the final path" in err
    return err


def test_a_loading_bundle_records_what_was_required_and_the_engine_found(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = bundle_ok("lambda", project, tmp_path / "out", capsys, "--runtime", "nodejs20.x")
    check = doc["load_check"]
    node = subprocess.run(["node", "-v"], capture_output=True, text=True, check=True).stdout.strip()
    assert check["skipped"] is False and check["mode"] == "node" and check["node"] == node
    assert check["entries"] == [{"path": "handler.js", "ok": True}]
    assert check["engine"] == {"found": ENGINE, "via": "the generated client's folder"}
    assert check["clients"] == ["node_modules/.prisma/client"]
    assert check["artifacts"] == ["function.zip"]


def test_the_check_unpacks_in_memory_when_there_is_room_and_leaves_nothing_there(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The unpacked bundle goes to /dev/shm (a tmpfs) when it has room and no TMPDIR is set; it is gone after."""
    from bundler.fstree import SHM, scratch_dir

    for name in ("TMPDIR", "TEMP", "TMP"):
        monkeypatch.delenv(name, raising=False)
    if scratch_dir(1, {}) is None:
        pytest.skip(f"no writable {SHM} with room on this machine")
    import tempfile

    made: list[Path] = []
    mkdtemp = tempfile.mkdtemp

    def recording(*args: Any, **kwargs: Any) -> str:
        folder: str = mkdtemp(*args, **kwargs)
        if Path(folder).name.startswith("photon-bundle-loadcheck-"):
            made.append(Path(folder))
        return folder

    monkeypatch.setattr(tempfile, "mkdtemp", recording)
    doc = bundle_ok("lambda", project, tmp_path / "out", capsys, "--runtime", "nodejs20.x")
    assert doc["load_check"]["skipped"] is False
    assert [folder.parent for folder in made] == [Path(SHM)]
    assert not made[0].exists()


def test_a_temp_folder_mounted_noexec_is_named_with_the_fix(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A real tmpfs mounted noexec as TMPDIR: the library engine could not be mapped from there, and the run says
    which folder and what to set."""
    noexec = tmp_path / "noexec"
    noexec.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m,noexec", "tmpfs", str(noexec)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        import tempfile

        monkeypatch.setenv("TMPDIR", str(noexec))
        monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again, as a fresh process does
        code, _stdout, err = run(["lambda", str(project), "--out", str(tmp_path / "out"), "--offline"],
                                 capsys)
        assert code == 0, err  # the stand-in engine is not loaded off its target: the check itself passes
        assert f"the temp folder {noexec} is mounted noexec" in err and "set TMPDIR" in err
        assert list(noexec.iterdir()) == []
    finally:
        subprocess.run(["umount", str(noexec)], check=True)


def test_generated_client_left_out_fails_naming_it_and_who_required_it(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = fails("lambda", project, tmp_path / "out", capsys, "--runtime", "nodejs20.x",
                "--exclude", "node_modules/.prisma/**")
    assert "Cannot find module '.prisma/client'" in err
    assert "required by node_modules/@prisma/client/index.js (from handler.js)" in err
    assert "the generated client .prisma/client is not in the bundle beside node_modules/@prisma/client" in err
    assert "--exclude pattern" in err


def test_a_previous_bundle_is_withdrawn_when_the_load_check_fails(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    bundle_ok("lambda", project, out, capsys, "--runtime", "nodejs20.x")
    assert (out / "function.zip").is_file()
    err = fails("lambda", project, out, capsys, "--runtime", "nodejs20.x", "--exclude", "node_modules/.prisma/**")
    assert "previous run's artifacts were removed" in err


def test_no_load_check_lets_the_broken_bundle_through(project: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    doc = bundle_ok("lambda", project, tmp_path / "out", capsys, "--runtime", "nodejs20.x",
                    "--exclude", "node_modules/.prisma/**", "--no-load-check")
    assert doc["load_check"] == {"skipped": True, "reason": "turned off (--load-check)"}
    doc = bundle_ok("lambda", project, tmp_path / "out2", capsys, "--runtime", "nodejs20.x", "--load-check", "off")
    assert doc["load_check"]["skipped"] is True


def test_engine_where_the_client_does_not_look(tmp_path: Path, elf_cache: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """The runtime's engine only in an app folder: it is bundled there, where Prisma never searches."""
    project = make_project(tmp_path / "app", targets=("debian-openssl-3.0.x",), elf_cache=elf_cache)
    (project / "lib" / "engines").mkdir()
    shutil.copy2(project / "node_modules/.prisma/client/libquery_engine-debian-openssl-3.0.x.so.node",
                 project / "lib" / "engines" / f"libquery_engine-{TARGET}.so.node")
    (project / "handler.js").write_text("exports.handler = async () => ({ statusCode: 200 });\n")
    err = fails("lambda", project, tmp_path / "out", capsys, "--runtime", "nodejs20.x", "--no-verify")
    assert f"finds no libquery_engine-{TARGET}.so.node" in err
    assert "the generated client's folder (node_modules/.prisma/client)" in err
    assert f"the engine is not where the client looks (bundled at lib/engines/libquery_engine-{TARGET}.so.node)" in err


class Database:
    """A TCP server on 127.0.0.1 standing in for a database: it counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_server_and_a_database_connection_at_require_time_are_stopped(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = Database()
    port = free_port()
    marker = tmp_path / "listening"
    (project / "handler.js").write_text(f"""\
const http = require('http');
const net = require('net');
const {{ PrismaClient }} = require('@prisma/client');
const prisma = new PrismaClient();
const db = net.connect({db.port}, '127.0.0.1', () => require('fs').writeFileSync({json.dumps(str(marker))}, 'db'));
db.on('error', () => {{}});
http.createServer((req, res) => res.end('hi')).listen({port}, () => {{
  require('fs').writeFileSync({json.dumps(str(marker))}, 'listening');
}});
exports.handler = async () => ({{ statusCode: 200 }});
""")
    try:
        doc = bundle_ok("lambda", project, tmp_path / "out", capsys, "--runtime", "nodejs20.x")
    finally:
        db.close()
    guarded = doc["load_check"]["guarded"]
    assert any(g.startswith("connect") and str(db.port) in g for g in guarded), guarded
    assert any(g.startswith("listen") and str(port) in g for g in guarded), guarded
    assert db.accepted == 0
    assert not marker.exists()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # nothing was left listening on the port
        sock.bind(("127.0.0.1", port))


def test_a_handler_that_never_finishes_loading_is_stopped_in_time(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "handler.js").write_text("const start = Date.now();\nwhile (true) {}\n")
    err = fails("lambda", project, tmp_path / "out", capsys, "--runtime", "nodejs20.x", "--load-check-timeout", "2")
    assert "requiring handler.js did not finish within 2 s and was stopped" in err
    assert "--load-check-timeout" in err


def test_without_node_on_path_the_check_is_skipped_with_a_warning(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    code, _, err = run(["lambda", str(project), "--out", str(tmp_path / "out"), "--offline",
                        "--runtime", "nodejs20.x"], capsys)
    assert code == 0, err
    assert "warning: load check skipped: no `node` on PATH" in err
    doc = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert doc["load_check"] == {"skipped": True, "reason": "no node on PATH"}


def test_format_both_finds_the_engine_in_the_layer_through_the_exec_wrapper(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = bundle_ok("lambda", project, tmp_path / "out", capsys, "--runtime", "nodejs20.x", "--format", "both")
    check = doc["load_check"]
    assert check["artifacts"] == ["function.zip", "layer.zip"]
    assert check["engine"] == {"found": f"/opt/photon-bundle/engines/libquery_engine-{TARGET}.so.node",
                               "via": "env PRISMA_QUERY_ENGINE_LIBRARY"}


def test_format_both_with_node_modules_in_the_layer_resolves_them_through_node_path(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = bundle_ok("lambda", project, tmp_path / "out", capsys, "--runtime", "nodejs20.x", "--format", "both",
                    "--layer-node-modules")
    check = doc["load_check"]
    assert check["clients"] == ["/opt/nodejs/node_modules/.prisma/client"]
    assert check["engine"]["found"] == f"/opt/photon-bundle/engines/libquery_engine-{TARGET}.so.node"


def test_the_handler_export_is_checked(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = bundle_ok("lambda", project, tmp_path / "out", capsys, "--runtime", "nodejs20.x",
                    "--handler", "handler.handler")
    assert doc["load_check"]["entries"] == [{"path": "handler.js", "ok": True}]
    err = fails("lambda", project, tmp_path / "out2", capsys, "--runtime", "nodejs20.x", "--handler", "handler.main")
    assert "handler.js loads, but its export 'main' is not a function (it exports: handler)" in err


def test_a_dev_dependency_required_at_load_time_is_named(project: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    (project / "handler.js").write_text("require('jest-lite');\nexports.handler = async () => 1;\n")
    err = fails("lambda", project, tmp_path / "out", capsys, "--runtime", "nodejs20.x")
    assert "Cannot find module 'jest-lite'" in err and "required by handler.js" in err
    assert "package jest-lite is a devDependency" in err


def test_the_aws_sdk_the_runtime_provides_is_not_required_in_the_bundle(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "handler.js").write_text("const { S3 } = require('aws-sdk');\nconst s3 = new S3();\n"
                                        "exports.handler = async () => 1;\n")
    doc = bundle_ok("lambda", project, tmp_path / "out", capsys, "--runtime", "nodejs16.x", "--no-verify")
    assert doc["load_check"]["runtime_provided"] == ["aws-sdk"]


def test_nothing_of_this_machine_is_on_the_module_path(project: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """A package in a node_modules above the unpacked folder (here: the user's home) must not be found."""
    home = tmp_path / "home"
    (home / ".node_modules" / "left-pad").mkdir(parents=True)
    (home / ".node_modules" / "left-pad" / "index.js").write_text("module.exports = 1;\n")
    (project / "handler.js").write_text("require('left-pad');\nexports.handler = async () => 1;\n")
    err = fails("lambda", project, tmp_path / "out", capsys, "--runtime", "nodejs20.x")
    assert "Cannot find module 'left-pad'" in err
    assert "package left-pad is not installed in the project" in err


# ------------------------------------------------------------------------------------------------ platforms


def test_gcf_runs_the_postinstall_over_a_stand_in_install_then_requires_main(
        tmp_path: Path, elf_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "app", targets=("debian-openssl-3.0.x",), elf_cache=elf_cache)
    doc = bundle_ok("gcf", project, tmp_path / "out", capsys, "--runtime", "nodejs20")
    check = doc["load_check"]
    assert check["entries"] == [{"path": "handler.js", "ok": True}]
    # photon-bundle-vendor/restore.js put the vendored client back where @prisma/client looks
    assert check["engine"]["found"] == "node_modules/.prisma/client/libquery_engine-debian-openssl-3.0.x.so.node"


def test_gcf_without_the_vendored_client_fails(tmp_path: Path, elf_cache: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "app", targets=("debian-openssl-3.0.x",), elf_cache=elf_cache)
    err = fails("gcf", project, tmp_path / "out", capsys, "--runtime", "nodejs20",
                "--exclude", "node_modules/.prisma/client/index.js")
    assert "Cannot find module '.prisma/client'" in err


def test_gcf_postinstall_that_fails_is_reported(tmp_path: Path, elf_cache: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "app", targets=("debian-openssl-3.0.x",), elf_cache=elf_cache)
    pkg = json.loads((project / "package.json").read_text())
    pkg["scripts"] = {"postinstall": "node -e \"process.exit(3)\""}
    (project / "package.json").write_text(json.dumps(pkg))
    err = fails("gcf", project, tmp_path / "out", capsys, "--runtime", "nodejs20")
    assert "the zip's postinstall step `node -e \"process.exit(3)\"` failed (exit 3)" in err


NETLIFY_USERS = """\
const { PrismaClient } = require('@prisma/client');
const prisma = new PrismaClient();
exports.handler = async () => ({ statusCode: 200 });
"""


def test_netlify_each_function_is_checked_on_its_own(tmp_path: Path, elf_cache: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "app", elf_cache=elf_cache)
    functions = project / "netlify" / "functions"
    (functions / "health").mkdir(parents=True)
    (functions / "users.js").write_text(NETLIFY_USERS)
    (functions / "health" / "index.js").write_text("exports.handler = async () => ({ statusCode: 204 });\n")
    (functions / "ping.mjs").write_text("export const handler = async () => ({ statusCode: 204 });\n")
    doc = bundle_ok("netlify", project, tmp_path / "out", capsys, "--runtime", "nodejs20.x")
    units = doc["load_check"]["units"]
    assert units["users"]["entries"] == [{"path": "users.js", "ok": True}]  # the entry file at the zip's root
    assert units["users"]["engine"]["found"] == ENGINE
    assert units["health"]["entries"] == [{"path": "health.js", "ok": True}]
    assert "engine" not in units["health"]  # it does not load the Prisma client
    assert units["ping"]["entries"] == [{"path": "ping.mjs", "ok": True}]
    (functions / "broken.js").write_text("exports.handle = async () => 1;\n")  # a typo: Lambda calls `handler`
    err = fails("netlify", project, tmp_path / "out2", capsys, "--runtime", "nodejs20.x")
    assert "broken: functions/broken.zip does not load" in err
    assert "broken.js loads, but its export 'handler' is not a function (it exports: handle)" in err


SERVERLESS_YML = """\
service: orders
provider:
  name: aws
  runtime: nodejs20.x
package:
  individually: true
functions:
  users:
    handler: src/users.handler
  routes:
    handler: src/routes.api.get
"""


def test_serverless_each_function_handler_is_required_and_its_export_checked(
        tmp_path: Path, elf_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "app", elf_cache=elf_cache)
    (project / "src").mkdir()
    (project / "src" / "users.js").write_text(NETLIFY_USERS)
    (project / "src" / "routes.js").write_text("exports.api = { get: async () => ({ statusCode: 204 }) };\n")
    (project / "serverless.yml").write_text(SERVERLESS_YML)
    doc = bundle_ok("serverless", project, tmp_path / "out", capsys)
    units = doc["load_check"]["units"]
    assert units["users"]["entries"] == [{"path": "src/users.js", "ok": True}]
    assert units["users"]["engine"]["found"] == ENGINE
    assert units["routes"]["entries"] == [{"path": "src/routes.js", "ok": True}]
    (project / "serverless.yml").write_text(SERVERLESS_YML.replace("src/routes.api.get", "src/routes.api.post"))
    err = fails("serverless", project, tmp_path / "out2", capsys)
    assert "src/routes.js loads, but its export 'api.post' is not a function (it exports: api)" in err


def test_up_requires_the_server_without_listening(tmp_path: Path, elf_cache: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "app", elf_cache=elf_cache)
    (project / "app.js").write_text("const { PrismaClient } = require('@prisma/client');\nnew PrismaClient();\n"
                                    "require('http').createServer(() => {}).listen(process.env.PORT || 3000);\n")
    (project / "up.json").write_text('{"name": "orders", "proxy": {"command": "node app.js"}}\n')
    code, _, err = run(["up", str(project), "--out", str(tmp_path / "out"), "--offline", "--json"], capsys)
    assert code == 0, err
    doc: dict[str, Any] = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert doc["load_check"]["entries"] == [{"path": "app.js", "ok": True}]
    assert doc["load_check"]["guarded"] == ['listen [3000]']
