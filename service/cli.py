"""`stemjepa serve`: the API and web page over an existing index (the demo, which also builds one, is
assembled by the composition root, stemjepa/demo.py)."""

import logging
from typing import Annotated

import typer
from rich.console import Console

from service.settings import ServiceSettings, load_settings

log = logging.getLogger(__name__)
console = Console()


def run_server(settings: ServiceSettings) -> None:
    """Serves the app of `settings` with uvicorn on settings' host and port, with its limits on slow clients,
    until interrupted."""
    import uvicorn

    from model.threads import limit_threads
    from service.app import create_app
    from service.server import server_config

    limit_threads(settings.threads)
    server = uvicorn.Server(server_config(create_app(settings), settings))
    server.run()
    if not server.started:  # the address was taken, say (uvicorn logged why); as `uvicorn.run` exits
        raise SystemExit(3)


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default STEMJEPA_HOST or 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default STEMJEPA_PORT or 8000).")] = None,
) -> None:
    """Serve the retrieval API and web page over an existing index (configured by STEMJEPA_* settings). The
    database must be migrated (`stemjepa db upgrade`, compose's `migrate`)."""
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = load_settings(**overrides)
    console.print(f"Serving [bold]http://{settings.host}:{settings.port}/[/] "
                  f"(index {settings.index_dir}, database {settings.database_url})")
    run_server(settings)
