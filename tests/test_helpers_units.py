"""Shared helpers: output budget, secret redaction, settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.output_caps import cap_text, page_text
from server.redact import redact, redact_data
from server.settings import Settings


def test_page_text_walks_the_whole_text_with_its_hints() -> None:
    text = "".join(f"line {i}\n" for i in range(1000))
    collected, offset, pages = "", 0, 0
    while True:
        page = page_text(text, offset=offset, max_chars=997, continue_with="jobs_logs(job_id='j')")
        collected += page.text
        pages += 1
        if not page.truncated:
            assert page.next_offset is None and page.hint is None
            break
        assert page.hint and f"offset={page.next_offset}" in page.hint and "jobs_logs" in page.hint
        offset = page.next_offset
    assert collected == text and pages == -(-len(text) // 997)


def test_cap_text_keeps_head_and_tail_and_says_so() -> None:
    text = "HEAD" + "x" * 10_000 + "TAIL"
    capped = cap_text(text, 1000, "see the file")
    assert capped.startswith("HEAD") and capped.endswith("TAIL")
    assert "characters cut; see the file" in capped
    assert len(capped) < 1100
    assert cap_text("short", 1000) == "short"


def test_redact_hides_token_like_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_abcdefghijklmnop")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-1234567890abcdef")
    monkeypatch.setenv("HARMLESS", "hf_abcdefghijklmnop-not-secret-name")
    text = "token=hf_abcdefghijklmnop key sk-1234567890abcdef"
    assert redact(text) == "token=[REDACTED:HF_TOKEN] key [REDACTED:OPENAI_API_KEY]"
    nested = redact_data({"a": ["sk-1234567890abcdef", 3], "b": {"c": "hf_abcdefghijklmnop"}})
    assert nested == {"a": ["[REDACTED:OPENAI_API_KEY]", 3], "b": {"c": "[REDACTED:HF_TOKEN]"}}


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MLINTERN_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("MLINTERN_TOOLSETS", "plan, jobs")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value_123")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.home == tmp_path / "h"
    assert settings.state_path == tmp_path / "h" / "state.sqlite3"
    assert settings.toolsets == ["plan", "jobs"]
    assert settings.hf_endpoint == "http://127.0.0.1:9"
    assert settings.hf_token is not None
    assert "hf_secret_value_123" not in repr(settings)


def test_settings_from_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLINTERN_HOME", raising=False)
    (tmp_path / ".env").write_text("MLINTERN_HOME=/tmp/from-dotenv\nMLINTERN_READ_ONLY=true\n")
    settings = Settings()
    assert settings.home == Path("/tmp/from-dotenv") and settings.read_only
