"""The errors a caller can act on.

Plain toolkit functions raise ``UserError`` (no MCP import needed); the MCP layer turns it into
a tool error the model sees. Any other exception is a bug: logged with its traceback and
reported as an internal error while the server keeps serving.
"""

from __future__ import annotations


class UserError(Exception):
    """Something the caller can fix. The message must say what to do next."""


class NotFoundError(UserError):
    """A handle (job id, sandbox id, plan id, ...) that does not exist."""


class MissingCredentialError(UserError):
    """A token that a tool needs is not configured."""

    def __init__(self, variable: str, purpose: str, flag: str | None = None):
        hint = f"export {variable}=..." + (f" or pass {flag}" if flag else "")
        super().__init__(f"{variable} is not set: {purpose} needs it. Fix: {hint}.")
        self.variable = variable
