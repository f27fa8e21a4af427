"""Keep secrets where they belong.

A secret is the value of an environment variable whose name looks like a credential
(``HF_TOKEN``, ``GITHUB_TOKEN``, ``*_API_KEY``, ``*_SECRET``, ``*_PASSWORD`` ...). Tool output,
logs and session files pass through ``redact``. Child environments are built from an allow-list
instead (server/child_env.py): a name-based filter lets through what it does not recognise.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

_SECRET_NAME = re.compile(
    r"(^|_)(TOKEN|API_KEY|APIKEY|SECRET|SECRET_KEY|PASSWORD|PASSWD|ACCESS_KEY|PRIVATE_KEY|AUTH)(_|$)",
    re.IGNORECASE,
)
# Short values ("1", "true") are not secrets and replacing them would mangle output.
_MIN_SECRET_LEN = 8


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def secret_values(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Map secret value -> variable name, for every credential-like variable set."""
    env = os.environ if env is None else env
    found: dict[str, str] = {}
    for name, value in env.items():
        if is_secret_name(name) and value and len(value) >= _MIN_SECRET_LEN:
            found[value] = name
    return found


def _secret_map(extra: Iterable[str], env: Mapping[str, str] | None) -> dict[str, str]:
    secrets = secret_values(env)
    for value in extra:
        if value and len(value) >= _MIN_SECRET_LEN:
            secrets.setdefault(value, "SECRET")
    return secrets


def _apply(text: str, secrets: dict[str, str]) -> str:
    # Longest first, so a secret that contains another is replaced whole.
    for value in sorted(secrets, key=len, reverse=True):
        if value in text:
            text = text.replace(value, f"[REDACTED:{secrets[value]}]")
    return text


def redact(text: str, extra: Iterable[str] = (), env: Mapping[str, str] | None = None) -> str:
    """Replace every known secret value in ``text`` with ``[REDACTED:NAME]``."""
    if not text:
        return text
    return _apply(text, _secret_map(extra, env))


def redact_data(data: Any, extra: Iterable[str] = ()) -> Any:
    """``redact`` applied to every string inside nested dicts and lists."""
    secrets = _secret_map(extra, None)  # scan the environment once, not once per string

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return _apply(value, secrets) if value else value
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [walk(item) for item in value]
        return value

    return walk(data)
