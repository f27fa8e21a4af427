"""Read and change a run's YAML/JSON config by dotted keys, keeping the user's comments.

YAML goes through ruamel.yaml's round-trip mode, so comments, key order and quoting survive an
edit; JSON keeps its key order and indentation. A key that does not exist is refused (a typo
such as ``optimizer.lrr`` must not silently add a setting the script ignores) unless the caller
asks for new keys.
"""

from __future__ import annotations

import difflib
import io
import json
import math
from pathlib import Path
from typing import Any

from server.errors import UserError
from server.extras import require
from server.roots import current as current_roots

YAML_SUFFIXES = (".yaml", ".yml")
JSON_SUFFIXES = (".json",)
LR_KEYS = (
    "optimizer.lr",
    "optim.lr",
    "lr",
    "learning_rate",
    "optimizer.learning_rate",
    "training.lr",
    "training.learning_rate",
    "train.lr",
    "train.learning_rate",
)
MAX_CONFIG_BYTES = 1_000_000


def config_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in YAML_SUFFIXES:
        return "yaml"
    if suffix in JSON_SUFFIXES:
        return "json"
    raise UserError(f"{path.name}: only YAML (.yaml/.yml) and JSON (.json) configs can be edited.")


def _read_text(path: Path) -> str:
    roots = current_roots()
    real = roots.check(path, what="config file")  # a config may hold anything: vet it first
    if not real.is_file():
        raise UserError(f"Config file {path} does not exist (was it moved or deleted?).")
    config_format(real)
    return roots.read_text(real, limit=MAX_CONFIG_BYTES, what="config file")


def load_config(path: Path) -> Any:
    """The config as plain Python data (for reading values and diffs)."""
    text = _read_text(path)
    try:
        if config_format(path) == "json":
            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    except ValueError as exc:  # yaml.YAMLError and json errors are ValueError subclasses
        raise UserError(f"Config file {path} does not parse: {exc}") from None


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """``{"optimizer": {"lr": 1}}`` -> ``{"optimizer.lr": 1}``; lists index as ``.0``."""
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out if out or not prefix else {prefix[:-1]: {}}
    if isinstance(data, list) and data and any(isinstance(v, dict | list) for v in data):
        out = {}
        for index, value in enumerate(data):
            out.update(flatten(value, f"{prefix}{index}."))
        return out
    return {prefix[:-1]: data} if prefix else {}


def get_value(data: Any, dotted: str) -> Any:
    container, key = _locate(data, dotted, create=False)
    return container[key]


def find_lr_key(data: Any, preferred: str | None) -> str | None:
    """The dotted key of the learning rate: ``preferred`` if given, else a usual spelling."""
    candidates = (preferred,) if preferred else LR_KEYS
    for key in candidates:
        try:
            value = get_value(data, key)
        except UserError:
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            return key
    return None


def edit_config(
    path: Path, changes: dict[str, Any], allow_new_keys: bool = False
) -> tuple[str, dict[str, tuple[Any, Any]]]:
    """The edited config text and ``{key: (old, new)}``; the file itself is not touched."""
    text = _read_text(path)
    if config_format(path) == "json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise UserError(f"Config file {path} does not parse: {exc}") from None
        applied = _apply(data, changes, allow_new_keys)
        indent = _json_indent(text)
        return json.dumps(data, indent=indent) + ("\n" if text.endswith("\n") else ""), applied
    yaml = _round_trip_yaml()
    try:
        data = yaml.load(text)
    except Exception as exc:  # ruamel raises its own hierarchy, not ValueError
        raise UserError(f"Config file {path} does not parse as YAML: {exc}") from None
    applied = _apply(data, changes, allow_new_keys)
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue(), applied


def _apply(data: Any, changes: dict[str, Any], allow_new_keys: bool) -> dict[str, tuple[Any, Any]]:
    applied: dict[str, tuple[Any, Any]] = {}
    for dotted, value in changes.items():
        container, key = _locate(data, dotted, create=allow_new_keys)
        old = container[key] if _has(container, key) else None
        container[key] = value
        applied[dotted] = (_plain(old), value)
    return applied


def _locate(data: Any, dotted: str, create: bool) -> tuple[Any, Any]:
    """The container holding ``dotted``'s last part, and that part as a key or index."""
    parts = [p for p in dotted.split(".") if p]
    if not parts:
        raise UserError(f"Config key {dotted!r} is empty; use dotted keys like 'optimizer.lr'.")
    node = data
    index = 0
    while True:
        # A key may itself contain dots ("lr.schedule"); the longest literal match wins.
        for end in range(len(parts), index, -1):
            key: Any = ".".join(parts[index:end])
            if isinstance(node, list) and key.lstrip("-").isdigit():
                key = int(key)
            if _has(node, key):
                if end == len(parts):
                    return node, key
                node, index = node[key], end
                break
        else:
            if create and isinstance(node, dict) and index == len(parts) - 1:
                return node, parts[index]
            raise UserError(_missing_key_message(data, dotted))


def _has(node: Any, key: Any) -> bool:
    if isinstance(node, dict):
        return key in node
    if isinstance(node, list) and isinstance(key, int):
        return -len(node) <= key < len(node)
    return False


def _missing_key_message(data: Any, dotted: str) -> str:
    known = list(flatten(data))
    close = difflib.get_close_matches(dotted, known, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return (
        f"The config has no key {dotted!r}.{hint} Existing keys include: "
        f"{', '.join(known[:15])}. Pass allow_new_keys=true to add a new key."
    )


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


def _json_indent(text: str) -> int | None:
    for line in text.splitlines()[1:]:
        stripped = line.lstrip(" ")
        if stripped and len(line) != len(stripped):
            return len(line) - len(stripped)
    return None if "\n" not in text.strip() else 2


def _round_trip_yaml():
    yaml = require("ruamel.yaml", "Editing YAML configs").YAML()
    yaml.preserve_quotes = True
    yaml.representer.add_representer(float, _represent_float)
    return yaml


def _represent_float(representer, value: float):
    # Written so YAML 1.1 readers (PyYAML) read a float back, not the text "1e-06".
    if math.isnan(value):
        text = ".nan"
    elif math.isinf(value):
        text = ".inf" if value > 0 else "-.inf"
    else:
        text = repr(value)
        mantissa, exponent_mark, exponent = text.partition("e")
        if exponent_mark:
            mantissa = mantissa if "." in mantissa else mantissa + ".0"
            exponent = exponent if exponent[0] in "+-" else "+" + exponent
            text = f"{mantissa}e{exponent}"
    return representer.represent_scalar("tag:yaml.org,2002:float", text)
