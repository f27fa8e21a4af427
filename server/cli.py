"""``mlintern-server``: serve the toolkits over stdio (default) or streamable HTTP."""

from __future__ import annotations

import argparse
import logging
import os
import sys

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
        "GitHub, sandbox, jobs, experiments, plan).",
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
    return Settings(**{key: value for key, value in overrides.items() if value is not None})


def main(argv: list[str] | None = None) -> int:
    _quiet_fastmcp()
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

    app = build_http_app(server, settings)
    print(
        f"mlintern-server: listening on http://{settings.host}:{settings.port}{settings.path}",
        file=sys.stderr,
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        lifespan="on",
        http=guarded_h11_protocol(settings),  # slow clients are cut off
        timeout_keep_alive=5,
        h11_max_incomplete_event_size=64 * 1024,  # request line plus headers
    )


if __name__ == "__main__":
    sys.exit(main())
