"""Notebook rendering on its own: formats GitHub serves, and code that contains fences."""

from __future__ import annotations

import json

from toolkits.github import core


def test_nbformat_3_worksheets_and_headings() -> None:
    notebook = {
        "nbformat": 3,
        "metadata": {},
        "worksheets": [
            {
                "cells": [
                    {"cell_type": "heading", "level": 2, "source": ["Setup"]},
                    {"cell_type": "code", "input": ["import torch"], "outputs": [{"text": "x"}]},
                ]
            }
        ],
    }
    markdown = core.notebook_to_markdown(json.dumps(notebook))
    assert markdown == (
        "<!-- notebook: 2 cells; 1 outputs omitted -->\n\n## Setup\n\n```python\nimport torch\n```\n"
    )


def test_code_with_backticks_gets_a_longer_fence_and_kernel_language() -> None:
    source = 'doc = """\n```bash\npip install trl\n```\n"""'
    notebook = {
        "metadata": {"language_info": {"name": "julia"}},
        "cells": [{"cell_type": "code", "source": source, "outputs": []}],
    }
    markdown = core.notebook_to_markdown(json.dumps(notebook)) or ""
    assert f"````julia\n{source}\n````" in markdown


def test_not_a_notebook_is_none() -> None:
    assert core.notebook_to_markdown("{ not json") is None
    assert core.notebook_to_markdown("[1, 2]") is None
    assert core.notebook_to_markdown('{"cells": "nope"}') is None
