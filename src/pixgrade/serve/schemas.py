"""JSON shapes of the API (pydantic models: they are the OpenAPI schema and validate every answer)."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "DuplicateMatchOut",
    "DuplicateResultOut",
    "DuplicatesResponse",
    "ErrorBody",
    "FactorInfo",
    "FactorOut",
    "HealthOut",
    "HeatmapOut",
    "ImageError",
    "ImageScore",
    "PolicyOut",
    "RuleVerdictOut",
    "ScoreResponse",
    "finite",
]


def finite(value: float | None, digits: int = 4) -> float | None:
    """A JSON-safe float: rounded; ``None`` for missing, NaN or infinite values."""
    if value is None:
        return None
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


class FactorOut(BaseModel):
    """One measured factor."""

    score: float | None = Field(description="normalised score in [0, 1], 1 = good")
    value: float | None = Field(description="raw measured value (unit: see GET /v1/factors)")
    flag: bool = Field(description="true when the factor is a problem")
    reason: str | None = Field(default=None, description="plain-language finding when flagged")


class RuleVerdictOut(BaseModel):
    """One marketplace rule's outcome."""

    rule: str = Field(description="rule id")
    passed: bool | None = Field(description="true pass, false fail, null when the metric could not be measured")
    value: Any = Field(default=None, description="the measured value")
    threshold: str = Field(description="the requirement in words, e.g. 'at least 1000 px'")
    action: str = Field(description="'reject' (hard rule) or 'warn' (soft rule)")
    message: str = Field(description="plain-language outcome")


class PolicyOut(BaseModel):
    """The policy's verdict on the image."""

    name: str
    decision: str = Field(description="'accept' or 'reject'")
    passed: bool
    reasons: list[str] = Field(default_factory=list, description="why it was rejected (failed hard rules)")
    warnings: list[str] = Field(default_factory=list, description="failed soft rules")
    rules: list[RuleVerdictOut] = Field(default_factory=list)


class HeatmapOut(BaseModel):
    """Where the image lost points: a PNG overlay (hot colours = regions that lowered the score)."""

    png_base64: str = Field(description="PNG of the image with the heatmap blended in, base64-encoded")
    width: int
    height: int
    method: str = Field(description="explanation method, e.g. 'gradcam' (see docs/serving.md)")


class ImageError(BaseModel):
    """Why an image could not be scored."""

    status: int = Field(description="the HTTP status that fits this failure (413, 415, 422 or 500)")
    code: str = Field(description="machine-readable cause, e.g. not_an_image, corrupt_image, empty_file")
    message: str


class ImageScore(BaseModel):
    """The verdict on one uploaded image."""

    filename: str = Field(description="the uploaded file's name (a label only)")
    ok: bool
    score: float | None = Field(default=None, description="overall quality on 0-5, higher is better")
    grade: int | None = Field(default=None, description="score rounded to a whole grade 0-5")
    factors: dict[str, FactorOut] = Field(default_factory=dict)
    severities: dict[str, float | None] = Field(
        default_factory=dict, description="model severities in [0, 1], 1 = severe"
    )
    reasons: list[str] = Field(default_factory=list, description="plain-language findings, most important first")
    presentation: float | None = Field(
        default=None,
        description="catalogue-shot judgement in [0, 1]: 1 = plain clean background, product centred and filling "
        "the frame; 0 = a casual photo (scene, hands, shelves, clutter, added text or borders)",
    )
    presentation_reasons: list[str] = Field(
        default_factory=list, description="plain words for the presentation judgement, the judgement first"
    )
    main_score: float | None = Field(
        default=None,
        description="how good the image is as a product's main image, in [0, 1]: sqrt(score / 5 * presentation)",
    )
    width: int | None = None
    height: int | None = None
    format: str | None = None
    sha256: str | None = None
    policy: PolicyOut | None = None
    heatmap: HeatmapOut | None = None
    error: ImageError | None = None


class ScoreResponse(BaseModel):
    """Answer of ``POST /v1/score``: one entry per uploaded image, in upload order."""

    results: list[ImageScore]
    model: str = Field(description="the model that scored the images ('none' = factor measures only)")
    policy: str | None = None
    provenance: dict[str, Any] = Field(
        default_factory=dict,
        description="pixgrade version, model and weights SHA-256, backend, text detector, policy name and hash",
    )


class ErrorBody(BaseModel):
    """Every error answer: ``detail`` says what went wrong; ``results`` lists per-image failures when any."""

    detail: str
    results: list[ImageScore] | None = None


class HealthOut(BaseModel):
    """Service state and limits."""

    status: str = Field(description="'ok', or 'unavailable' when the model worker is not running")
    version: str
    model: str
    backend: str = Field(description="inference backend: 'int8', 'onnx' (fp32), 'torch', or 'none' (measures only)")
    heatmaps: bool = Field(description="true when POST /v1/score?heatmap=true is supported")
    policy: str | None
    auth_required: bool
    queue_depth: int = Field(description="images waiting for the model")
    in_flight: int = Field(description="images admitted and not yet answered")
    max_queue: int
    max_batch: int
    max_files: int
    max_upload_bytes: int
    provenance: dict[str, Any] = Field(default_factory=dict, description="as in every score answer")


class LiveOut(BaseModel):
    """Liveness: the process answers HTTP."""

    status: str = Field(description="always 'alive'")
    version: str
    pid: int = Field(description="the answering server process (several with `pixgrade serve --workers N`)")


class ReadyOut(BaseModel):
    """Readiness: whether this process can score now."""

    status: str = Field(description="'ready' (model loaded, worker running) or 'not ready'")
    model: str
    backend: str


class FactorInfo(BaseModel):
    """What a factor measures."""

    name: str
    description: str
    unit: str
    direction: str
    threshold: str


class DuplicateMatchOut(BaseModel):
    """A catalogue image the upload nearly duplicates."""

    path: str = Field(description="the catalogue image's path, as the catalogue stores it")
    kind: str = Field(
        description="identical, recompressed, resized, colour-shifted, crop (one shows part of the other) or similar"
    )
    similarity: float = Field(description="in [0, 1], higher = more alike")
    evidence: str = Field(description="what decided it: hash, embedding or keypoints")
    hash_distance: int | None = Field(default=None, description="pHash Hamming distance in bits of 256")
    embedding_similarity: float | None = Field(default=None, description="content-embedding cosine")


class DuplicateResultOut(BaseModel):
    """The catalogue matches of one uploaded image (most similar first), or why it could not be read."""

    filename: str
    matches: list[DuplicateMatchOut]
    error: str | None = None


class DuplicatesResponse(BaseModel):
    """Answer of ``POST /v1/duplicates``."""

    results: list[DuplicateResultOut]
    catalog_images: int = Field(description="catalogue images in the duplicate index")


class RenditionOut(BaseModel):
    """One rendition of ``POST /v1/renditions``."""

    name: str = Field(description="a file name for it: <stem>-<size>.<ext>")
    size: int = Field(description="the longest side asked for (px)")
    format: str = Field(description="jpeg, webp or avif")
    status: str = Field(description="ok, target_not_met (highest quality searched, still below), skipped, failed")
    width: int | None = None
    height: int | None = None
    quality: int | None = Field(None, description="the encoder quality chosen (the smallest meeting min_ssim)")
    bytes: int | None = Field(None, description="length of the encoded file")
    ssim: float | None = Field(None, description="SSIM on luminance against the resized original")
    score: float | None = Field(None, description="the rendition's learned score, 0-5 (with max_grade_drop)")
    grade: int | None = Field(None, description="the rendition's grade, 1-5 (with max_grade_drop)")
    reference_score: float | None = Field(None, description="the resized original's score (with max_grade_drop)")
    score_drop: float | None = Field(None, description="reference_score - score (with max_grade_drop)")
    data_base64: str | None = Field(None, description="the encoded file, base64 (none when skipped or failed)")
    error: str | None = None


class RenditionsResponse(BaseModel):
    """Answer of ``POST /v1/renditions``: every size x format of the one uploaded image."""

    source: str = Field(description="the uploaded file's name")
    width: int = Field(description="the source's width after EXIF orientation")
    height: int
    min_ssim: float
    max_grade_drop: float | None = Field(None, description="the grade bound applied (none: SSIM only)")
    keep_icc: bool = Field(False, description="whether the files embed an sRGB ICC profile")
    renditions: list[RenditionOut]
