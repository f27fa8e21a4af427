"""A locked-down DuckDB connection over one dataset's files.

Each split becomes a view named after it, and ``data`` is the selected split. After the views
exist, external access is switched off except for exactly those files and the configuration is
locked: SQL sent by a model can read the dataset and nothing else on this machine, cannot
install extensions (no network), and cannot undo those settings.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from server.errors import UserError
from server.extras import require
from server.roots import Roots
from server.settings import Settings
from toolkits.datasets.sources import SplitFiles

if TYPE_CHECKING:
    import duckdb


def require_duckdb() -> Any:
    return require("duckdb", "The datasets tools")


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _file_list(split: SplitFiles) -> str:
    return "[" + ", ".join(literal(str(f)) for f in split.files) + "]"


def relation_sql(split: SplitFiles, arrow_name: str | None = None) -> str:
    """The FROM-clause that reads ``split``."""
    compression = f", compression = {literal(split.compression)}" if split.compression else ""
    if split.format == "parquet":
        return f"read_parquet({_file_list(split)}, union_by_name = true)"
    if split.format == "csv":
        return f"read_csv({_file_list(split)}, union_by_name = true{compression})"
    if split.format == "json":
        return f"read_json_auto({_file_list(split)}, union_by_name = true{compression})"
    if split.format == "arrow" and arrow_name:
        return ident(arrow_name)
    raise AssertionError(f"no reader for {split.format}")


def _arrow_table(split: SplitFiles) -> Any:
    """Memory-mapped Arrow tables: opening them reads batch headers, not the data."""
    pa = require("pyarrow", "Reading Arrow files")
    ipc = require("pyarrow.ipc", "Reading Arrow files")

    tables = []
    for path in split.files:
        source = pa.memory_map(str(path))
        try:
            tables.append(ipc.open_file(source).read_all())
        except pa.ArrowInvalid:  # `datasets` writes the streaming variant
            source.seek(0)
            tables.append(ipc.open_stream(source).read_all())
    return pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]


def _bounded_config(settings: Settings) -> dict[str, Any]:
    """One query may not exhaust the server: memory, threads and spill space are capped, and
    spills go to a folder of ours instead of a path relative to the server's cwd."""
    spill = settings.home / "cache" / "duckdb-spill"
    spill.mkdir(parents=True, exist_ok=True, mode=0o700)
    return {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "memory_limit": f"{settings.datasets_memory_limit_mb}MB",
        "threads": settings.datasets_threads,
        "temp_directory": str(spill),
        "max_temp_directory_size": f"{settings.datasets_spill_max_mb}MB",
    }


class DatasetConnection:
    """Views over the splits; ``tables`` lists the names SQL may use.

    With ``roots``, every file is opened and vetted first and DuckDB reads it through its
    /proc/self/fd path (``self.splits``), so a file swapped or symlinked after the check is
    never the one read. Files the server wrote itself (the Hub parquet cache) need no roots.
    """

    def __init__(
        self,
        splits: dict[str, SplitFiles],
        selected: str,
        settings: Settings,
        roots: Roots | None = None,
    ):
        duckdb = require_duckdb()
        self._pins = contextlib.ExitStack()
        if roots is not None:
            try:
                splits = {
                    name: replace(split, files=[roots.pin(f, self._pins) for f in split.files])
                    for name, split in splits.items()
                }
            except BaseException:
                self._pins.close()
                raise
        self.splits = splits
        self.con: duckdb.DuckDBPyConnection = duckdb.connect(config=_bounded_config(settings))
        self.arrow: dict[str, Any] = {}  # keep registered tables alive with the connection
        self.row_counts: dict[str, int] = {}
        try:
            for index, (name, split) in enumerate(splits.items()):
                arrow_name = None
                if split.format == "arrow":
                    arrow_name = f"__arrow_{index}"
                    self.arrow[name] = _arrow_table(split)
                    self.row_counts[name] = self.arrow[name].num_rows
                    self.con.register(arrow_name, self.arrow[name])
                source = relation_sql(split, arrow_name)
                self.con.execute(f"CREATE VIEW {ident(name)} AS SELECT * FROM {source}")
                if name == selected:
                    self.con.execute(f"CREATE VIEW data AS SELECT * FROM {ident(name)}")
            files = [str(f) for split in splits.values() for f in split.files]
            self.con.execute(f"SET allowed_paths = [{', '.join(literal(f) for f in files)}]")
            self.con.execute("SET enable_external_access = false")
            self.con.execute("SET lock_configuration = true")
        except (
            duckdb.Error,
            OSError,
            ValueError,
        ) as exc:  # pyarrow's errors are OSError/ValueError
            self.close()
            raise UserError(f"DuckDB cannot read this dataset: {first_line(exc)}") from None
        self.tables = ["data", *splits]

    def close(self) -> None:
        self.con.close()
        self.arrow.clear()
        self._pins.close()

    def __enter__(self) -> DatasetConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def time_limit(self, seconds: float, what: str) -> Iterator[None]:
        """Interrupt the running statement after ``seconds`` and say so clearly."""
        duckdb = require_duckdb()
        timer = threading.Timer(seconds, self.con.interrupt)
        timer.daemon = True
        timer.start()
        try:
            yield
        except duckdb.InterruptException:
            raise UserError(
                f"{what} was stopped at the {seconds:g}s time limit. Narrow it (a WHERE filter, "
                f"fewer columns, a LIMIT), or raise MLINTERN_DATASETS_QUERY_TIMEOUT_S."
            ) from None
        finally:
            timer.cancel()

    def fetch(self, sql: str) -> tuple[list[str], list[str], list[tuple[Any, ...]]]:
        cursor = self.con.execute(sql)
        description = cursor.description or []
        columns = [d[0] for d in description]
        types = [str(d[1]) for d in description]
        return columns, types, cursor.fetchall()


def first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
