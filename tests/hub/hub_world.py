"""The seeded fake Hub used by the hub tests: tokens, repositories, and settings pointing at it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fakes.hub import FakeHub
from fastmcp import Client, FastMCP

from server.settings import Settings
from server.toolkit import ToolkitContext
from toolkits.hub import build

WRITE_TOKEN = "hf_alice_write_0123456789"
READ_TOKEN = "hf_bob_read_0123456789ab"

README = """---
license: apache-2.0
base_model: openai-community/gpt2
datasets:
- imdb
---

# Tiny sentiment model

A 2-layer GPT-2 fine-tuned on IMDB reviews for sentiment classification.

Trained for 3 epochs with lr 5e-5.
"""


def safetensors_file(tensors: dict[str, tuple[str, list[int]]]) -> bytes:
    """A valid safetensors file (header + zeroed data) with the given dtypes and shapes."""
    sizes = {"F32": 4, "BF16": 2, "F16": 2, "I64": 8}
    header: dict[str, object] = {}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        count = 1
        for dim in shape:
            count *= dim
        header[name] = {
            "dtype": dtype,
            "shape": shape,
            "data_offsets": [offset, offset + count * sizes[dtype]],
        }
        offset += count * sizes[dtype]
    raw = json.dumps(header).encode()
    return len(raw).to_bytes(8, "little") + raw + b"\0" * offset


def seed(hub: FakeHub) -> None:
    hub.add_repo(
        "openai-community/gpt2",
        files={
            "config.json": '{"n_layer": 12}',
            "model.safetensors": b"\0" * 64,
            "README.md": "# GPT-2",
        },
        lfs=("model.safetensors",),
        downloads=9_000_000,
        likes=2500,
        pipeline_tag="text-generation",
        library_name="transformers",
        tags=["pytorch", "license:mit"],
        safetensors={"parameters": {"F32": 137_022_720}, "total": 137_022_720},
    )
    hub.add_repo(
        "alice/tiny-sentiment",
        files={
            "README.md": README,
            "config.json": json.dumps({"n_layer": 2, "vocab_size": 50257}, indent=2),
            "model.safetensors": safetensors_file(
                {"wte": ("F32", [100, 16]), "head": ("BF16", [16, 2])}
            ),
            "train/train.py": "print('training')\n" * 2000,
            "train/args.yaml": "lr: 5e-5\n",
            "logo.png": b"\x89PNG\r\n\x1a\n" + b"\0" * 40,
            "data.txt": b"abc\x00def",
        },
        downloads=120,
        likes=3,
        pipeline_tag="text-classification",
        library_name="transformers",
        tags=["license:apache-2.0", "dataset:imdb"],
        cardData={
            "license": "apache-2.0",
            "base_model": "openai-community/gpt2",
            "datasets": ["imdb"],
        },
    )
    hub.add_repo("alice/private-model", files={"config.json": "{}"}, private=True)
    hub.add_repo("meta-llama/Llama-gated", files={"config.json": "{}"}, gated=True, likes=10)
    hub.add_repo(
        "stanfordnlp/imdb", "dataset", {"README.md": "# IMDB"}, downloads=50_000, likes=300
    )
    for i in range(7):
        hub.add_repo(
            f"bert-team/bert-variant-{i}",
            downloads=1000 * (i + 1),
            likes=i,
            pipeline_tag="fill-mask",
        )


def settings_for(hub: FakeHub, home: Path, token: str | None = None, **extra: object) -> Settings:
    return Settings(
        home=home,
        hf_endpoint=hub.url,
        datasets_server_url="http://127.0.0.1:9",  # never used by the hub tests
        hf_token=token,
        _env_file=None,  # pyright: ignore[reportCallIssue]
        **{"http_timeout_s": 5.0, **extra},
    )


def hub_client(settings: Settings, era: str = "2026-07-28", read_only: bool = False) -> Client:
    """An MCP client for the hub toolkit mounted as the server mounts it (namespace 'hub')."""
    server = FastMCP("hub-test")
    ctx = ToolkitContext(settings=settings, read_only=read_only)
    server.mount(build(ctx), namespace="hub")
    return Client(server, mode=era)


def out(result: Any) -> dict[str, Any]:
    """The structured content of a successful tool call."""
    assert result.structured_content is not None, result
    return result.structured_content


def text(result: Any) -> str:
    """The text a model reads for a tool call."""
    return result.content[0].text
