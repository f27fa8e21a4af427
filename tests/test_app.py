"""Server composition details: request-state sealing for approvals."""

from __future__ import annotations

import pytest
from mcp.server.request_state import InvalidRequestState
from pydantic import SecretStr

from server.app import request_state_security
from server.settings import Settings


def test_approvals_may_take_longer_than_the_sdk_default(settings: Settings) -> None:
    policy = request_state_security(settings)
    assert policy.ttl == 3600.0  # a person answering after lunch still resumes the run
    settings.approval_ttl_s = 120
    assert request_state_security(settings).ttl == 120


def test_replicas_with_one_key_accept_each_others_sealed_state(settings: Settings) -> None:
    settings.request_state_key = SecretStr("k" * 32)
    first, second = request_state_security(settings), request_state_security(settings)
    sealed = first.codec.seal(b"run r-123")
    assert second.codec.unseal(sealed) == b"run r-123"
    settings.request_state_key = None
    with pytest.raises(InvalidRequestState):
        request_state_security(settings).codec.unseal(sealed)
