"""How the server is found before anyone connects: a server card and the registry's server.json.

Both are generated from the registry and the tools the server actually lists, never written by
hand: the card is served at ``/.well-known/mcp/server-card.json`` over HTTP (the path of the
Server Card extension, SEP-2127), and ``server.json`` at the repository root (what the MCP
registry reads) is checked against this generator by the test suite, so neither can drift.
Regenerate it with ``python -m server.discovery > server.json``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from server.registry import TOOLKITS

if TYPE_CHECKING:
    from fastmcp import FastMCP

    from server.settings import Settings

NAME = "io.github.mlintern/mlintern"
TITLE = "mlintern"
# The registry caps descriptions at 100 characters.
DESCRIPTION = (
    "An ML engineer's hands for agents: Hub, datasets, papers, sandbox, training jobs, experiments"
)
CARD_PATH = "/.well-known/mcp/server-card.json"
CARD_SCHEMA = "https://static.modelcontextprotocol.io/schemas/v1/server-card.schema.json"
REGISTRY_SCHEMA = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
PROTOCOL_VERSIONS = ["2026-07-28", "2025-11-25"]

# The variables a user may set when the registry installs the package (values never listed).
_REGISTRY_ENV = [
    ("MLINTERN_HOME", "Directory for all state (default: the platform's user data dir).", False),
    ("MLINTERN_TOOLSETS", "Only mount these toolkits, comma-separated (default: all).", False),
    ("MLINTERN_ROOTS", "Extra directories the tools may read and write, comma-separated.", False),
    ("HF_TOKEN", "Hugging Face token: private repos, uploads, HF Jobs.", True),
    ("GITHUB_TOKEN", "GitHub token: higher rate limits for code search and reads.", True),
]


async def toolsets_listed(server: FastMCP) -> list[dict[str, Any]]:
    """The toolkits the server mounts, with the tools it lists for each (in list order)."""
    tools = await server.list_tools()
    kits: dict[str, dict[str, Any]] = {}
    for tool in tools:
        kit = next((k for k in TOOLKITS if tool.name.startswith(f"{k}_")), "tasks")
        entry = kits.setdefault(kit, {"name": kit, "purpose": TOOLKITS[kit].purpose, "tools": []})
        entry["tools"].append({"name": tool.name, "title": tool.title or tool.name})
    return list(kits.values())


async def server_card(server: FastMCP, settings: Settings, base_url: str) -> dict[str, Any]:
    from server.app import package_version

    remote: dict[str, Any] = {"type": "streamable-http", "url": base_url + settings.path}
    if settings.auth_token is not None:
        remote["headers"] = [
            {
                "name": "Authorization",
                "description": "Bearer token (the server's MLINTERN_AUTH_TOKEN).",
                "isRequired": True,
                "isSecret": True,
            }
        ]
    return {
        "$schema": CARD_SCHEMA,
        "name": NAME,
        "title": TITLE,
        "description": DESCRIPTION,
        "version": package_version(),
        "protocolVersions": PROTOCOL_VERSIONS,
        "remotes": [remote],
        "_meta": {
            "io.github.mlintern/toolsets": await toolsets_listed(server),
            "io.github.mlintern/readOnly": settings.read_only,
        },
    }


def registry_server_json(version: str) -> dict[str, Any]:
    """The MCP registry's description of the package: installed from PyPI, run over stdio."""
    return {
        "$schema": REGISTRY_SCHEMA,
        "name": NAME,
        "title": TITLE,
        "description": DESCRIPTION,
        "version": version,
        "packages": [
            {
                "registryType": "pypi",
                "identifier": "mlintern",
                "version": version,
                "runtimeHint": "uvx",
                "transport": {"type": "stdio"},
                "packageArguments": [],
                "environmentVariables": [
                    {"name": name, "description": text, "isRequired": False, "isSecret": secret}
                    for name, text, secret in _REGISTRY_ENV
                ],
            }
        ],
        "_meta": {
            "io.github.mlintern/toolsets": [
                {"name": name, "purpose": entry.purpose} for name, entry in TOOLKITS.items()
            ]
        },
    }


if __name__ == "__main__":
    import json

    from server.app import package_version

    print(json.dumps(registry_server_json(package_version()), indent=2))
