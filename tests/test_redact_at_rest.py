"""Redaction by value and by token shape, applied before any clip and where text is written:
state rows and session traces keep no credential, and files under the home are private."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from agent.sessions import SessionStore
from server.output_caps import cap_text, clip_value, page_text
from server.redact import redact, redact_data
from server.state import StateStore

GH_PAT = "ghp_" + "Q7w8E9r0T1" * 4
SHAPES = {
    f"token {'hf_' + 'AbCdEfGhIj' * 4} end": "token [REDACTED:hf-token] end",
    f"GH_PAT={GH_PAT}": "GH_PAT=[REDACTED:github-token]",
    "key sk-proj-" + "x1" * 15: "key [REDACTED:openai-key]",
    "key sk-ant-api03-" + "y2" * 15: "key [REDACTED:anthropic-key]",
    "id AKIAABCDEFGHIJKLMNOP": "id [REDACTED:aws-key-id]",
    "aws_secret_access_key=" + "S" * 40: "aws_secret_access_key=[REDACTED:aws-secret]",
    "xoxb-123456789012-abcdefgh": "[REDACTED:slack-token]",
    "postgres://u:pw-secret-1@h:5432/db": "postgres://u:[REDACTED:password]@h:5432/db",
    "Authorization: Bearer abcdefghijklmnopqrstuvwx": "Authorization: Bearer [REDACTED:bearer]",
}
ORDINARY = (
    "loss=0.25 https://huggingface.co/bert-base a.b task-abcdefghijklmnopqrstuvwxyz "
    "hf_hub_download sk-learn git@github.com:org/repo.git https://user@host/x 3e-4"
)


@pytest.mark.parametrize("raw", list(SHAPES))
def test_token_shapes_are_redacted(raw: str) -> None:
    assert redact(raw, env={}) == SHAPES[raw]


def test_ordinary_text_passes_unchanged() -> None:
    assert redact(ORDINARY, env={}) == ORDINARY  # positive control
    assert redact_data({"a": [ORDINARY, 3]}, env={}) == {"a": [ORDINARY, 3]}


def test_values_of_credential_variables_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_DB_PASS", "plain-looking-value-77")
    monkeypatch.setenv("AZURE_OPENAI_KEY", "azure-value-0123456")
    assert redact("a plain-looking-value-77 b azure-value-0123456") == (
        "a [REDACTED:MY_DB_PASS] b [REDACTED:AZURE_OPENAI_KEY]"
    )


def test_a_clip_never_leaves_a_secret_prefix() -> None:
    text = "x" * 190 + GH_PAT + " tail"
    assert "ghp_" not in clip_value(text, 200) and GH_PAT[:6] not in clip_value(text, 200)
    window = page_text(text, max_chars=200, continue_with="t()")
    assert "ghp_" not in window.text and window.text.startswith("x" * 190)
    assert "ghp_" not in cap_text("y" * 30 + GH_PAT + "z" * 5000, 1000)
    assert clip_value("short " + ORDINARY, 10_000) == "short " + ORDINARY  # untouched


def test_state_rows_hold_no_credential(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "home" / "state.sqlite3", ["settings-only-secret-99"])
    store.migrate("t", ["CREATE TABLE t (v TEXT)"])
    with store.transaction() as conn:
        conn.execute("INSERT INTO t VALUES (?)", (f"pat {GH_PAT} and settings-only-secret-99",))
        conn.execute("INSERT INTO t VALUES (?)", (ORDINARY,))
    with store.reading() as conn:
        rows = [row["v"] for row in conn.execute("SELECT v FROM t")]
    assert rows == ["pat [REDACTED:github-token] and [REDACTED:SECRET]", ORDINARY]
    raw = b"".join(p.read_bytes() for p in (tmp_path / "home").glob("state.sqlite3*"))
    assert GH_PAT.encode() not in raw and b"settings-only-secret-99" not in raw
    assert ORDINARY.encode() in raw  # positive control: the bytes were really searched
    assert stat.S_IMODE((tmp_path / "home").stat().st_mode) == 0o700
    for path in (tmp_path / "home").glob("state.sqlite3*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_session_traces_hold_no_credential(tmp_path: Path) -> None:
    writer = SessionStore(tmp_path, ["config-api-key-12345"]).create({"model": "m"})
    writer.write({"type": "message", "message": {"role": "user", "content": f"use {GH_PAT}"}})
    writer.write(
        {"type": "message", "message": {"role": "tool", "content": "config-api-key-12345"}}
    )
    writer.write({"type": "message", "message": {"role": "user", "content": ORDINARY}})
    writer.close()
    raw = writer.path.read_text()
    assert GH_PAT not in raw and "config-api-key-12345" not in raw
    assert "[REDACTED:github-token]" in raw and ORDINARY in raw
    assert stat.S_IMODE(writer.path.stat().st_mode) == 0o600
