"""The Parquet output of the Ray engine: output checks, the folder's lock, and the Ray Data sink the workers
write partitioned Parquet with (local folders or any filesystem pyarrow knows: ``s3://``, ``gs://``…)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pixgrade.engines.ray.actor import INDEX_COLUMN, parquet_schema
from pixgrade.errors import ConfigError
from pixgrade.io.locks import OutputLock
from pixgrade.io.sources import is_uri

__all__ = [
    "LOCK_NAME",
    "RECOVERED_SUFFIX",
    "ParquetSink",
    "check_output_dir",
    "datasink",
    "filesystem_of",
    "output_lock",
    "rows_table",
    "write_table",
]

RECOVERED_SUFFIX = "_recovered.parquet"
"""Name ending of the Parquet file :func:`~pixgrade.engines.ray.write_parquet_with_ray` adds for rows re-scored
after a worker died."""

LOCK_NAME = ".pixgrade-lock"
"""The output folder's lock file (:func:`pixgrade.io.locks.lock_path` of a folder; readers skip hidden files)."""


def filesystem_of(output: str) -> tuple[Any, str]:
    """``(pyarrow filesystem, folder path in it)`` of a local folder or URI prefix."""
    import pyarrow.fs as pafs

    if is_uri(output):
        filesystem, folder = pafs.FileSystem.from_uri(output)
        return filesystem, folder.rstrip("/")
    return pafs.LocalFileSystem(), str(Path(output).resolve())


def check_output_dir(output: str, overwrite: bool) -> None:
    """Refuse an output that holds anything, unless ``overwrite`` and it holds only Parquet files (removed); its
    lock file (:func:`output_lock`) does not count."""
    import pyarrow.fs as pafs

    if not is_uri(output):
        path = Path(output)
        if path.exists() and not path.is_dir():
            raise ConfigError(f"{output}: exists and is not a folder (the ray engine writes a folder of Parquet files)")
    try:
        filesystem, folder = filesystem_of(output)
        info = filesystem.get_file_info(folder)
        if info.type == pafs.FileType.File:
            raise ConfigError(f"{output}: exists and is not a folder (the ray engine writes a folder of Parquet files)")
        if info.type != pafs.FileType.Directory:
            return
        present = [
            e
            for e in filesystem.get_file_info(pafs.FileSelector(folder, recursive=True))
            if e.is_file and not (e.base_name == LOCK_NAME and e.path == f"{folder}/{LOCK_NAME}")
        ]
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{output}: cannot check the output location: {exc}") from None
    if not present:
        return
    if not overwrite:
        raise ConfigError(f"{output}: folder is not empty; choose a new one or pass --overwrite")
    others = [e for e in present if not e.base_name.endswith(".parquet")]
    if others:
        raise ConfigError(f"{output}: holds files other than Parquet ({others[0].base_name}); not overwriting it")
    for entry in present:
        filesystem.delete_file(entry.path)


def output_lock(output: str, wait: float) -> contextlib.AbstractContextManager[Any]:
    """The :class:`~pixgrade.io.locks.OutputLock` of a local output folder (created first, so that every run
    locks the same ``FOLDER/.pixgrade-lock``); nothing for a URI prefix (object stores have no locks)."""
    if is_uri(output):
        return contextlib.nullcontext()
    folder = Path(output)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{output}: exists and is not a folder (the ray engine writes a folder of Parquet files)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{output}: cannot create the output folder: {exc.strerror or exc}") from None
    return OutputLock(folder, what="output folder", wait=wait)


class ParquetSink:
    """Ray Data datasink writing the rows as Parquet files named by run and first input index.

    Each write task gets at least ``rows_per_file`` rows (the last one fewer) and writes them, in input order and
    without the index column, to ``<run>_<first index, 12 digits>.parquet``: the names sort in input order. A write
    that fails is *returned* as an error, never raised, because the job ignores failed tasks (see
    :mod:`pixgrade.engines.ray`): :func:`~pixgrade.engines.ray.write_parquet_with_ray` raises it once the job is
    over.
    """

    def __init__(self, output: str, rows_per_file: int, run: str, metadata: Mapping[str, str] | None = None) -> None:
        self.output = output
        self.rows_per_file = rows_per_file
        self.run = run
        self.metadata = metadata
        self.returns: list[dict[str, Any]] = []

    @property
    def min_rows_per_write(self) -> int:
        return self.rows_per_file

    def write(self, blocks: Iterable[Any], ctx: Any) -> dict[str, Any]:
        import pyarrow as pa
        from ray.data.block import BlockAccessor

        tables = [BlockAccessor.for_block(block).to_arrow() for block in blocks]
        tables = [t for t in tables if t.num_rows]
        if not tables:
            return {"indices": [], "file": None, "failed": 0, "error": None}
        table = pa.concat_tables(tables).sort_by(INDEX_COLUMN)
        indices = table.column(INDEX_COLUMN).to_pylist()
        rows = table.drop_columns([INDEX_COLUMN])
        try:
            path = write_table(rows, self.output, f"{self.run}_{indices[0]:012d}.parquet", self.metadata)
        except Exception as exc:  # reported to the driver, which stops the run with it
            return {"indices": [], "file": None, "failed": 0, "error": f"{type(exc).__name__}: {exc}"}
        failed = len(indices) - rows.column("error").null_count
        return {"indices": indices, "file": path, "failed": failed, "error": None}

    def on_write_complete(self, write_result: Any) -> None:
        self.returns = [r for r in write_result.write_returns if r is not None]


def datasink(output: str, rows_per_file: int, run: str, metadata: Mapping[str, str] | None = None) -> Any:
    """A :class:`ParquetSink` that is a ``ray.data.Datasink`` (imported only with Ray)."""
    from ray.data import Datasink

    sink_class = type("ParquetRowsDatasink", (ParquetSink, Datasink), {})
    return sink_class(output, rows_per_file, run, metadata)


def write_table(table: Any, output: str, name: str, metadata: Mapping[str, str] | None = None) -> str:
    """Write ``table`` as ``output/name`` (a local folder or URI prefix, created if needed), ``metadata`` added to
    its schema metadata; returns the path."""
    import pyarrow.parquet as pq

    if metadata:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    filesystem, folder = filesystem_of(output)
    filesystem.create_dir(folder, recursive=True)
    path = f"{folder}/{name}"
    pq.write_table(table, path, filesystem=filesystem)
    return path if not is_uri(output) else f"{output.split('://', 1)[0]}://{path}"


def rows_table(rows: list[dict[str, Any]], columns: Sequence[str] | None = None) -> Any:
    """An Arrow table of result rows with the output's schema (:func:`parquet_schema` of ``columns``, default
    the built-in factors' columns)."""
    import pyarrow as pa

    return pa.Table.from_pylist(rows, schema=parquet_schema(columns))
