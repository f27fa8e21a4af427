"""Input schemas as a model needs them, not as pydantic writes them.

Every host sends our tool list with every model request, so each token in an input schema is paid
for again and again. Pydantic's JSON schemas carry a lot that tells a model nothing: an
``anyOf [T, null]`` with ``default: null`` for every optional parameter, empty-collection defaults,
``title`` keys, a nested model's own description beside the parameter's, lower bounds
(``minLength``, ``minItems``, and ``minimum`` beside a default or at 0), ``"type": "string"`` beside an enum of strings,
``default: false`` on every flag. This rewrites a schema
into the same contract in fewer tokens. Arguments are still validated by the tool function's
pydantic signature, so the advertised schema may be plainer than the validator, never wider in
meaning: enums, required names and upper bounds are all kept (regex patterns on identifiers are
not: the name says the shape, and the validator's message quotes the pattern). What goes is what a model
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
    node = _merge_scalar_union(_keys_by_name_only(_drop_null_branch(node)))
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
    if key == "pattern":
        # Identifier shapes (env names, flavors, label keys): a model writes them right from
        # the name, and a wrong one is refused with the pattern in the message.
        return True
    if key == "maxLength" and isinstance(node.get("enum"), list):
        return True  # the enum's values bound it
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


_TYPE_KEYWORDS = {
    "string": ("maxLength", "pattern"),
    "number": ("maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum"),
    "array": ("items", "maxItems"),
    "boolean": (),
    "null": (),
}


def _merge_scalar_union(node: dict[str, Any]) -> dict[str, Any]:
    """``anyOf`` over plain types (bool | int | float | str | list[float] | None, a config
    value) becomes one node with a ``type`` list: JSON Schema applies ``maxLength`` to strings
    only, ``maximum`` to numbers only and ``items`` to arrays only, so the bounds all stay.
    An integer branch folds into a number branch (the validator still tells them apart)."""
    branches = node.get("anyOf")
    if not isinstance(branches, list) or len(branches) < 2:
        return node
    if not all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in branches):
        return node
    by_type = {b["type"]: b for b in branches}
    if "integer" in by_type and "number" in by_type:
        del by_type["integer"]
    if len(by_type) < 2 or any(
        kind not in _TYPE_KEYWORDS or set(b) - {"type", *_TYPE_KEYWORDS[kind]}
        for kind, b in by_type.items()
    ):
        return node  # something a type list cannot say (an object, a format, a description)
    merged: dict[str, Any] = {"type": list(by_type)}
    for b in by_type.values():
        merged.update({k: v for k, v in b.items() if k != "type"})
    return {**merged, **{k: v for k, v in node.items() if k != "anyOf"}}


def _keys_by_name_only(node: dict[str, Any]) -> dict[str, Any]:
    """``patternProperties: {<key regex>: T}`` says "a map to T"; with the key pattern dropped
    (see ``pattern`` above) that is ``additionalProperties: T``. Key lengths stay bounded by
    ``propertyNames`` and the count by ``maxProperties``."""
    pattern_props = node.get("patternProperties")
    if not isinstance(pattern_props, dict) or len(pattern_props) != 1:
        return node
    if "additionalProperties" in node and node["additionalProperties"] is not False:
        return node
    rest = {k: v for k, v in node.items() if k not in ("patternProperties", "additionalProperties")}
    return {**rest, "additionalProperties": next(iter(pattern_props.values()))}
