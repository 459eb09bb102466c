"""Export a catalogue to a flat CSV or Parquet table (one row per image)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pixgrade.catalog.store import Catalog
from pixgrade.errors import ConfigError

__all__ = ["catalog_frame", "export_catalog"]


def catalog_frame(catalog: str | Path | Catalog) -> pd.DataFrame:
    """The catalogue as a DataFrame: file facts, score, ``<factor>_score/_flag/_value``, ``severity_<name>``,
    ``fact_<name>`` (background, fill, border, text), and the latest decision with its reasons."""
    if isinstance(catalog, Catalog):
        return pd.DataFrame(catalog.rows())
    path = Path(catalog)
    if not path.is_file():
        raise ConfigError(f"{path}: catalogue not found")
    with Catalog(path) as cat:
        return pd.DataFrame(cat.rows())


def export_catalog(catalog: str | Path, output: str | Path, *, overwrite: bool = False) -> int:
    """Write the catalogue to ``output`` (``.csv`` or ``.parquet``); returns the number of rows.

    Raises:
        ConfigError: unknown extension, missing catalogue, or ``output`` exists and ``overwrite`` is False.
    """
    output = Path(output)
    suffix = output.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ConfigError(f"{output}: export to a .csv or .parquet file")
    if output.exists() and not overwrite:
        raise ConfigError(f"{output}: already exists; choose another name or pass --overwrite")
    frame = catalog_frame(catalog)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".part")
    if suffix == ".csv":
        frame.to_csv(tmp, index=False)
    else:
        frame.to_parquet(tmp, index=False)
    tmp.replace(output)
    return len(frame)
