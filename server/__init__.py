"""mlintern's MCP server: settings, state, toolkit composition, transports."""
