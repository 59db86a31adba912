"""A SQLite record manager for langchain-core's indexing API.

The API keeps, per document hash, when it was written and from which source; with it `index()` skips unchanged
documents and deletes the chunks of removed or changed articles. langchain-core only ships an in-memory manager,
so the records would be lost between runs; this one persists them beside the Chroma data. Each write is one
SQLite transaction, so a killed ingest leaves either the old or the new record, never half of one.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from langchain_core.indexing.base import RecordManager


class SQLiteRecordManager(RecordManager):
    def __init__(self, namespace: str, path: Path) -> None:
        super().__init__(namespace)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._lock = threading.Lock()
        self.create_schema()

    def create_schema(self) -> None:
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS records (namespace TEXT, key TEXT, group_id TEXT, updated_at REAL,"
            " PRIMARY KEY (namespace, key))"
        )

    def get_time(self) -> float:
        return time.time()

    def update(self, keys: Sequence[str], *, group_ids: Sequence[str | None] | None = None,
               time_at_least: float | None = None) -> None:
        now = self.get_time()
        if time_at_least is not None and now < time_at_least:
            now = time_at_least
        groups = list(group_ids) if group_ids is not None else [None] * len(keys)
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO records (namespace, key, group_id, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(namespace, key) DO UPDATE SET group_id=excluded.group_id, updated_at=excluded.updated_at",
                [(self.namespace, key, group, now) for key, group in zip(keys, groups, strict=False)],
            )
            self._db.execute("COMMIT")

    def exists(self, keys: Sequence[str]) -> list[bool]:
        if not keys:
            return []
        with self._lock:
            found: set[str] = set()
            for start in range(0, len(keys), 500):
                chunk = list(keys[start:start + 500])
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key FROM records WHERE namespace=? AND key IN ({marks})", [self.namespace, *chunk]
                ).fetchall()
                found.update(row[0] for row in rows)
        return [key in found for key in keys]

    def list_keys(self, *, before: float | None = None, after: float | None = None,
                  group_ids: Sequence[str] | None = None, limit: int | None = None) -> list[str]:
        query = "SELECT key FROM records WHERE namespace=?"
        params: list[object] = [self.namespace]
        if before is not None:
            query += " AND updated_at < ?"
            params.append(before)
        if after is not None:
            query += " AND updated_at > ?"
            params.append(after)
        if group_ids is not None:
            query += f" AND group_id IN ({','.join('?' * len(group_ids))})"
            params.extend(group_ids)
        query += " ORDER BY key"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        with self._lock:
            return [row[0] for row in self._db.execute(query, params).fetchall()]

    def delete_keys(self, keys: Sequence[str]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("DELETE FROM records WHERE namespace=? AND key=?",
                                 [(self.namespace, key) for key in keys])
            self._db.execute("COMMIT")

    # The async half of the interface: the same work, run inline (SQLite calls are short).
    async def acreate_schema(self) -> None:
        self.create_schema()

    async def aget_time(self) -> float:
        return self.get_time()

    async def aupdate(self, keys: Sequence[str], *, group_ids: Sequence[str | None] | None = None,
                      time_at_least: float | None = None) -> None:
        self.update(keys, group_ids=group_ids, time_at_least=time_at_least)

    async def aexists(self, keys: Sequence[str]) -> list[bool]:
        return self.exists(keys)

    async def alist_keys(self, *, before: float | None = None, after: float | None = None,
                         group_ids: Sequence[str] | None = None, limit: int | None = None) -> list[str]:
        return self.list_keys(before=before, after=after, group_ids=group_ids, limit=limit)

    async def adelete_keys(self, keys: Sequence[str]) -> None:
        self.delete_keys(keys)

    def close(self) -> None:
        self._db.close()
