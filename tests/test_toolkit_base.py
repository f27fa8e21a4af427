"""The Toolkit base: redaction of every known secret, the two kinds of error, output caps."""

from __future__ import annotations

from pathlib import Path

from fastmcp import Context
from helpers import client
from pydantic import BaseModel, SecretStr

from server.errors import UserError
from server.settings import Settings
from server.toolkit import Toolkit, ToolkitContext, ToolOutput, progress_from_thread

SECRET = "hf_only_in_dotenv_0123456789"


class Echo(ToolOutput):
    text: str


def echo_toolkit(tmp_path: Path, **settings: object) -> Toolkit:
    ctx = ToolkitContext(Settings(home=tmp_path, hf_token=SecretStr(SECRET), **settings))
    toolkit = Toolkit("t", ctx, "test toolkit")

    @toolkit.tool(
        name="echo",
        title="Echo",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=False,
    )
    def echo(text: str, fail: str = "") -> Echo:
        """Echo the text back, or fail the way asked: 'user' or 'bug'."""
        if fail == "user":
            raise UserError(f"cannot echo {text}")
        if fail == "bug":
            raise RuntimeError(f"crashed on {text}")
        return Echo(text=text)

    @toolkit.tool(
        name="write",
        title="Write",
        read_only=False,
        destructive=False,
        idempotent=True,
        open_world=False,
    )
    def write() -> Echo:
        """A mutating tool, absent in read-only mode."""
        return Echo(text="written")

    return toolkit


async def test_settings_secrets_are_redacted_from_results_and_errors(tmp_path: Path) -> None:
    async with client(echo_toolkit(tmp_path).mcp) as c:
        result = await c.call_tool("echo", {"text": f"token is {SECRET}"})
        assert SECRET not in result.content[0].text
        assert result.structured_content == {"text": "token is [REDACTED:SECRET]"}
        failed = await c.call_tool("echo", {"text": SECRET, "fail": "user"}, raise_on_error=False)
        assert failed.is_error and SECRET not in failed.content[0].text
        assert "cannot echo [REDACTED:SECRET]" in failed.content[0].text


async def test_a_bug_is_an_internal_error_and_the_server_keeps_serving(tmp_path: Path) -> None:
    async with client(echo_toolkit(tmp_path).mcp) as c:
        bug = await c.call_tool("echo", {"text": "x", "fail": "bug"}, raise_on_error=False)
        assert bug.is_error
        assert "Internal error in t_echo" in bug.content[0].text
        assert "crashed on" not in bug.content[0].text  # details stay in the server log
        ok = await c.call_tool("echo", {"text": "after"})
        assert ok.structured_content == {"text": "after"}


async def test_long_text_output_is_capped_with_a_note(tmp_path: Path) -> None:
    async with client(echo_toolkit(tmp_path, max_output_chars=1000).mcp) as c:
        result = await c.call_tool("echo", {"text": "y" * 5000})
        assert len(result.content[0].text) < 1200
        assert "characters cut" in result.content[0].text


async def test_read_only_context_skips_mutating_tools(tmp_path: Path) -> None:
    async with client(echo_toolkit(tmp_path).mcp) as c:
        assert {t.name for t in await c.list_tools()} == {"echo", "write"}
    ctx = ToolkitContext(Settings(home=tmp_path), read_only=True)
    read_only = Toolkit("t", ctx, "read-only")

    @read_only.tool(
        name="w", title="W", read_only=False, destructive=False, idempotent=True, open_world=False
    )
    def w() -> Echo:
        """Would write."""
        return Echo(text="w")

    async with client(read_only.mcp) as c:
        assert await c.list_tools() == []


class Tally(BaseModel):
    """A toolkit's core model: no ToolOutput base, its own text view."""

    counted: int

    def render(self) -> str:
        return f"counted {self.counted} (token {SECRET})"


async def test_a_plain_model_is_the_output_schema_and_its_render_the_text(
    tmp_path: Path,
) -> None:
    ctx = ToolkitContext(Settings(home=tmp_path, hf_token=SecretStr(SECRET)))
    toolkit = Toolkit("t", ctx, "plain models")

    @toolkit.tool(
        name="count",
        title="Count",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=False,
    )
    def count(upto: int, ctx: Context) -> Tally:
        """Count to `upto`, reporting progress from the worker thread sync tools run in."""
        report = progress_from_thread(ctx)
        for done in range(1, upto + 1):
            report(done, upto, f"counted {done}")
        return Tally(counted=upto)

    seen: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(f"{progress:g}/{total:g} {message}")

    async with client(toolkit.mcp, progress_handler=on_progress) as c:
        [tool] = await c.list_tools()
        assert tool.output_schema is not None
        assert tool.output_schema["properties"]["counted"]["type"] == "integer"
        result = await c.call_tool("count", {"upto": 3})
    assert result.structured_content == {"counted": 3}
    assert result.content[0].text == "counted 3 (token [REDACTED:SECRET])"
    assert seen == ["1/3 counted 1", "2/3 counted 2", "3/3 counted 3"]


class Listing(ToolOutput):
    entries: list[str]


async def test_a_tool_with_an_operation_field_publishes_its_union_of_results_as_one_object(
    tmp_path: Path,
) -> None:
    toolkit = Toolkit("t", ToolkitContext(Settings(home=tmp_path)), "test toolkit")

    @toolkit.tool(
        name="files", title="Files", read_only=True, destructive=False, idempotent=True,
        open_world=False,
    )  # fmt: skip
    def files(op: str = "read") -> Echo | Listing:
        """Read a file (op='read') or list a folder (op='list')."""
        return Echo(text="hello") if op == "read" else Listing(entries=["a", "b"])

    async with client(toolkit.mcp) as c:
        (tool,) = await c.list_tools()
        read = await c.call_tool("files", {})
        listed = await c.call_tool("files", {"op": "list"})
    schema = tool.output_schema or {}
    assert schema["type"] == "object" and "x-fastmcp-wrap-result" not in schema
    defs = schema.get("$defs", {})
    branches = [defs[b["$ref"].split("/")[-1]] if "$ref" in b else b for b in schema["anyOf"]]
    assert sorted(tuple(b["required"]) for b in branches) == [("entries",), ("text",)]
    # The structured content is the model itself, not wrapped in {"result": ...}.
    assert read.structured_content == {"text": "hello"}
    assert listed.structured_content == {"entries": ["a", "b"]}
