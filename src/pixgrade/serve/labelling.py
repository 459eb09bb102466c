"""The labelling service: the page at ``/label`` and its API under ``/v1/label`` and ``/v1/adapt``.

Built with :func:`create_label_app` on the same stack as the scoring service (FastAPI, uvicorn, local assets, no
CDN). The grading standard shown beside the image is ``docs/grading.md`` (rendered with markdown-it-py, raw HTML
disabled; its images are served from its folder) or a short built-in summary when the file is not there.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from pixgrade import __version__
from pixgrade.label.session import MODES, LabelSession
from pixgrade.serve.routes.pages import STATIC_DIR, swagger_assets

__all__ = ["FALLBACK_STANDARD", "create_label_app", "find_standard"]

logger = logging.getLogger(__name__)


FALLBACK_STANDARD = """# Grading standard (summary)

`docs/grading.md` was not found; this is the short form of pixgrade's standard.

| grade | meaning for a product photo |
|---|---|
| **5** | publishable as the main image: sharp, clean colour and tones |
| **4** | good: a flaw only an expert sees side by side with a perfect shot |
| **3** | acceptable as a secondary image: a visible flaw that does not hide the product |
| **2** | a defect a shopper notices: blur, noise, wrong colour, blown highlights, flat contrast |
| **1** | unusable: the defect dominates the picture |
| **0** | unreadable or blank |
"""


def find_standard(explicit: str | Path | None = None) -> Path | None:
    """The grading standard to show: ``explicit``, else ``docs/grading.md`` in the working folder or in the source
    tree this package runs from; None when there is none."""
    candidates = [Path(explicit)] if explicit else []
    candidates += [Path.cwd() / "docs" / "grading.md", Path(__file__).resolve().parents[3] / "docs" / "grading.md"]
    return next((p for p in candidates if p.is_file()), None)


class JudgementIn(BaseModel):
    """One judgement from the page (or any tool)."""

    annotator: str = Field(min_length=1, max_length=100, description="who judged")
    kind: str = Field(description="'grade', 'pair' or 'skip'")
    sha256: str = Field(description="the image (grade, skip) or the left image (pair)")
    other_sha256: str | None = Field(default=None, description="pair: the right image")
    value: float | None = Field(
        default=None, description="grade: 0-5; pair: 1 = left better, 0 = right better, 0.5 = about equal"
    )


class JudgementOut(BaseModel):
    id: int


class UndoIn(BaseModel):
    annotator: str = Field(min_length=1, max_length=100)


class UndoOut(BaseModel):
    undone: dict[str, Any] | None = Field(description="the withdrawn judgement, or null when there was none")


class NextOut(BaseModel):
    kind: str = Field(description="'grade' or 'pair'")
    images: list[dict[str, str]] = Field(description="sha256, url and name of each image; empty when done")
    reason: str = Field(description="why it was chosen: active, random, overlap (agreement check) or done")


class StandardOut(BaseModel):
    source: str | None = Field(description="the file shown, or null for the built-in summary")
    html: str


class AdaptIn(BaseModel):
    output: str = Field(description="the .safetensors checkpoint to write (its INT8 export goes next to it)")
    base: str = Field(default="default", description="'default' or a checkpoint path")
    folds: int = Field(default=5, ge=2, le=20)
    overwrite: bool = False
    int8: bool = True


def _render(markdown: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)


def create_label_app(session: LabelSession, standard: str | Path | None = None, catalog: str | None = None) -> FastAPI:
    """The labelling page and API around ``session`` (its features start computing on startup)."""
    standard_path = find_standard(standard)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        session.start_features()
        yield

    app = FastAPI(
        title="pixgrade labelling",
        version=__version__,
        description="Label product photos (grades 0-5 or pairwise comparisons) for a catalogue, see who agrees, "
        "and adapt the model to the labels. Every judgement is stored in the SQLite catalogue as it is made.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.session = session
    router = APIRouter(prefix="/v1")

    def image_json(sha: str) -> dict[str, str]:
        path = session.path_of(sha)
        return {"sha256": sha, "url": f"/v1/label/images/{sha}", "name": path.name if path else sha[:12]}

    @app.get("/", include_in_schema=False)
    async def _root() -> RedirectResponse:
        return RedirectResponse("/label")

    @app.get("/label", include_in_schema=False)
    async def _page() -> FileResponse:
        return FileResponse(STATIC_DIR / "label.html", media_type="text/html")

    @router.get("/label/status", tags=["labelling"], summary="progress and the annotator's latest judgements")
    def status(annotator: str | None = Query(default=None, max_length=100)) -> dict[str, Any]:
        return session.status(annotator)

    @router.get("/label/next", response_model=NextOut, tags=["labelling"], summary="the next image or pair to judge")
    def next_item(
        annotator: str = Query(min_length=1, max_length=100),
        mode: str | None = Query(default=None, description="grades or pairs (default: the server's)"),
    ) -> NextOut:
        if mode is not None and mode not in MODES:
            raise HTTPException(422, f"mode must be one of {', '.join(MODES)}")
        item = session.next_item(annotator, mode)
        return NextOut(kind=item.kind, images=[image_json(s) for s in item.images], reason=item.reason)

    @router.post("/label/judgements", response_model=JudgementOut, tags=["labelling"], summary="store a judgement")
    def judge(body: JudgementIn) -> JudgementOut:
        try:
            ident = session.record(body.annotator, body.kind, body.sha256, body.value, body.other_sha256)
        except KeyError as exc:
            raise HTTPException(404, str(exc.args[0])) from exc
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        return JudgementOut(id=ident)

    @router.post("/label/undo", response_model=UndoOut, tags=["labelling"], summary="withdraw the latest judgement")
    def undo(body: UndoIn) -> UndoOut:
        done = session.undo(body.annotator)
        return UndoOut(undone=None if done is None else done.__dict__)

    @router.get("/label/agreement", tags=["labelling"], summary="agreement of each annotator with the others")
    def agreement() -> list[dict[str, Any]]:
        return session.agreement()

    @router.get("/label/images/{sha256}", tags=["labelling"], summary="an image of the labelling set")
    def image(sha256: str) -> FileResponse:
        path = session.path_of(sha256)
        if path is None or not path.is_file():
            raise HTTPException(404, f"image {sha256} not found")
        return FileResponse(path)

    @router.get("/label/standard", response_model=StandardOut, tags=["labelling"], summary="the grading standard")
    def standard_page() -> StandardOut:
        if standard_path is None:
            return StandardOut(source=None, html=_render(FALLBACK_STANDARD))
        try:
            text = standard_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            logger.warning("%s: cannot read the grading standard (%s)", standard_path, exc)
            return StandardOut(source=None, html=_render(FALLBACK_STANDARD))
        html = _render(text).replace('src="', 'src="/v1/label/standard/files/')
        html = html.replace('src="/v1/label/standard/files/http', 'src="http')
        return StandardOut(source=str(standard_path), html=html)

    @router.get("/label/standard/files/{name:path}", include_in_schema=False)
    def standard_file(name: str) -> FileResponse:
        if standard_path is None:
            raise HTTPException(404, "no grading standard file")
        root = standard_path.parent.resolve()
        target = (root / name).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise HTTPException(404, f"{name}: not found")
        return FileResponse(target)

    @router.post("/adapt", tags=["adaptation"], summary="adapt the model to this catalogue's judgements")
    async def adapt(body: AdaptIn) -> dict[str, Any]:
        """Fine-tune the score head on the judgements (as ``pixgrade adapt``); returns the cross-validation
        before/after and the files written. Runs for seconds to minutes."""
        from pixgrade.errors import ConfigError
        from pixgrade.label.adapt import adapt_catalog

        try:
            report = await run_in_threadpool(
                adapt_catalog,
                catalog or session.store.path,
                body.output,
                body.base,
                folds=body.folds,
                int8=body.int8,
                overwrite=body.overwrite,
            )
        except ConfigError as exc:
            raise HTTPException(422, str(exc)) from exc
        return report.to_dict()

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    swagger = swagger_assets()
    if swagger is not None:
        app.mount("/docs-assets", StaticFiles(directory=swagger), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def _docs() -> HTMLResponse:
        if swagger is None:
            return HTMLResponse(
                '<p>Swagger UI assets not installed; the schema is at <a href="/openapi.json">/openapi.json</a>.</p>'
            )
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="pixgrade labelling API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
        )

    return app
