"""JSONL and CSV metrics parsed a whole chunk at a time by pyarrow's readers.

Parsing a million lines one ``json.loads`` and one ``_add_row`` at a time takes seconds; the
first read of a long run (a fresh server, the dashboard's first paint) waited on it. Here the
same rows are parsed in C++ and routed to the tags with numpy masks, with exactly the rules of
``tables._add_row`` (step and time keys chosen per row, nested objects as ``a/b``, wide and
long rows, numbers written as text). Anything that could make the two disagree — a ``null``, a
blank or malformed line, a time written as a date, a key the rules look at holding an object or
a date, wide and long rows mixed — sends the whole chunk to the line-by-line reader instead, so
this is only ever a faster way to the same result.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from toolkits.experiments.sources.tables import TableCursor

# Below this a chunk is a few appended lines: the line-by-line reader is as fast, and a quick
# incremental re-read does not pay for importing pyarrow.
BULK_FROM_BYTES = 1 << 16
MAX_LONG_TAGS = 10_000
_STEP_LIMIT = 2.0**63  # int64 steps, as the line-by-line reader's array("q") holds them
_NEVER = "\x00"  # a cell text no CSV holds


def add_jsonl_chunk(cursor: TableCursor, chunk: bytes) -> bool:
    """Append every row of ``chunk`` (complete lines) to ``cursor``; False if it must not.

    On False nothing was appended: the caller reads the chunk line by line.
    """
    if len(chunk) < BULK_FROM_BYTES or b"null" in chunk:
        return False
    table = _parse_json(chunk)
    # One row per line, or a blank line / two objects on one line was read differently.
    if table is None or table.num_rows != chunk.count(b"\n"):
        return False
    return _route(cursor, table, every_key_in_every_row=False)


def add_csv_chunk(cursor: TableCursor, chunk: bytes, delimiter: str) -> bool:
    """As ``add_jsonl_chunk``, for CSV/TSV lines (the first chunk starts with the header).

    Every CSV cell is text to the line-by-line rules, so a file of long rows (tag and value
    columns), where that matters, is left to them.
    """
    from toolkits.experiments.sources.tables import TAG_KEYS

    if len(chunk) < BULK_FROM_BYTES:
        return False
    table = _parse_csv(chunk, delimiter, cursor.header)
    if table is None:
        return False
    names = table.column_names
    rows_in_chunk = chunk.count(b"\n") - (1 if cursor.header is None else 0)
    # A blank line, a quoted line break or a repeated column name is read differently.
    if table.num_rows != rows_in_chunk or len(set(names)) != len(names):
        return False
    if "value" in names and any(key in names for key in TAG_KEYS):
        return False
    if not _route(cursor, table, every_key_in_every_row=True):
        return False
    if cursor.header is None:
        cursor.header = list(names)
    return True


def _route(cursor: TableCursor, table: pa.Table, *, every_key_in_every_row: bool) -> bool:
    """Append ``table``'s rows to the cursor's tags by the rules of ``tables._add_row``.

    ``every_key_in_every_row``: a row has every column's key even where the cell is empty (a
    CSV row), rather than only where it holds a value (a JSON object).
    """
    import numpy as np

    from toolkits.experiments.sources.tables import STEP_KEYS, TAG_KEYS, TIME_KEYS

    columns = {name: table.column(name).combine_chunks() for name in table.column_names}
    if not all(
        _scalar(columns[k]) for k in (*STEP_KEYS, *TIME_KEYS, *TAG_KEYS, "value") if k in columns
    ):
        return False
    rows = table.num_rows
    has_key = _everywhere if every_key_in_every_row else _present
    step_choice, step_numbers, _ = _chosen(columns, STEP_KEYS, rows, has_key)
    time_choice, time_numbers, times_ok = _chosen(columns, TIME_KEYS, rows, has_key)
    has_step = np.isfinite(step_numbers)
    if not times_ok or np.any(has_step & (np.abs(step_numbers) >= _STEP_LIMIT)):
        return False
    steps = np.arange(cursor.rows, cursor.rows + rows, dtype=np.int64)
    # Masked copies, not boolean indexing: one pass over a million rows instead of gathers.
    with np.errstate(invalid="ignore"):  # the cast truncates toward zero, as int() does
        np.copyto(steps, step_numbers, where=has_step, casting="unsafe")
    if np.ndim(time_numbers) == 0:  # no row has a time
        walls = np.full(rows, np.nan)
    else:  # milliseconds since the epoch, as tables.to_timestamp reads them
        walls = np.where(time_numbers > 1e11, time_numbers / 1000.0, time_numbers)
    long_tags = _long_tags(columns, TAG_KEYS, rows)
    if long_tags is False:
        return False
    if long_tags is None:
        added = _add_wide(
            cursor, columns, steps, walls, ((STEP_KEYS, step_choice), (TIME_KEYS, time_choice))
        )
    else:
        values, is_number = _numbers(columns["value"])
        added = _add_long(cursor, long_tags, is_number, values, steps, walls)
    if added:
        cursor.rows += rows
    return added


def _parse_json(chunk: bytes) -> pa.Table | None:
    import io

    import pyarrow as pa
    import pyarrow.json as pa_json

    try:
        return pa_json.read_json(io.BytesIO(chunk))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _parse_csv(chunk: bytes, delimiter: str, header: list[str] | None) -> pa.Table | None:
    import io

    import pyarrow as pa
    import pyarrow.csv as pa_csv

    # Only an empty cell is missing; no word is a boolean (to the line rules "true" is no
    # number, and "1" is one).
    convert = pa_csv.ConvertOptions(null_values=[""], true_values=[_NEVER], false_values=[_NEVER])
    try:
        return pa_csv.read_csv(
            io.BytesIO(chunk),
            read_options=pa_csv.ReadOptions(column_names=header),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter),
            convert_options=convert,
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _scalar(column: pa.Array) -> bool:
    """A number, a boolean or text: what the line-by-line rules see as such (pyarrow turns
    date-like text into timestamps and objects into structs, which those rules read apart)."""
    import pyarrow.types as t

    kind = column.type
    return t.is_integer(kind) or t.is_floating(kind) or t.is_boolean(kind) or t.is_string(kind)


def _numbers(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """``tables.to_number`` of every cell: the float64 values and where there is one."""
    import numpy as np
    import pyarrow.types as t

    from toolkits.experiments.sources.tables import to_number

    kind = column.type
    present = _present(column)
    if t.is_integer(kind) or t.is_floating(kind):
        values = column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        return values, present
    if t.is_string(kind):
        converted = [to_number(v) if v is not None else None for v in column.to_pylist()]
        is_number = np.array([v is not None for v in converted], bool)
        values = np.array([math.nan if v is None else v for v in converted], np.float64)
        return values, is_number
    return np.full(len(column), math.nan), np.zeros(len(column), bool)


def _present(column: pa.Array) -> np.ndarray:
    """Where the row has this key, read off the validity bitmap (pyarrow.compute, which
    ``is_valid`` needs, costs a fifth of a second to import)."""
    import numpy as np

    if column.null_count == 0:
        return np.ones(len(column), bool)
    bitmap = np.frombuffer(column.buffers()[0], np.uint8)
    bits = np.unpackbits(bitmap, bitorder="little")
    return bits[column.offset : column.offset + len(column)].astype(bool)


def _everywhere(column: pa.Array) -> np.ndarray:
    import numpy as np

    return np.ones(len(column), bool)


def _chosen(
    columns: dict[str, Any],
    keys: tuple[str, ...],
    rows: int,
    has_key: Callable[[pa.Array], np.ndarray],
) -> tuple[Any, Any, bool]:
    """Per row: which of ``keys`` it uses (the first present; -1: none), that key's number
    (NaN where it holds none), and False if some chosen cell is text that is not a number (a
    date, which only the line-by-line reader interprets).

    The choice and the numbers are scalars, not arrays of a million equal rows, when no key is
    there (-1, NaN) or one key is in every row (its index, its column's numbers).
    """
    import numpy as np

    found = [index for index, key in enumerate(keys) if key in columns]
    if not found:
        return np.int64(-1), np.float64(np.nan), True
    if len(found) == 1 and has_key(column := columns[keys[found[0]]]).all():
        values, is_number = _numbers(column)
        return np.int64(found[0]), values, not (_is_text(column) and not is_number.all())
    choice = np.full(rows, -1, np.int64)
    numbers = np.full(rows, np.nan)
    texts = np.zeros(rows, bool)
    for index in reversed(range(len(keys))):
        column = columns.get(keys[index])
        if column is None:
            continue
        present = has_key(column)
        values, is_number = _numbers(column)
        np.copyto(choice, index, where=present)
        np.copyto(numbers, values, where=present)
        np.copyto(texts, present & ~is_number if _is_text(column) else False, where=present)
    return choice, numbers, not texts.any()


def _is_text(column: pa.Array) -> bool:
    import pyarrow.types as t

    return t.is_string(column.type)


def _long_tags(columns: dict[str, Any], tag_keys: tuple[str, ...], rows: int) -> Any:
    """Per row the tag of a long row (``{"tag": .., "value": ..}``); None: every row is wide;
    False: the chunk mixes both kinds (their interleaving is left to the line-by-line reader)."""
    import numpy as np

    text_keys = [columns[k] for k in tag_keys if k in columns and _is_text(columns[k])]
    if "value" not in columns or not text_keys:
        return None
    tags = np.full(rows, None, dtype=object)
    tagged = np.zeros(rows, bool)
    for column in reversed(text_keys):
        present = _present(column)
        tags[present] = np.array(column.to_pylist(), dtype=object)[present]
        tagged |= present
    long_rows = tagged & _present(columns["value"])
    if not long_rows.any():
        return None
    return tags if long_rows.all() else False


def _add_wide(
    cursor: TableCursor,
    columns: dict[str, Any],
    steps: np.ndarray,
    walls: np.ndarray,
    key_choices: tuple[tuple[tuple[str, ...], np.ndarray], ...],
) -> bool:
    leaves = _leaves(columns)
    if leaves is None:
        return False
    for name, top, column in leaves:
        values, keep = _numbers(column)
        for keys, choice in key_choices:
            if top in keys:  # the row's step or time key is no metric of that row
                keep = keep & (choice != keys.index(top))
        if keep.all():  # the common case: a metric in every row
            cursor.buffer(name).extend(steps, values, walls)
        elif keep.any():
            cursor.buffer(name).extend(steps[keep], values[keep], walls[keep])
    return True


def _leaves(columns: dict[str, Any]) -> list[tuple[str, str, pa.Array]] | None:
    """(``a/b`` name, top-level key, cells) of every scalar leaf; None on a name clash."""
    import pyarrow.types as t

    leaves: list[tuple[str, str, pa.Array]] = []
    pending = [(name, name, column) for name, column in columns.items()]
    while pending:
        name, top, column = pending.pop()
        if t.is_struct(column.type):
            children = column.flatten()  # a missing parent leaves its children missing
            for index in range(column.type.num_fields):
                child = column.type.field(index).name
                pending.append((f"{name}/{child}", top, children[index]))
        else:
            leaves.append((name, top, column))
    names = [leaf[0] for leaf in leaves]
    return leaves if len(set(names)) == len(names) else None


def _add_long(
    cursor: TableCursor,
    tags: np.ndarray,
    is_number: np.ndarray,
    values: np.ndarray,
    steps: np.ndarray,
    walls: np.ndarray,
) -> bool:
    import numpy as np

    names, inverse = np.unique(tags.astype(str), return_inverse=True)
    if len(names) > MAX_LONG_TAGS:
        return False
    for index, name in enumerate(names):
        keep = (inverse == index) & is_number
        if keep.any():
            cursor.buffer(str(name)).extend(steps[keep], values[keep], walls[keep])
    return True
