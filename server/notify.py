"""Webhook notifications: one mechanism for every event worth a person's attention.

Events (``KINDS``, listed in server/settings.py): a failed verdict, a stalled or stuck job, a
restart, a job's end, a delegated run waiting for approval. Whoever observes one calls
``notify``; it
- does nothing unless the operator set ``MLINTERN_NOTIFY_WEBHOOKS``;
- rate-limits per (kind, key) through the state store, so several processes sharing a home
  (the server, watch, the jobs supervisor) agree, and ``once`` events (a job's end) are sent
  exactly once whoever sees them first;
- redacts secrets (by value and by shape, the webhook URLs included) before anything is queued;
- never blocks the caller: payloads go on a bounded queue drained by a daemon thread, which
  retries failed deliveries with the shared backoff (server/retry.py) and logs what it gave up
  on. A full queue drops the event with a log line.

The webhook URLs are secrets (Slack's and Discord's carry their token in the path): they are
held as a SecretStr and never appear in logs or tool output; a log line names webhook #n.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from server.redact import Redactor

if TYPE_CHECKING:
    import httpx

    from server.settings import Settings
    from server.state import StateStore

log = logging.getLogger(__name__)

COMPONENT = "notify"
MIGRATIONS = [
    """
    CREATE TABLE notify_sent (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        sent_at REAL NOT NULL,
        suppressed INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (kind, key)
    );
    """
]
SLACK_TEXT_MAX = 3000  # a section block's text limit
DISCORD_CONTENT_MAX = 2000  # Discord refuses longer content
FIELD_MAX = 500  # one field's text: enough for a log line, not a log
FLUSH_AT_EXIT_S = 5.0


@dataclass(frozen=True)
class Event:
    kind: str
    key: str  # what the rate limit counts per: a job id, a run's request
    summary: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.time)


def webhook_urls(settings: Settings) -> list[str]:
    secret = settings.notify_webhooks
    if secret is None:
        return []
    return [url.strip() for url in secret.get_secret_value().split(",") if url.strip()]


def enabled(settings: Settings, kind: str) -> bool:
    return bool(webhook_urls(settings)) and kind in settings.notify_events


def notify(
    settings: Settings,
    store: StateStore,
    kind: str,
    key: str,
    summary: str,
    fields: Mapping[str, Any] | None = None,
    *,
    once: bool = False,
) -> bool:
    """Send ``summary`` (and ``fields``) to every webhook, unless this (kind, key) was sent
    within ``notify_min_interval_s`` (ever, when ``once``). True when queued. Never raises:
    a notification must not break the tool or the run that observed the event."""
    if not enabled(settings, kind):
        return False
    try:
        if not claim(store, kind, key, 0 if once else settings.notify_min_interval_s, once):
            return False
        event = Event(kind, key, summary, dict(fields or {}))
        if _sender(settings).put(event):
            return True
        unclaim(store, kind, key)  # dropped: whoever sees it next may send it
        return False
    except Exception:
        log.exception("notification %s for %s not sent", kind, key)
        return False


def claim(store: StateStore, kind: str, key: str, interval_s: float, once: bool) -> bool:
    """Record that (kind, key) is being sent now; False when the rate limit (or ``once``)
    says it was already sent. Atomic across processes (one write transaction)."""
    store.migrate(COMPONENT, MIGRATIONS)
    now = time.time()
    with store.transaction() as conn:
        row = conn.execute(
            "SELECT sent_at FROM notify_sent WHERE kind = ? AND key = ?", (kind, key)
        ).fetchone()
        if row is not None and (once or now - row["sent_at"] < interval_s):
            conn.execute(
                "UPDATE notify_sent SET suppressed = suppressed + 1 WHERE kind = ? AND key = ?",
                (kind, key),
            )
            return False
        conn.execute(
            "INSERT INTO notify_sent(kind, key, sent_at) VALUES (?, ?, ?) "
            "ON CONFLICT(kind, key) DO UPDATE SET sent_at = excluded.sent_at",
            (kind, key, now),
        )
    return True


def unclaim(store: StateStore, kind: str, key: str) -> None:
    with store.transaction() as conn:
        conn.execute("DELETE FROM notify_sent WHERE kind = ? AND key = ?", (kind, key))


def already_sent(store: StateStore, kind: str, keys: list[str]) -> set[str]:
    """Which of ``keys`` were sent for ``kind`` (cheap pre-filter before claiming)."""
    if not keys:
        return set()
    store.migrate(COMPONENT, MIGRATIONS)
    marks = ", ".join("?" * len(keys))
    with store.reading() as conn:
        rows = conn.execute(
            f"SELECT key FROM notify_sent WHERE kind = ? AND key IN ({marks})", (kind, *keys)
        ).fetchall()
    return {row["key"] for row in rows}


# --- payloads ---------------------------------------------------------------------------------
def style_of(url: str, configured: str) -> str:
    """slack | discord | json: the configured one, or for "auto" what the URL's host says."""
    if configured != "auto":
        return configured
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host == "hooks.slack.com":
        return "slack"
    if host.endswith(("discord.com", "discordapp.com")) and "/api/webhooks/" in parts.path:
        return "discord"
    return "json"


def _text(event: Event) -> str:
    lines = [f"[mlintern] {event.summary}"]
    lines += [f"{name}: {value}" for name, value in event.fields.items() if value is not None]
    return "\n".join(lines)


def _slack_escape(text: str) -> str:
    # Slack's control characters: untrusted text (a log line) must not become <!channel>.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def payload(event: Event, style: str) -> dict[str, Any]:
    if style == "slack":
        text = _slack_escape(_text(event))[:SLACK_TEXT_MAX]
        return {
            "text": text,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        }
    if style == "discord":
        # No mention of anyone, whatever a log line says (@everyone).
        return {"content": _text(event)[:DISCORD_CONTENT_MAX], "allowed_mentions": {"parse": []}}
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(event.at))
    return {
        **event.fields,
        "event": event.kind,
        "key": event.key,
        "summary": event.summary,
        "time": stamp,
    }


def _clip(value: Any) -> Any:
    if isinstance(value, str) and len(value) > FIELD_MAX:
        return value[: FIELD_MAX - 1] + "…"
    return value


# --- delivery ---------------------------------------------------------------------------------
class Sender:
    """A bounded queue and the daemon thread that posts what is on it."""

    def __init__(self, settings: Settings):
        self.urls = webhook_urls(settings)
        self.style = settings.notify_format
        self.timeout_s = settings.notify_timeout_s
        # The URLs are secrets too: a receiver echoing them back must not leak them.
        self.redact = Redactor(extra=[*settings.secret_values(), *self.urls])
        self.queue: queue.Queue[Event] = queue.Queue(maxsize=settings.notify_queue_max)
        self.thread = threading.Thread(target=self._drain, name="mlintern-notify", daemon=True)
        self.thread.start()

    def put(self, event: Event) -> bool:
        # Redacted before queuing: nothing unredacted waits in memory for the thread.
        fields = {name: _clip(self.redact.data(value)) for name, value in event.fields.items()}
        clean = Event(event.kind, event.key, self.redact(event.summary), fields, event.at)
        try:
            self.queue.put_nowait(clean)
        except queue.Full:
            log.warning(
                "notification %s for %s dropped: %d already waiting (webhook slow or down)",
                event.kind,
                event.key,
                self.queue.maxsize,
            )
            return False
        return True

    def flush(self, timeout_s: float) -> bool:
        """Wait until everything queued was delivered or given up on; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self.queue.all_tasks_done:
            while self.queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.queue.all_tasks_done.wait(remaining)
        return True

    def _drain(self) -> None:
        import httpx

        with httpx.Client(timeout=self.timeout_s, follow_redirects=False) as client:
            while True:
                event = self.queue.get()
                try:
                    for number, url in enumerate(self.urls, start=1):
                        body = payload(event, style_of(url, self.style))
                        self._deliver(client, number, url, body, event)
                except Exception:  # a bug here must not stop later notifications
                    log.exception("notification %s for %s", event.kind, event.key)
                finally:
                    self.queue.task_done()

    def _deliver(
        self, client: httpx.Client, number: int, url: str, body: dict[str, Any], event: Event
    ) -> bool:
        import httpx

        from server.retry import MAX_ATTEMPTS, send_with_retries, wait_before_retry_s

        what = f"notification {event.kind} for {event.key} to webhook #{number}"
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                response = send_with_retries(lambda: client.post(url, json=body))
            except httpx.TransportError as exc:
                # The exception text may quote the URL: only its type is logged.
                if attempt == MAX_ATTEMPTS:
                    log.warning("%s failed after %d tries: %s", what, attempt, type(exc).__name__)
                    return False
                time.sleep(wait_before_retry_s(None, attempt))
                continue
            if response.is_success:
                return True
            log.warning("%s refused: HTTP %d", what, response.status_code)
            return False
        return False


_senders: dict[tuple[Any, ...], Sender] = {}
_senders_lock = threading.Lock()


def _sender(settings: Settings) -> Sender:
    identity = (
        tuple(webhook_urls(settings)),
        settings.notify_format,
        settings.notify_timeout_s,
        settings.notify_queue_max,
        tuple(settings.secret_values()),
    )
    with _senders_lock:
        sender = _senders.get(identity)
        if sender is None:
            sender = _senders[identity] = Sender(settings)
        return sender


def flush(timeout_s: float = FLUSH_AT_EXIT_S) -> bool:
    """Deliver what is queued (bounded wait): at exit, and for tests."""
    with _senders_lock:
        senders = list(_senders.values())
    return all([sender.flush(timeout_s) for sender in senders])


atexit.register(flush)
