"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1.

Tests drive the agent through litellm's real code path (``model="openai/<name>"``,
``api_base=llm.api_base``) against this server. It serves an ordered script of replies —
text, tool calls (also with malformed arguments), HTTP errors such as 429 with Retry-After or
500, context-overflow errors — both as SSE streams and as plain JSON, records every request, and
``check()`` fails the test when the script was not used up or a request arrived that the script
did not expect.

Anthropic models reach it too: litellm's ``anthropic/`` provider with ``api_base`` set posts to
``/v1/messages``, answered in the Messages API's shapes (fakes/llm_anthropic.py) from the same
script; ``Recorded.raw`` keeps the exact bytes each request carried. Prompt caching is simulated
(fakes/llm_cache.py): Anthropic breakpoints always, OpenAI-style automatic caching with
``auto_cache=True``; the usage then reports cached tokens as each provider does.

Routes are standing replies for one kind of request (the compaction summariser, say),
consulted before the script and used at least ``min_calls`` times. ``Reply(live=...)`` streams
chunk by chunk (fakes/llm_stream.py); ``endpoints`` answer metadata requests (local_servers.py).

Usage is estimated at four characters a token; with ``context_limit`` set, a larger request
is refused the way OpenAI refuses it, so a test can prove the agent stays under a window.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fakes import llm_anthropic as anthropic
from fakes import llm_wire as wire
from fakes.llm_cache import PromptCache
from fakes.llm_wire import CHARS_PER_TOKEN


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str = field(default_factory=lambda: f"call_{uuid.uuid4().hex[:10]}")

    @property
    def arguments_text(self) -> str:
        # A str is sent verbatim: that is how a test sends malformed JSON arguments.
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)


@dataclass
class Reply:
    """One scripted answer. ``status != 200`` makes it an HTTP error."""

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    status: int = 200
    error_message: str = ""
    error_type: str = "server_error"
    error_code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Checked against the request this reply answers; a str return (or False) is a failure.
    expect: Callable[[dict[str, Any]], bool | str | None] | None = None
    delay_s: float = 0.0  # hold the answer this long (a slow model, or one to kill the agent on)
    label: str = ""
    live: Any = None  # a fakes.llm_stream.LiveStream: chunk by chunk, with pauses or no end
    thinking: str = ""  # extended thinking, sent first (Anthropic's Messages API only)


Responder = Callable[[dict[str, Any]], Reply]


def say(text: str, *, expect: Any = None, label: str = "") -> Reply:
    return Reply(text=text, expect=expect, label=label or f"say {text[:30]!r}")


def call(name: str, arguments: dict[str, Any] | str | None = None, **kw: Any) -> ToolCall:
    return ToolCall(name=name, arguments=arguments if arguments is not None else {}, **kw)


def calls(*tool_calls: ToolCall, text: str = "", expect: Any = None, label: str = "") -> Reply:
    names = ", ".join(c.name for c in tool_calls)
    return Reply(
        text=text, tool_calls=list(tool_calls), expect=expect, label=label or f"calls {names}"
    )


def fail(status: int, message: str = "", *, retry_after: float | None = None) -> Reply:
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    error_type = "rate_limit_error" if status == 429 else "server_error"
    return Reply(
        status=status,
        error_message=message or f"scripted HTTP {status}",
        error_type=error_type,
        headers=headers,
        label=f"fail {status}",
    )


def overflow(limit: int = 4096, used: int = 5000) -> Reply:
    """The error OpenAI returns when the prompt does not fit the model's window."""
    return Reply(
        status=400,
        error_message=(
            f"This model's maximum context length is {limit} tokens. However, your messages "
            f"resulted in {used} tokens. Please reduce the length of the messages."
        ),
        error_type="invalid_request_error",
        error_code="context_length_exceeded",
        label="context overflow",
    )


def request_text(request: dict[str, Any]) -> str:
    """Everything the model was shown in ``request`` (messages and tools), as one string."""
    system = json.dumps(request["system"]) if "system" in request else ""  # Anthropic's shape
    return system + json.dumps(request.get("messages", [])) + json.dumps(request.get("tools", []))


def estimate_tokens(request: dict[str, Any]) -> int:
    return max(1, len(request_text(request)) // CHARS_PER_TOKEN)


@dataclass
class Recorded:
    body: dict[str, Any]
    headers: dict[str, str]
    at: float
    served_by: str
    raw: bytes = b""  # the body exactly as it arrived
    api: str = "openai"  # or "anthropic" (POST /v1/messages)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages", [])

    @property
    def raw_prefix(self) -> str:
        """The bytes of the system prompt and the tools as sent: what a prompt cache keys on."""
        members = wire.raw_members(self.raw.decode())
        if self.api == "anthropic":
            system = members.get("system", "")
        else:
            system = wire.raw_items(members["messages"])[0]
        return system + "\n" + members.get("tools", "")


@dataclass
class _Route:
    name: str
    match: Callable[[dict[str, Any]], bool]
    respond: Responder
    min_calls: int
    used: int = 0


class ScriptedLLM:
    """The server. Use as a context manager (or ``start``/``stop``) and call ``check()``."""

    def __init__(self, script: list[Reply] | None = None, *, model: str = "scripted", context_limit: int | None = None, auto_cache: bool = False):  # fmt: skip
        self.model = model
        self.context_limit = context_limit
        self.auto_cache = auto_cache
        self.cache = PromptCache()
        self.requests: list[Recorded] = []
        self.problems: list[str] = []
        self._script: list[Reply] = list(script or [])
        self._served = 0
        self._routes: list[_Route] = []
        # (method, path) -> JSON: metadata a local server answers (fakes/local_servers.py).
        self.endpoints: dict[tuple[str, str], Any] = {}
        self.metadata_requests: list[tuple[str, str, Any]] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- set-up -------------------------------------------------------------------------
    def add(self, *replies: Reply) -> ScriptedLLM:
        with self._lock:
            self._script.extend(replies)
        return self

    def route(self, name: str, match: Callable[[dict], bool], respond: Responder, *, min_calls: int = 1) -> ScriptedLLM:  # fmt: skip
        with self._lock:
            self._routes.append(_Route(name, match, respond, min_calls))
        return self

    @property
    def api_base(self) -> str:
        assert self._httpd is not None, "start() the server first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> ScriptedLLM:
        handler = type("Handler", (_Handler,), {"llm": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> ScriptedLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- verdict ------------------------------------------------------------------------
    @property
    def remaining(self) -> list[Reply]:
        with self._lock:
            return self._script[self._served :]

    def check(self) -> None:
        """Fail when the script was not used up, a route went unused, or a request was wrong."""
        problems = list(self.problems)
        left = self.remaining
        if left:
            problems.append(
                f"script not used up: {len(left)} repl(ies) never requested, next: {left[0].label}"
            )
        for route in self._routes:
            if route.used < route.min_calls:
                problems.append(
                    f"route {route.name!r} used {route.used}x, expected ≥{route.min_calls}"
                )
        if problems:
            raise AssertionError("scripted LLM: " + "; ".join(problems))

    # --- serving ------------------------------------------------------------------------
    def _next_reply(self, body: dict[str, Any]) -> tuple[Reply, str]:
        with self._lock:
            for route in self._routes:
                if route.match(body):
                    route.used += 1
                    return route.respond(body), f"route:{route.name}"
            if self._served >= len(self._script):
                n = len(self.requests)
                self.problems.append(f"unexpected request #{n} after the script was used up")
                message = f"scripted LLM: unexpected request #{n}, script used up"
                return Reply(status=400, error_message=message, error_type="invalid_request_error"), "unexpected"  # fmt: skip
            reply = self._script[self._served]
            self._served += 1
            return reply, f"script:{self._served - 1}"

    def _answer(self, body: dict[str, Any], headers: dict[str, str], raw: bytes = b"", api: str = "openai") -> tuple[int, dict, Any]:  # fmt: skip
        tokens = estimate_tokens(body)
        if self.context_limit is not None and tokens > self.context_limit:
            with self._lock:
                self.requests.append(
                    Recorded(body, headers, time.monotonic(), "overflow", raw, api)
                )
                self.problems.append(f"request of ~{tokens} tokens exceeded {self.context_limit}")
            return wire.error_response(overflow(self.context_limit, tokens))
        reply, served_by = self._next_reply(body)
        with self._lock:
            self.requests.append(Recorded(body, headers, time.monotonic(), served_by, raw, api))
        try:
            verdict = reply.expect(body) if reply.expect is not None else None
        except Exception as exc:  # a broken expectation is a failed one, not a dropped connection
            verdict = f"expectation raised {exc!r}"
        if verdict is False or isinstance(verdict, str):
            with self._lock:
                self.problems.append(
                    f"{served_by} ({reply.label}): {verdict or 'expectation not met'}"
                )
        if reply.delay_s:
            time.sleep(reply.delay_s)
        if reply.status != 200:
            return (anthropic if api == "anthropic" else wire).error_response(reply)
        usage = self._usage(body, tokens, wire.completion_tokens(reply), api)
        if api == "anthropic":
            if body.get("stream"):
                return 200, {"Content-Type": "text/event-stream"}, anthropic.sse_events(self.model, reply, usage)  # fmt: skip
            return 200, {"Content-Type": "application/json"}, anthropic.message(self.model, reply, usage)  # fmt: skip
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            chunks = wire.sse_chunks(self.model, reply, usage if include_usage else None)
            if reply.live is not None:
                return 200, {"Content-Type": "text/event-stream"}, (reply.live, chunks)
            return 200, {"Content-Type": "text/event-stream"}, chunks
        return 200, {"Content-Type": "application/json"}, wire.completion(self.model, reply, usage)

    def _usage(self, body: dict[str, Any], prompt: int, completion: int, api: str) -> dict[str, Any]:  # fmt: skip
        """OpenAI-shaped usage; cached tokens are part of ``prompt_tokens``, as OpenAI counts."""
        usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion}
        with self._lock:
            if api == "anthropic":
                read, created = self.cache.anthropic(body)
            else:
                read, created = (self.cache.automatic(body) if self.auto_cache else 0), 0
        read, created = min(read, prompt), min(created, max(0, prompt - read))
        if api == "anthropic":  # converted to Anthropic's own usage block by llm_anthropic
            usage["prompt_tokens_details"] = {"cached_tokens": read}
            usage["cache_creation_input_tokens"] = created
        elif read:
            usage["prompt_tokens_details"] = {"cached_tokens": read}
        usage["total_tokens"] = prompt + completion
        return usage


class _Handler(BaseHTTPRequestHandler):
    llm: ScriptedLLM
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self._metadata("GET", None)

    def _metadata(self, method: str, body: Any) -> None:
        self.llm.metadata_requests.append((method, self.path, body))
        payload = self.llm.endpoints.get((method, self.path))
        if payload is None:
            return self._send(404, {"Content-Type": "application/json"}, {"error": {"message": f"no route {self.path}"}})  # fmt: skip
        self._send(200, {"Content-Type": "application/json"}, payload)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        json_type = {"Content-Type": "application/json"}
        api = "anthropic" if anthropic.is_messages_path(self.path) else "openai"
        if api == "openai" and not self.path.rstrip("/").endswith("/chat/completions"):
            return self._metadata("POST", raw.decode(errors="replace"))  # 404 unless installed
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            return self._send(400, json_type, {"error": {"message": "invalid JSON body"}})
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, reply_headers, payload = self.llm._answer(body, headers, raw, api)
        if api == "anthropic" and reply_headers.get("Content-Type") == "text/event-stream":
            return self._send_raw(status, reply_headers, anthropic.sse_bytes(payload))
        if isinstance(payload, tuple):  # a live stream writes itself
            live, chunks = payload
            return live.write(self, chunks)
        if reply_headers.get("Content-Type") == "text/event-stream":
            data = "".join(f"data: {json.dumps(c)}\n\n" for c in payload) + "data: [DONE]\n\n"
            self._send_raw(status, reply_headers, data.encode())
        else:
            self._send(status, reply_headers, payload)

    def _send(self, status: int, headers: dict[str, str], payload: Any) -> None:
        self._send_raw(status, headers, json.dumps(payload).encode())

    def _send_raw(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client is gone (a test killed the agent mid-request): nobody to tell
