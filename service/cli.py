"""`stemjepa serve` (the API over an existing index) and `stemjepa demo` (catalogue, index and API in one go)."""

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from service.settings import ServiceSettings, load_settings

log = logging.getLogger(__name__)
console = Console()

DEMO_DIR = Path("stemjepa-data")


def _run(settings: ServiceSettings) -> None:
    import uvicorn

    from service.app import create_app

    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info",
                timeout_graceful_shutdown=5)


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default STEMJEPA_HOST or 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default STEMJEPA_PORT or 8000).")] = None,
) -> None:
    """Serve the retrieval API and web page over an existing index (configured by STEMJEPA_* settings)."""
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = load_settings(**overrides)
    console.print(f"Serving [bold]http://{settings.host}:{settings.port}/[/] "
                  f"(index {settings.index_dir}, database {settings.database_url})")
    _run(settings)


def demo(
    catalogue: Annotated[Path | None, typer.Option(help="Folder of songs to index instead of generated ones.")] = None,
    songs: Annotated[int, typer.Option(min=1, help="Synthetic songs to generate when no catalogue is given.")] = 24,
    seconds: Annotated[float, typer.Option(min=4.0, help="Length of each synthetic song (s).")] = 20.0,
    checkpoint: Annotated[Path | None, typer.Option(help="Checkpoint (default: the bundled one).")] = None,
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps catalogue, index and database.")] = DEMO_DIR,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    prepare_only: Annotated[bool, typer.Option(help="Prepare catalogue and index, then exit without serving.")] = False,
) -> None:
    """The embedded default: generate a small catalogue, index it with the bundled checkpoint, serve on localhost."""
    from service.demo import describe_checkpoint, prepare_demo

    console.print(describe_checkpoint(checkpoint))
    settings = prepare_demo(data_dir, catalogue, songs, seconds, checkpoint, console)
    if prepare_only:
        return
    settings = settings.model_copy(update={"host": host, "port": port})
    console.print(f"\n[bold green]Stem Finder is up:[/] open [bold]http://{host}:{port}/[/]   (Ctrl+C stops it)")
    console.print(f"Try: curl -F file=@mix.wav -F instrument=bass http://{host}:{port}/retrieve\n")
    _run(settings)
