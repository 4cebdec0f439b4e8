"""A local HTTP proxy in front of a real OpenAI-compatible server that injects faults on a schedule.

Each incoming request takes the next action of the schedule (cycled): forward it untouched, answer
500 or 429 without forwarding, drop the connection before answering, forward and then cut the
response body short, or hold the request longer than the client's timeout. Counts what it did.
"""

from __future__ import annotations

import http.client
import itertools
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

ACTIONS = ("ok", "500", "429", "drop", "truncate", "slow")


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True  # a second proxy on the same port right after the first
    daemon_threads = True


class FaultProxy:
    def __init__(self, upstream: str, schedule=("ok",), slow_s: float = 3.0, delay_s: float = 0.0, port: int = 0):
        assert set(schedule) <= set(ACTIONS), schedule
        parts = urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname, parts.port
        self.schedule = itertools.cycle(schedule)
        self.slow_s, self.delay_s = slow_s, delay_s
        self.lock = threading.Lock()
        self.actions: Counter = Counter()
        self.forwarded: Counter = Counter()  # request body -> times it reached the server
        self.authorization: set[str] = set()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                self._handle(None)

            def do_POST(self):
                self._handle(self.rfile.read(int(self.headers.get("Content-Length", 0))))

            def _handle(self, body: bytes | None):
                with proxy.lock:
                    action = next(proxy.schedule) if body is not None else "ok"
                    proxy.actions[action] += 1
                    if "Authorization" in self.headers:
                        proxy.authorization.add(self.headers["Authorization"])
                time.sleep(proxy.delay_s)
                if action in ("500", "429"):
                    payload = json.dumps({"error": {"message": f"injected {action}"}}).encode()
                    self.send_response(int(action))
                    if action == "429":
                        self.send_header("Retry-After", "0")
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if action == "drop":
                    self.close_connection = True
                    return
                if action == "slow":
                    time.sleep(proxy.slow_s)
                status, headers, data = proxy._forward(self.command, self.path, body, self.headers)
                if body is not None:
                    with proxy.lock:
                        proxy.forwarded[body] += 1
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if action == "truncate":
                    self.wfile.write(data[: len(data) // 2])
                    self.close_connection = True
                else:
                    self.wfile.write(data)

        self.server = _Server(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _forward(self, method: str, path: str, body: bytes | None, incoming):
        connection = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=600)
        headers = {k: incoming[k] for k in ("Content-Type", "Authorization") if k in incoming}
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
