"""The jobs_preflight tool (kept apart from mcp.py, which is near its size limit)."""

from __future__ import annotations

from typing import Annotated, Any

from fastmcp import Context
from pydantic import Field

from server.settings import Settings
from server.toolkit import Toolkit, ToolOutput
from toolkits.jobs import models as m
from toolkits.jobs.preflight_advice import PreflightReport, run_preflight


class PreflightView(ToolOutput, PreflightReport):
    def render(self) -> str:
        return PreflightReport.render(self)


def register_preflight(toolkit: Toolkit, settings: Settings, in_thread: Any) -> None:
    @toolkit.tool(
        name="preflight",
        title="Preflight a job before paying for it",
        read_only=False,
        destructive=False,
        idempotent=True,
        open_world=False,
    )
    async def preflight(
        ctx: Context,
        script: m.Script = None,
        command: m.Command = None,
        script_args: m.ScriptArgs = [],  # noqa: B006 - pydantic copies defaults
        working_dir: m.WorkingDir = None,
        config_file: m.ConfigFile = None,
        env: m.Env = {},  # noqa: B006
        steps: Annotated[
            int, Field(ge=1, le=100_000, description="Steps to run (the config's step key is cut).")
        ] = 50,
        seconds: Annotated[
            float, Field(ge=5, le=600, description="Stop the run after this long at most.")
        ] = 120,
        memory_mb: Annotated[
            int | None,
            Field(
                ge=256,
                le=4_194_304,
                description="Cap the run's memory (address space), e.g. the target's RAM.",
            ),
        ] = None,
    ) -> PreflightView:
        """Run a job's real script and config here for a few steps (or seconds) before
        jobs_submit, and report seconds/step, samples/s, peak host and GPU memory, whether
        the loss is finite and moving, and the full run's estimated wall time and cost per
        hardware flavor. If it runs out of memory, recommends the cheapest change that fits
        (smaller per-device batch with gradient accumulation, tried for real; shorter
        sequences; activation checkpointing; mixed precision) before bigger hardware.
        """
        report = await in_thread(
            ctx,
            lambda: run_preflight(
                settings,
                script=script,
                command=command,
                script_args=list(script_args),
                working_dir=working_dir,
                config_file=config_file,
                env=dict(env),
                steps=steps,
                seconds=seconds,
                memory_mb=memory_mb,
            ),
            "preflight",
        )
        return PreflightView.model_validate(report.model_dump())

    del preflight
