"""A real Prisma-style engine mirror on 127.0.0.1 for integration and e2e tests, with fault switches.

    root = tmp_path / "mirror"
    engine = compile_elf(tmp_path / "engine")                      # a tiny real ELF executable
    published = publish_engine(root, VERSION, "rhel-openssl-1.0.x", "binary", engine.read_bytes())
    with MirrorServer(root) as server:                            # or: server = MirrorServer(root); server.start()
        base_url = server.base_url                                # http://127.0.0.1:<port>
        server.fail(".gz", 500)                                   # next .gz request answers 500, then normal
        ...
        server.count(".gz")                                       # how many engine downloads were served

Layout served (FACTS.md section 5): `<root>/all_commits/<hash>/<target>/<mirror file>.gz` with
`<file>.gz.sha256` and `<file>.sha256` beside it. The server runs in a daemon thread, stops by itself
after `lifetime` seconds, and `stop()` never waits on a stalled handler. It also answers proxy-style
requests (`GET http://host/path`), recorded with `proxied=True`, so tests can check HTTP_PROXY is used.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.server
import os
import socket
import subprocess
import sys
import threading
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from bundler.engines import EngineKind, mirror_filename

CHUNK = 16 * 1024


# ------------------------------------------------------------------------------------ engine files


def compile_elf(out: Path, *, shared: bool = False, source: str | None = None) -> Path:
    """Compile a tiny real ELF with gcc: an executable returning 0, or (shared=True) a shared object."""
    out.parent.mkdir(parents=True, exist_ok=True)
    src = out.with_name(out.name + ".c")
    if source is None:
        source = "int photon_test_engine(void) { return 42; }\n" if shared else "int main(void) { return 0; }\n"
    src.write_text(source, encoding="utf-8")
    args = ["gcc", "-O0", "-o", str(out), str(src)]
    if shared:
        args[1:1] = ["-shared", "-fPIC"]
    subprocess.run(args, check=True, capture_output=True, timeout=120)
    return out


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class PublishedEngine:
    url_path: str  # "/all_commits/<hash>/<target>/<file>.gz"
    gz_path: Path
    data: bytes  # the unpacked engine
    gz: bytes
    sha256: str
    gz_sha256: str

    def url(self, base_url: str) -> str:
        return base_url.rstrip("/") + self.url_path


def publish_engine(
    root: Path,
    version: str,
    target: str,
    kind: EngineKind,
    data: bytes,
    *,
    gz: bytes | None = None,
    gz_sha256: str | None = None,
    sha256: str | None = None,
    checksums: bool = True,
) -> PublishedEngine:
    """Write an engine into a mirror folder in Prisma's layout. Override `gz`/`*sha256` to publish faults."""
    name = mirror_filename(kind, target)
    folder = root / "all_commits" / version / target
    folder.mkdir(parents=True, exist_ok=True)
    packed = gzip_bytes(data) if gz is None else gz
    gz_digest = sha256_hex(packed) if gz_sha256 is None else gz_sha256
    digest = sha256_hex(data) if sha256 is None else sha256
    gz_path = folder / f"{name}.gz"
    gz_path.write_bytes(packed)
    if checksums:
        # the two styles a mirror uses: sha256sum output, and a bare digest without newline
        (folder / f"{name}.gz.sha256").write_text(f"{gz_digest}  {name}.gz\n", encoding="utf-8")
        (folder / f"{name}.sha256").write_text(digest, encoding="utf-8")
    return PublishedEngine(
        url_path=f"/all_commits/{version}/{target}/{name}.gz",
        gz_path=gz_path,
        data=data,
        gz=packed,
        sha256=digest,
        gz_sha256=gz_digest,
    )


# ------------------------------------------------------------------------------------------ server


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    status: int
    proxied: bool


@dataclass
class _Faults:
    statuses: dict[str, list[int]] = field(default_factory=dict)  # suffix -> statuses to answer, in order
    drops: dict[str, list[int]] = field(default_factory=dict)  # suffix -> bytes to send before cutting
    stalls: dict[str, float] = field(default_factory=dict)  # suffix -> seconds to wait before answering
    throttle: float = 0.0  # seconds to wait between body chunks
    drips: dict[str, float] = field(default_factory=dict)  # suffix -> seconds to wait between single body bytes


class MirrorServer:
    def __init__(self, root: Path, *, lifetime: float = 120.0) -> None:
        self.root = root
        self.lifetime = lifetime
        self.requests: list[LoggedRequest] = []
        self._faults = _Faults()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self, root: Path | None = None) -> str:
        """Serve `root` (default: the constructor's) on 127.0.0.1; returns the base URL."""
        if root is not None:
            self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        handler = _make_handler(self)
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False  # a stalled handler must not hold up stop()
        httpd.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        self._timer = threading.Timer(self.lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self.base_url

    def stop(self) -> None:
        self._stopping.set()
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.cancel()

    def __enter__(self) -> MirrorServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the mirror server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- fault switches ----------------------------------------------------------------------------

    def fail(self, suffix: str, *statuses: int) -> None:
        """The next requests whose path ends with `suffix` get these HTTP statuses, then normal answers."""
        with self._lock:
            self._faults.statuses.setdefault(suffix, []).extend(statuses)

    def drop(self, suffix: str, after_bytes: int, *, times: int = 1) -> None:
        """Cut the connection after `after_bytes` of the body (Content-Length still says the full size)."""
        with self._lock:
            self._faults.drops.setdefault(suffix, []).extend([after_bytes] * times)

    def stall(self, suffix: str, seconds: float) -> None:
        """Wait `seconds` before answering requests ending with `suffix` (until cleared with 0)."""
        with self._lock:
            if seconds > 0:
                self._faults.stalls[suffix] = seconds
            else:
                self._faults.stalls.pop(suffix, None)

    def throttle(self, seconds_per_chunk: float) -> None:
        """Sleep between 16 KiB body chunks (keeps concurrent downloads overlapping)."""
        with self._lock:
            self._faults.throttle = seconds_per_chunk

    def drip(self, suffix: str, seconds_per_byte: float) -> None:
        """Send bodies ending with `suffix` one byte at a time, `seconds_per_byte` apart (a slow-drip server
        that never trips a per-read timeout)."""
        with self._lock:
            self._faults.drips[suffix] = seconds_per_byte

    def reset_faults(self) -> None:
        with self._lock:
            self._faults = _Faults()

    # -- request log -------------------------------------------------------------------------------

    def count(self, suffix: str, *, status: int | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path.endswith(suffix) and (status is None or r.status == status))

    def _log(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.requests.append(entry)

    def _drip(self, path: str) -> float:
        with self._lock:
            return next((s for suffix, s in self._faults.drips.items() if path.endswith(suffix)), 0.0)

    def _take_fault(self, path: str) -> tuple[int | None, int | None, float, float]:
        with self._lock:
            status = drop = None
            for suffix, queue in self._faults.statuses.items():
                if path.endswith(suffix) and queue:
                    status = queue.pop(0)
                    break
            for suffix, queue in self._faults.drops.items():
                if path.endswith(suffix) and queue:
                    drop = queue.pop(0)
                    break
            stall = next((s for suffix, s in self._faults.stalls.items() if path.endswith(suffix)), 0.0)
            return status, drop, stall, self._faults.throttle


def _make_handler(server: MirrorServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            proxied = self.path.startswith(("http://", "https://"))
            path = urllib.parse.urlsplit(self.path).path
            status, drop, stall, throttle = server._take_fault(path)
            if stall and server._stopping.wait(stall):
                return
            if status is not None:
                self._answer(path, proxied, status, f"fault injected: {status}\n".encode())
                return
            file = (server.root / urllib.parse.unquote(path).lstrip("/")).resolve()
            if not file.is_relative_to(server.root.resolve()) or not file.is_file():
                self._answer(path, proxied, 404, b"not found\n")
                return
            data = file.read_bytes()
            server._log(LoggedRequest("GET", path, 200, proxied))
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            limit = len(data) if drop is None else min(drop, len(data))
            drip = server._drip(path)
            try:
                for start in range(0, limit if drip else 0):
                    self.wfile.write(data[start:start + 1])
                    self.wfile.flush()
                    if server._stopping.wait(drip):
                        return
                for start in range(0, 0 if drip else limit, CHUNK):
                    self.wfile.write(data[start : min(start + CHUNK, limit)])
                    self.wfile.flush()
                    if throttle and server._stopping.wait(throttle):
                        return
            except OSError:
                return
            if drop is not None:
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True

        def _answer(self, path: str, proxied: bool, status: int, body: bytes) -> None:
            server._log(LoggedRequest("GET", path, status, proxied))
            with contextlib.suppress(OSError):
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

    return Handler


# ------------------------------------------------------------------------------------- CLI helper


def engines_cli() -> list[str]:
    """argv prefix for `photon-bundle engines` in a subprocess."""
    return [sys.executable, "-m", "bundler", "engines"]


def cli_env(cache: Path, home: Path, **extra: str) -> dict[str, str]:
    """os.environ without anything that would steer engine fetching, plus a private cache and home."""
    drop = {"BINARY_DOWNLOAD_VERSION", "PRISMA_ENGINES_MIRROR", "PRISMA_BINARIES_MIRROR", "XDG_CACHE_HOME",
            "PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING", "PHOTON_BUNDLE_DEBUG"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(PHOTON_BUNDLE_CACHE=str(cache), HOME=str(home), NO_PROXY="127.0.0.1,localhost",
               no_proxy="127.0.0.1,localhost")
    env.update(extra)
    return env
