"""Per-session turns: SQLite by default, Redis when CONVBOT_SESSIONS=redis://... . One session never
sees another's turns: every read and write is keyed by the session id the request carries."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Protocol


class SessionStore(Protocol):
    def history(self, session_id: str, limit: int = 10) -> list[dict]: ...

    def append(self, session_id: str, record: dict) -> None: ...

    def find_turn(self, session_id: str, turn_id: str) -> dict | None: ...

    def ping(self) -> bool: ...


class SqliteSessions:
    """One connection per thread. Writes from this process take a lock first: two writers at once would make
    SQLite's busy handler sleep (1, 2, 5, 10... ms, tens of ms under load) where a lock waits microseconds.
    WAL with synchronous=NORMAL: a commit does not wait for the disk; a crash of the server loses nothing, a
    power cut may lose the last turns of session history (kept a day anyway)."""

    def __init__(self, path: str | Path, ttl_s: float = 24 * 3600):
        self.path, self.ttl_s = str(path), ttl_s
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write = threading.Lock()
        with self._conn() as c:
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("CREATE TABLE IF NOT EXISTS turns (session_id TEXT, turn_id TEXT, at REAL, record TEXT)")
            c.execute("CREATE INDEX IF NOT EXISTS by_session ON turns (session_id, at)")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def history(self, session_id: str, limit: int = 10) -> list[dict]:
        rows = self._conn().execute(
            "SELECT record FROM turns WHERE session_id = ? AND at > ? ORDER BY at DESC LIMIT ?",
            (session_id, time.time() - self.ttl_s, limit)).fetchall()
        return [json.loads(r[0]) for r in reversed(rows)]

    def append(self, session_id: str, record: dict) -> None:
        row = (session_id, record["turn_id"], time.time(), json.dumps(record))
        with self._write:
            self._conn().execute("INSERT INTO turns VALUES (?, ?, ?, ?)", row)

    def find_turn(self, session_id: str, turn_id: str) -> dict | None:
        row = self._conn().execute("SELECT record FROM turns WHERE session_id = ? AND turn_id = ?",
                                   (session_id, turn_id)).fetchone()
        return json.loads(row[0]) if row else None

    def ping(self) -> bool:
        self._conn().execute("SELECT 1")
        return True


class RedisSessions:
    def __init__(self, url: str, ttl_s: int = 24 * 3600, prefix: str = "convbot:session:"):
        import redis

        self.client, self.ttl_s, self.prefix = redis.Redis.from_url(url, decode_responses=True), ttl_s, prefix

    def history(self, session_id: str, limit: int = 10) -> list[dict]:
        return [json.loads(r) for r in self.client.lrange(self.prefix + session_id, -limit, -1)]

    def append(self, session_id: str, record: dict) -> None:
        key = self.prefix + session_id
        with self.client.pipeline() as pipe:
            pipe.rpush(key, json.dumps(record))
            pipe.ltrim(key, -200, -1)
            pipe.expire(key, self.ttl_s)
            pipe.hset(key + ":turns", record["turn_id"], json.dumps(record))
            pipe.expire(key + ":turns", self.ttl_s)
            pipe.execute()

    def find_turn(self, session_id: str, turn_id: str) -> dict | None:
        raw = self.client.hget(self.prefix + session_id + ":turns", turn_id)
        return json.loads(raw) if raw else None

    def ping(self) -> bool:
        return bool(self.client.ping())


def open_sessions(spec: str, default_path: str | Path) -> SessionStore:
    """`redis://...` (or rediss://) for Redis; anything else is a SQLite file path ("" = `default_path`)."""
    if spec.startswith(("redis://", "rediss://", "unix://")):
        return RedisSessions(spec)
    return SqliteSessions(spec or default_path)
