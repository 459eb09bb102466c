"""The web page at ``/``, its static files, and the API documentation at ``/docs`` (Swagger UI)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["STATIC_DIR", "add_pages", "swagger_assets"]

STATIC_DIR = Path(__file__).parent.parent / "static"


def swagger_assets() -> Path | None:
    """Local Swagger UI 5 assets from the ``swagger-ui-bundle-v2`` package, when installed."""
    try:
        import swagger_ui_bundle
    except ImportError:
        return None
    path = Path(getattr(swagger_ui_bundle, "swagger_ui_path", ""))
    return path if (path / "swagger-ui-bundle.js").is_file() and "swagger-ui-5" in path.name else None


def add_pages(app: FastAPI) -> None:
    """``/``, ``/static``, ``/docs`` (local Swagger UI assets when installed, else FastAPI's from a CDN)."""

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    swagger = swagger_assets()
    if swagger is not None:
        app.mount("/docs-assets", StaticFiles(directory=swagger), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        if swagger is None:  # fall back to FastAPI's default (Swagger UI from a CDN)
            return get_swagger_ui_html(openapi_url="/openapi.json", title="pixgrade API")
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="pixgrade API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )
