"""Sharing a session privately: its trace, redacted again, uploaded to a Hugging Face dataset.

``mlintern-agent share SESSION``, ``/share`` in an interactive session, or the config switch
``share.at_session_end`` upload ``sessions/<id>.jsonl`` in the Claude Code transcript layout
(agent/trace_export.py), which the Hub's agent-trace viewer renders, to
``<user>/mlintern-sessions`` (the user from the token's whoami) or the configured repo.

Private unless the person says otherwise, twice: a public share needs a repo named on the
command line *and* ``--public``. The config has no way to ask for it, the model has no tool that
shares, and a repo that turns out to be public is refused for a private share. Every line passes
``server.redact`` (credential-shaped text, the values of credential variables, the config's
keys and headers, the Hub token itself) right before upload, whatever the file on disk holds.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent.config import REPO_ID_PATTERN
from server.errors import UserError
from server.redact import redact_data

if TYPE_CHECKING:
    from agent.config import AgentConfig
    from agent.sessions import SessionStore
    from server.settings import Settings

DEFAULT_DATASET = "mlintern-sessions"


@dataclass(frozen=True)
class ShareRequest:
    session_id: str
    repo: str | None = None  # "namespace/name"; default "<user>/mlintern-sessions"
    public: bool = False  # only from a person's --public next to an explicit repo


@dataclass(frozen=True)
class ShareResult:
    session_id: str
    repo_id: str
    path_in_repo: str
    url: str
    private: bool
    lines: int

    def describe(self) -> str:
        where = "private" if self.private else "PUBLIC"
        return (
            f"Shared session {self.session_id} ({self.lines} lines) to the {where} dataset "
            f"{self.repo_id} as {self.path_in_repo}: {self.url}"
        )


def resolve_token(settings: Settings) -> str:
    """The Hub token: HF_TOKEN / MLINTERN_HF_TOKEN, else the one ``hf auth login`` stored."""
    from toolkits._hf.client import hub_token, hub_url

    token = hub_token(settings)
    if not token:
        from huggingface_hub import get_token

        token = get_token()
    if not token:
        raise UserError(
            "Sharing a session uploads it to your Hugging Face account, and no token is set. "
            "Log in with `hf auth login` (a token with write access), or export HF_TOKEN=hf_... "
            f"(create one at {hub_url(settings)}/settings/tokens), then share again."
        )
    return token


def trace_bytes(store: SessionStore, session_id: str, secrets: tuple[str, ...]) -> tuple[bytes, int]:  # fmt: skip
    """The session as redacted Claude Code JSONL, and its number of lines."""
    from agent.trace_export import claude_code_lines

    lines = claude_code_lines(store.records(session_id), session_id)
    if not lines:
        raise UserError(f"Session {session_id} has no conversation yet: nothing to share.")
    text = "".join(json.dumps(redact_data(line, secrets), ensure_ascii=False) + "\n" for line in lines)  # fmt: skip
    return text.encode(), len(lines)


def share_session(
    store: SessionStore,
    request: ShareRequest,
    *,
    settings: Settings | None = None,
    secrets: tuple[str, ...] = (),
) -> ShareResult:
    """Upload one session; raises ``UserError`` with what to do when it cannot."""
    from pydantic import SecretStr

    from server.settings import Settings
    from toolkits._hf.calls import call_hub
    from toolkits._hf.client import hub_api, hub_url

    if request.public and not request.repo:
        raise UserError(
            "A public share needs the repo named explicitly: --repo NAMESPACE/NAME --public."
        )
    if request.repo is not None and not re.fullmatch(REPO_ID_PATTERN, request.repo):
        raise UserError(f"{request.repo!r} is not a dataset id; write NAMESPACE/NAME.")
    settings = settings or Settings()
    token = resolve_token(settings)
    payload, count = trace_bytes(store, request.session_id, (*secrets, token))
    settings = settings.model_copy(update={"hf_token": SecretStr(token)})
    api = hub_api(settings)
    repo_id = request.repo
    if repo_id is None:
        user = call_hub(settings, lambda: api.whoami(), what="asking the Hub who you are")
        repo_id = f"{user['name']}/{DEFAULT_DATASET}"
    visibility = "public" if request.public else "private"
    call_hub(
        settings,
        lambda: api.create_repo(repo_id, repo_type="dataset", visibility=visibility, exist_ok=True),
        what=f"creating the dataset {repo_id}",
        write=True,
    )
    info = call_hub(
        settings,
        lambda: api.dataset_info(repo_id),
        what=f"checking the dataset {repo_id}",
    )
    private = bool(getattr(info, "private", False))
    if not private and not request.public:
        raise UserError(
            f"The dataset {repo_id} is public, so the session was not uploaded there. Make it "
            "private on the Hub, name another dataset (--repo, or share.repo in the config), "
            "or, to publish on purpose, run: mlintern-agent share SESSION --repo "
            f"{repo_id} --public."
        )
    path = f"sessions/{request.session_id}.jsonl"
    call_hub(
        settings,
        lambda: api.upload_file(
            path_or_fileobj=payload,
            path_in_repo=path,
            repo_id=repo_id,
            repo_type="dataset",
            commit_message=f"mlintern session {request.session_id}",
        ),
        what=f"uploading session {request.session_id} to {repo_id}",
        write=True,
    )
    url = f"{hub_url(settings)}/datasets/{repo_id}/blob/main/{path}"
    return ShareResult(request.session_id, repo_id, path, url, private, count)


def share_at_session_end(config: AgentConfig, session_id: str | None, home: Any) -> None:
    """The config switch ``share.at_session_end``: upload privately, report on stderr, and never
    fail the run that just ended over it."""
    if not config.share.at_session_end or session_id is None:
        return
    from agent.sessions import SessionStore

    store = SessionStore(home, config.secrets())
    request = ShareRequest(session_id, repo=config.share.repo)  # never public from the config
    try:
        result = share_session(store, request, secrets=tuple(config.secrets()))
    except UserError as exc:
        print(f"mlintern-agent: the session was not shared: {exc}", file=sys.stderr)
        return
    print(result.describe(), file=sys.stderr)


def main(argv: list[str]) -> int:
    """``mlintern-agent share SESSION [--repo NAMESPACE/NAME [--public]]``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="mlintern-agent share",
        description="Upload a saved session, redacted, to a private Hugging Face dataset "
        f"(default <user>/{DEFAULT_DATASET}) in the layout the Hub's trace viewer shows.",
    )
    parser.add_argument("session", help="Session id (mlintern-agent's /resume lists them)")
    parser.add_argument("--repo", help="Dataset NAMESPACE/NAME (default: share.repo, then yours)")
    parser.add_argument(
        "--public",
        action="store_true",
        help="Create the dataset public (only together with an explicit --repo)",
    )
    parser.add_argument("--config", help="Agent config JSON (for share.repo and secrets)")
    args = parser.parse_args(argv)
    from agent.config import load_config
    from agent.sessions import SessionStore
    from server.settings import Settings

    try:
        if args.public and not args.repo:
            raise UserError("--public needs --repo NAMESPACE/NAME: name the public dataset.")
        config = load_config(args.config)
        settings = Settings()
        store = SessionStore(settings.home, config.secrets())
        request = ShareRequest(args.session, args.repo or config.share.repo, args.public)
        result = share_session(store, request, settings=settings, secrets=tuple(config.secrets()))
    except UserError as exc:
        print(f"mlintern-agent share: {exc}", file=sys.stderr)
        return 2
    print(result.describe())
    return 0
