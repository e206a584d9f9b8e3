"""A real HTTP proxy on 127.0.0.1 in front of moto's server that answers chosen requests with an AWS error
(throttling, an update in progress) and forwards everything else: the faults moto cannot be asked to make."""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Fault:
    method: str
    path: str  # a regular expression matched against the request path
    status: int
    code: str  # the AWS error code (x-amzn-ErrorType)
    times: int = 1_000_000  # how many matching requests fail; then they are forwarded
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and re.fullmatch(self.path, path.split("?", maxsplit=1)[0]) is not None


@contextmanager
def faulty_proxy(upstream: str, faults: list[Fault]) -> Iterator[str]:
    """The proxy's URL (use it as AWS_ENDPOINT_URL) while the block runs."""
    target = urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _handle(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            for fault in faults:
                if fault.matches(self.command, self.path) and fault.hits < fault.times:
                    fault.hits += 1
                    payload = json.dumps({"__type": fault.code, "message": f"injected {fault.code}"}).encode()
                    self.send_response(fault.status)
                    self.send_header("x-amzn-ErrorType", fault.code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
            conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            conn.close()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle  # noqa: N815 - http.server's names

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
