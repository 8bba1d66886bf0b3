"""The FastAPI application factory: settings in, a configured app (routes, errors, metrics, web page) out."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from service import __version__
from service.errors import install_error_handlers
from service.limits import BodyLimit
from service.metrics import Metrics, metrics_middleware
from service.routers import health, index_jobs, retrieve, songs, stems
from service.runtime import Runtime
from service.settings import ServiceSettings, load_settings

STATIC_DIR = Path(__file__).resolve().parent / "static"
# Room for the multipart envelope and form fields around an upload of max_upload_bytes.
_FORM_OVERHEAD = 64 * 1024

DESCRIPTION = """Upload a mix that is missing an instrument, name the instrument, and get catalogue stems that fit,
ranked, each with the offset at which it lines up with the mix (Stem-JEPA). Every error has the body
`{"error": {"status", "code", "message", "detail"}}`."""


def create_app(settings: ServiceSettings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Builds the app. Model and index load when the app starts (see `Runtime.start`), not here."""
    settings = settings or load_settings()
    runtime = runtime or Runtime(settings, Metrics())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not runtime.ready:
            runtime.start()
        yield
        runtime.close()

    app = FastAPI(title="Stem-JEPA stem retrieval", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.runtime = runtime
    install_error_handlers(app)
    app.middleware("http")(metrics_middleware(runtime.metrics))
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["*"])
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes + _FORM_OVERHEAD,
                       timeout_seconds=settings.body_timeout_seconds)
    for module in (retrieve, stems, songs, index_jobs, health):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    # /docs works offline: Swagger UI's files come from the swagger-ui-bundle package, not a CDN.
    app.mount("/docs-static", StaticFiles(directory=swagger_ui_path), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} · API",
                                   swagger_js_url="/docs-static/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-static/swagger-ui.css",
                                   swagger_favicon_url="/docs-static/favicon-32x32.png")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    return app
