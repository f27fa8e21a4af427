"""What every toolkit's MCP layer is built from.

A toolkit module defines ``build(ctx: ToolkitContext) -> FastMCP``: it creates a ``Toolkit``,
registers thin wrappers over its plain functions with ``@toolkit.tool(...)``, and returns
``toolkit.mcp``. The decorator is where the house rules are enforced once:

- all four annotations are required arguments, and ``--read-only`` skips mutating tools;
- input schemas are published slimmed (server/schema_slim.py): same contract, fewer tokens;
- the output schema comes from the function's return model (defined once, never twice);
- the result carries structured content plus a text rendering, capped and with secrets redacted;
- ``UserError`` becomes a tool error the model sees; anything else is logged with its traceback
  and reported as an internal error, and the server keeps serving.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import logging
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
from fastmcp import Context, FastMCP
from fastmcp.exceptions import ToolError
from fastmcp.tools import FunctionTool, ToolResult
from mcp.types import TextContent, ToolAnnotations
from pydantic import BaseModel, TypeAdapter

from server import schema_slim
from server.errors import UserError
from server.extras import missing_module_message
from server.output_caps import cap_text
from server.redact import redact, redact_data
from server.roots import Roots, in_force, offered_roots
from server.settings import Settings
from server.state import StateStore
from server.tool_roles import ToolRole, role_meta

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


class ToolOutput(BaseModel):
    """A result model whose text view is its JSON; override ``render`` for a friendlier one.

    Tools may return any pydantic model with a ``render()`` method: the plain models of a
    toolkit's core need no ToolOutput base, and no MCP-side copy of themselves.
    """

    def render(self) -> str:
        return json.dumps(self.model_dump(mode="json", exclude_none=True), indent=1)


@dataclass
class ToolkitContext:
    """What a toolkit gets from the server: settings and the shared state store."""

    settings: Settings
    read_only: bool = False
    _store: StateStore | None = field(default=None, repr=False)

    @property
    def store(self) -> StateStore:
        # Opened on first use so that building the server touches no file.
        if self._store is None:
            self._store = StateStore(self.settings.state_path, self.settings.secret_values())
        return self._store


class Toolkit:
    def __init__(self, name: str, ctx: ToolkitContext, instructions: str, *, prefixed: bool = True):
        self.name = name
        self.ctx = ctx
        # How the tools are published: "jobs_status", or the bare name for a toolkit mounted
        # with an empty namespace (run_ml_task). Used in messages that name the tool.
        self.prefix = f"{name}_" if prefixed else ""
        self.mcp = FastMCP(name, instructions=instructions, mask_error_details=True)

    def tool(
        self,
        *,
        name: str,
        title: str,
        read_only: bool,
        destructive: bool,
        idempotent: bool,
        open_world: bool,
        timeout: float | None = None,
        role: ToolRole | None = None,
    ) -> Callable[[F], F]:
        """Register ``fn`` as ``<namespace>_<name>``; its docstring is the model-facing text.

        ``role`` declares what the tool does for clients that look for it (server/tool_roles.py).
        """

        def decorate(fn: F) -> F:
            if self.ctx.read_only and not read_only:
                return fn
            if not (fn.__doc__ or "").strip():
                raise TypeError(f"tool {self.prefix}{name} needs a docstring for the model")
            tool = FunctionTool.from_function(
                _as_tool_result(fn, f"{self.prefix}{name}", self.ctx.settings),
                name=name,
                title=title,
                output_schema=_union_output_schema(fn),
                annotations=ToolAnnotations(
                    read_only_hint=read_only,
                    destructive_hint=destructive,
                    idempotent_hint=idempotent,
                    open_world_hint=open_world,
                ),
                timeout=timeout,
                meta=role_meta(role) if role else None,
            )
            # Every host pays for this schema on every request: publish it lean.
            tool.parameters = schema_slim.slim_schema(tool.parameters)
            self.mcp.add_tool(tool)
            return fn

        return decorate


def _union_output_schema(fn: Callable[..., Any]) -> dict[str, Any] | types.EllipsisType:
    """The output schema of a tool with one operation field that returns one of a few models.

    fastmcp would wrap a union in ``{"result": ...}``, while the structured content is the model
    itself: publish the union as one object schema instead. Any other return: fastmcp decides.
    """
    try:
        returned = typing.get_type_hints(fn).get("return")
    except NameError:  # an annotation only the tool's closure knows: not a union of ours
        return ...
    members = typing.get_args(returned) if isinstance(returned, types.UnionType) else ()
    # Only our result models (they render themselves); a protocol result such as
    # InputRequiredResult in the union is fastmcp's to describe.
    if not members or not all(
        isinstance(m, type) and issubclass(m, BaseModel) and callable(getattr(m, "render", None))
        for m in members
    ):
        return ...
    schema = TypeAdapter(returned).json_schema(mode="serialization")
    return {"type": "object", **schema}


def _as_tool_result(
    fn: Callable[..., Any], tool_name: str, settings: Settings
) -> Callable[..., Any]:
    """Wrap ``fn`` so its ToolOutput becomes a ToolResult and its errors are sorted."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        # Tokens may come from .env through Settings without ever being in os.environ.
        secrets = settings.secret_values()
        # Paths this call names are vetted against these roots (server/roots.py).
        roots = Roots.for_settings(settings, await offered_roots())
        try:
            with in_force(roots):
                if inspect.iscoroutinefunction(fn):
                    result = await fn(*args, **kwargs)
                else:
                    # Sync toolkit functions do blocking I/O: keep the event loop free.
                    call = functools.partial(fn, *args, **kwargs)
                    result = await anyio.to_thread.run_sync(call)
        except (UserError, ToolError) as exc:
            # The caller's mistake, reported to the caller: not an error in the server's log
            # (fastmcp would log it once per mount level, on the agent's terminal too).
            raise ToolError(redact(str(exc), secrets), log_level=logging.DEBUG) from None
        except ModuleNotFoundError as exc:
            # A dependency missing from this install: say which package, not "a bug".
            raise ToolError(
                f"{tool_name} {missing_module_message(exc)}", log_level=logging.WARNING
            ) from None
        except Exception:
            log.exception("bug in tool %s", tool_name)
            raise ToolError(
                f"Internal error in {tool_name} (a bug, logged with its traceback on the "
                f"server). The server is still running; try again or use another tool."
            ) from None
        return to_tool_result(result, settings.max_output_chars, secrets)

    return wrapper


def to_tool_result(result: Any, max_chars: int, secrets: Sequence[str] = ()) -> Any:
    """Structured content plus a capped text rendering, with every known secret redacted."""
    if isinstance(result, ToolResult):
        for block in result.content:
            if isinstance(block, TextContent):
                block.text = redact(block.text, secrets)
        if result.structured_content is not None:
            result.structured_content = redact_data(result.structured_content, secrets)
        return result
    render = getattr(result, "render", None)
    # A result model renders itself. Other models (an InputRequiredResult) are protocol
    # results fastmcp must see as they are.
    if isinstance(result, BaseModel) and callable(render):
        view = str(render())
        text = cap_text(
            redact(view, secrets),
            max_chars,
            "the structured result holds every field; narrow the request for less",
        )
        return ToolResult(
            content=text, structured_content=redact_data(result.model_dump(mode="json"), secrets)
        )
    return result


def progress_from_thread(ctx: Context) -> Callable[[float, float | None, str], None]:
    """A progress callback for blocking work in a worker thread, relayed to the tool's client.

    Progress is a courtesy: a client that went away must not fail the work itself.
    """

    def report(done: float, total: float | None, message: str) -> None:
        with contextlib.suppress(Exception):
            anyio.from_thread.run(functools.partial(ctx.report_progress, done, total, message))

    return report
