"""Settings read the way users write them: plain comma lists in the environment and .env."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.settings import Settings


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a.example", ["a.example"]),
        (" a.example , b.example ,", ["a.example", "b.example"]),
        ('["a.example", "b.example"]', ["a.example", "b.example"]),
    ],
)
def test_list_settings_take_plain_comma_lists_from_env_and_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raw: str, expected: list[str]
) -> None:
    monkeypatch.setenv("MLINTERN_ALLOWED_HOSTS", raw)
    monkeypatch.setenv("MLINTERN_TOOLSETS", raw)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.allowed_hosts == expected and settings.toolsets == expected
    monkeypatch.delenv("MLINTERN_ALLOWED_HOSTS")
    monkeypatch.delenv("MLINTERN_ROOTS", raising=False)  # the environment wins over .env
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"MLINTERN_ALLOWED_HOSTS={raw}\nMLINTERN_ROOTS={tmp_path},/srv/data\n")
    from_file = Settings(_env_file=dotenv)  # type: ignore[call-arg]
    assert from_file.allowed_hosts == expected
    assert [str(p) for p in from_file.roots] == [str(tmp_path), "/srv/data"]
