"""The SQLite catalogue (images, scores, factors, rule results, decisions, runs), its export, the filter run that
fills it, and never-overwrite file placement."""

from pixgrade.catalog.export import catalog_frame, export_catalog
from pixgrade.catalog.filtering import FilterOutcome, FilterSettings, ImageRecord, collect_files, run_filter
from pixgrade.catalog.placement import place_file, unique_destination
from pixgrade.catalog.store import SCHEMA_VERSION, Catalog, StoredAnalysis

__all__ = [
    "SCHEMA_VERSION",
    "Catalog",
    "FilterOutcome",
    "FilterSettings",
    "ImageRecord",
    "StoredAnalysis",
    "catalog_frame",
    "collect_files",
    "export_catalog",
    "place_file",
    "run_filter",
    "unique_destination",
]
