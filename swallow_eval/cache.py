"""Durable response cache: a crash, kill -9 or Ctrl-C loses no finished request.

SQLite in WAL mode; the pipeline commits every batch the backend finishes. A key is the hash of
the model's identity, the backend settings that change responses, and the request itself.

Several runs may share one file at once (two shells, replicas' drivers): in WAL mode readers never
block and writers queue on SQLite's busy timeout (LOCK_TIMEOUT). Two steps need more than that:
- `PRAGMA journal_mode=WAL` reads the header, then upgrades to a write to set the WAL version; while
  another process's first write to a fresh file (its own switch) holds the lock, SQLite refuses that
  upgrade at once with "database is locked" (deadlock avoidance: no busy wait from a read transaction).
  So opening retries the switch and the schema creation until the deadline;
- a write transaction takes the write lock as it begins (BEGIN IMMEDIATE), where the busy timeout
  applies; a deferred one that had read first is refused without waiting once another run committed.
A request both runs compute is written twice (INSERT OR REPLACE): nothing is lost. The two responses are
the same up to rounding: a run that finds part of its requests cached computes the rest in other
prefix-sharing groups, so a log-likelihood may differ in its last digits.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path

from swallow_eval.errors import UserError
from swallow_eval.requests import Request, Response, response_from_json, response_to_json


# Seconds a run waits for other runs' locks on a shared cache file before giving up.
LOCK_TIMEOUT = 120.0


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY or "locked" in str(exc)


class ResponseCache:
    def __init__(self, path: Path, namespace: dict):
        self.path = path
        self.namespace = hashlib.sha256(json.dumps(namespace, sort_keys=True).encode()).hexdigest()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit: put_many opens its own write transactions (BEGIN IMMEDIATE).
            self.db = sqlite3.connect(path, timeout=LOCK_TIMEOUT, isolation_level=None)
            self._retry_while_busy("PRAGMA journal_mode=WAL")
            self._retry_while_busy("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        except (sqlite3.DatabaseError, OSError) as exc:
            raise UserError(f"response cache {path}: {exc} (delete it or pass --cache another.sqlite)") from exc

    def _retry_while_busy(self, statement: str) -> None:
        """Run `statement`, retrying while another process holds a lock SQLite does not wait for."""
        deadline, pause = time.monotonic() + LOCK_TIMEOUT, 0.01
        while True:
            try:
                self.db.execute(statement).fetchall()
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 0.5)

    def key(self, request: Request) -> str:
        return hashlib.sha256(f"{self.namespace}:{request.key()}".encode()).hexdigest()

    def get_many(self, requests: list[Request]) -> dict[int, Response]:
        """Cached responses by position in `requests`."""
        keys = [self.key(r) for r in requests]
        position = {k: i for i, k in enumerate(keys)}
        found: dict[int, Response] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            query = f"SELECT key, value FROM responses WHERE key IN ({','.join('?' * len(chunk))})"
            try:
                rows = self.db.execute(query, chunk).fetchall()
            except sqlite3.DatabaseError as exc:
                raise UserError(f"response cache {self.path}: {exc} (delete it or pass --cache another.sqlite)") from exc
            for key, value in rows:
                try:
                    found[position[key]] = response_from_json(json.loads(value))
                except (ValueError, KeyError, TypeError) as exc:
                    raise UserError(
                        f"response cache {self.path}: corrupt entry {key[:12]} ({exc}); "
                        "delete the file or pass --cache another.sqlite"
                    ) from exc
        return found

    def put_many(self, pairs: list[tuple[Request, Response]]) -> None:
        rows = [(self.key(r), json.dumps(response_to_json(v), ensure_ascii=False)) for r, v in pairs]
        try:
            self.db.execute("BEGIN IMMEDIATE")  # the write lock now, waiting up to LOCK_TIMEOUT for other runs
            try:
                self.db.executemany("INSERT OR REPLACE INTO responses (key, value) VALUES (?, ?)", rows)
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            raise UserError(f"response cache {self.path}: {exc} (delete it or pass --cache another.sqlite)") from exc

    def close(self) -> None:
        self.db.close()
