"""Hub datasets: inspection from the fake dataset viewer, queries over the cached parquet export,
and what the caller is told when the viewer or the Hub says no."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from datasets_world import REVIEWS, TOKEN, datasets_client, noise_rows, out, settings_for, text
from fakes.datasets_server import FakeDatasetsServer
from fakes.hub import FakeHub
from fastmcp.exceptions import ToolError
from helpers import free_port

from server.settings import Settings


async def test_inspect_hub_dataset(hub_settings: Settings, era: str) -> None:
    async with datasets_client(hub_settings, era) as c:
        result = await c.call_tool(
            "datasets_inspect", {"dataset": "stanfordnlp/imdb", "sample_rows": 2}
        )
    report = out(result)
    assert (
        report["source"] == "hub"
        and report["config"] == "plain_text"
        and report["split"] == "train"
    )
    assert report["configs"] == ["plain_text", "unsupervised"]
    assert [(s["name"], s["rows"]) for s in report["splits"]] == [("train", 120), ("test", 30)]
    assert report["license"] == "other"
    columns = {c["name"]: c for c in report["columns"]}
    assert columns["label"]["type"] == "int64" and (
        columns["label"]["min"],
        columns["label"]["max"],
    ) == (0, 1)
    lengths = [len(r["text"]) for r in REVIEWS]
    assert (columns["text"]["length_min"], columns["text"]["length_max"]) == (
        min(lengths),
        max(lengths),
    )
    assert report["sample_rows"] == [
        {"text": REVIEWS[0]["text"], "label": 0},
        {"text": REVIEWS[1]["text"], "label": 1},
    ]
    assert "datasets_inspect(dataset='stanfordnlp/imdb', config='plain_text'" in text(result)


async def test_inspect_hub_chat_dataset_without_statistics(hub_settings: Settings) -> None:
    async with datasets_client(hub_settings) as c:
        report = out(await c.call_tool("datasets_inspect", {"dataset": "alice/chat-sft"}))
    assert report["chat"]["roles"] == {"system": 40, "user": 40, "assistant": 20}
    assert (report["chat"]["turns_min"], report["chat"]["turns_max"]) == (2, 3)
    assert report["columns"][0]["type"] == "list<struct<role: string, content: string>>"
    assert any("/statistics" in note for note in report["notes"])  # missing, said, not fatal


async def test_config_and_split_choices_are_checked(hub_settings: Settings) -> None:
    async with datasets_client(hub_settings) as c:
        picked = out(
            await c.call_tool(
                "datasets_inspect", {"dataset": "stanfordnlp/imdb", "config": "unsupervised"}
            )
        )
        assert [s["name"] for s in picked["splits"]] == ["train"]
        with pytest.raises(ToolError, match=r"No config 'nope'.*Configs: plain_text, unsupervised"):
            await c.call_tool("datasets_inspect", {"dataset": "stanfordnlp/imdb", "config": "nope"})
        with pytest.raises(ToolError, match=r"No split 'dev'.*Splits: train, test"):
            await c.call_tool(
                "datasets_inspect",
                {"dataset": "stanfordnlp/imdb", "sql": "SELECT 1", "split": "dev"},
            )


async def test_unknown_dataset_gets_suggestions(hub_settings: Settings) -> None:
    async with datasets_client(hub_settings) as c:
        with pytest.raises(
            ToolError, match=r"No dataset 'stanfordnlp/imbd'.*Similar datasets: stanfordnlp/imdb"
        ):
            await c.call_tool("datasets_inspect", {"dataset": "stanfordnlp/imbd"})


async def test_gated_dataset_needs_a_token(anon_settings: Settings, hub_settings: Settings) -> None:
    async with datasets_client(anon_settings) as c:
        with pytest.raises(ToolError, match=r"private or gated.*export HF_TOKEN"):
            await c.call_tool("datasets_inspect", {"dataset": "meta/gated-set"})
    async with datasets_client(hub_settings) as c:
        report = out(await c.call_tool("datasets_inspect", {"dataset": "meta/gated-set"}))
    assert report["splits"][0]["rows"] == 5


async def test_no_preview_points_to_the_files(hub_settings: Settings) -> None:
    async with datasets_client(hub_settings) as c:
        with pytest.raises(ToolError, match=r"no preview.*hub_repo\(repo_id='alice/raw-images'"):
            await c.call_tool("datasets_inspect", {"dataset": "alice/raw-images"})


async def test_viewer_failures_are_retried_or_explained(
    hub_settings: Settings, fake_viewer: FakeDatasetsServer
) -> None:
    fake_viewer.fail("/splits", 429, times=2, **{"Retry-After": "0"})
    async with datasets_client(hub_settings) as c:
        report = out(await c.call_tool("datasets_inspect", {"dataset": "stanfordnlp/imdb"}))
        assert report["splits"][0]["rows"] == 120
        assert fake_viewer.recorder.paths().count("/splits") == 3
        fake_viewer.fail(
            "/first-rows", 500, times=5, **{"X-Error-Code": "ResponseNotReady", "Retry-After": "0"}
        )
        with pytest.raises(
            ToolError, match=r"has not finished processing stanfordnlp/imdb.*Retry in a minute"
        ):
            await c.call_tool("datasets_inspect", {"dataset": "stanfordnlp/imdb"})
        fake_viewer.fail("/is-valid", 429, times=5, **{"Retry-After": "0"})
        with pytest.raises(
            ToolError, match=r"rate-limiting requests \(429\), still after 3 attempts"
        ):
            await c.call_tool("datasets_inspect", {"dataset": "stanfordnlp/imdb"})


async def test_stalled_or_missing_viewer(
    fake_hub: FakeHub, fake_viewer: FakeDatasetsServer, tmp_path: Path
) -> None:
    settings = settings_for(fake_hub, fake_viewer, tmp_path / "a", TOKEN, http_timeout_s=0.5)
    fake_viewer.stall("/is-valid", 5)
    async with datasets_client(settings) as c:
        started = time.monotonic()  # the toolkit is built: only the call is timed
        with pytest.raises(ToolError, match=r"did not answer /is-valid within 0.5s"):
            await c.call_tool("datasets_inspect", {"dataset": "stanfordnlp/imdb"})
    assert time.monotonic() - started < 4
    gone = settings.model_copy(update={"datasets_server_url": f"http://127.0.0.1:{free_port()}"})
    async with datasets_client(gone) as c:
        with pytest.raises(ToolError, match=r"Cannot reach the dataset viewer at http://127.0.0.1"):
            await c.call_tool("datasets_inspect", {"dataset": "stanfordnlp/imdb"})


async def test_query_downloads_the_split_once_and_keeps_the_token_on_hf_hosts(
    hub_settings: Settings, fake_hub: FakeHub
) -> None:
    reported: list[str | None] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reported.append(message)

    sql = "SELECT label, count(*) AS n FROM data GROUP BY label ORDER BY label"
    async with datasets_client(hub_settings) as c:
        first = out(
            await c.call_tool(
                "datasets_inspect",
                {"dataset": "stanfordnlp/imdb", "sql": sql},
                progress_handler=on_progress,
            )
        )
        again = out(
            await c.call_tool("datasets_inspect", {"dataset": "stanfordnlp/imdb", "sql": sql})
        )
    assert first["rows"] == again["rows"] == [[0, 60], [1, 60]]
    assert any(m and "fetching 0000.parquet" in m for m in reported)
    downloads = [r for r in fake_hub.cdn_recorder.requests if r.method == "GET"]
    assert len(downloads) == 1  # the second query read the cache
    assert all("authorization" not in r.headers for r in fake_hub.cdn_recorder.requests)
    assert {r.headers.get("authorization") for r in fake_hub.recorder.requests} == {
        f"Bearer {TOKEN}"
    }
    cached = list((hub_settings.home / "datasets-cache").rglob("*.parquet"))
    assert len(cached) == 1 and "plain_text" in str(cached[0])


async def test_cache_budget_refuses_big_splits_and_evicts_old_ones(
    fake_hub: FakeHub, fake_viewer: FakeDatasetsServer, tmp_path: Path
) -> None:
    mb = 1024 * 1024
    fake_viewer.add_dataset("alice/noise-a", {"default": {"train": noise_rows(5000, seed=1)}})
    fake_viewer.add_dataset("alice/noise-b", {"default": {"train": noise_rows(5000, seed=2)}})
    fake_viewer.add_dataset("alice/noise-big", {"default": {"train": noise_rows(14000, seed=3)}})
    settings = settings_for(
        fake_hub, fake_viewer, tmp_path / "home", TOKEN, datasets_cache_max_bytes=mb
    )
    async with datasets_client(settings) as c:
        with pytest.raises(ToolError, match="more than the datasets cache budget"):
            await c.call_tool("datasets_inspect", {"dataset": "alice/noise-big", "sql": "SELECT 1"})
        assert fake_hub.cdn_recorder.requests == []  # refused before downloading anything
        for name in ("alice/noise-a", "alice/noise-b"):
            result = out(
                await c.call_tool(
                    "datasets_inspect", {"dataset": name, "sql": "SELECT count(*) FROM data"}
                )
            )
            assert result["rows"] == [[5000]]
    cached = [p for p in (settings.home / "datasets-cache").rglob("*") if p.is_file()]
    assert [p.parts[-4] for p in cached] == ["alice%2Fnoise-b"]  # noise-a made room for noise-b
    assert sum(p.stat().st_size for p in cached) <= mb
