"""HF_TOKEN goes to the Hub and nowhere else, even when the Hub redirects to a storage host."""

from __future__ import annotations

from fakes.hub import FakeHub
from hub_world import WRITE_TOKEN, hub_client, out, text

from server.settings import Settings


async def test_token_reaches_the_hub_but_not_the_cdn(
    writer_settings: Settings, fake_hub: FakeHub
) -> None:
    lines = "".join(f'{{"text": "review {i}", "label": {i % 2}}}\n' for i in range(50))
    fake_hub.add_repo("alice/reviews", "dataset", {"train.jsonl": lines}, lfs=("train.jsonl",))
    async with hub_client(writer_settings) as c:
        result = await c.call_tool(
            "hub_repo",
            {"op": "read", "repo_id": "alice/reviews", "kind": "dataset", "path": "train.jsonl"},
        )
    assert out(result)["text"] == lines  # the bytes came from the CDN host
    assert fake_hub.cdn_recorder.requests, "the LFS file should have been fetched from the CDN"
    assert all("authorization" not in r.headers for r in fake_hub.cdn_recorder.requests)
    hub_auth = {r.headers.get("authorization") for r in fake_hub.recorder.requests}
    assert hub_auth == {f"Bearer {WRITE_TOKEN}"}
    assert WRITE_TOKEN not in text(result)
