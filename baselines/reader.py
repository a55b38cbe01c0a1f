"""Read training data (Parquet, CSV, JSON Lines; optionally gzipped) into one pyarrow table.

JSON Lines files may hold prediction events in the event contract shape: the ``features`` and
``segments`` objects are flattened into top-level columns (``features.x`` → ``x``), so a file of
logged events can serve as training data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from baselines.errors import BaselineError
from baselines.progress import delayed_progress

#: Event-contract objects whose fields become top-level columns.
NESTED_COLUMNS = ("features", "segments")

SUPPORTED_EXTENSIONS = (
    ".parquet, .pq, .csv, .csv.gz, .jsonl, .ndjson, .json (and .gz of JSON Lines)"
)

#: CSV/JSON type inference looks at one block; a large block makes a wrong guess unlikely.
_BLOCK_SIZE = 16 << 20


def read_table(
    path: str | Path, *, progress: bool = False, empty_is_missing: bool = True
) -> pa.Table:
    """Read a training file into a table with at least one row.

    An empty CSV field is missing (see :func:`csv_options`) unless ``empty_is_missing`` is
    False. Raises :class:`BaselineError` for a missing, unreadable, corrupt or empty file and
    for an extension that names no supported format.
    """
    path = Path(path)
    if not path.exists():
        raise BaselineError(f"input file {path} does not exist; check the path")
    format_name, read = _reader_for(path, empty_is_missing)
    if not path.is_file():
        raise BaselineError(f"input {path} is not a file; pass a {format_name} file")
    if path.stat().st_size == 0:
        raise _no_rows(path)
    with delayed_progress(progress) as bar:
        bar.add_task(f"Reading {path.name}", total=None)
        try:
            table = read(path)
        except PermissionError as error:
            raise BaselineError(
                f"cannot read {path}: permission denied; check the file's permissions"
            ) from error
        except (pa.ArrowException, OSError, ValueError) as error:
            raise BaselineError(
                f"cannot read {path} as {format_name}: {_first_line(error)};"
                f" check that the file is valid {format_name}"
            ) from error
    if table.num_rows == 0:
        raise _no_rows(path)
    return table


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes (recorded in the baseline as the training data's identity)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _no_rows(path: Path) -> BaselineError:
    return BaselineError(f"{path} has no rows; build the baseline from a file with training data")


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def csv_options(*, empty_is_missing: bool = True) -> pa_csv.ConvertOptions:
    """How CSV fields become values: an empty field is missing in text columns too.

    pyarrow keeps an empty field of a text column as the text ``""`` (and makes it missing only
    in numeric columns); pandas and every peer read it as missing, and the event contract sends
    ``null`` for it, so a baseline that counted ``""`` as a category would see a missing-rate
    excess in every window. ``empty_is_missing=False`` keeps ``""`` as a value, for files in
    which an empty text is meant.

    >>> csv_options().strings_can_be_null, csv_options(empty_is_missing=False).strings_can_be_null
    (True, False)
    """
    return pa_csv.ConvertOptions(
        strings_can_be_null=empty_is_missing, quoted_strings_can_be_null=empty_is_missing
    )


def _reader_for(
    path: Path, empty_is_missing: bool = True
) -> tuple[str, Callable[[Path], pa.Table]]:
    name = path.name.lower()
    compressed = name.endswith(".gz")
    stem = name.removesuffix(".gz")
    if stem.endswith((".parquet", ".pq")) and not compressed:
        return "Parquet", _read_parquet
    if stem.endswith(".csv"):
        return "CSV", lambda source: _read_csv(source, compressed, empty_is_missing)
    if stem.endswith((".jsonl", ".ndjson", ".json")):
        return "JSON Lines", lambda source: _read_json_lines(source, compressed)
    raise BaselineError(
        f"cannot tell the format of {path} from its extension; use one of {SUPPORTED_EXTENSIONS}"
    )


def _read_parquet(path: Path) -> pa.Table:
    return pq.read_table(path)


def _read_csv(path: Path, compressed: bool, empty_is_missing: bool) -> pa.Table:
    with pa.input_stream(str(path), compression="gzip" if compressed else None) as stream:
        return pa_csv.read_csv(
            stream,
            read_options=pa_csv.ReadOptions(block_size=_BLOCK_SIZE),
            convert_options=csv_options(empty_is_missing=empty_is_missing),
        )


def _read_json_lines(path: Path, compressed: bool) -> pa.Table:
    with pa.input_stream(str(path), compression="gzip" if compressed else None) as stream:
        table = pa_json.read_json(stream, read_options=pa_json.ReadOptions(block_size=_BLOCK_SIZE))
    return flatten_event_columns(table, path)


def flatten_event_columns(table: pa.Table, path: Path) -> pa.Table:
    """Replace the ``features`` and ``segments`` struct columns by their fields, in place."""
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    for name in table.column_names:
        column = table.column(name)
        if name in NESTED_COLUMNS and pa.types.is_struct(column.type):
            for field in column.type:
                _add_column(columns, field.name, pc.struct_field(column, field.name), path, name)
        else:
            _add_column(columns, name, column, path, None)
    return pa.table(columns)


def _add_column(
    columns: dict[str, pa.Array | pa.ChunkedArray],
    name: str,
    column: pa.Array | pa.ChunkedArray,
    path: Path,
    parent: str | None,
) -> None:
    if name in columns:
        where = f"under '{parent}'" if parent else "at the top level"
        raise BaselineError(
            f"column '{name}' appears twice in {path} (once {where}); rename one of them"
        )
    columns[name] = column


@dataclass(frozen=True)
class InputFile:
    """Identity of a training file as recorded in a baseline: its name and content hash."""

    name: str
    sha256: str

    @classmethod
    def of(cls, path: str | Path) -> InputFile:
        """Name and sha256 of the file at ``path``."""
        return cls(Path(path).name, file_sha256(path))
