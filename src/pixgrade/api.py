"""The one-call Python API: ``pixgrade.score``, ``pixgrade.filter`` and ``pixgrade.load_model``.

Inputs may be file paths, folders (every image file under them, sorted), encoded bytes, PIL images or NumPy
arrays (``H×W`` grey, ``H×W×3`` RGB or ``H×W×4`` RGBA, ``uint8``), one of them or a list. In-memory images are
encoded losslessly (PNG) and go through the same loading and measuring as files. Results keep the input order and
turn into a pandas DataFrame with ``.to_pandas()``. An input of any other type raises :class:`TypeError` at once;
an input that is the right type but not a readable image gives a result whose ``error`` says why (as the command
line does), unless ``errors="raise"``.

>>> import numpy as np, pixgrade
>>> results = pixgrade.score([np.full((64, 64, 3), 200, np.uint8)], model="none")
>>> len(results), results[0].ok
(1, True)
>>> list(results.to_pandas().columns[:3])
['path', 'score', 'grade']
>>> pixgrade.score(42)
Traceback (most recent call last):
...
TypeError: input 0: unsupported type int; give a path, a folder, bytes, a PIL image or a NumPy array
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np

from pixgrade.errors import ConfigError, PixgradeError

if TYPE_CHECKING:
    import pandas as pd

    from pixgrade.pipeline import ImageResult, Scorer

__all__ = ["Decision", "Decisions", "Results", "filter", "load_model", "score"]

ImageInput = Any
"""A path, a folder, encoded bytes, a PIL image or a NumPy array."""

_BATCH = 16


class Results(Sequence["ImageResult"]):
    """The :class:`~pixgrade.pipeline.ImageResult` of each input image, in input order."""

    def __init__(
        self,
        results: list[ImageResult],
        factor_names: Sequence[str] | None = None,
        provenance: dict[str, Any] | None = None,
    ) -> None:
        self._results = results
        self._factor_names = factor_names
        self.provenance: dict[str, Any] = provenance or {}
        """What produced these results (:func:`pixgrade.provenance.provenance`)."""

    @overload
    def __getitem__(self, index: int) -> ImageResult: ...
    @overload
    def __getitem__(self, index: slice) -> Results: ...
    def __getitem__(self, index: int | slice) -> ImageResult | Results:
        if isinstance(index, slice):
            return Results(self._results[index], self._factor_names, self.provenance)
        return self._results[index]

    def __len__(self) -> int:
        return len(self._results)

    def __repr__(self) -> str:
        failed = sum(1 for r in self._results if not r.ok)
        return f"<pixgrade.Results: {len(self)} images, {failed} failed>"

    @property
    def errors(self) -> dict[str, str]:
        """``{path or label: cause}`` of the inputs that could not be scored."""
        return {r.path: str(r.error) for r in self._results if r.error is not None}

    def to_pandas(self) -> pd.DataFrame:
        """One row per image with the columns of ``pixgrade score`` (:func:`pixgrade.pipeline.result_columns`)."""
        import pandas as pd

        from pixgrade.measures import FACTOR_NAMES
        from pixgrade.pipeline import result_columns

        names = tuple(self._factor_names) if self._factor_names is not None else FACTOR_NAMES
        rows = [r.to_row(names) for r in self._results]
        return pd.DataFrame(rows, columns=result_columns(names))


@dataclass(frozen=True)
class Decision:
    """A policy's verdict on one image: ``accept`` or ``reject``, with the reasons and warnings."""

    path: str
    decision: str | None
    reasons: tuple[str, ...]
    warnings: tuple[str, ...]
    result: ImageResult

    @property
    def accepted(self) -> bool:
        return self.decision == "accept"


class Decisions(Sequence[Decision]):
    """The :class:`Decision` on each input image, in input order, under policy :attr:`policy`."""

    def __init__(self, decisions: list[Decision], policy: str, provenance: dict[str, Any] | None = None) -> None:
        self._decisions = decisions
        self.policy = policy
        self.provenance: dict[str, Any] = provenance or {}
        """What produced these decisions (:func:`pixgrade.provenance.provenance`), policy hash included."""

    @overload
    def __getitem__(self, index: int) -> Decision: ...
    @overload
    def __getitem__(self, index: slice) -> list[Decision]: ...
    def __getitem__(self, index: int | slice) -> Decision | list[Decision]:
        return self._decisions[index]

    def __len__(self) -> int:
        return len(self._decisions)

    def __repr__(self) -> str:
        accepted = sum(1 for d in self._decisions if d.accepted)
        return f"<pixgrade.Decisions ({self.policy}): {len(self)} images, {accepted} accepted>"

    def to_pandas(self) -> pd.DataFrame:
        """One row per image: ``path, decision, reasons, warnings, score, grade, error``."""
        import pandas as pd

        rows = [
            {
                "path": d.path,
                "decision": d.decision,
                "reasons": "; ".join(d.reasons) or None,
                "warnings": "; ".join(d.warnings) or None,
                "score": d.result.score,
                "grade": d.result.grade,
                "error": d.result.error,
            }
            for d in self._decisions
        ]
        return pd.DataFrame(rows, columns=["path", "decision", "reasons", "warnings", "score", "grade", "error"])


def load_model(
    model: str | Path = "default",
    backend: str = "auto",
    factors: Sequence[str] | None = None,
    *,
    plugins: Sequence[str] = (),
) -> Scorer:
    """Load a model once, to pass as ``model=`` to :func:`score` and :func:`filter` many times.

    ``model``: ``"default"`` (shipped), ``"none"`` (measures only) or a checkpoint / ONNX path; ``backend`` as in
    :func:`pixgrade.model.predictor.load_predictor`; ``plugins``: modules or ``.py`` files registering custom
    factors (as ``--plugin``). Returns a :class:`pixgrade.pipeline.Scorer`.

    >>> import pixgrade
    >>> pixgrade.load_model("none").model_name
    'none'
    """
    from pixgrade.pipeline import Scorer

    return Scorer(model, backend=backend, factors=factors, plugins=plugins)


def _is_image_object(item: Any) -> bool:
    from PIL import Image

    return isinstance(item, Image.Image | np.ndarray)


def _as_list(inputs: ImageInput | Iterable[ImageInput]) -> list[Any]:
    if isinstance(inputs, str | Path | bytes | bytearray | memoryview) or _is_image_object(inputs):
        return [inputs]
    if isinstance(inputs, Iterable):
        return list(inputs)
    return [inputs]


def _png_bytes(item: Any, index: int) -> bytes:
    from PIL import Image

    if isinstance(item, np.ndarray):
        array = item
        if array.dtype != np.uint8 or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
            raise TypeError(
                f"input {index}: a NumPy array must be uint8 of shape (H, W), (H, W, 3) RGB or (H, W, 4) RGBA, "
                f"got {array.dtype} {array.shape}"
            )
        image = Image.fromarray(np.ascontiguousarray(array))
    else:
        image = item
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _sources(items: list[Any], recursive: bool) -> Iterator[tuple[str, str | bytes, str | None]]:
    """``(label, path or bytes, format to report)`` per image, folders expanded; TypeError for other types."""
    from pixgrade.io import iter_image_files
    from pixgrade.io.sources import is_uri, list_sources

    for index, item in enumerate(items):
        if isinstance(item, str) and is_uri(item):  # s3://bucket/prefix/, gs://…: listed (recursively) by pyarrow
            for uri in list_sources([item]):
                yield uri, uri, None
        elif isinstance(item, str | Path):
            path = Path(item)
            if path.is_dir():
                for file in iter_image_files(path, recursive=recursive):
                    yield str(file), str(file), None
            else:
                yield str(item), str(item), None
        elif isinstance(item, bytes | bytearray | memoryview):
            yield f"<bytes {index}>", bytes(item), None
        elif _is_image_object(item):
            label = f"<{'array' if isinstance(item, np.ndarray) else 'PIL image'} {index}>"
            yield label, _png_bytes(item, index), getattr(item, "format", None)
        else:
            raise TypeError(
                f"input {index}: unsupported type {type(item).__name__}; "
                "give a path, a folder, bytes, a PIL image or a NumPy array"
            )


def _scorer(
    model: Any,
    backend: str,
    factors: Sequence[str] | None = None,
    facts: bool = False,
    text_detector: str = "auto",
    plugins: Sequence[str] = (),
) -> Scorer:
    from pixgrade.measures.plugins import absolute_plugins
    from pixgrade.pipeline import Scorer

    if isinstance(model, Scorer):
        missing = [p for p in absolute_plugins(plugins) if p not in model.plugins]
        if missing:
            raise ConfigError(
                f"plugins {', '.join(missing)}: give them to pixgrade.load_model(plugins=...), whose Scorer decides "
                "the factors measured"
            )
        if not facts or model.facts:
            return model
        # a loaded model without marketplace facts: the same predictor and plugins, with facts measured too
        plugins = model.plugins
        model = model.predictor if model.predictor is not None else "none"
    try:
        return Scorer(
            model, backend=backend, factors=factors, facts=facts, text_detector=text_detector, plugins=plugins
        )
    except FileNotFoundError as exc:
        raise PixgradeError(f"{model}: model not found ({exc})") from None


def _score_all(scorer: Scorer, sources: list[tuple[str, str | bytes, str | None]]) -> list[ImageResult]:
    from pixgrade.pipeline.analysis import analyse

    settings = scorer.settings
    results: list[ImageResult] = []
    for start in range(0, len(sources), _BATCH):
        batch = sources[start : start + _BATCH]
        analyses = [analyse(source, settings, label=label) for label, source, _ in batch]
        for result, (_, source, fmt) in zip(scorer.score_batch(analyses), batch, strict=True):
            if isinstance(source, bytes) and fmt is not None and result.error is None:
                result.format = fmt  # a PIL image read from a file: its own format, not the PNG it was passed as
            results.append(result)
    return results


def _provenance(scorer: Scorer, **extra: Any) -> dict[str, Any]:
    from pixgrade.provenance import provenance

    return provenance(getattr(scorer, "_model_spec", None) or "none", scorer.predictor, **extra)


def _raise_on_errors(results: list[ImageResult]) -> None:
    failed = [r for r in results if r.error is not None]
    if failed:
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        raise PixgradeError(f"{failed[0].path}: {failed[0].error}{more}")


def score(
    inputs: ImageInput | Iterable[ImageInput],
    model: str | Path | Scorer = "default",
    *,
    backend: str = "auto",
    factors: Sequence[str] | None = None,
    recursive: bool = True,
    errors: Literal["keep", "raise"] = "keep",
    plugins: Sequence[str] = (),
) -> Results:
    """Score images: the 0–5 quality score, grade, factors, severities and reasons of each.

    Args:
        inputs: a path, a folder, a URI (``s3://bucket/photos/``, ``gs://…``: an object, or a prefix listed
            recursively through :mod:`pyarrow.fs`), bytes, a PIL image, a NumPy array, or a list of them.
        model: ``"default"``, ``"none"`` (measures only), a checkpoint path, or a model from :func:`load_model`.
        backend: model runtime (``"auto"``: INT8 ONNX Runtime for the shipped model).
        factors: factor names to measure (default: the 11 built-in ones); a factor added with
            :func:`pixgrade.measures.register_factor` is accepted by name and gets its columns.
        plugins: modules (dotted names) or ``.py`` files registering custom factors, loaded first (as the command
            line's ``--plugin``); their factors are added to the default ones.
        recursive: look into sub-folders of a local folder.
        errors: ``"keep"`` (default): an unreadable image is a result with ``error`` set; ``"raise"``: raise
            :class:`pixgrade.errors.PixgradeError` naming the first one.

    Raises:
        TypeError: an input of an unsupported type (before anything is scored).

    >>> import pixgrade
    >>> from PIL import Image
    >>> result = pixgrade.score(Image.new("RGB", (80, 60), "white"), model="none")[0]
    >>> (result.width, result.height, result.error)
    (80, 60, None)
    """
    sources = list(_sources(_as_list(inputs), recursive))  # a TypeError before any work
    scorer = _scorer(model, backend, factors, plugins=plugins)
    results = _score_all(scorer, sources)
    if errors == "raise":
        _raise_on_errors(results)
    return Results(results, scorer.factor_names, _provenance(scorer))


def filter(
    inputs: ImageInput | Iterable[ImageInput],
    policy: str | Path = "amazon-main",
    model: str | Path | Scorer = "default",
    *,
    backend: str = "auto",
    factors: Sequence[str] | None = None,
    recursive: bool = True,
    text_detector: str = "auto",
    errors: Literal["keep", "raise"] = "keep",
    plugins: Sequence[str] = (),
) -> Decisions:
    """Accept or reject each image under a marketplace policy (a preset name or a policy file).

    Per-image rules only, as the HTTP service applies them; grouping by product, the main image and duplicates
    are the ``pixgrade filter`` command's (:func:`pixgrade.catalog.run_filter`). An image that cannot be read
    has decision ``None`` and its ``result.error`` set. ``plugins`` (modules or ``.py`` files registering custom
    factors, as ``--plugin``) are loaded before the policy, whose rules may name their factors.

    >>> import numpy as np, pixgrade
    >>> decisions = pixgrade.filter([np.zeros((40, 40, 3), np.uint8)], policy="amazon-main", model="none")
    >>> decisions[0].decision
    'reject'
    """
    from pixgrade.io.sources import source_size
    from pixgrade.policy import load_policy

    sources = list(_sources(_as_list(inputs), recursive))  # a TypeError before any work
    from pixgrade.measures.plugins import load_plugins

    load_plugins(plugins)  # before the policy: its rules may name the plugins' factors
    loaded = load_policy(str(policy))
    # the per-image stage of `pixgrade filter`: one decode gives the scores and the marketplace facts
    scorer = _scorer(model, backend, factors, facts=True, text_detector=text_detector, plugins=plugins)
    decisions: list[Decision] = []
    for (label, source, _), result in zip(sources, _score_all(scorer, sources), strict=True):
        if result.error is not None:
            decisions.append(Decision(label, None, (), (), result))
            continue
        size = len(source) if isinstance(source, bytes) else source_size(source)
        verdict = loaded.judge(result, result.facts, file_bytes=size)
        reasons = tuple(verdict.reasons)
        decisions.append(Decision(label, verdict.decision, reasons, tuple(w.reason for w in verdict.warnings), result))
    if errors == "raise":
        _raise_on_errors([d.result for d in decisions])
    return Decisions(decisions, str(loaded.name), _provenance(scorer, text_detector=text_detector, policy=loaded))
