"""Keep secrets where they belong: one redaction mechanism for everything written or returned.

A secret is recognised three ways:
- by value: the values of credential-named environment variables (``HF_TOKEN``, ``GH_PAT``,
  ``*_API_KEY``, ``*_PASS`` ...), of the credential settings, and of whatever a caller adds
  (the secrets a job was given);
- by shape: well-known token formats (Hugging Face, GitHub, OpenAI, Anthropic, AWS, Slack,
  JWTs, private-key blocks) and passwords inside URLs (``scheme://user:pw@host`` keeps user and
  host);
so a credential that arrives under an unexpected name still never rests on disk. Child
environments are built from an allow-list instead (server/child_env.py).

Text is redacted where it is written (job logs as lines arrive, journals, state rows, session
traces) and before any clipping, so a clip never leaves a secret's prefix behind.

Standard library only: the local job runner loads this file by path (``python -I -S``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

_SECRET_NAME = re.compile(
    r"(^|_)(TOKEN|API_KEY|APIKEY|KEY|SECRET|SECRET_KEY|PASSWORD|PASSWD|PASS|PAT|ACCESS_KEY"
    r"|PRIVATE_KEY|AUTH|CREDENTIALS?|COOKIE|DSN)(_|$)",
    re.IGNORECASE,
)
# Short values ("1", "true") are not secrets and replacing them would mangle output.
_MIN_SECRET_LEN = 8

# (label, pattern, group to hide: 0 = the whole match)
_SHAPES: list[tuple[str, re.Pattern[str], int]] = [
    (
        "private-key",
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"
        ),
        0,
    ),
    ("hf-token", re.compile(r"hf_[A-Za-z0-9]{30,}"), 0),
    (
        "github-token",
        re.compile(r"(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})"),
        0,
    ),
    ("anthropic-key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}"), 0),
    ("openai-key", re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}"), 0),
    ("aws-key-id", re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), 0),
    (
        "aws-secret",
        re.compile(
            r"(?i)(?:aws_?secret_?access_?key|secret_?access_?key)[\"']?\s*[:=]\s*[\"']?"
            r"([A-Za-z0-9/+=]{40})"
        ),
        1,
    ),
    ("slack-token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), 0),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), 0),
    # The scheme starts where no scheme character precedes it (not at every \b): with \b, text
    # like "a.a.a.a..." (anyone's README) started a scan to its end at each letter, quadratic.
    (
        "password",
        re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@\[\]]+:([^\s/@]+)@"),
        1,
    ),
    ("bearer", re.compile(r"(?i)\bbearer\s+([A-Za-z0-9._~+/-]{16,}=*)"), 1),
]


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


_env_cache: tuple[int, dict[str, str]] = (0, {})


def _environment_secrets() -> dict[str, str]:
    """``secret_values(os.environ)``, kept until the environment changes: matching every name
    for every string written was most of the cost of a session record."""
    global _env_cache
    fingerprint = hash(tuple(os.environ.items()))
    if fingerprint != _env_cache[0]:
        _env_cache = (fingerprint, secret_values(os.environ))
    return _env_cache[1]


def _secret_map(extra: Iterable[str], env: Mapping[str, str] | None) -> dict[str, str]:
    secrets = dict(_environment_secrets() if env is None else secret_values(env))
    for value in extra:
        if value and len(value) >= _MIN_SECRET_LEN:
            secrets.setdefault(value, "SECRET")
    return secrets


def _hide_shapes(text: str) -> str:
    for label, pattern, group in _SHAPES:
        if group == 0:
            text = pattern.sub(f"[REDACTED:{label}]", text)
        else:
            text = pattern.sub(
                lambda m, g=group, lab=label: (
                    (
                        m.group(0)[: m.start(g) - m.start(0)]
                        + f"[REDACTED:{lab}]"
                        + m.group(0)[m.end(g) - m.start(0) :]
                    )
                    if not m.group(g).startswith("[REDACTED")
                    else m.group(0)
                ),
                text,
            )
    return text


def _apply(text: str, secrets: dict[str, str]) -> str:
    # Longest first, so a secret that contains another is replaced whole.
    for value in sorted(secrets, key=len, reverse=True):
        if value in text:
            text = text.replace(value, f"[REDACTED:{secrets[value]}]")
    return _hide_shapes(text)


class Redactor:
    """Redaction with a fixed set of known values (scan the environment once, use many times)."""

    def __init__(self, extra: Iterable[str] = (), env: Mapping[str, str] | None = None):
        self.secrets = _secret_map(extra, env)

    def __call__(self, text: str) -> str:
        return _apply(text, self.secrets) if text else text

    def data(self, data: Any) -> Any:
        """Every string inside nested dicts, lists and tuples (lists come back)."""
        if isinstance(data, str):
            return self(data)
        if isinstance(data, dict):
            return {key: self.data(item) for key, item in data.items()}
        if isinstance(data, list | tuple):
            return [self.data(item) for item in data]
        return data


def redact(text: str, extra: Iterable[str] = (), env: Mapping[str, str] | None = None) -> str:
    """Replace every known secret value and token shape in ``text`` with ``[REDACTED:...]``."""
    if not text:
        return text
    return _apply(text, _secret_map(extra, env))


def redact_data(data: Any, extra: Iterable[str] = (), env: Mapping[str, str] | None = None) -> Any:
    """``redact`` applied to every string inside nested dicts and lists."""
    return Redactor(extra, env).data(data)
