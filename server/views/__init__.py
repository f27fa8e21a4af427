"""Views: view-models built from the tools' own results (models.py), rendered by one small
vanilla-JS front-end (assets/) as MCP Apps (apps.py) and in the HTTP dashboard
(server/dashboard/)."""
