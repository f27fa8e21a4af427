"""The bundled agent (mlintern-agent): an LLM loop over MCP tools."""
