"""The work behind ``pixgrade filter``: score (or reuse stored scores) with the marketplace facts and perceptual
hash of every image, apply a policy, find near-duplicates, group by product, choose main images, and record
everything in the catalogue.

Scoring goes through the one per-image stage (:func:`pixgrade.pipeline.analysis.analyse` + ``Scorer.score_batch``)
with facts and hash switched on, so each file is read, decoded and hashed once, in a single pass.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pixgrade import __version__
from pixgrade.catalog.duplicates import content_embeddings_for, content_model_name, load_pixels
from pixgrade.catalog.store import Catalog
from pixgrade.dedupe import DuplicateCluster, DuplicateSettings, find_duplicates, grouper_from_spec
from pixgrade.errors import ImageLoadError
from pixgrade.facts import FACTS_MAX_SIDE, FACTS_VERSION, ImageFacts, available_text_detectors
from pixgrade.io import iter_image_files, sha256_file
from pixgrade.io.files import WalkErrorHandler
from pixgrade.io.loading import DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_IMAGE_BYTES
from pixgrade.io.sources import is_uri, list_sources, read_source
from pixgrade.measures.plugins import load_plugins
from pixgrade.pipeline import ImageResult
from pixgrade.pipeline.presentation import attach_presentation, weights_sha256_of
from pixgrade.policy.decisions import Candidate, Decision, ProductSummary, decide
from pixgrade.policy.rules import Policy, Verdict

__all__ = [
    "FileEngine",
    "FilterOutcome",
    "FilterSettings",
    "ImageRecord",
    "collect_files",
    "model_base_key",
    "run_filter",
    "scorer_options",
]

logger = logging.getLogger(__name__)


@dataclass
class FilterSettings:
    """How to filter.

    Attributes:
        policy: the rules.
        group_by: ``none``, ``folder``, ``csv:FILE`` or ``pattern:REGEX`` (see :mod:`pixgrade.dedupe.grouping`).
        model: ``"default"``, a checkpoint path, ``None`` (measures only) or a loaded predictor.
        backend: model runtime (``auto``, ``torch``, ``onnx``).
        workers: worker processes (None: one per CPU; 0: in this process).
        duplicates: near-duplicate thresholds, or None to skip duplicate search.
        duplicate_scope: look for duplicates within each ``product`` or across ``all`` images.
        text_detector: ``auto``, ``db`` or ``classical``.
        facts_max_side: longest side the marketplace facts are measured at.
        max_pixels: decompression-bomb limit.
        max_image_bytes: memory budget for decoding one image (from its header, before decoding; larger ones
            get an error result); ``None``: no limit.
        max_file_bytes: largest file read (checked before reading); ``None``: no limit.
        model_key: identifies the model in the catalogue's cache (computed from ``model`` when None).
        plugins: modules or ``.py`` files registering custom factors (:mod:`pixgrade.measures.plugins`); their
            factors are measured, stored and can be named by the policy's rules (load them before the policy).
        engine: where the files to (re)score are scored (a :data:`FileEngine`, e.g.
            :func:`pixgrade.engines.ray.filter_with_ray`, what ``RayEngine.file_engine()`` returns); ``None``: worker
            processes on this machine.
    """

    policy: Policy
    group_by: str = "folder"
    model: Any = "default"
    backend: str = "auto"
    workers: int | None = None
    duplicates: DuplicateSettings | None = field(default_factory=DuplicateSettings)
    duplicate_scope: Literal["product", "all"] = "product"
    text_detector: str = "auto"
    facts_max_side: int = FACTS_MAX_SIDE
    max_pixels: int = 100_000_000
    max_image_bytes: int | None = DEFAULT_MAX_IMAGE_BYTES
    max_file_bytes: int | None = DEFAULT_MAX_FILE_BYTES
    model_key: str | None = None
    engine: FileEngine | None = None
    plugins: tuple[str, ...] = ()


FileEngine = Callable[[Sequence[str], "FilterSettings", str], Iterable[ImageResult]]
"""Scores files for :func:`run_filter`: called with ``(paths, settings, text_detector)`` (the text detector
resolved: ``db`` or ``classical``), returns one :class:`ImageResult` per path, in input order, made by a
``Scorer(**scorer_options(settings, text_detector))`` (so each carries its facts and pHash); an unreadable file
gives a result with ``error`` set, never an exception."""


def scorer_options(settings: FilterSettings, text_detector: str) -> dict[str, Any]:
    """Keyword arguments of :class:`~pixgrade.pipeline.Scorer` for filtering: the settings' model, backend and
    pixel, decoding-memory and file-size limits (1 GiB each by default, as ``score``), with the marketplace
    facts and the perceptual hash switched on."""
    return {
        "model": settings.model,
        "backend": settings.backend,
        "max_pixels": settings.max_pixels,
        "max_image_bytes": settings.max_image_bytes,
        "max_file_bytes": settings.max_file_bytes,
        "facts": True,
        "phash": True,
        # with duplicates on, their content embeddings come from the same decode as everything else
        "content": settings.duplicates is not None and settings.duplicates.embedding_similarity is not None,
        "text_detector": text_detector,
        "facts_max_side": settings.facts_max_side,
        "plugins": tuple(settings.plugins),
    }


@dataclass
class ImageRecord:
    """Everything known about one image after filtering."""

    path: str
    result: ImageResult
    facts: ImageFacts | None
    phash: str | None
    size_bytes: int | None
    reused: bool
    verdict: Verdict | None = None
    decision: Decision | None = None
    location: str | None = None
    """Where the file is now when that is not ``path`` (an original an interrupted ``--move`` took away)."""


@dataclass
class FilterOutcome:
    """The result of :func:`run_filter`."""

    records: list[ImageRecord]
    products: list[ProductSummary]
    clusters: list[tuple[str, list[str]]]
    """(kept path, duplicate paths) per duplicate cluster, in cluster-number order (cluster 1 first); the kept
    copy is the cluster's best by the ranking of :mod:`pixgrade.policy.decisions` (a passing one when any
    passes)."""
    run_id: int
    n_reused: int
    model_key: str
    duplicate_details: list[dict[str, Any]] = field(default_factory=list)
    """Per cluster: its id, the kept path, each duplicate's kind of match, and the verified pairs."""

    @property
    def n_failed(self) -> int:
        """Images that could not be read."""
        return sum(1 for r in self.records if r.result.error is not None)


def collect_files(
    inputs: Sequence[str | Path], exclude: Sequence[str | Path] = (), on_error: WalkErrorHandler | None = None
) -> list[Path]:
    """Every file under ``inputs`` (sorted, hidden files skipped), minus those inside any ``exclude`` folder
    (the output folder when it lies inside the input). ``on_error`` gets each unreadable folder or entry with its
    cause (see :func:`~pixgrade.io.iter_image_files`). Local paths only: :func:`collect_sources` lists URIs too."""
    return [p for p in collect_sources(inputs, exclude, on_error) if isinstance(p, Path)]


def collect_sources(
    inputs: Sequence[str | Path], exclude: Sequence[str | Path] = (), on_error: WalkErrorHandler | None = None
) -> list[Path | str]:
    """:func:`collect_files`, with URIs (``s3://bucket/prefix/``…) listed by
    :func:`~pixgrade.io.sources.list_sources`: local files as ``Path``, objects as their URI strings."""
    excluded = [Path(e).resolve() for e in exclude]
    files: list[Path | str] = []
    local = [p for p in inputs if not is_uri(p)]
    remote = [str(p) for p in inputs if is_uri(p)]
    if remote:
        files.extend(list_sources(remote))
    for path in iter_image_files([Path(p) for p in local], on_error=on_error):
        resolved = path.resolve()
        if any(resolved == e or e in resolved.parents for e in excluded):
            continue
        files.append(path)
    return files


def source_key(source: str | Path) -> str:
    """The catalogue's key of an image source: a URI as it is, a local path made absolute (symlinks resolved)."""
    return str(source) if is_uri(source) else str(Path(source).resolve())


def _group_path(source: str) -> Path:
    """The path that grouping sees for a source: a URI's bucket and key (``s3://shop/a/b.jpg`` → ``shop/a/b.jpg``),
    a local path as it is."""
    return Path(source.split("://", 1)[1]) if is_uri(source) else Path(source)


def model_base_key(model: Any) -> str:
    """The part of the catalogue's model key that names the model: ``none``, ``NAME@SHA256-prefix`` of a checkpoint
    (``default`` included) or ``TYPE@object`` for a loaded predictor."""
    if model is None or (isinstance(model, str) and model.lower() == "none"):
        return "none"
    if isinstance(model, str | Path):
        path = Path(model)
        if str(model) == "default":
            from pixgrade.model.loader import DEFAULT_MODEL_PATH

            path = DEFAULT_MODEL_PATH
        digest = sha256_file(path)[:16] if path.is_file() else "missing"
        return f"{model}@{digest}"
    return f"{type(model).__name__}@object"


def _model_key(settings: FilterSettings, model_name: str, text_detector: str) -> str:
    base = settings.model_key or model_base_key(settings.model)
    key = f"{base}|pixgrade {__version__}|facts v{FACTS_VERSION} {text_detector}"
    custom = load_plugins(settings.plugins)  # stored results without these factors are not reused
    return f"{key}|factors +{','.join(custom)}" if custom else key


def run_filter(
    inputs: Sequence[str | Path],
    settings: FilterSettings,
    catalog: Catalog,
    *,
    exclude: Sequence[str | Path] = (),
    command: str = "filter",
    progress: Callable[[str], None] | None = None,
    relocated: Mapping[str, Path] | None = None,
    progress_bar: Callable[[Iterable[ImageResult], int], Iterable[ImageResult]] | None = None,
) -> FilterOutcome:
    """Filter the images under ``inputs`` by ``settings``, recording everything in ``catalog``.

    Unchanged files (same SHA-256 and model key as stored) reuse their stored scores and facts; new or changed
    files are scored, with their facts and pHash, in one pass. Unreadable files are rejected with their load
    error and the run goes on. ``progress`` receives one-line messages; ``progress_bar(results, total)`` may wrap
    the stream of new results (e.g. in ``tqdm``) to show how far scoring is.
    """
    from pixgrade.pipeline import Scorer

    say = progress or (lambda message: None)
    text_detector = settings.text_detector
    if text_detector == "auto":
        text_detector = available_text_detectors()[0]
    walk_errors: list[tuple[Path, str]] = []
    files = collect_sources(inputs, exclude, on_error=lambda path, cause: walk_errors.append((path, cause)))
    locations: dict[Path | str, Path] = {}
    if relocated:  # originals an earlier --move took away: judged again under their original paths
        present = {p.resolve() for p in files if isinstance(p, Path)}
        for original, now in relocated.items():
            if Path(original).resolve() not in present and now.resolve() not in present:
                files.append(Path(original))
                locations[Path(original)] = now
    scorer: Scorer | None = None

    def get_scorer() -> Scorer:
        nonlocal scorer
        if scorer is None:
            scorer = Scorer(**scorer_options(settings, text_detector))
        return scorer

    model_name = "none"
    if settings.model is not None and not (isinstance(settings.model, str) and settings.model.lower() == "none"):
        model_name = str(settings.model) if isinstance(settings.model, str | Path) else type(settings.model).__name__
    model_key = _model_key(settings, model_name, text_detector)
    from pixgrade.provenance import provenance

    record = provenance(
        settings.model,
        backend=f"{settings.backend} (requested; reused results keep their own)",
        text_detector=text_detector,
        policy=settings.policy,
    )
    run_id = catalog.start_run(command, settings.policy.name, model_key, provenance=record)
    try:
        return _filter_run(
            files,
            walk_errors,
            inputs,
            settings,
            catalog,
            run_id,
            model_key,
            text_detector,
            exclude,
            say,
            get_scorer,
            locations,
            progress_bar,
        )
    except BaseException:  # Ctrl-C or an error: the run is over, not running (a kill -9 is caught at the next start)
        catalog.finish_run(run_id, 0, 0, status="interrupted")
        raise


def _filter_run(
    files: list[Path | str],
    walk_errors: list[tuple[Path, str]],
    inputs: Sequence[str | Path],
    settings: FilterSettings,
    catalog: Catalog,
    run_id: int,
    model_key: str,
    text_detector: str,
    exclude: Sequence[str | Path],
    say: Callable[[str], None],
    get_scorer: Callable[[], Any],
    locations: Mapping[Path | str, Path],
    progress_bar: Callable[[Iterable[ImageResult], int], Iterable[ImageResult]] | None,
) -> FilterOutcome:
    """The body of :func:`run_filter` once the run is logged."""

    records: dict[str, ImageRecord] = {}
    todo: list[Path | str] = []
    sizes: dict[str, int] = {}
    excluded = [Path(e).resolve() for e in exclude]
    walk_keys: list[str] = []
    for entry, cause in walk_errors:  # unreadable folders and entries: rejected with their cause, like bad files
        key = str(entry.absolute())
        if any(Path(key) == e or e in Path(key).parents for e in excluded) or key in records:
            continue
        records[key] = ImageRecord(str(entry), ImageResult(path=key, error=cause), None, None, None, reused=False)
        walk_keys.append(key)
    for path in files:
        key = source_key(path)
        try:
            if isinstance(path, str):  # a URI: its bytes are read here once more by the engine
                data = read_source(path)
                sha, size = hashlib.sha256(data).hexdigest(), len(data)
            else:
                sha = sha256_file(locations.get(path, path))
                size = locations.get(path, path).stat().st_size
        except (OSError, ImageLoadError) as exc:
            cause = exc.cause if isinstance(exc, ImageLoadError) else f"cannot read the file: {exc.strerror or exc}"
            result = ImageResult(path=key, error=cause)
            records[key] = ImageRecord(str(path), result, None, None, None, reused=False)
            continue
        sizes[key] = size
        stored = catalog.lookup(sha, model_key, key)
        if stored is not None:
            records[key] = ImageRecord(str(path), stored.result, stored.facts, stored.phash, size, reused=True)
            records[key].location = str(locations[path]) if path in locations else None
        else:
            todo.append(path)
    n_reused = sum(r.reused for r in records.values())
    say(f"{len(files)} files: {n_reused} unchanged (stored scores reused), {len(todo)} to score")

    # Presentation and main score from the (fresh or stored) factors and embedding, attached before each record is
    # stored: the same for every record however it was obtained (engine, or reused), and kept in the catalogue.
    weights_sha = weights_sha256_of(settings.model) if isinstance(settings.model, str | Path) else None
    if todo:
        names = [str(locations.get(p, p)) for p in todo]
        work: Iterable[ImageResult]
        if settings.engine is not None:
            work = settings.engine(names, settings, text_detector)
        else:
            work = get_scorer().score_paths(names, workers=settings.workers)
        if progress_bar is not None:
            work = progress_bar(work, len(names))
        for path, result in zip(todo, work, strict=True):
            key = source_key(path)
            result.path = key
            n_bytes = sizes.get(key)
            facts = result.facts if result.error is None else None
            phash = result.phash if result.error is None else None
            record = ImageRecord(str(path), result, facts, phash, n_bytes, False)
            record.location = str(locations[path]) if path in locations else None
            attach_presentation(result, weights_sha)
            catalog.save_analysis(
                result, model_key=model_key, facts=facts, phash=phash, size_bytes=n_bytes, run_id=run_id
            )
            records[key] = record
        say(f"scored {len(todo)} files")
    for key, record in records.items():
        if record.reused:
            attach_presentation(record.result, weights_sha)
        if record.reused or (record.result.error is not None and catalog.image_id(key) is None):
            catalog.save_analysis(
                record.result,
                model_key=model_key,
                facts=record.facts,
                phash=record.phash,
                size_bytes=record.size_bytes,
                run_id=run_id,
            )

    ordered = [records[key] for key in walk_keys]
    ordered += [records[source_key(p)] for p in files]
    root = None
    if len(inputs) == 1:  # one folder (or bucket prefix) given: products are named relative to it
        only = str(inputs[0])
        if is_uri(only):
            root = _group_path(only.rstrip("/")) if any(str(p) != only for p in files) else None
        elif Path(only).is_dir():
            root = Path(only)
    group_paths = [_group_path(r.path) for r in ordered]
    products = grouper_from_spec(settings.group_by, root)(group_paths)
    product_of = [products[p] for p in group_paths]

    for record in ordered:
        record.verdict = settings.policy.judge(record.result, record.facts, file_bytes=record.size_bytes)

    cluster_of: dict[int, str] = {}
    found: list[DuplicateCluster] = []
    if settings.duplicates is not None and ordered:
        found = _find_duplicates(ordered, product_of, settings, catalog, model_key, get_scorer, say)
        for cluster in found:
            for i in cluster.members:
                cluster_of[i] = cluster.cluster_id

    candidates = [
        Candidate(
            path=r.path,
            product=product_of[i],
            score=r.result.score,
            verdict=r.verdict,  # type: ignore[arg-type]
            presentation=r.result.presentation,
            main_score=r.result.main_score,
            cluster=cluster_of.get(i),
            pixels=(r.result.width or 0) * (r.result.height or 0) or None,
            sha256=r.result.sha256,
        )
        for i, r in enumerate(ordered)
    ]
    decisions, summaries = decide(candidates)
    for record, decision in zip(ordered, decisions, strict=True):
        record.decision = decision
    # The kept copy of each cluster is the one decide() kept (its best by the ranking), not find_duplicates' pick.
    clusters: list[tuple[str, list[str]]] = []
    duplicate_details: list[dict[str, Any]] = []
    for cluster in found:
        kept = [i for i in cluster.members if decisions[i].decision != "duplicate"]
        if len(kept) != 1:  # pragma: no cover - decide keeps exactly one readable copy per cluster
            continue
        dups = tuple(i for i in cluster.members if i != kept[0])
        clusters.append((ordered[kept[0]].path, [ordered[i].path for i in dups]))
        duplicate_details.append(_cluster_json(cluster, ordered, kept[0]))
    catalog.save_outcomes(
        run_id,
        [(r.result.path, r.verdict, r.decision) for r in ordered],  # type: ignore[misc]
    )
    catalog.finish_run(run_id, len(ordered), n_reused)
    return FilterOutcome(ordered, summaries, clusters, run_id, n_reused, model_key, duplicate_details)


def _find_duplicates(
    ordered: list[ImageRecord],
    product_of: list[str],
    settings: FilterSettings,
    catalog: Catalog,
    model_key: str,
    get_scorer: Callable[[], Any],
    say: Callable[[str], None],
) -> list[DuplicateCluster]:
    """The duplicate step: content embeddings (stored ones reused), then :func:`find_duplicates` with keypoint
    verification on the files."""
    assert settings.duplicates is not None
    valid = [r.result.error is None and r.phash is not None for r in ordered]
    embeddings: list[Any] = [None] * len(ordered)
    predictor = None if settings.model is None or settings.model == "none" else get_scorer().predictor
    if predictor is not None and settings.duplicates.embedding_similarity is not None:
        model = content_model_name(model_key)
        keyed = [(source_key(r.path), r.result.sha256) for r, ok in zip(ordered, valid, strict=True) if ok]
        fresh = {  # computed by the per-image stage of this run (reused records have theirs stored)
            source_key(r.path): r.result.content_embedding
            for r, ok in zip(ordered, valid, strict=True)
            if ok and r.result.content_embedding is not None
        }
        computed = iter(content_embeddings_for(catalog, keyed, predictor, model, fresh=fresh))
        embeddings = [next(computed) if ok else None for ok in valid]
        say(f"content embeddings of {sum(valid)} images")
    found = find_duplicates(
        [r.phash if ok else None for r, ok in zip(ordered, valid, strict=True)],
        embeddings,
        [r.result.score for r in ordered],
        settings.duplicates,
        groups=product_of if settings.duplicate_scope == "product" else None,
        loader=lambda i: load_pixels(ordered[i].path),
        sizes=[(r.result.width, r.result.height) if r.result.width and r.result.height else None for r in ordered],
    )
    say(f"{len(found)} duplicate clusters")
    return found


def _cluster_json(cluster: DuplicateCluster, ordered: list[ImageRecord], keep: int) -> dict[str, Any]:
    duplicates = [i for i in cluster.members if i != keep]
    return {
        "cluster": cluster.cluster_id,
        "keep": ordered[keep].path,
        "duplicates": [ordered[i].path for i in duplicates],
        "kinds": {ordered[i].path: cluster.kind_of(i) for i in duplicates},
        "matches": [
            {
                "a": ordered[m.a].path,
                "b": ordered[m.b].path,
                "kind": m.kind,
                "similarity": round(m.similarity, 4),
                "evidence": m.evidence,
            }
            for m in cluster.matches
        ],
    }
