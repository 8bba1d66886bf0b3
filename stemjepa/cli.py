"""Root Typer app. Each package owns its commands (`<package>/cli.py`); this module only assembles them."""

import logging

import typer
from rich.logging import RichHandler

from model import cli as model_cli

app = typer.Typer(help="Stem-JEPA stem retrieval: synthesise, train, index, serve, evaluate.", no_args_is_help=True)


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(message)s", datefmt="[%X]",
        handlers=[RichHandler(show_path=False, rich_tracebacks=False)],
    )


app.command("train")(model_cli.train)
app.command("stats")(model_cli.stats)
app.command("preprocess")(model_cli.preprocess)
# Commands of the other packages are registered below, one line each.
