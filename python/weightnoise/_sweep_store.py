"""Results files of a sweep, written one row at a time so that a crash loses no finished row.

``CsvStore``
    one CSV file; each row is appended in one write and flushed to disk. A
    row torn by a crash mid-write is cut off when the file is next opened.
``ParquetStore``
    a folder of Parquet files, one per point, each written to a temporary
    name and renamed into place; ``pandas.read_parquet(folder)`` reads it.
``MemoryStore``
    no file (``out=None``): rows kept in memory, nothing to resume.

A point run again (after an error) replaces its row: readers keep the last
row of each key.
"""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._sweep_task import COLUMNS, INTEGER_COLUMNS, TEXT_COLUMNS
from ._typing import StrPath

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

PARQUET_HINT = "pip install 'weightnoise[parquet]' (or pip install pyarrow)"


def open_store(out: StrPath | None) -> MemoryStore:
    """The store for ``out``: None (memory), a ``.parquet`` folder, or a CSV file (any other name)."""
    if out is None:
        return MemoryStore()
    path = Path(out)
    if path.suffix == ".parquet":
        return ParquetStore(path)
    return CsvStore(path)


class MemoryStore:
    """Rows in memory only."""

    path: Path | None = None

    def __init__(self) -> None:
        self._rows: list[dict[str, Any]] = []

    def rows(self) -> list[dict[str, Any]]:
        return list(self._rows)

    def append(self, row: dict[str, Any]) -> None:
        self._rows.append(dict(row))

    def finished(self, retry_errors: bool = True) -> set[str]:
        return finished_keys(self.rows(), retry_errors)

    def frame(self) -> pd.DataFrame:
        return as_frame(self.rows())


class CsvStore(MemoryStore):
    """One CSV file with a header row; rows appended and flushed one at a time."""

    path: Path

    def __init__(self, path: StrPath) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():
            raise ValueError(f"out {self.path} exists and is not a file")
        self._repair()

    def _repair(self) -> None:
        """Cut a torn last row (no newline: the process died mid-write) and check the header."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(self.path, "r+b") as handle:
                handle.truncate(data.rfind(b"\n") + 1)
                os.fsync(handle.fileno())
            data = data[:data.rfind(b"\n") + 1]
        if data:
            header = next(csv.reader(io.StringIO(data.decode("utf-8").split("\n", 1)[0])))
            if tuple(header) != COLUMNS:
                raise ValueError(f"out {self.path} is not a results file of this weightnoise version's sweep "
                                 "(its columns differ); choose another file")

    def rows(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with open(self.path, newline="", encoding="utf-8") as handle:
            return [row for row in csv.DictReader(handle) if None not in row and None not in row.values()]

    def append(self, row: dict[str, Any]) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if not self.path.exists() or self.path.stat().st_size == 0:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            writer.writerow(COLUMNS)
        writer.writerow(["" if row.get(name) is None else row[name] for name in COLUMNS])
        with open(self.path, "a", newline="", encoding="utf-8") as handle:
            handle.write(buffer.getvalue())  # one write: a crash tears at most this row
            handle.flush()
            os.fsync(handle.fileno())


class ParquetStore(MemoryStore):
    """A folder with one Parquet file per point, ``<key>.parquet``, each replaced atomically."""

    path: Path

    def __init__(self, path: StrPath) -> None:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ImportError(f"Parquet output needs pyarrow: {PARQUET_HINT}; or write CSV (out='results.csv')") \
                from None
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"out {self.path} exists and is not a folder (Parquet results are a folder)")

    def rows(self) -> list[dict[str, Any]]:
        import pyarrow.parquet as pq

        if not self.path.exists():
            return []
        return [row for part in sorted(self.path.glob("*.parquet")) for row in pq.read_table(part).to_pylist()]

    def append(self, row: dict[str, Any]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.path.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pylist([{name: row.get(name) for name in COLUMNS}], schema=arrow_schema())
        final = self.path / f"{row['key']}.parquet"
        temporary = final.with_suffix(".tmp")
        pq.write_table(table, temporary)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, final)


def arrow_schema() -> pa.Schema:
    """One schema for every part file, so that the folder reads as one table."""
    import pyarrow as pa

    def kind(name: str) -> pa.DataType:
        return pa.string() if name in TEXT_COLUMNS else pa.int64() if name in INTEGER_COLUMNS else pa.float64()

    return pa.schema([(name, kind(name)) for name in COLUMNS])


def finished_keys(rows: list[dict[str, Any]], retry_errors: bool) -> set[str]:
    """Keys whose last row is a result (or any row, unless errors are to be retried)."""
    last = {row["key"]: row for row in rows}
    return {key for key, row in last.items() if not (retry_errors and row.get("error"))}


def as_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A pandas DataFrame of the last row of each key, with one dtype per column in either format:
    text (missing as ""), nullable integers, floats."""
    import pandas as pd

    last = list({row["key"]: row for row in rows}.values())
    data: dict[str, Any] = {}
    for name in COLUMNS:
        values: list[Any] = [row.get(name) for row in last]
        if name in TEXT_COLUMNS:
            data[name] = pd.Series(["" if value is None else str(value) for value in values], dtype=object)
        elif name in INTEGER_COLUMNS:
            data[name] = pd.array([None if _missing(value) else int(value) for value in values], dtype="Int64")
        else:
            data[name] = pd.Series([math.nan if _missing(value) else float(value) for value in values],
                                   dtype="float64")
    return pd.DataFrame(data, columns=list(COLUMNS))


def _missing(value: object) -> bool:
    """None, "" (CSV) or NaN: no value."""
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))
