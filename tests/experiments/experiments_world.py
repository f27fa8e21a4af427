"""Helpers for the experiments tests: real TensorBoard event files, real trackio projects, a
server with the experiments toolkit, and an MCP client."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path

from fastmcp import Client, FastMCP

from server.settings import Settings

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_PREFERENCES = REPO / "examples" / "preferences.md"


def experiments_server(settings: Settings, *also: str) -> FastMCP:
    """The real mlintern server with the experiments toolkit (and the other toolkits named)."""
    from server.app import build_server

    return build_server(settings.model_copy(update={"toolsets": [*also, "experiments"]}))


def mcp_client(server: FastMCP, era: str = "2026-07-28") -> Client:
    """An in-memory MCP client speaking the given protocol era."""
    return Client(server, mode=era)


async def finished(c: Client, job_id: str) -> dict:
    """A job's status once it ended, waited for with jobs_status (55 s per call, 10 calls)."""
    for _ in range(10):
        result = await c.call_tool("jobs_status", {"job_id": job_id, "wait_s": 55})
        if result.structured_content["status"] not in ("queued", "running"):
            return result.structured_content
    raise AssertionError(f"{job_id} did not finish")


def write_scalars(
    log_dir: Path,
    series: dict[str, Iterable[float]],
    *,
    every: dict[str, int] | None = None,
    wall_start: float | None = None,
    new_style: bool = False,
    close: bool = True,
):
    """Log each tag's values with torch's SummaryWriter (step = index x every[tag])."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(log_dir))
    for tag, values in series.items():
        stride = (every or {}).get(tag, 1)
        for index, value in enumerate(values):
            walltime = None if wall_start is None else wall_start + index
            writer.add_scalar(tag, value, index * stride, walltime=walltime, new_style=new_style)
    writer.flush()
    if close:
        writer.close()
    return writer


def run_trackio(
    store_dir: Path, project: str, run: str, logs: list[dict], config: dict | None = None
) -> None:
    """Log with the real trackio client in a child process (trackio reads TRACKIO_DIR at import)."""
    script = textwrap.dedent(
        f"""
        import json, trackio
        trackio.init(project={project!r}, name={run!r}, resume="allow", config={config!r})
        for row in json.loads({json.dumps(logs)!r}):
            trackio.log(row)
        trackio.finish()
        """
    )
    env = {
        "TRACKIO_DIR": str(store_dir),
        "PATH": "/usr/bin:/bin",
        "HOME": str(store_dir),
        "HF_HUB_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    subprocess.run(
        [sys.executable, "-c", script], env=env, check=True, capture_output=True, timeout=120
    )
