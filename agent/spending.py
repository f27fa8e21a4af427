"""The spending cap: LLM cost so far plus the estimated cost of the jobs the agent launched.

A job is a call of a tool that declares the ``jobs.submit`` role (server/tool_roles.py). Its
estimate is its hardware's hourly price (from the same server's ``jobs.hardware`` tool) times its
timeout, the most the job can cost. Local jobs are free. When a price cannot be found
the job counts as free and the estimate says so in the log: a cap is a guard rail, not an
invoice.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from agent.mcp_connections import MCPConnections, ToolSpec

log = logging.getLogger(__name__)

DEFAULT_JOB_TIMEOUT_S = 30 * 60  # HF Jobs' default when none is given
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_FLAVOR_KEYS = ("flavor", "name", "id", "hardware")


@dataclass
class Spending:
    cap_usd: float | None = None
    llm_usd: float = 0.0
    jobs_usd: float = 0.0
    llm_cost_known: bool = True

    @property
    def total_usd(self) -> float:
        return self.llm_usd + self.jobs_usd

    def would_exceed(self, extra_usd: float = 0.0) -> bool:
        return self.cap_usd is not None and self.total_usd + extra_usd > self.cap_usd + 1e-12

    def reached(self) -> bool:
        return self.cap_usd is not None and self.total_usd >= self.cap_usd

    def describe(self) -> str:
        text = f"${self.total_usd:.4f} spent (LLM ${self.llm_usd:.4f}, jobs ≤${self.jobs_usd:.4f})"
        if not self.llm_cost_known:
            text += "; the model's price is unknown, so LLM cost counts as $0"
        return text


def parse_duration_s(value: Any) -> float | None:
    """Seconds from 3600, 3600.0, "3600", "90m", "2h", "1d"."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNIT_S[match.group(2).lower()]
    return None


def hourly_prices(data: Any) -> dict[str, float]:
    """Find ``{flavor: usd per hour}`` anywhere in a ``jobs_hardware`` result."""
    prices: dict[str, float] = {}

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            flavor = next((node[k] for k in _FLAVOR_KEYS if isinstance(node.get(k), str)), None)
            per_hour = _price_per_hour(node)
            if flavor and per_hour is not None:
                prices[flavor] = per_hour
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(data)
    return prices


def _price_per_hour(node: dict[str, Any]) -> float | None:
    for key, value in node.items():
        lowered = key.lower()
        if not isinstance(value, int | float) or not (
            "price" in lowered or "cost" in lowered or "usd" in lowered
        ):
            continue
        if "min" in lowered:
            return float(value) * 60
        if "sec" in lowered:
            return float(value) * 3600
        return float(value)  # per hour is the convention (HF Jobs, cloud price lists)
    return None


@dataclass
class JobCostEstimator:
    tools: MCPConnections
    _prices: dict[str, dict[str, float]] = field(default_factory=dict)

    async def estimate(self, spec: ToolSpec, arguments: dict[str, Any]) -> float | None:
        """Upper bound in USD for a call of a ``jobs.submit`` tool; None for any other tool."""
        if spec.role != "jobs.submit":
            return None
        backend = arguments.get("backend")
        if backend == "local":
            return 0.0
        flavor = arguments.get("flavor")
        if not isinstance(flavor, str):
            return 0.0 if backend is None else None
        prices = await self._prices_of(spec.server, backend)
        price = prices.get(flavor)
        if price is None:
            log.warning("no price for flavor %r; the job counts as $0 against the cap", flavor)
            return None
        seconds = parse_duration_s(arguments.get("timeout")) or DEFAULT_JOB_TIMEOUT_S
        return price * seconds / 3600

    async def _prices_of(self, server: str, backend: Any) -> dict[str, float]:
        if server in self._prices:
            return self._prices[server]
        hardware = next(
            (t for t in self.tools.with_role("jobs.hardware") if t.server == server), None
        )
        prices: dict[str, float] = {}
        if hardware is not None:
            arguments = {}
            if backend and "backend" in (hardware.parameters.get("properties") or {}):
                arguments["backend"] = backend
            outcome = await self.tools.call(hardware.name, arguments)
            if not outcome.is_error:
                prices = hourly_prices(outcome.structured)
        self._prices[server] = prices
        return prices
