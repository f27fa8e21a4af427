"""Resumable SSE streams: every event the HTTP transport sends is kept, briefly, in the state DB.

A client that loses its stream during a long call (run_ml_task, jobs_status with wait_s, sandbox_exec)
reconnects with ``Last-Event-ID`` and is sent what it missed. The SDK mints a priming event
(an id and a ``retry`` interval, no data) when a stream opens, so even a stream that drops
before its first message can be resumed. Events are kept in SQLite, not in memory, so they
survive for every worker sharing the state file; the table is bounded in age and in rows.
Tool results are redacted before they reach the transport; the stored text is redacted again,
since nothing may rest under MLINTERN_HOME with a secret in it.
"""

from __future__ import annotations

import secrets as random_ids
import sqlite3
import time
from collections.abc import Sequence

import anyio
from mcp.server.streamable_http import (
    EventCallback,
    EventId,
    EventMessage,
    EventStore,
    StreamId,
)
from mcp_types import JSONRPCMessage, jsonrpc_message_adapter

from server.redact import redact
from server.state import StateStore

MIGRATIONS = [
    """
    CREATE TABLE sse_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL UNIQUE,
        stream_id TEXT NOT NULL,
        message TEXT,
        created_at REAL NOT NULL
    );
    CREATE INDEX sse_events_stream ON sse_events(stream_id, seq);
    CREATE INDEX sse_events_age ON sse_events(created_at);
    """
]

_PRUNE_EVERY = 200  # inserts between two prunes: keeps the bound without a DELETE per event


class SqliteEventStore(EventStore):
    def __init__(
        self,
        store: StateStore,
        *,
        max_events: int,
        max_age_s: float,
        secret_values: Sequence[str] = (),
    ):
        self._store = store
        self._max_events = max_events
        self._max_age_s = max_age_s
        self._secrets = list(secret_values)
        self._inserts = 0
        store.migrate("sse_events", MIGRATIONS)

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        event_id = random_ids.token_hex(16)  # unguessable: ids are the only replay credential
        text = None
        if message is not None:
            dumped = message.model_dump_json(by_alias=True, exclude_none=True)
            text = redact(dumped, self._secrets)
        self._inserts += 1
        prune = self._inserts % _PRUNE_EVERY == 0
        await anyio.to_thread.run_sync(self._insert, event_id, stream_id, text, prune)
        return event_id

    async def replay_events_after(
        self, last_event_id: EventId, send_callback: EventCallback
    ) -> StreamId | None:
        found = await anyio.to_thread.run_sync(self._events_after, last_event_id)
        if found is None:
            return None
        stream_id, events = found
        for event_id, text in events:
            if text is not None:  # priming events are cursors, not messages
                message = jsonrpc_message_adapter.validate_json(text, by_name=False)
                await send_callback(EventMessage(message, event_id))
        return stream_id

    def _insert(self, event_id: str, stream_id: str, text: str | None, prune: bool) -> None:
        with self._store.transaction() as conn:
            conn.execute(
                "INSERT INTO sse_events(event_id, stream_id, message, created_at) "
                "VALUES (?, ?, ?, ?)",
                (event_id, stream_id, text, time.time()),
            )
            if prune:
                self._prune(conn)

    def _prune(self, conn: sqlite3.Connection) -> None:
        conn.execute(
            "DELETE FROM sse_events WHERE created_at < ?", (time.time() - self._max_age_s,)
        )
        conn.execute(
            "DELETE FROM sse_events WHERE seq <= (SELECT MAX(seq) FROM sse_events) - ?",
            (self._max_events,),
        )

    def _events_after(self, last_event_id: str) -> tuple[str, list[tuple[str, str | None]]] | None:
        with self._store.reading() as conn:
            row = conn.execute(
                "SELECT seq, stream_id, created_at FROM sse_events WHERE event_id = ?",
                (last_event_id,),
            ).fetchone()
            if row is None or row["created_at"] < time.time() - self._max_age_s:
                return None
            events = conn.execute(
                "SELECT event_id, message FROM sse_events WHERE stream_id = ? AND seq > ? "
                "ORDER BY seq",
                (row["stream_id"], row["seq"]),
            ).fetchall()
        return row["stream_id"], [(e["event_id"], e["message"]) for e in events]
