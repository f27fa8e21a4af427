"""``mlintern-server dashboard``: the dashboard alone, on loopback, for stdio users.

It reads the same state under MLINTERN_HOME as the server a host runs over stdio; approvals of
a run that other process drives are refused with a message saying so (answer them there).
"""

from __future__ import annotations

import argparse
import sys
import webbrowser

from server.settings import Settings


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="mlintern-server dashboard", description="Open the mlintern dashboard (loopback)."
    )
    parser.add_argument("--port", type=int, default=0, help="Port (default: a free one)")
    parser.add_argument("--home", help="State directory (or MLINTERN_HOME)")
    parser.add_argument("--no-browser", action="store_true", help="Only print the login link")
    args = parser.parse_args(argv)
    import socket

    import uvicorn
    from starlette.applications import Starlette

    from server.app import build_server
    from server.dashboard.routes import Dashboard

    overrides = {"home": args.home} if args.home else {}
    settings = Settings(host="127.0.0.1", **overrides)  # loopback only, whatever the env says
    dashboard = Dashboard(build_server(settings), settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", args.port))
    link = dashboard.login_link(f"http://127.0.0.1:{sock.getsockname()[1]}")
    print(f"mlintern-server: dashboard login (works once): {link}", file=sys.stderr, flush=True)
    if not args.no_browser:
        webbrowser.open(link)
    app = Starlette(routes=dashboard.routes())
    config = uvicorn.Config(app, log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])
    return 0
