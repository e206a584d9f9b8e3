"""A project generated only for the host gets its Lambda engine from a real mirror on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.mirror_server import MirrorServer, cli_env, compile_elf, publish_engine
from tests.projects import make_project, tree_digest

VERSION = "0123456789abcdef0123456789abcdef01234567"


def test_engine_not_in_project_is_fetched_verified_and_bundled(tmp_path: Path, elf_cache: Path) -> None:
    # generated for the developer's machine only: no Lambda engine on disk
    project = make_project(tmp_path / "app", engine_kind="binary", targets=("debian-openssl-3.0.x",),
                           elf_cache=elf_cache, engines_version=VERSION)
    before = tree_digest(project)
    served = compile_elf(tmp_path / "build" / "engine", source='int main(void) { return 7; }\n')
    mirror_root = tmp_path / "mirror"
    published = publish_engine(mirror_root, VERSION, "rhel-openssl-3.0.x", "binary", served.read_bytes())
    out = tmp_path / "out"
    with MirrorServer(mirror_root) as server:
        env = cli_env(tmp_path / "cache", tmp_path / "home")
        result = subprocess.run(
            [sys.executable, "-m", "bundler", "lambda", str(project), "--out", str(out), "--runtime", "nodejs20.x",
             "--mirror", server.base_url, "--no-verify"],
            capture_output=True, text=True, env=env, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        assert server.count(published.url_path, status=200) == 1
        # offline, the second project build takes it from the verified cache without the network
        again = subprocess.run(
            [sys.executable, "-m", "bundler", "lambda", str(project), "--out", str(tmp_path / "out2"),
             "--runtime", "nodejs20.x", "--offline", "--no-verify"],
            capture_output=True, text=True, env=env, timeout=120, check=False)
        assert again.returncode == 0, again.stderr
        assert server.count(published.url_path) == 1
    assert "from mirror" in result.stderr
    with zipfile.ZipFile(out / "function.zip") as zf:
        engines = [i for i in zf.infolist() if "query-engine-" in i.filename]
        assert [i.filename for i in engines] == ["node_modules/.prisma/client/query-engine-rhel-openssl-3.0.x"]
        assert zf.read(engines[0].filename) == published.data
        assert engines[0].external_attr >> 16 == 0o100755
        task = tmp_path / "task"
        zf.extractall(task)
    engine = task / engines[0].filename
    engine.chmod(0o755)
    assert subprocess.run([str(engine)], check=False).returncode == 7  # the served program, runnable
    assert tree_digest(project) == before
