"""The GitHub toolkit's plain functions and result models (no MCP), for the MCP layer and tests."""

from toolkits.github.client import Progress, explain_failure, open_github
from toolkits.github.examples import ExampleFile, ExampleList, find_examples, rank_examples
from toolkits.github.files import FileWindow, read_file
from toolkits.github.notebook import notebook_to_markdown
from toolkits.github.repos import RepoList, RepoSort, RepoSummary, list_repos, parse_repo
from toolkits.github.search import CodeHit, CodeSearchResult, search_code

__all__ = [
    "CodeHit",
    "CodeSearchResult",
    "ExampleFile",
    "ExampleList",
    "FileWindow",
    "Progress",
    "RepoList",
    "RepoSort",
    "RepoSummary",
    "explain_failure",
    "find_examples",
    "list_repos",
    "notebook_to_markdown",
    "open_github",
    "parse_repo",
    "rank_examples",
    "read_file",
    "search_code",
]
