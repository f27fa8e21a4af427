"""``mlintern-server install <host>``: write the host's MCP config entry for this install.

The entry names the executable by absolute path (a GUI host does not have the venv on its
PATH) and is merged into the host's existing config: other servers are kept, and the old file is
copied to ``<file>.bak`` first. ``--print`` shows the entry instead of writing it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from server.errors import UserError

HOSTS = ("claude-desktop", "cursor", "claude-code", "vscode")
SECRET_SUFFIXES = ("_TOKEN", "_KEY", "_SECRET", "_PASSWORD")


def config_path(host: str, home: Path, cwd: Path, platform: str = sys.platform) -> Path:
    """Where ``host`` reads its MCP servers (user-wide, except VS Code's workspace file)."""
    if host == "claude-desktop":
        if platform == "darwin":
            return home / "Library/Application Support/Claude/claude_desktop_config.json"
        if platform == "win32":
            appdata = Path(os.environ.get("APPDATA", home / "AppData/Roaming"))
            return appdata / "Claude/claude_desktop_config.json"
        return home / ".config/Claude/claude_desktop_config.json"
    if host == "cursor":
        return home / ".cursor/mcp.json"
    if host == "claude-code":
        return home / ".claude.json"
    if host == "vscode":
        return cwd / ".vscode/mcp.json"
    raise UserError(f"Unknown host {host!r}: choose one of {', '.join(HOSTS)}.")


def server_command() -> tuple[str, list[str]]:
    """The absolute executable of this install (beside the running Python first)."""
    beside = Path(sys.executable).parent / "mlintern-server"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside), []
    found = shutil.which("mlintern-server")
    if found:
        return str(Path(found).resolve()), []
    return sys.executable, ["-m", "server.cli"]


def build_entry(
    host: str, toolsets: str | None, read_only: bool, env: dict[str, str]
) -> dict[str, object]:
    command, args = server_command()
    args = list(args)
    if toolsets:
        args += ["--toolsets", toolsets]
    if read_only:
        args.append("--read-only")
    entry: dict[str, object] = {"command": command, "args": args, "env": env}
    if host in ("claude-code", "vscode"):
        entry = {"type": "stdio", **entry}
    return entry


def servers_key(host: str) -> str:
    return "servers" if host == "vscode" else "mcpServers"


def parse_env(pairs: list[str]) -> dict[str, str]:
    """``NAME=VALUE``, or ``NAME`` alone to copy the value from this shell's environment."""
    env: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not name.replace("_", "").isalnum():
            raise UserError(f"--env {pair!r}: expected NAME=VALUE or NAME.")
        if not sep:
            if name not in os.environ:
                raise UserError(
                    f"--env {name}: {name} is not set in this shell; pass {name}=VALUE."
                )
            value = os.environ[name]
        env[name] = value
    return env


def masked(entry: dict[str, object]) -> dict[str, object]:
    """The entry with credential values replaced, for printing."""
    env = entry.get("env")
    if not isinstance(env, dict):
        return entry
    hidden = {
        name: (f"<your {name}>" if name.upper().endswith(SECRET_SUFFIXES) else value)
        for name, value in env.items()
    }
    return {**entry, "env": hidden}


def merge_into(path: Path, key: str, name: str, entry: dict[str, object]) -> str:
    """Add or replace ``name`` under ``key`` in ``path``, keeping everything else."""
    config: dict[str, object] = {}
    if path.exists():
        text = path.read_text(encoding="utf-8")
        try:
            config = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise UserError(
                f"{path} is not valid JSON ({exc.msg}, line {exc.lineno}); fix it or move it "
                "away, then run install again. Nothing was written."
            ) from None
        if not isinstance(config, dict):
            raise UserError(f"{path} does not hold a JSON object; nothing was written.")
        backup = path.with_name(path.name + ".bak")
        shutil.copy2(path, backup)
    servers = config.setdefault(key, {})
    if not isinstance(servers, dict):
        raise UserError(f"{path}: {key!r} is not an object; nothing was written.")
    replaced = name in servers
    servers[name] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    if path.exists():
        os.chmod(temporary, path.stat().st_mode & 0o777)
    else:
        os.chmod(temporary, 0o600)  # it may hold tokens
    os.replace(temporary, path)
    return "replaced" if replaced else "added"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="mlintern-server install",
        description="Write mlintern into a host's MCP config (absolute executable path; other "
        "servers kept; the old file copied to <file>.bak).",
    )
    parser.add_argument("host", choices=HOSTS)
    parser.add_argument("--print", action="store_true", help="print the entry, write nothing")
    parser.add_argument("--toolsets", help="only these toolkits, comma-separated")
    parser.add_argument("--read-only", action="store_true", help="register no mutating tool")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME[=VALUE]",
        help="environment for the server (NAME alone copies it from this shell); repeatable",
    )  # fmt: skip
    parser.add_argument("--name", default="mlintern", help="server name in the config")
    parser.add_argument("--config", help="config file to write (default: the host's own)")
    args = parser.parse_args(argv)
    try:
        entry = build_entry(args.host, args.toolsets, args.read_only, parse_env(args.env))
        key = servers_key(args.host)
        if args.print:
            print(json.dumps({key: {args.name: masked(entry)}}, indent=2))
            return 0
        path = Path(args.config) if args.config else config_path(args.host, Path.home(), Path.cwd())
        action = merge_into(path, key, args.name, entry)
    except UserError as exc:
        print(f"mlintern-server install: {exc}", file=sys.stderr)
        return 2
    print(f"{action} {args.name!r} in {path} (command: {entry['command']}); restart {args.host}")
    return 0
