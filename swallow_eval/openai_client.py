"""A small client for OpenAI-compatible HTTP servers (vLLM, SGLang, llama.cpp, hosted APIs).

Post a JSON payload to a path under the base URL, get the JSON back; many at once with bounded
concurrency. Each attempt has a timeout; 429, 5xx and connection errors (refused, reset, dropped
mid-response, timed out) are retried with exponential backoff and jitter, honouring Retry-After;
other HTTP errors fail at once with the server's message. The API key is read from an environment
variable and sent only in the Authorization header: it is never part of an error, a log line or
`repr`. Standard library only: keep-alive connections, one per worker thread.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import random
import threading
import time
from typing import Callable, Iterator, Sequence
from urllib.parse import urlsplit

from swallow_eval.errors import UserError

RETRY_ERRORS = (OSError, http.client.HTTPException, ValueError)  # ValueError: a truncated JSON body


class Unreachable(UserError):
    """The server did not answer within the retries (gone, or failing): another server may."""


class Stopped(Exception):
    """The batch this request belonged to was abandoned (an error elsewhere, or Ctrl-C)."""


class OpenAIClient:
    def __init__(self, base_url: str, api_key_env: str | None = "OPENAI_API_KEY", concurrency: int = 8,
                 timeout: float = 600.0, max_retries: int = 8, backoff: float = 0.5, max_backoff: float = 60.0,
                 log: Callable[[str], None] | None = None):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UserError(f"--base-url {base_url}: expected http(s)://host[:port][/v1]")
        self.base_url = base_url.rstrip("/")
        self._connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self._host, self._port, self._prefix = parts.hostname, parts.port, parts.path.rstrip("/")
        self.concurrency, self.timeout, self.max_retries = concurrency, timeout, max_retries
        self.backoff, self.max_backoff = backoff, max_backoff
        self.log = log or (lambda message: None)
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = os.environ.get(api_key_env) if api_key_env else None
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"OpenAIClient({self.base_url!r}, concurrency={self.concurrency})"

    def get(self, path: str) -> dict:
        return self._call("GET", path, None, None)

    def post(self, path: str, payload: dict, stop: threading.Event | None = None) -> dict:
        """One request, retried until it succeeds or the retries are spent."""
        return self._call("POST", path, json.dumps(payload).encode(), stop)

    def post_many(self, path: str, payloads: Sequence[dict]) -> Iterator[list[tuple[int, dict]]]:
        """Post every payload, at most `concurrency` at a time; yield (index, response) lists as they
        finish. Each index is yielded exactly once. Leaving the loop early (an error, Ctrl-C) stops
        the workers: daemon threads, so a request still waiting on its socket never holds up exit."""
        todo: queue.SimpleQueue = queue.SimpleQueue()
        for index in range(len(payloads)):
            todo.put(index)
        done: queue.SimpleQueue = queue.SimpleQueue()
        stop = threading.Event()

        def work() -> None:
            while not stop.is_set():
                try:
                    index = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    done.put((index, self.post(path, payloads[index], stop)))
                except Stopped:
                    return
                except BaseException as exc:  # re-raised in the caller's thread
                    done.put((index, exc))
                    return

        for _ in range(min(self.concurrency, len(payloads))):
            threading.Thread(target=work, daemon=True, name="openai-client").start()
        remaining = len(payloads)
        try:
            while remaining:
                finished = [done.get()]
                while True:
                    try:
                        finished.append(done.get_nowait())
                    except queue.Empty:
                        break
                for _, result in finished:
                    if isinstance(result, BaseException):
                        raise result
                remaining -= len(finished)
                yield finished
        finally:
            stop.set()

    # ---- one request ---------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: bytes | None, stop: threading.Event | None) -> dict:
        url = f"{self.base_url}/{path.lstrip('/')}"
        problem = ""
        for attempt in range(self.max_retries + 1):
            retry_after = None
            try:
                status, headers, data = self._send(method, path, body)
                if status < 300:
                    return json.loads(data)
                if status != 429 and status < 500:
                    raise UserError(f"{url}: HTTP {status}: {_server_message(data)}")
                problem = f"HTTP {status}: {_server_message(data)}"
                retry_after = _seconds(headers.get("retry-after"))
            except RETRY_ERRORS as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if attempt == self.max_retries:
                break
            delay = min(self.max_backoff, self.backoff * 2**attempt)
            delay = random.uniform(delay / 2, delay)  # jitter: concurrent retries spread out
            if retry_after is not None:
                delay = max(delay, min(retry_after, self.max_backoff))
            self.log(f"{url}: {problem}; retry {attempt + 1}/{self.max_retries} in {delay:.1f} s")
            if stop is None:
                time.sleep(delay)
            elif stop.wait(delay):
                raise Stopped()
        raise Unreachable(f"{url}: failed after {self.max_retries + 1} attempts ({problem})")

    def _send(self, method: str, path: str, body: bytes | None) -> tuple[int, dict, bytes]:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._connection_class(self._host, self._port, timeout=self.timeout)
        try:
            connection.request(method, f"{self._prefix}/{path.lstrip('/')}", body=body, headers=self._headers)
            response = connection.getresponse()
            data = response.read()
        except BaseException:
            connection.close()  # a fresh connection for the next attempt
            self._local.connection = None
            raise
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # an HTTP date: not worth parsing, the backoff applies
        return None


def _server_message(data: bytes) -> str:
    """The error message of an OpenAI-style error body, else the start of the body."""
    text = data.decode("utf-8", "replace")
    try:
        error = json.loads(text).get("error", text)
        text = error.get("message", str(error)) if isinstance(error, dict) else str(error)
    except (ValueError, AttributeError):
        pass
    return " ".join(text.split())[:300]
