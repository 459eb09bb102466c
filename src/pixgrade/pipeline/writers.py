"""Result tables written row by row: CSV, JSON Lines, JSON or Parquet (chosen by the file extension), with resume.

Crash safety:

- **CSV / JSONL**: each row is one line, written and flushed as soon as it is produced. After a crash or Ctrl-C
  every finished row is on disk; a half-written last line (a hard kill in the middle of a write) is cut off when
  the file is opened with ``resume=True``, and that image is scored again.
- **Parquet**: a Parquet file is only readable once its footer is written at close, so while a run is going the
  rows are appended to a JSON Lines sidecar ``<name>.parquet.partial.jsonl`` (flushed per row). On close the
  existing Parquet rows (when resuming) and the sidecar rows are streamed into a temporary file in row groups,
  which atomically replaces ``<name>.parquet``; then the sidecar is deleted. The file's schema metadata holds, under
  the key ``pixgrade``, the JSON of the ``provenance`` mapping given to :func:`open_writer` (the latest run's).
  An interrupted run leaves the sidecar, which ``resume=True`` picks up. Until then the previous ``.parquet`` file
  is never touched.
- **JSON** (``.json``): one JSON array of row objects (keys in column order), built like Parquet: rows go to the
  sidecar ``<name>.json.partial.jsonl`` while running and ``close`` writes the array to a temporary file that
  atomically replaces ``<name>.json``. ``resume=True`` rewrites the file the same way, the existing rows first: the
  existing array is read whole (memory grows with the file; use ``.jsonl`` or ``.parquet`` for very large runs).

Existing files are never overwritten unless ``overwrite=True``.
"""

from __future__ import annotations

import csv
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from pixgrade.errors import ConfigError
from pixgrade.io.files import path_from_text
from pixgrade.pipeline.result import coerce_row, column_types, result_columns

__all__ = [
    "FORMATS",
    "PARQUET_METADATA_KEY",
    "ResultWriter",
    "check_output",
    "normalise_path",
    "open_writer",
    "output_format",
    "read_rows",
    "row_key",
]

#: File extension → table format.
FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
}
_SIDECAR_FORMATS = ("parquet", "json")  # formats whose rows wait in a JSONL sidecar until close
_PARQUET_ROWS_PER_GROUP = 4096
#: Key of the Parquet schema metadata holding the provenance JSON (:func:`pixgrade.provenance.provenance`).
PARQUET_METADATA_KEY = "pixgrade"


def output_format(path: str | Path) -> str:
    """``"csv"``, ``"jsonl"``, ``"json"`` or ``"parquet"`` from the extension of ``path``.

    Raises:
        ConfigError: any other extension.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ConfigError(
            f"{path}: unknown output format {suffix or '(no extension)'!r}; use .csv, .jsonl, .json or .parquet"
        )
    return FORMATS[suffix]


def normalise_path(path: str | Path) -> str:
    """The key used to recognise a file already in an output: absolute, normalised (relative paths are taken from
    the current directory, so resume from the same directory or use absolute paths)."""
    return os.path.normcase(os.path.abspath(str(path)))


def row_key(cell: str) -> str:
    """:func:`normalise_path` of the file a row's ``path`` cell names (the cell holds :func:`path_text`)."""
    return normalise_path(path_from_text(cell))


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".partial.jsonl")


def check_output(path: str | Path, *, resume: bool = False, overwrite: bool = False) -> None:
    """Refuse, before any work is done, to write where a user's file would be lost.

    Raises:
        ConfigError: bad extension; both ``resume`` and ``overwrite``; the file (or an interrupted run's Parquet or
            JSON sidecar) exists and neither ``resume`` nor ``overwrite`` is set; the path is a directory.
    """
    path = Path(path)
    fmt = output_format(path)
    if resume and overwrite:
        raise ConfigError("choose either --resume (continue the file) or --overwrite (replace it), not both")
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory; give a file name ending in .csv, .jsonl, .json or .parquet")
    if resume or overwrite:
        return
    if path.exists():
        raise ConfigError(f"{path}: already exists; use --resume to continue it or --overwrite to replace it")
    if fmt in _SIDECAR_FORMATS and _sidecar(path).exists():
        raise ConfigError(
            f"{_sidecar(path)}: an interrupted run left these rows; "
            "use --resume to finish it or --overwrite to start again"
        )


def _repair_tail(path: Path) -> None:
    """Cut a half-written last line (no trailing newline) left by a hard kill."""
    with open(path, "rb+") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        position = size
        block = 65536
        while position > 0:
            start = max(0, position - block)
            fh.seek(start)
            data = fh.read(position - start)
            index = data.rfind(b"\n")
            if index >= 0:
                fh.truncate(start + index + 1)
                return
            position = start
        fh.truncate(0)


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.endswith("\n"):
                return  # half-written by an interrupted run; not a row
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{path}: line {number} is not valid JSON ({exc.msg})") from None


def _read_csv(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8", newline="") as fh:
        lines = (line for line in fh if line.endswith("\n"))  # skip a half-written last line
        yield from csv.DictReader(lines)


def _read_json_array(path: Path) -> list[dict[str, Any]]:
    """The rows of a ``.json`` table (a JSON array of objects), read whole."""
    try:
        with open(path, encoding="utf-8") as fh:
            rows = json.load(fh)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from None
    if not isinstance(rows, list) or not all(isinstance(row, dict) and "path" in row for row in rows):
        raise ConfigError(f"{path}: not a pixgrade JSON table (expected an array of row objects with a 'path')")
    return rows


def _csv_header(path: Path) -> list[str] | None:
    with open(path, encoding="utf-8", newline="") as fh:
        first = fh.readline()
    return next(csv.reader([first])) if first.strip() else None


def read_rows(path: str | Path) -> Iterator[dict[str, Any]]:
    """Rows of a results file written by :func:`open_writer` (plus, for Parquet and JSON, any rows of an
    interrupted run still in the sidecar), typed per :func:`~pixgrade.pipeline.result.column_types`."""
    path = Path(path)
    fmt = output_format(path)
    if fmt == "csv":
        header = _csv_header(path) if path.exists() else None
        if header is None:
            return
        types = column_types(header)
        for raw in _read_csv(path):
            yield coerce_row(raw, types)
    elif fmt == "jsonl":
        for raw in _read_jsonl(path):
            yield coerce_row(raw, column_types(list(raw)))
    elif fmt == "json":
        done: set[str] = set()
        if path.exists():
            for raw in _read_json_array(path):
                done.add(row_key(raw["path"]))
                yield coerce_row(raw, column_types(list(raw)))
        if _sidecar(path).exists():
            for raw in _read_jsonl(_sidecar(path)):
                if row_key(raw["path"]) not in done:
                    yield coerce_row(raw, column_types(list(raw)))
    else:
        seen: set[str] = set()
        if path.exists():
            import pyarrow.parquet as pq

            parquet = pq.ParquetFile(path)
            types = column_types(parquet.schema_arrow.names)
            for batch in parquet.iter_batches(batch_size=_PARQUET_ROWS_PER_GROUP):
                for raw in batch.to_pylist():
                    seen.add(row_key(raw["path"]))
                    yield coerce_row(raw, types)
        if _sidecar(path).exists():
            for raw in _read_jsonl(_sidecar(path)):
                if row_key(raw["path"]) not in seen:
                    yield coerce_row(raw, column_types(list(raw)))


class ResultWriter(ABC):
    """Appends result rows to a table file; use as a context manager (closing finalises the file).

    Attributes:
        path: the output file.
        columns: the column order.
        existing_paths: normalised paths of the rows already in the file when it was opened with resume (the
            ``path`` cells hold :func:`~pixgrade.io.files.path_text`, decoded here, so any file name is recognised).
        n_written: rows written by this writer.
    """

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self.path = path
        self.columns = list(columns)
        self.existing_paths: set[str] = set()
        self.n_written = 0
        self.closed = False

    @abstractmethod
    def write(self, row: Mapping[str, Any]) -> None:
        """Append one row (a dict with the writer's columns) and flush it to the operating system."""

    def close(self) -> None:
        """Finish the file (idempotent)."""
        self.closed = True

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _check_columns(self, found: Sequence[str], where: Path) -> None:
        if list(found) != self.columns:
            missing = [c for c in self.columns if c not in found]
            extra = [c for c in found if c not in self.columns]
            detail = f"missing {missing[:5]}" if missing else f"unexpected {extra[:5]}" if extra else "different order"
            raise ConfigError(
                f"{where}: its columns do not match this version of pixgrade and these factors ({detail}); "
                "resume with the --plugin options of the run that wrote it, or write to a new file or use --overwrite"
            )


class _LineWriter(ResultWriter):
    """Shared logic of the line-based formats: open for append (after repairing the tail) or create."""

    def __init__(self, path: Path, columns: Sequence[str], *, resume: bool) -> None:
        super().__init__(path, columns)
        self._fh: IO[str]
        if resume and self.path.exists():
            _repair_tail(self.path)
            self._load_existing()
            self._fh = open(self.path, "a", encoding="utf-8", newline="")  # noqa: SIM115 (closed by close())
            if self.path.stat().st_size == 0:
                self._start()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115 (closed by close())
            self._start()

    def _start(self) -> None:
        """Write whatever a new file begins with (the CSV header)."""

    @abstractmethod
    def _load_existing(self) -> None: ...

    @abstractmethod
    def _line(self, row: Mapping[str, Any]) -> str: ...

    def write(self, row: Mapping[str, Any]) -> None:
        if self.closed:
            raise ValueError(f"{self.path}: writer is closed")
        self._fh.write(self._line(row))
        self._fh.flush()
        self.n_written += 1

    def close(self) -> None:
        if not self.closed:
            self._fh.close()
        super().close()


def _csv_cell(value: Any) -> Any:
    return "" if value is None else value


class CsvWriter(_LineWriter):
    """CSV with a header row; empty cells for ``None``; booleans as ``True``/``False``."""

    def _start(self) -> None:
        self._fh.write(self._format(self.columns))
        self._fh.flush()

    def _format(self, values: Sequence[Any]) -> str:
        import io

        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(values)
        return buffer.getvalue()

    def _load_existing(self) -> None:
        header = _csv_header(self.path)
        if header is None:
            return
        self._check_columns(header, self.path)
        self.existing_paths = {row_key(row["path"]) for row in _read_csv(self.path) if row.get("path")}

    def _line(self, row: Mapping[str, Any]) -> str:
        return self._format([_csv_cell(row.get(column)) for column in self.columns])


class JsonlWriter(_LineWriter):
    """One JSON object per line, keys in column order, ``null`` for missing values."""

    def _load_existing(self) -> None:
        for row in _read_jsonl(self.path):
            if not self.existing_paths:
                self._check_columns(list(row), self.path)
            self.existing_paths.add(row_key(row["path"]))

    def _line(self, row: Mapping[str, Any]) -> str:
        return json.dumps({c: row.get(c) for c in self.columns}, ensure_ascii=False, allow_nan=False) + "\n"


class _SidecarWriter(ResultWriter):
    """A table written whole at ``close``: rows go to a JSONL sidecar while running, then :meth:`_build` writes the
    table (the earlier rows first, with ``resume``) to a temporary file that replaces the output in one step."""

    def __init__(self, path: Path, columns: Sequence[str], *, resume: bool) -> None:
        super().__init__(path, columns)
        self._keep_existing = resume and path.exists()
        self._existing_in_file: set[str] = self._load_existing_keys() if self._keep_existing else set()
        if not resume and _sidecar(path).exists():
            _sidecar(path).unlink()  # only reached with overwrite (check_output refuses otherwise)
        self._sidecar = JsonlWriter(_sidecar(path), columns, resume=resume)
        self.existing_paths = self._existing_in_file | self._sidecar.existing_paths

    @abstractmethod
    def _load_existing_keys(self) -> set[str]:
        """Check the existing file's columns and return the keys of its rows (called with ``resume``)."""

    @abstractmethod
    def _build(self, tmp: Path) -> None:
        """Write the whole table to ``tmp``: the existing file's rows, then :meth:`_sidecar_rows`."""

    def _sidecar_rows(self) -> Iterator[dict[str, Any]]:
        """The sidecar's rows that are not in the existing file (those were merged by an interrupted close)."""
        for raw in _read_jsonl(self._sidecar.path):
            if row_key(raw["path"]) not in self._existing_in_file:
                yield raw

    def write(self, row: Mapping[str, Any]) -> None:
        self._sidecar.write(row)
        self.n_written += 1

    def close(self) -> None:
        if self.closed:
            return
        self._sidecar.close()
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            self._build(tmp)
            os.replace(tmp, self.path)
        finally:
            if tmp.exists():
                tmp.unlink()
        _sidecar(self.path).unlink(missing_ok=True)
        super().close()


class ParquetWriter(_SidecarWriter):
    """Rows go to a JSONL sidecar while running; ``close`` builds the Parquet file (see the module docstring)."""

    def __init__(
        self, path: Path, columns: Sequence[str], *, resume: bool, provenance: Mapping[str, Any] | None = None
    ) -> None:
        import pyarrow as pa

        kinds = {str: pa.string(), float: pa.float64(), int: pa.int64(), bool: pa.bool_()}
        metadata = None if provenance is None else {PARQUET_METADATA_KEY: json.dumps(dict(provenance), default=str)}
        self.schema = pa.schema([(c, kinds[t]) for c, t in column_types(list(columns)).items()], metadata=metadata)
        super().__init__(path, columns, resume=resume)

    def _load_existing_keys(self) -> set[str]:
        import pyarrow.parquet as pq

        self._check_columns(pq.ParquetFile(self.path).schema_arrow.names, self.path)
        paths = pq.read_table(self.path, columns=["path"]).column("path").to_pylist()
        return {row_key(p) for p in paths if p}

    def _build(self, tmp: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        with pq.ParquetWriter(tmp, self.schema) as out:
            if self._keep_existing:
                for batch in pq.ParquetFile(self.path).iter_batches(batch_size=_PARQUET_ROWS_PER_GROUP):
                    out.write_table(pa.Table.from_batches([batch]).cast(self.schema))
            rows: list[dict[str, Any]] = []
            types = column_types(self.columns)
            for raw in self._sidecar_rows():
                rows.append(coerce_row(raw, types))
                if len(rows) >= _PARQUET_ROWS_PER_GROUP:
                    out.write_table(pa.Table.from_pylist(rows, schema=self.schema))
                    rows = []
            if rows:
                out.write_table(pa.Table.from_pylist(rows, schema=self.schema))


class JsonWriter(_SidecarWriter):
    """A JSON array of row objects; rows go to a JSONL sidecar while running and ``close`` writes the array
    atomically (see the module docstring)."""

    def _load_existing_keys(self) -> set[str]:
        rows = _read_json_array(self.path)
        if rows:
            self._check_columns(list(rows[0]), self.path)
        return {row_key(row["path"]) for row in rows}

    def _build(self, tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as out:
            n = 0

            def emit(row: Mapping[str, Any]) -> None:
                nonlocal n
                out.write(",\n" if n else "\n")
                out.write(json.dumps({c: row.get(c) for c in self.columns}, ensure_ascii=False, allow_nan=False))
                n += 1

            out.write("[")
            if self._keep_existing:
                for row in _read_json_array(self.path):
                    emit(row)
            for raw in self._sidecar_rows():
                emit(raw)
            out.write("\n]\n" if n else "]\n")
            out.flush()
            os.fsync(out.fileno())


def open_writer(
    path: str | Path,
    columns: Sequence[str] | None = None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    provenance: Mapping[str, Any] | None = None,
) -> ResultWriter:
    """Open a results table for writing, format chosen by the extension (``.csv``, ``.jsonl``/``.ndjson``,
    ``.json``, ``.parquet``).

    Args:
        path: output file (parent folders are created).
        columns: column order (default :func:`~pixgrade.pipeline.result.result_columns`).
        resume: keep the rows already in the file and append; ``writer.existing_paths`` lists them so the caller
            can skip those images. A missing file is simply created.
        overwrite: replace an existing file.
        provenance: what produced the rows (:func:`pixgrade.provenance.provenance`); Parquet keeps it in its
            schema metadata under :data:`PARQUET_METADATA_KEY` (the line formats: the caller's sidecar file).

    Raises:
        ConfigError: see :func:`check_output`; or, with ``resume``, the existing file has other columns.
    """
    path = Path(path)
    check_output(path, resume=resume, overwrite=overwrite)
    columns = list(columns) if columns is not None else result_columns()
    fmt = output_format(path)
    if fmt == "csv":
        return CsvWriter(path, columns, resume=resume)
    if fmt == "jsonl":
        return JsonlWriter(path, columns, resume=resume)
    if fmt == "json":
        return JsonWriter(path, columns, resume=resume)
    return ParquetWriter(path, columns, resume=resume, provenance=provenance)
