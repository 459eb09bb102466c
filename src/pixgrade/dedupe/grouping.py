"""Grouping images by product: by folder (``SKU/*.jpg``), by a CSV mapping, or by a filename pattern."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from pixgrade.errors import ConfigError

__all__ = ["group_by_csv", "group_by_folder", "group_by_pattern", "grouper_from_spec"]

Grouper = Callable[[Sequence[Path]], dict[Path, str]]


def group_by_folder(paths: Sequence[Path], root: Path | None = None) -> dict[Path, str]:
    """Product = the image's parent folder, relative to ``root`` (``"."`` for images directly in ``root``)."""
    groups = {}
    for path in paths:
        parent = path.parent
        if root is not None:
            rel = _relative_to(parent, root)
            if rel is not None:
                groups[path] = rel.as_posix() if rel.parts else "."
                continue
        groups[path] = parent.name or "."
    return groups


def group_by_pattern(paths: Sequence[Path], pattern: str) -> dict[Path, str]:
    """Product = a regex group of the file name (the group named ``product``, else the first group).

    Files whose name does not match keep their own stem as product (so they are never merged by accident).

    Example: ``(?P<product>[A-Z0-9]+)_\\d+\\.jpg`` puts ``AB12_1.jpg`` and ``AB12_2.jpg`` together.
    """
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"bad --group-by pattern {pattern!r}: {exc}") from exc
    if regex.groups == 0:
        raise ConfigError(f"--group-by pattern {pattern!r} needs a capturing group, e.g. (?P<product>...)")
    key: str | int = "product" if "product" in regex.groupindex else 1
    groups = {}
    for path in paths:
        match = regex.search(path.name)
        groups[path] = match.group(key) if match and match.group(key) else path.stem
    return groups


def group_by_csv(paths: Sequence[Path], csv_path: str | Path, root: Path | None = None) -> dict[Path, str]:
    """Product from a CSV with columns ``image`` (or ``path``/``file``) and ``product`` (or ``product_id``/``sku``).

    Image entries are matched by path relative to ``root`` or the CSV's folder, then by file name alone.
    Images missing from the CSV keep their own stem as product.
    """
    csv_path = Path(csv_path)
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            fields = reader.fieldnames or []
            image_col = next((c for c in ("image", "path", "file", "filename") if c in fields), None)
            product_col = next((c for c in ("product", "product_id", "sku", "group") if c in fields), None)
            if image_col is None or product_col is None:
                raise ConfigError(
                    f"{csv_path}: needs an image column (image, path, file or filename) and a product column "
                    f"(product, product_id, sku or group); found {fields}"
                )
            mapping = {row[image_col].strip(): row[product_col].strip() for row in reader if row.get(image_col)}
    except OSError as exc:
        raise ConfigError(f"{csv_path}: cannot read product CSV: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{csv_path}: not a readable CSV: {exc}") from exc
    by_name: dict[str, str] = {}
    for key, product in mapping.items():
        by_name.setdefault(Path(key).name, product)
    bases = [b for b in (root, csv_path.parent) if b is not None]
    groups = {}
    for path in paths:
        product = None
        for base in bases:
            rel = _relative_to(path, base)
            product = None if rel is None else mapping.get(rel.as_posix())
            if product:
                break
        groups[path] = product or mapping.get(str(path)) or by_name.get(path.name) or path.stem
    return groups


def grouper_from_spec(spec: str | None, root: Path | None = None) -> Grouper:
    """Parse ``--group-by``: ``none`` (each image its own product), ``folder``, ``csv:FILE`` or ``pattern:REGEX``."""
    if spec is None or spec == "none":
        return lambda paths: {p: p.stem if root is None else _rel_id(p, root) for p in paths}
    if spec == "folder":
        return lambda paths: group_by_folder(paths, root)
    if spec.startswith("csv:"):
        csv_file = spec[4:]
        if not Path(csv_file).is_file():
            raise ConfigError(f"--group-by csv: {csv_file}: file not found")
        return lambda paths: group_by_csv(paths, csv_file, root)
    if spec.startswith("pattern:"):
        pattern = spec[8:]
        group_by_pattern([], pattern)  # validate now
        return lambda paths: group_by_pattern(paths, pattern)
    raise ConfigError(f"unknown --group-by {spec!r}; use none, folder, csv:FILE or pattern:REGEX")


def _relative_to(path: Path, root: Path) -> Path | None:
    """``path`` relative to ``root``: as written when it lies under it (so the keys of a bucket, which name no
    local file, group too), else with symlinks resolved; None when it lies outside."""
    try:
        return path.relative_to(root)
    except ValueError:
        pass
    try:
        return path.resolve().relative_to(root.resolve())
    except ValueError:
        return None


def _rel_id(path: Path, root: Path) -> str:
    rel = _relative_to(path, root)
    return path.stem if rel is None else rel.with_suffix("").as_posix()
