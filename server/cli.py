"""``mlintern-server``: serve the toolkits over stdio (default) or streamable HTTP."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from server.crash_guards import collect_garbage_between_steps, trace_crashes
from server.settings import Settings

log = logging.getLogger("mlintern")


def _quiet_fastmcp() -> None:
    # stdout belongs to the protocol on stdio; no banner, no network update check.
    os.environ.setdefault("FASTMCP_SHOW_SERVER_BANNER", "false")
    os.environ.setdefault("FASTMCP_CHECK_FOR_UPDATES", "off")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mlintern-server",
        description="MCP server with the tools of an ML engineer (Hub, datasets, papers, docs, "
        "GitHub, sandbox, jobs, experiments, plan). Also: `mlintern-server doctor [--remote]` "
        "checks this machine; `mlintern-server install <claude-desktop|cursor|claude-code|vscode>` "
        "writes a host's MCP config.",
    )
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--host", help="HTTP bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="HTTP port (default 8765)")
    parser.add_argument("--path", help="HTTP endpoint path (default /mcp)")
    parser.add_argument(
        "--auth-token", help="Bearer token HTTP clients must send (or MLINTERN_AUTH_TOKEN)"
    )
    parser.add_argument("--toolsets", help="Only these toolkits, comma-separated, e.g. hub,jobs")
    parser.add_argument(
        "--read-only", action="store_true", default=None, help="Register no mutating tool"
    )
    parser.add_argument("--home", help="State directory (or MLINTERN_HOME)")
    parser.add_argument(
        "--root",
        action="append",
        metavar="DIR",
        help="A directory tools may read and write (repeat for more; adds to MLINTERN_ROOTS)",
    )
    parser.add_argument("--log-level", default=os.environ.get("MLINTERN_LOG_LEVEL", "WARNING"))
    parser.add_argument("--list-toolsets", action="store_true", help="Print toolkits and exit")
    return parser.parse_args(argv)


def settings_from_args(args: argparse.Namespace) -> Settings:
    overrides = {
        "host": args.host,
        "port": args.port,
        "path": args.path,
        "auth_token": args.auth_token,
        "toolsets": args.toolsets,
        "read_only": args.read_only,
        "home": args.home,
    }
    settings = Settings(**{key: value for key, value in overrides.items() if value is not None})
    if args.root:
        settings.roots = [*settings.roots, *(Path(p) for p in args.root)]
    return settings


SUBCOMMANDS = {"doctor": "server.doctor", "install": "server.install_host"}


def main(argv: list[str] | None = None) -> int:
    trace_crashes()
    collect_garbage_between_steps()
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in SUBCOMMANDS:
        import importlib

        return importlib.import_module(SUBCOMMANDS[argv[0]]).main(argv[1:])
    _quiet_fastmcp()
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["dashboard"]:
        from server.dashboard.standalone import main as dashboard

        return dashboard(argv[1:])
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from server.errors import UserError

    if args.list_toolsets:
        from server.registry import TOOLKITS

        for name, entry in TOOLKITS.items():
            print(f"{name}: {entry.purpose}")
        return 0
    try:
        settings = settings_from_args(args)
        from server.app import build_server

        server = build_server(settings)
        if args.transport == "stdio":
            import anyio

            from server.stdio import serve_stdio

            anyio.run(serve_stdio, server)
        else:
            _serve_http(server, settings)
    except UserError as exc:
        print(f"mlintern-server: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def _serve_http(server, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    import uvicorn

    from server.http import build_http_app, guarded_h11_protocol

    # Bind before anything is printed (the dashboard's login link, "listening"): a busy port is
    # an error line, never after a success line.
    sock = _bind(settings.host, settings.port)
    app = build_http_app(server, settings)
    from server.lazy_toolkit import warm_in_background

    warm_in_background(server)  # first calls then find their toolkit built, off the event loop
    print(
        f"mlintern-server: listening on http://{settings.host}:{sock.getsockname()[1]}"
        f"{settings.path}",
        file=sys.stderr,
    )
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="on",
        http=guarded_h11_protocol(settings),  # slow clients are cut off
        timeout_keep_alive=5,
        h11_max_incomplete_event_size=64 * 1024,  # request line plus headers
    )
    uvicorn.Server(config).run(sockets=[sock])


def _bind(host: str, port: int):  # type: ignore[no-untyped-def]
    import socket

    from server.errors import UserError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UserError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}. Stop the process using it "
            "or pick another port with --port (or MLINTERN_PORT)."
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


if __name__ == "__main__":
    sys.exit(main())
