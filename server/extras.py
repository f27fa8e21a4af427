"""Optional dependencies: one import helper so a missing package is an actionable error.

Everything the embedded defaults need (DuckDB, pyarrow, numpy, matplotlib, ruamel.yaml,
TensorBoard's event protos) is a core dependency; the extras hold what is heavy or optional.
A toolkit that imports one of them goes through ``require`` so the model (and the person) reads
which extra to install instead of an internal error.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from server.errors import UserError

# module -> (extra that provides it, pip package name)
OPTIONAL_MODULES: dict[str, tuple[str, str]] = {
    "torch": ("train", "torch"),
    "ray": ("ray", "ray[default]"),
    "trackio": ("trackio", "trackio"),
}
# Core dependencies: importable on any correct install; listed so a broken one says what to do.
CORE_MODULES: dict[str, str] = {
    "duckdb": "duckdb",
    "pyarrow": "pyarrow",
    "numpy": "numpy",
    "matplotlib": "matplotlib",
    "ruamel.yaml": "ruamel.yaml",
    "tensorboard": "tensorboard",
}


def install_hint(module: str) -> str:
    top = module.split(".")[0]
    if top in OPTIONAL_MODULES:
        extra, package = OPTIONAL_MODULES[top]
        return f"pip install 'mlintern[{extra}]' (or: pip install '{package}')"
    package = CORE_MODULES.get(module) or CORE_MODULES.get(top) or top
    return (
        f"pip install '{package}' (a core dependency of mlintern; reinstall with pip install -e .)"
    )


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise a UserError naming what needs it and how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(
            f"{purpose} needs the Python package '{module}': {install_hint(module)}."
        ) from None


def missing_module_message(exc: ModuleNotFoundError) -> str:
    """The sentence for an import that failed deep inside a toolkit."""
    module = exc.name or "a module"
    return f"needs the Python package '{module}', which is not installed: {install_hint(module)}."
