"""The experiments tools through the real MCP client."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import anyio
import pytest
from experiments_world import experiments_server as make_server
from experiments_world import mcp_client as client
from experiments_world import write_scalars
from fastmcp.exceptions import ToolError

PREFS = "# p\n\n```yaml\nmetrics:\n  val/loss: {threshold: 0.5}\n```\n"


async def test_metrics_summary_and_text(settings, tmp_path, era) -> None:
    loss = [2.0 / (1 + i) for i in range(500)]
    loss[250] = 40.0  # a spike the downsampled series must keep
    write_scalars(
        tmp_path, {"train/loss": loss, "val/accuracy": [0.1, 0.5, 0.8]}, every={"val/accuracy": 200}
    )
    async with client(make_server(settings), era) as c:
        result = await c.call_tool(
            "experiments_metrics", {"source": str(tmp_path), "max_points": 50}
        )
    data = result.structured_content
    assert data["kind"] == "tensorboard" and data["tag_count"] == 2
    loss_tag = next(t for t in data["tags"] if t["tag"] == "train/loss")
    assert loss_tag["points"] == 500 and loss_tag["max"] == {"step": 250, "value": 40.0}
    assert loss_tag["best"]["value"] == pytest.approx(2.0 / 500)
    assert len(loss_tag["series"]) <= 50
    assert [250, 40.0] in loss_tag["series"]
    text = result.content[0].text
    assert "train/loss: 500 pts, steps 0-499" in text and "max 40@250" in text


async def test_metrics_pages_through_many_tags(settings, tmp_path) -> None:
    write_scalars(tmp_path, {f"layer{i:02d}/grad_norm": [1.0, 2.0] for i in range(25)})
    async with client(make_server(settings)) as c:
        first = await c.call_tool("experiments_metrics", {"source": str(tmp_path)})
        assert first.structured_content["truncated"] is True
        assert len(first.structured_content["tags"]) == 20
        assert first.structured_content["next_tag_offset"] == 20
        assert "tag_offset=20" in first.content[0].text
        rest = await c.call_tool("experiments_metrics", {"source": str(tmp_path), "tag_offset": 20})
        assert [t["tag"] for t in rest.structured_content["tags"]] == [
            f"layer{i:02d}/grad_norm" for i in range(20, 25)
        ]
        assert rest.structured_content["truncated"] is False
        dense = await c.call_tool(
            "experiments_metrics", {"source": str(tmp_path), "max_points": 2000}
        )
        assert "series cut to 300 points per tag" in dense.structured_content["problems"][0]
        picked = await c.call_tool(
            "experiments_metrics", {"source": str(tmp_path), "tags": ["layer0[12]/*"]}
        )
        assert [t["tag"] for t in picked.structured_content["tags"]] == [
            "layer01/grad_norm",
            "layer02/grad_norm",
        ]


async def test_plot_returns_a_bounded_png_and_two_lines(settings, tmp_path, era) -> None:
    from PIL import Image

    write_scalars(
        tmp_path,
        {
            "train/loss": [float(i % 7) for i in range(3000)] + [float("nan")],
            "val/loss": [1.0, 0.5, 0.25],
        },
    )
    async with client(make_server(settings), era) as c:
        result = await c.call_tool("experiments_metrics", {"source": str(tmp_path), "plot": True})
    image, text = result.content
    assert image.type == "image" and image.mime_type == "image/png"
    png = base64.b64decode(image.data)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) < 300_000
    decoded = Image.open(io.BytesIO(png))
    decoded.verify()
    plotted = result.structured_content["plot"]
    assert decoded.size == (plotted["width"], plotted["height"])
    assert decoded.size[0] <= 1000 and decoded.size[1] <= 1400
    assert text.text.startswith(f"{tmp_path} (tensorboard): 2 tag(s)")  # the metrics, then
    lines = text.text.splitlines()[-3:]  # what the chart shows
    assert lines[0] == f"{tmp_path}: 2 of 2 tags plotted, up to step 3000"
    assert "train/loss last NaN" in lines[1] and "(1 NaN/Inf)" in lines[1]
    saved = Path(plotted["path"])  # the same PNG, kept as a file
    assert lines[2] == f"saved to {saved}"
    assert saved.parent == settings.home / "plots"
    assert await anyio.Path(saved).read_bytes() == png


async def test_compare_values_and_config_differences(settings, tmp_path) -> None:
    for name, lr, losses in (("a", 0.1, [2.0, 1.0, 0.7]), ("b", 0.01, [2.0, 1.5, 1.2])):
        write_scalars(tmp_path / name, {"val/loss": losses})
        (tmp_path / name / "config.yaml").write_text(
            f"# run {name}\noptimizer:\n  lr: {lr}  # tuned\nsteps: 3\nseed: {ord(name)}\n"
        )
    async with client(make_server(settings)) as c:
        result = await c.call_tool(
            "experiments_compare", {"sources": [str(tmp_path / "a"), str(tmp_path / "b")]}
        )
    data = result.structured_content
    (row,) = data["tags"]
    assert row["tag"] == "val/loss" and row["best_run"] == 0
    assert [cell["last"] for cell in row["runs"]] == pytest.approx([0.7, 1.2])
    assert {d["key"]: d["values"] for d in data["config_differences"]} == {
        "optimizer.lr": [0.1, 0.01],
        "seed": [97, 98],
    }
    assert data["same_config_keys"] == 1
    assert "optimizer.lr: [0] 0.1 | [1] 0.01" in result.content[0].text


async def test_journal_append_read_file_and_persistence(settings, era) -> None:
    entry = {
        "observation": "val/loss 0.62 > 0.5 at step 300",
        "decision": "lower lr",
        "action": "experiments_restart",
        "job_ids": ["j-1", "j-2"],
        "numbers": {"val/loss": 0.62, "optimizer.lr": 0.0005},
    }
    async with client(make_server(settings), era) as c:
        appended = await c.call_tool(
            "experiments_journal", {"experiment": "mlp", "action": "append", "entry": entry}
        )
        assert appended.structured_content["entry_count"] == 1
        await c.call_tool(
            "experiments_journal",
            {
                "experiment": "mlp",
                "action": "append",
                "entry": {"observation": "ok", "decision": "keep going"},
            },
        )
    path = settings.home / "experiments" / "mlp" / "journal.md"
    markdown = path.read_text()
    assert markdown.startswith("# Experiment journal: mlp")
    assert "- **Jobs:** j-1 → j-2" in markdown
    assert "- **Numbers:** val/loss = 0.62, optimizer.lr = 0.0005" in markdown
    assert markdown.index("lower lr") < markdown.index("keep going")
    path.unlink()  # the store is the record; the file comes back on the next append
    async with client(make_server(settings)) as c:
        page = await c.call_tool("experiments_journal", {"experiment": "mlp", "limit": 1})
        assert page.structured_content["entry_count"] == 2
        assert [e["decision"] for e in page.structured_content["entries"]] == ["keep going"]
        assert page.structured_content["truncated"] is True
        assert "offset=0" in page.structured_content["hint"]
        await c.call_tool(
            "experiments_journal",
            {
                "experiment": "mlp",
                "action": "append",
                "entry": {"observation": "x", "decision": "y"},
            },
        )
    assert path.read_text().count("## ") == 3


async def test_errors_say_what_to_do(settings, tmp_path) -> None:
    write_scalars(tmp_path, {"loss": [1.0]})
    async with client(make_server(settings)) as c:
        with pytest.raises(ToolError, match="not a known job id \\(list jobs with jobs_list\\)"):
            await c.call_tool("experiments_metrics", {"source": str(tmp_path / "missing")})
        with pytest.raises(ToolError, match=r"No tag matches val/\*. Tags in this source: loss"):
            await c.call_tool("experiments_metrics", {"source": str(tmp_path), "tags": ["val/*"]})
        with pytest.raises(ToolError, match=r"^preferences:5: metric 'val/loss': unknown setting"):
            await c.call_tool(
                "experiments_check",
                {
                    "source": str(tmp_path),
                    "preferences": "# p\n\n```yaml\nmetrics:\n  val/loss: {treshold: 0.5}\n```\n",
                },
            )
        with pytest.raises(ToolError, match="No journal for experiment 'nope'"):
            await c.call_tool("experiments_journal", {"experiment": "nope"})
        with pytest.raises(ToolError, match="only used with action='append'"):
            await c.call_tool(
                "experiments_journal",
                {"experiment": "x", "entry": {"observation": "o", "decision": "d"}},
            )
        with pytest.raises(ToolError, match="needs entry"):
            await c.call_tool("experiments_journal", {"experiment": "x", "action": "append"})
        checked = await c.call_tool(
            "experiments_check", {"source": str(tmp_path), "preferences": PREFS}
        )
        (verdict,) = checked.structured_content["verdicts"]
        assert verdict == {
            "subject": "val/loss",
            "kind": "missing",
            "severity": "warn",
            "message": "no tag matches 'val/loss' (tags: loss)",
            "numbers": {},
        }
        assert checked.structured_content["status"] == "attention"
