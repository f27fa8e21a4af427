"""Shared pieces of the datasets tests: seeded datasets, settings, an MCP client."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from fakes.datasets_server import FakeDatasetsServer
from fakes.hub import FakeHub
from fastmcp import Client, FastMCP

from server.settings import Settings
from server.toolkit import ToolkitContext
from toolkits.datasets import build

TOKEN = "hf_datasets_reader_0123456789"

REVIEWS = [{"text": f"review {i} " + "good " * (i % 7), "label": i % 2} for i in range(120)]
CHAT = [
    {
        "messages": [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": f"question {i}"},
            {"role": "assistant", "content": f"answer {i}"},
        ][: 2 + i % 2],
        "source": "synthetic",
    }
    for i in range(40)
]


def noise_rows(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """Rows of random text: parquet cannot compress them, so size grows with ``count``."""
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return [{"id": i, "blob": "".join(rng.choices(alphabet, k=100))} for i in range(count)]


def seed(viewer: FakeDatasetsServer) -> None:
    viewer.add_dataset(
        "stanfordnlp/imdb",
        {
            "plain_text": {"train": REVIEWS, "test": REVIEWS[:30]},
            "unsupervised": {"train": REVIEWS[:10]},
        },
        license="other",
        description="Large Movie Review Dataset.",
    )
    viewer.add_dataset("alice/chat-sft", {"default": {"train": CHAT}}, statistics=False)
    viewer.add_dataset("meta/gated-set", {"default": {"train": REVIEWS[:5]}}, gated=True)
    viewer.add_dataset("alice/raw-images", {"default": {"train": REVIEWS[:5]}}, preview=False)


def settings_for(
    hub: FakeHub, viewer: FakeDatasetsServer, home: Path, token: str | None = None, **extra: Any
) -> Settings:
    return Settings(
        home=home,
        hf_endpoint=hub.url,
        datasets_server_url=viewer.url,
        hf_token=token,
        _env_file=None,  # pyright: ignore[reportCallIssue]
        **{"http_timeout_s": 5.0, **extra},
    )


def offline_settings(home: Path, **extra: Any) -> Settings:
    """For local datasets: remote endpoints that nothing answers."""
    return Settings(
        home=home,
        hf_endpoint="http://127.0.0.1:9",
        datasets_server_url="http://127.0.0.1:9",
        _env_file=None,  # pyright: ignore[reportCallIssue]
        **extra,
    )


def datasets_client(settings: Settings, era: str = "2026-07-28") -> Client:
    """An MCP client for the datasets toolkit mounted as the server mounts it."""
    server = FastMCP("datasets-test")
    server.mount(build(ToolkitContext(settings=settings)), namespace="datasets")
    return Client(server, mode=era)


def out(result: Any) -> dict[str, Any]:
    assert result.structured_content is not None, result
    return result.structured_content


def text(result: Any) -> str:
    return result.content[0].text
