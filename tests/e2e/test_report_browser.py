"""report.html in a real browser: Debian's chromium (installed by `make test`, target `browser`), headless, loads
the example app's report from a file:// URL with every request sent to a counting proxy on 127.0.0.1 and DNS
turned off, and the rendered DOM is checked: the treemap boxes, the hover text and that nothing was requested."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
EXAMPLE = REPO / "examples" / "lambda-app"
CHROMIUM = shutil.which("chromium")
ENGINE = "node_modules/.prisma/client/libquery_engine-rhel-openssl-3.0.x.so.node"
OTHER_ENGINES = ("libquery_engine-rhel-openssl-1.0.x.so.node", "libquery_engine-debian-openssl-3.0.x.so.node",
                 "libquery_engine-linux-arm64-openssl-3.0.x.so.node")

BROWSER_SERVICES = re.compile(r"^\S+ (https?://)?[\w.-]*\.(google\.com|googleapis\.com|gstatic\.com)[:/]")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make browser)")


@dataclass
class Box:
    attrs: dict[str, str]
    children: list[Box] = field(default_factory=list)

    @property
    def area(self) -> float:
        style = dict(re.findall(r"(width|height):\s*([\d.]+)px", self.attrs.get("style", "")))
        return float(style.get("width", 0)) * float(style.get("height", 0))

    def walk(self) -> Iterator[Box]:
        for child in self.children:
            yield child
            yield from child.walk()


class Treemaps(HTMLParser):
    """div.treemap elements (by data-tree) with their nested div.box elements, and a few single elements."""

    def __init__(self) -> None:
        super().__init__()
        self.maps: dict[str, Box] = {}
        self.stack: list[Box | None] = []
        self.network: dict[str, str] = {}
        self.csp = ""

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: v or "" for k, v in attrs_list}
        if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy":
            self.csp = attrs.get("content", "")
        if tag == "p" and attrs.get("id") == "network":
            self.network = attrs
        if tag != "div":
            return
        classes = attrs.get("class", "").split()
        node: Box | None = None
        if "treemap" in classes:
            node = self.maps[attrs["data-tree"]] = Box(attrs)
        elif "box" in classes:
            parent = next((b for b in reversed(self.stack) if b is not None), None)
            node = Box(attrs)
            if parent is not None:
                parent.children.append(node)
        self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self.stack:
            self.stack.pop()


class CountingProxy:
    """A TCP listener chromium is told to use as its proxy: every request the page made would arrive here."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.requests: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def page_requests(self) -> list[str]:
        """The request lines that are not chromium's own services (its clock, updater and accounts checks,
        which it makes even with --disable-background-networking; here they end at this proxy)."""
        lines = [r.split(b"\r\n", 1)[0].decode(errors="replace") for r in self.requests]
        return [line for line in lines if not BROWSER_SERVICES.search(line)]

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    self.requests.append(conn.recv(4096))
                    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except OSError:
                    self.requests.append(b"?")

    def close(self) -> None:
        self.sock.close()


def chromium(page: Path, profile: Path, proxy: CountingProxy, *extra: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", f"--proxy-server=http://127.0.0.1:{proxy.port}",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--enable-logging=stderr", "--v=0",
         "--window-size=1280,1400",
         *extra, page.as_uri()],
        capture_output=True, text=True, timeout=90, check=False)


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`photon-bundle lambda examples/lambda-app --report` (its stand-in engines built by make)."""
    subprocess.run(["make", "-s", "-C", str(REPO), "example-engines"], check=True, capture_output=True, timeout=300)
    out = tmp_path_factory.mktemp("report") / "out"
    run = subprocess.run([sys.executable, "-m", "bundler", "lambda", str(EXAMPLE), "--out", str(out), "--offline",
                          "--report", "--quiet"], capture_output=True, text=True, cwd=REPO, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    return out


def test_report_renders_in_chromium_without_network(report_dir: Path, tmp_path: Path) -> None:
    proxy = CountingProxy()
    try:
        shot = tmp_path / "report.png"
        dom = chromium(report_dir / "report.html", tmp_path / "profile", proxy, "--dump-dom")
        picture = chromium(report_dir / "report.html", tmp_path / "profile2", proxy, f"--screenshot={shot}")
    finally:
        proxy.close()
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert picture.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert proxy.page_requests() == []
    for run in (dom, picture):  # the inline script and style ran under the page's policy: no violation logged
        assert "Content Security Policy" not in run.stderr, run.stderr[-2000:]
    page = Treemaps()
    page.feed(dom.stdout)
    assert page.csp.startswith("default-src 'none'; script-src 'sha256-")
    assert page.network.get("data-resources") == "0"

    # the function zip: package boxes, the engine the largest, its file inside with sizes in the hover text
    function = page.maps["0.0"]
    assert function.attrs["data-artifact"] == "function.zip"
    top = function.children
    assert {b.attrs["data-path"] for b in top} >= {"(engine)", "(app)", "(prisma client)", "@prisma/client"}
    largest = max(top, key=lambda b: b.area)
    assert largest.attrs["data-kind"] == "engine" and largest.area > 0
    engine = next(b for b in function.walk() if b.attrs["data-path"] == ENGINE)
    size = int(engine.attrs["data-bytes"])
    assert size == (EXAMPLE / ENGINE).stat().st_size
    title = engine.attrs["title"]
    assert f"unzipped {size / 1024:.1f} KiB ({size} bytes)" in title
    assert re.search(rf"zipped [\d.]+ (B|KiB) \({engine.attrs['data-zipped']} bytes\), \d+% of unzipped", title)
    assert "why: the query engine for rhel-openssl-3.0.x (from local)" in title
    client = next(b for b in top if b.attrs["data-path"] == "(prisma client)")
    assert client.attrs["data-kind"] == "client"
    assert any(b.attrs["data-path"] == "node_modules/.prisma/client/index.js" for b in client.walk())
    dependency = next(b for b in top if b.attrs["data-path"] == "@prisma/client")
    assert "why: @prisma/client: a production dependency in package.json" in dependency.attrs["title"]

    # what was left out: the other targets' engines under their reason
    pruned = page.maps["0.pruned"]
    other = next(b for b in pruned.children if b.attrs["data-path"] == "engines for other targets")
    inside = {b.attrs["data-path"].rsplit("/", 1)[-1] for b in other.walk()}
    assert set(OTHER_ENGINES) <= inside
    cli = next(b for b in pruned.children if b.attrs["data-path"] == "CLI-only engine (never used at run time)")
    assert any(b.attrs["data-path"].endswith("schema-engine-debian-openssl-3.0.x") for b in cli.walk())


def test_the_proxy_sees_a_page_that_does_request(tmp_path: Path) -> None:
    """The control for the test above: a page without the policy that loads an image reaches the proxy."""
    page = tmp_path / "leaky.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://example.com/report-test.png"></body></html>')
    proxy = CountingProxy()
    try:
        run = chromium(page, tmp_path / "profile", proxy, "--dump-dom")
    finally:
        proxy.close()
    assert run.returncode == 0
    assert proxy.page_requests() == ["GET http://example.com/report-test.png HTTP/1.1"], proxy.requests
