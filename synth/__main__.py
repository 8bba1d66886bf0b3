"""`python -m synth OUT [options]` renders a corpus; `python -m synth plot SONG_DIR OUT.png` draws a song."""

import logging
import sys

import typer

from synth.cli import synth, synth_plot


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Two single-command apps rather than one with sub-commands, so that `python -m synth OUT` needs no verb.
    if sys.argv[1:2] == ["plot"]:
        sys.argv.pop(1)
        typer.run(synth_plot)
    else:
        typer.run(synth)


if __name__ == "__main__":
    main()
