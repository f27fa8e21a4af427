"""Where a dataset's rows live: local files and folders sorted into splits.

Recognised: parquet, CSV/TSV, JSON Lines / JSON, Arrow (IPC file or stream, as written by
``datasets``), a ``save_to_disk`` folder (Dataset or DatasetDict), and any folder of such files
whose names or sub-folders say the split (train, validation, test...), as the Hub lays them out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from server.errors import NotFoundError, UserError
from server.roots import Roots

FORMATS = {
    ".parquet": "parquet",
    ".csv": "csv",
    ".tsv": "csv",
    ".jsonl": "json",
    ".ndjson": "json",
    ".json": "json",
    ".arrow": "arrow",
    ".feather": "arrow",
}
COMPRESSION = (".gz", ".zst", ".bz2", ".xz")
# DuckDB is handed /proc/self/fd paths (see engine.py), which carry no suffix to guess from.
DUCKDB_COMPRESSION = {".gz": "gzip", ".zst": "zstd"}
# Each file is held open while its dataset is read: keep well under the process's fd limit.
MAX_FILES = 4_096
METADATA_MAX_BYTES = 4 * 1024 * 1024
SPLIT_WORDS = {
    "train": "train",
    "training": "train",
    "validation": "validation",
    "valid": "validation",
    "val": "validation",
    "dev": "validation",
    "test": "test",
    "testing": "test",
    "eval": "test",
}
SPLIT_ORDER = ["train", "validation", "test"]
_SPLIT_PATTERN = re.compile(
    r"(?:^|[/_.\-])(" + "|".join(sorted(SPLIT_WORDS, key=len, reverse=True)) + r")(?=$|[/_.\-\d])"
)


@dataclass
class SplitFiles:
    name: str
    format: str
    files: list[Path]
    compression: str | None = None

    @property
    def bytes(self) -> int:
        return sum(f.stat().st_size for f in self.files)


@dataclass
class LocalDataset:
    root: Path
    format: str
    splits: dict[str, SplitFiles]
    notes: list[str] = field(default_factory=list)


def looks_local(dataset: str) -> bool:
    """A path (absolute, relative with ./ or ~, existing, or with a data-file suffix)."""
    if dataset.startswith(("/", "./", "../", "~", ".\\")):
        return True
    if Path(dataset).expanduser().exists():
        return True
    return file_format(Path(dataset)) is not None


def file_format(path: Path) -> str | None:
    name = path.name.lower()
    for suffix in COMPRESSION:
        name = name.removesuffix(suffix)
    return FORMATS.get(Path(name).suffix)


def compression_of(path: Path) -> str | None:
    return DUCKDB_COMPRESSION.get(path.suffix.lower())


def resolve_local(dataset: str, roots: Roots) -> LocalDataset:
    """The dataset at ``dataset``, which must lie inside an allowed root (server/roots.py)."""
    root = roots.check(dataset, what="dataset path")
    if not root.exists():
        raise NotFoundError(
            f"No such file or folder: {dataset}. Give a path to a parquet/CSV/JSONL/Arrow file or "
            f"a dataset folder, or a Hub id like 'stanfordnlp/imdb'."
        )
    if not root.is_dir():  # a file, or a special file the reader refuses below
        kind = file_format(root)
        if kind is None:
            raise UserError(
                f"{root.name} is not a data file this tool reads (parquet, csv, tsv, jsonl, json, "
                f"arrow, feather, optionally .gz/.zst)."
            )
        split = SplitFiles("train", kind, [root], compression_of(root))
        return LocalDataset(root, kind, {"train": split})
    if (root / "dataset_dict.json").is_file():
        return _saved_dataset_dict(root, roots)
    if (root / "state.json").is_file():
        split = _saved_dataset(root, roots)
        return LocalDataset(root, "arrow", {split.name: split})
    return _folder_of_files(root, roots)


def _read_json(path: Path, roots: Roots) -> dict:
    data = json.loads(roots.read_text(path, limit=METADATA_MAX_BYTES, what="dataset metadata"))
    if not isinstance(data, dict):
        raise UserError(f"{path} is not a JSON object.")
    return data


def _saved_dataset(folder: Path, roots: Roots, name: str | None = None) -> SplitFiles:
    state = _read_json(folder / "state.json", roots)
    # File names come from the folder's own metadata: they must stay inside it.
    files = [roots.check(folder / item["filename"]) for item in state.get("_data_files", [])]
    if not files:
        files = sorted(folder.glob("*.arrow"))
    missing = [f.name for f in files if not f.is_file()]
    if missing or not files:
        raise UserError(
            f"{folder} looks like a save_to_disk folder but its Arrow files are missing."
        )
    return SplitFiles(name or state.get("_split") or "train", "arrow", files)


def _saved_dataset_dict(root: Path, roots: Roots) -> LocalDataset:
    names = _read_json(root / "dataset_dict.json", roots).get("splits", [])
    splits = {name: _saved_dataset(roots.check(root / name), roots, name) for name in names}
    if not splits:
        raise UserError(f"{root}/dataset_dict.json lists no splits.")
    return LocalDataset(root, "arrow", splits)


def _folder_of_files(root: Path, roots: Roots) -> LocalDataset:
    found: dict[str, list[Path]] = {}
    for path in roots.walk_files(root, max_files=MAX_FILES + 1):
        relative = path.relative_to(root)
        kind = file_format(path)
        if kind is None or any(part.startswith(".") for part in relative.parts):
            continue
        found.setdefault(kind, []).append(path)
        if sum(len(paths) for paths in found.values()) > MAX_FILES:
            raise UserError(
                f"{root} holds more than {MAX_FILES} data files; point at a sub-folder."
            )
    if not found:
        raise UserError(f"No data files (parquet, csv, jsonl, json, arrow) under {root}.")
    # One format per dataset: the one holding most bytes; others are named in a note.
    kind = max(found, key=lambda k: sum(p.stat().st_size for p in found[k]))
    notes = [f"ignored {len(found[k])} {k} file(s)" for k in found if k != kind]
    splits: dict[str, list[Path]] = {}
    for path in found[kind]:
        splits.setdefault(split_of(path.relative_to(root).as_posix()), []).append(path)
    ordered = sorted(splits, key=lambda name: (SPLIT_ORDER.index(name), name))
    compression = compression_of(found[kind][0])
    chosen = {n: SplitFiles(n, kind, splits[n], compression) for n in ordered}
    return LocalDataset(root, kind, chosen, notes)


def split_of(relative_path: str) -> str:
    """The split a file belongs to, from its path ('data/test-00000-of-00001.parquet' -> test)."""
    match = _SPLIT_PATTERN.search(relative_path.lower())
    return SPLIT_WORDS[match.group(1)] if match else "train"


def pick_split(available: list[str], wanted: str | None, what: str) -> str:
    if wanted is not None:
        if wanted not in available:
            raise NotFoundError(f"No split {wanted!r} in {what}. Splits: {', '.join(available)}.")
        return wanted
    return "train" if "train" in available else available[0]
