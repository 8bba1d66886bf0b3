"""Root Typer app. Each package owns its commands (`<package>/cli.py`); this module only assembles them."""

import logging

import typer
from rich.logging import RichHandler

from evaluation import cli as evaluation_cli
from indexer import cli as indexer_cli
from model import cli as model_cli
from service import cli as service_cli
from stemjepa import demo
from synth import cli as synth_cli

app = typer.Typer(help="Stem-JEPA stem retrieval: synthesise, train, index, serve, evaluate.", no_args_is_help=True)


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(message)s", datefmt="[%X]",
        handlers=[RichHandler(show_path=False, rich_tracebacks=False)],
    )


app.command("train", context_settings=model_cli.TRAIN_CONTEXT, add_help_option=False)(model_cli.train)
app.command("stats")(model_cli.stats)
app.command("preprocess")(model_cli.preprocess)
app.command("export")(model_cli.export)
app.command("split")(model_cli.split)
app.command("query-centres")(model_cli.query_centres)
app.command("predictor-units")(model_cli.predictor_units)
# Commands of the other packages are registered below, one line each.
app.command("synth")(synth_cli.synth)
app.command("synth-plot")(synth_cli.synth_plot)
app.command("synth-mix")(synth_cli.synth_mix)
app.command("index")(indexer_cli.index)
app.command("index-worker")(indexer_cli.index_worker)
app.command("index-remove")(indexer_cli.remove)
app.add_typer(indexer_cli.db_app, name="db")
app.command("serve")(service_cli.serve)
app.command("demo")(demo.demo)
app.add_typer(evaluation_cli.eval_app, name="eval")
app.command("bench")(evaluation_cli.bench)
app.command("loadtest")(evaluation_cli.loadtest)
