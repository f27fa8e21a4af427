"""Fixtures of the views tests: the scripted LLM of the delegation tests."""

from tasks.conftest import llm

__all__ = ["llm"]
