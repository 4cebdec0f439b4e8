"""Durable response cache: a crash, kill -9 or Ctrl-C loses no finished request.

SQLite in WAL mode; the pipeline commits every batch the backend finishes. A key is the hash of
the model's identity, the backend settings that change responses, and the request itself.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

from swallow_eval.errors import UserError
from swallow_eval.requests import Request, Response, response_from_json, response_to_json


class ResponseCache:
    def __init__(self, path: Path, namespace: dict):
        self.path = path
        self.namespace = hashlib.sha256(json.dumps(namespace, sort_keys=True).encode()).hexdigest()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Several runs may share one cache file: wait for a writer instead of failing.
            self.db = sqlite3.connect(path, timeout=120)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self.db.commit()
        except (sqlite3.DatabaseError, OSError) as exc:
            raise UserError(f"response cache {path}: {exc} (delete it or pass --cache another.sqlite)") from exc

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
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO responses (key, value) VALUES (?, ?)", rows)

    def close(self) -> None:
        self.db.close()
