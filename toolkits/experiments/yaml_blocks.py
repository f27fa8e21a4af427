"""Fenced ```yaml blocks of a Markdown file, loaded with the line of every key kept.

People write preferences.md; the tool reads only its YAML blocks. Every error must name the
line in the Markdown file, so mappings are loaded as ``LineDict`` (a dict that remembers the
file line of itself and of each key) and lists as ``LineList``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from server.errors import UserError

_FENCE_OPEN = re.compile(r"^\s*(?P<fence>`{3,}|~{3,})\s*(?P<lang>[A-Za-z0-9_+-]*)")


class LineDict(dict):
    """A mapping that knows its file line and the line of each key."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = 0
        self.key_lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list):
    line: int = 0


@dataclass
class YamlBlock:
    first_line: int  # file line of the block's first content line (1-based)
    text: str


class PreferencesError(UserError):
    def __init__(self, origin: str, line: int | None, problem: str):
        where = f"{origin}:{line}" if line else origin
        super().__init__(f"{where}: {problem}")
        self.line = line


def yaml_blocks(markdown: str, origin: str) -> list[YamlBlock]:
    blocks: list[YamlBlock] = []
    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        match = _FENCE_OPEN.match(lines[index])
        if not match:
            index += 1
            continue
        fence, lang = match["fence"], match["lang"].lower()
        opened_at = index + 1
        body: list[str] = []
        index += 1
        while index < len(lines) and not lines[index].strip().startswith(fence):
            body.append(lines[index])
            index += 1
        if index >= len(lines):
            raise PreferencesError(
                origin, opened_at, f"code block opened here is never closed; add a {fence} line"
            )
        index += 1
        if lang in ("yaml", "yml"):
            blocks.append(YamlBlock(first_line=opened_at + 1, text="\n".join(body)))
    return blocks


def load_block(block: YamlBlock, origin: str) -> Any:
    loader = _LineLoader(block.text)
    loader.first_line = block.first_line
    loader.origin = origin
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = block.first_line + mark.line if mark else block.first_line
        problem = exc.problem or exc.context or "invalid YAML"
        raise PreferencesError(
            origin, line, f"YAML error: {problem}. Check indentation and quoting on this line."
        ) from None
    finally:
        loader.dispose()


class _LineLoader(yaml.SafeLoader):
    first_line = 1
    origin = "preferences"


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    result = LineDict()
    result.line = loader.first_line + node.start_mark.line
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = loader.first_line + key_node.start_mark.line
        if key in result:
            raise PreferencesError(loader.origin, line, f"key {key!r} appears twice; keep one")
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = loader.first_line + node.start_mark.line
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
