"""Input schemas as a model needs them, not as pydantic writes them.

Every host sends our tool list with every model request, so each token in an input schema is paid
for again and again. Pydantic's JSON schemas carry a lot that tells a model nothing: an
``anyOf [T, null]`` with ``default: null`` for every optional parameter, empty-collection defaults,
``title`` keys, a nested model's own description beside the parameter's, ``minLength: 1``
on every string. This rewrites a schema
into the same contract in fewer tokens. Arguments are still validated by the tool function's
pydantic signature, so the advertised schema may be plainer than the validator, never wider in
meaning: enums, patterns, required names and upper bounds are all kept.
"""

from __future__ import annotations

from typing import Any

_EMPTY_DEFAULTS: tuple[Any, ...] = (None, [], {})


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
        if key == "title" and isinstance(value, str):
            continue  # a humanised copy of the property name
        if key == "default" and is_property and value in _EMPTY_DEFAULTS:
            continue  # an optional parameter says as much by not being required
        if key == "minLength" and value == 1:
            continue
        if key == "additionalProperties" and value is False:
            continue  # the validator refuses unknown arguments by itself
        if key in ("properties", "patternProperties", "$defs"):
            out[key] = {
                name: _slim(sub, is_property=key == "properties") for name, sub in value.items()
            }
        else:
            out[key] = _slim(value, is_property=False)
    return out


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
