"""`stemjepa index`, `index-worker`, `index-remove` and `db upgrade`: the indexer's commands (rich progress bars)."""

import logging
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from indexer import build as build_mod
from indexer.db import upgrade as db_upgrade
from indexer.settings import load_settings
from model.threads import limit_threads

log = logging.getLogger(__name__)
console = Console(stderr=True)
DB_HELP = "SQLAlchemy URL [env STEMJEPA_DB_URL; default SQLite beside the index]"
CATALOGUE_HELP = "folder of song folders / .stem.mp4 files, a manifest CSV/JSONL, or one .stem.mp4"

def _quiet_alembic() -> None:
    """Alembic logs each plugin at INFO; the CLI only wants to hear about problems."""
    logging.getLogger("alembic").setLevel(logging.WARNING)


db_app = typer.Typer(help="Catalogue database: migrations.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    index_dir: Path | None = typer.Option(None, "--index-dir", help="index dir (locates the default SQLite file)"),
    revision: str = typer.Option("head", help="Alembic revision to upgrade to"),
) -> None:
    """Applies the Alembic migrations (the only way the schema changes)."""
    settings = load_settings(db_url=db, index_dir=index_dir)
    _quiet_alembic()
    db_upgrade(settings.database_url, revision)
    console.print(f"database at {revision}: {settings.database_url}")


def index(
    catalogue: Path = typer.Argument(..., help=CATALOGUE_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    index_dir: Path | None = typer.Option(None, "--index-dir", help="index directory [env STEMJEPA_INDEX_DIR]"),
    checkpoint: Path | None = typer.Option(None, "--checkpoint", help="model checkpoint [default: bundled]"),
    device: str | None = typer.Option(None, "--device", help="auto | cpu | cuda | cuda:N"),
    batch_size: int | None = typer.Option(None, "--batch-size", help="stems per embedding batch"),
    workers: int | None = typer.Option(None, "--workers", help="decoding processes (0: in-process)"),
    engine: str = typer.Option("local", "--engine", help="local | ray"),
    commit_stems: int | None = typer.Option(None, "--commit-stems", help="stems per durable commit"),
    prune: bool = typer.Option(False, "--prune", help="remove stems of this catalogue whose files are gone"),
    rebuild: bool = typer.Option(False, "--rebuild", help="re-embed everything (e.g. after a checkpoint change)"),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="retry stems that failed to decode before"),
    migrate: bool = typer.Option(True, "--migrate/--no-migrate", help="apply database migrations first"),
) -> None:
    """Index a stem catalogue: embed new stems, store vectors, frames and metadata; resumable."""
    if engine not in ("local", "ray"):
        raise typer.BadParameter("--engine must be 'local' or 'ray'")
    settings = load_settings(db_url=db, index_dir=index_dir, checkpoint=checkpoint, device=device,
                             batch_size=batch_size, workers=workers, commit_stems=commit_stems)
    limit_threads(settings.threads)
    if migrate:
        _quiet_alembic()
        db_upgrade(settings.database_url)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[hours]:.2f} h audio, {task.fields[failed]} failed"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("stems", total=None, hours=0.0, failed=0)

        def show(p: build_mod.Progress) -> None:
            bar.update(task, description=p.stage, completed=p.done, total=p.total,
                       hours=p.audio_seconds / 3600, failed=p.failed)

        options = build_mod.IndexOptions(engine, prune, rebuild, retry_failed)  # type: ignore[arg-type]
        report = build_mod.build_index(catalogue, settings, options=options, progress=show)
    for path, reason in report.unresolved:
        console.print(f"[yellow]unresolved[/] {path}: {reason}")
    for key, error in report.failures:
        console.print(f"[red]failed[/] {key}: {error}")
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in report.stage_seconds.items())
    typer.echo(f"build {report.build}: +{report.added} stems, {report.skipped} skipped, {report.failed} failed, "
               f"{report.removed} removed, {len(report.unresolved)} unresolved; {report.indexed_total} in the index; "
               f"{report.audio_seconds:.0f} s audio at {report.audio_seconds_per_second:.1f} audio-s/s ({stages})")


def index_worker(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    index_dir: Path | None = typer.Option(None, "--index-dir", help="index directory [env STEMJEPA_INDEX_DIR]"),
    checkpoint: Path | None = typer.Option(None, "--checkpoint", help="model checkpoint [default: bundled]"),
    device: str | None = typer.Option(None, "--device", help="auto | cpu | cuda | cuda:N"),
    workers: int | None = typer.Option(None, "--workers", help="decoding processes (0: in-process)"),
    poll: float = typer.Option(2.0, "--poll", min=0.1, help="seconds between looks for queued jobs"),
    once: bool = typer.Option(False, "--once", help="run the jobs queued now, then exit"),
) -> None:
    """Run queued index jobs (POST /index-jobs) one at a time: the worker of docker compose. The database
    must be migrated already (`stemjepa db upgrade`)."""
    from indexer.jobs import JobRunner

    settings = load_settings(db_url=db, index_dir=index_dir, checkpoint=checkpoint, device=device, workers=workers)
    limit_threads(settings.threads)
    runner = JobRunner(settings, poll_seconds=poll,
                       on_success=lambda job: console.print(f"job {job.id}: build {job.build}, "
                                                            f"{job.indexed_total} stems in the index"))
    if once:
        console.print(f"{runner.run_until_idle()} jobs run")
        runner.close()
        return
    console.print(f"waiting for index jobs in {settings.database_url} (Ctrl+C stops)")
    try:
        runner.serve()
    except KeyboardInterrupt:
        console.print("stopped")
    finally:
        runner.close()


def remove(
    stem_ids: list[int] = typer.Argument(None, help="stem ids to remove"),
    song: list[int] = typer.Option([], "--song", help="song ids to remove with all their stems"),
    db: str | None = typer.Option(None, "--db", help="SQLAlchemy URL"),
    index_dir: Path | None = typer.Option(None, "--index-dir", help="index directory"),
) -> None:
    """Remove stems (or songs) from the catalogue and publish a build without them."""
    settings = load_settings(db_url=db, index_dir=index_dir)
    report = build_mod.remove_stems(settings, stem_ids or (), song)
    typer.echo(f"build {report.build}: -{report.removed} stems; {report.stems} in the index")
