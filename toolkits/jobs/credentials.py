"""Which secrets a job gets, and which values must be scrubbed from what it prints.

A job receives no credential of the server unless the caller names it in ``secrets``. Only
names are stored; values are looked up when the job starts and again when its log is read (to
redact them), so no secret value is ever written to the state file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from server.child_env import child_environment
from server.errors import UserError
from server.redact import is_secret_name, redact
from server.settings import Settings

# The credentials Settings holds under their conventional names (they may come from .env,
# where os.environ would not see them).
_SETTINGS_SECRETS = {
    "HF_TOKEN": "hf_token",
    "GITHUB_TOKEN": "github_token",
    "E2B_API_KEY": "e2b_api_key",
}
_RESERVED_PREFIX = "MLINTERN_"


def _settings_value(settings: Settings, name: str) -> str | None:
    field = _SETTINGS_SECRETS.get(name)
    secret = getattr(settings, field, None) if field else None
    return secret.get_secret_value() if secret is not None else None


def available_secret_names(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> list[str]:
    environ = os.environ if environ is None else environ
    names = {n for n in environ if is_secret_name(n) and not n.startswith(_RESERVED_PREFIX)}
    names |= {n for n in _SETTINGS_SECRETS if _settings_value(settings, n)}
    return sorted(names)


def resolve_secrets(
    names: Iterable[str], settings: Settings, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Values of the named server secrets; a clear error for any that is not set."""
    environ = os.environ if environ is None else environ
    values: dict[str, str] = {}
    missing: list[str] = []
    for name in names:
        if name.startswith(_RESERVED_PREFIX):
            raise UserError(
                f"{name} is the server's own setting and is never passed to jobs. Remove it "
                "from secrets."
            )
        value = environ.get(name) or _settings_value(settings, name)
        if value:
            values[name] = value
        else:
            missing.append(name)
    if missing:
        known = ", ".join(available_secret_names(settings, environ)) or "none"
        raise UserError(
            f"Secret(s) not set on the server: {', '.join(missing)}. Export them in the "
            f"environment of mlintern-server (or its .env) and restart it, or drop them from "
            f"secrets. Secrets the server has: {known}."
        )
    return values


def check_plain_env(env: Mapping[str, str]) -> None:
    """Plain env is stored with the job, so it must not carry credentials or our settings."""
    for name in env:
        if name.startswith(_RESERVED_PREFIX):
            raise UserError(
                f"env {name}: MLINTERN_* variables are set by mlintern itself (job id, job dir, "
                "metrics dir, config file). Choose another name."
            )
        if is_secret_name(name):
            raise UserError(
                f"env {name} looks like a credential. Pass credentials by name with "
                f"secrets=[{name!r}] (the server supplies the value, which then never appears in "
                "state or logs)."
            )


def base_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What a job starts from: the allow-listed part of the server's environment
    (server/child_env.py); the job's own env and named secrets are added on top."""
    return child_environment(environ=environ)


def values_to_redact(secret_names: Iterable[str], settings: Settings) -> list[str]:
    """Every secret value a job's output might echo: the ones it was given and the server's."""
    values = [os.environ.get(name) or _settings_value(settings, name) for name in secret_names]
    values += [_settings_value(settings, name) for name in _SETTINGS_SECRETS]
    if settings.auth_token is not None:
        values.append(settings.auth_token.get_secret_value())
    return [v for v in values if v]


def redact_job_text(text: str, secret_names: Iterable[str], settings: Settings) -> str:
    return redact(text, values_to_redact(secret_names, settings))
