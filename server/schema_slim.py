"""Input schemas as a model needs them, not as pydantic writes them.

Every host sends our tool list with every model request, so each token in an input schema is paid
for again and again. Pydantic's JSON schemas carry a lot that tells a model nothing: an
``anyOf [T, null]`` with ``default: null`` for every optional parameter, empty-collection defaults,
``title`` keys, a nested model's own description beside the parameter's, lower bounds
(``minLength``, ``minItems``, and ``minimum`` beside a default or at 0), ``"type": "string"`` beside an enum of strings,
``default: false`` on every flag. This rewrites a schema
into the same contract in fewer tokens. Arguments are still validated by the tool function's
pydantic signature, so the advertised schema may be plainer than the validator, never wider in
meaning: enums, patterns, required names and upper bounds are all kept. What goes is what a model
assumes anyway (a count is not negative, a flag is off unless set).
"""

from __future__ import annotations

from typing import Any

_EMPTY_DEFAULTS: tuple[Any, ...] = (None, [], {}, "")


def slim_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of an input schema with the same meaning and fewer tokens."""
    return _slim(schema, is_property=False)


def _slim(node: Any, *, is_property: bool) -> Any:
    if isinstance(node, list):
        return [_slim(item, is_property=False) for item in node]
    if not isinstance(node, dict):
        return node
    node = _drop_null_branch(node)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if _says_nothing(key, value, node, is_property=is_property):
            continue
        if key in ("properties", "patternProperties", "$defs"):
            out[key] = {
                name: _slim(sub, is_property=key == "properties") for name, sub in value.items()
            }
        else:
            out[key] = _slim(value, is_property=False)
    return out


def _says_nothing(key: str, value: Any, node: dict[str, Any], *, is_property: bool) -> bool:
    """Whether ``node[key]`` tells a model nothing it would not assume anyway."""
    if key == "title":
        return isinstance(value, str)  # a humanised copy of the property name
    if key in ("minLength", "minItems"):
        return True  # too short is refused with a clear message anyway; the ceiling stays
    if key == "additionalProperties":
        return value is False  # the validator refuses unknown arguments by itself
    if key == "type" and value == "string":
        enum = node.get("enum")  # an enum of strings says it
        return isinstance(enum, list) and bool(enum) and all(isinstance(e, str) for e in enum)
    if key == "minimum" and node.get("type") in ("integer", "number"):
        # Counts start at 0, and an optional number's default shows its scale; the floor is
        # still checked by the validator.
        return value == 0 or node.get("default") is not None
    if key != "default":
        return False
    if value is False:
        return node.get("type") == "boolean"  # a flag is off unless set
    if value == 0 and _is_count(node):
        return True  # offsets start at 0
    # An optional parameter says as much by not being required.
    return is_property and any(value == e and type(value) is type(e) for e in _EMPTY_DEFAULTS)


def _is_count(node: dict[str, Any]) -> bool:
    """An integer whose floor is 0 (and whose default, if any, is that floor)."""
    return (
        node.get("type") == "integer" and node.get("minimum") == 0 and node.get("default", 0) == 0
    )


def _drop_null_branch(node: dict[str, Any]) -> dict[str, Any]:
    """``{"anyOf": [T, {"type": "null"}], ...}`` becomes T merged with the rest of the node.

    The parameter stays optional (it is not in ``required``); the one thing lost is that a model
    may send an explicit null, which the validator still accepts.
    """
    branches = node.get("anyOf")
    if not isinstance(branches, list):
        return node
    kept = [b for b in branches if b != {"type": "null"}]
    if len(kept) != 1 or len(kept) == len(branches) or not isinstance(kept[0], dict):
        return node
    merged = {k: v for k, v in node.items() if k != "anyOf"}
    inner = dict(kept[0])
    if "description" in merged:
        inner.pop("description", None)  # the parameter's own words win over its type's
    return {**inner, **merged}
