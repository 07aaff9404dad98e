"""``contra compare``: a batch job over whole corpora, in-process, with progress bars and a summary.

Registered in ``cli.py`` as ``app.command()(compare)``. The job itself is ``contra.service.batch.job``; this
module only parses options, shows progress and the summary, and maps failures to the CLI's exit codes
(0 ok, 1 conflicts found with ``--fail-on-conflict``, 2 usage or bad input, 3 Ray cluster unreachable,
4 any other failure).

The job, its models and numpy are imported when the command runs, not when ``cli.py`` registers it: the
CLI's client commands (``contra judge`` against a server) must start in a fraction of a second.
"""

from __future__ import annotations

import json
import logging
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgressBar
from rich.table import Table
from rich.text import Text

from contra.errors import ContraError, InvalidInput
from contra.service.inputs import ID_HELP
from contra.service.validate import DATE_FORMATS

if TYPE_CHECKING:
    from contra.service.batch.job import CompareJob, CompareResult, CompareSummary, Stage
    from contra.service.config import Settings

EXIT_CONFLICTS, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_FAILURE = 1, 2, 3, 4

LOG = logging.getLogger(__name__)


DOCS_HELP = (
    "documents: .jsonl or .csv with source, text and optional url, date, outlet, id; "
    f"a .txt file, or a folder of .txt files (source = file name). {ID_HELP}. date: {DATE_FORMATS}"
)


class EngineKind(StrEnum):
    LOCAL = "local"
    RAY = "ray"


class RateColumn(ProgressColumn):
    """Items per second in the stage's own unit ("12.3 pairs/s")."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        unit = str(task.fields.get("unit", "items"))
        return Text("" if speed is None else f"{speed:,.1f} {unit}/s", style="progress.data.speed")


class RichProgress:
    """One bar per stage, with rate and ETA, on stderr (stdout stays clean for ``--json``)."""

    def __init__(self, console: Console) -> None:
        self.bar = RichProgressBar(
            TextColumn("{task.description:<7}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self.tasks: dict[Stage, TaskID] = {}

    def __enter__(self) -> RichProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def start(self, stage: Stage, total: int, done: int) -> None:
        from contra.service.batch.job import STAGE_UNITS

        self.tasks[stage] = self.bar.add_task(stage.value, total=total, completed=done, unit=STAGE_UNITS[stage])

    def advance(self, stage: Stage, amount: int) -> None:
        self.bar.advance(self.tasks[stage], amount)

    def finish(self, stage: Stage) -> None:
        task = self.tasks[stage]
        self.bar.update(task, completed=self.bar.tasks[task].total)
        self.bar.stop_task(task)

    def skipped(self, message: str) -> None:
        self.bar.console.print(f"[yellow]skipped[/] {message}", highlight=False, soft_wrap=True)


def summary_tables(summary: CompareSummary) -> tuple[Table, Table]:
    totals = Table("documents", "sources", "claims", "candidate pairs", "pairs judged", "conflicts", title="compare")
    by_kind = ", ".join(f"{kind} {n}" for kind, n in summary.conflicts_by_kind.items())
    totals.add_row(
        str(summary.documents),
        str(summary.sources),
        str(summary.claims),
        str(summary.candidate_pairs),
        str(summary.judged_pairs),
        f"{summary.conflicts}" + (f" ({by_kind})" if by_kind else ""),
    )
    stages = Table("stage", "items", "time", "rate", "resumed chunks", title=f"stages ({summary.engine} engine)")
    for report in summary.stages:
        rate = f"{report.items / report.seconds:,.1f} {report.unit}/s" if report.seconds > 0 and report.items else "-"
        resumed = f"{report.resumed_chunks}/{report.chunks}" if report.chunks else "-"
        stages.add_row(report.stage.value, f"{report.items:,} {report.unit}", f"{report.seconds:.1f} s", rate, resumed)
    return totals, stages


def _fail(console: Console, message: str, code: int) -> NoReturn:
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def compare(
    docs: Annotated[Path, typer.Argument(help=DOCS_HELP)],
    other: Annotated[
        Path | None, typer.Argument(help="a second input: then only pairs across the two inputs are compared")
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="where to write the conflicts, one JSON object a line")
    ] = Path("conflicts.jsonl"),
    html: Annotated[Path | None, typer.Option("--html", help="also write a self-contained HTML report here")] = None,
    engine: Annotated[EngineKind, typer.Option(help="local: this process, all cores; ray: Ray Data actor pools")] = (
        EngineKind.LOCAL
    ),
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", help="join this Ray cluster (default: start a local Ray instance)")
    ] = None,
    workdir: Annotated[
        Path | None, typer.Option(help="checkpoints go here (default: OUT.work, removed when the job succeeds)")
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue an interrupted job from its checkpoints")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON instead of tables")] = False,
    fail_on_conflict: Annotated[bool, typer.Option(help="exit 1 when a conflict is found")] = False,
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid",
            help="report bad input lines (FILE:LINE: why) on stderr and go on; without it the first one stops "
            "the job before any work",
        ),
    ] = False,
) -> None:
    """Compare whole corpora in-process (no server): every claim against similar claims of other sources.

    Example: contra compare today.jsonl yesterday.jsonl --out conflicts.jsonl --html report.html
    With one input every source is compared with every other; with two, only across the inputs.
    Settings (models, top_k, min_similarity, conflict_threshold) come from CONTRA_* variables.
    """
    from contra.service.batch.job import CompareJob, WorkDir
    from contra.service.config import Settings

    err = Console(stderr=True)
    out_console = Console()
    settings = Settings()
    job = CompareJob(
        inputs=(docs,) if other is None else (docs, other),
        out=out,
        workdir=workdir or out.with_name(out.name + ".work"),
        resume=resume,
        skip_invalid=skip_invalid,
    )
    if engine is EngineKind.LOCAL and ray_address:
        _fail(err, "--ray-address needs --engine ray", EXIT_USAGE)
    try:
        result = _run(job, settings, engine, ray_address, err)
    except InvalidInput as exc:
        _fail(err, str(exc), EXIT_USAGE)
    except ContraError as exc:
        from contra.service.batch.ray_engine import RayUnavailable

        code = EXIT_UNREACHABLE if isinstance(exc, RayUnavailable) and ray_address else EXIT_FAILURE
        _fail(err, str(exc), code)
    except OSError as exc:
        _fail(err, f"{exc.filename or ''}: {exc.strerror or exc}", EXIT_FAILURE)
    except KeyboardInterrupt:
        err.print(f"interrupted; run the same command with --resume to continue from the checkpoints in {job.workdir}")
        raise typer.Exit(130) from None
    if workdir is None:
        WorkDir(job.workdir).remove()
    if html is not None:
        from contra.service.batch.report import write_report

        write_report(html, result.records, result.summary, [str(p) for p in job.inputs])
    if as_json:
        print(json.dumps({**result.summary.to_json(), "out": str(out), "html": None if html is None else str(html)}))
    else:
        for table in summary_tables(result.summary):
            out_console.print(table)
        if result.summary.updated:
            out_console.print(
                f"{result.summary.updated} document(s) given again with the same source and id: "
                "only their last version was compared"
            )
        if result.summary.skipped:
            err.print(f"{len(result.summary.skipped)} bad input line(s) skipped (listed above)")
        out_console.print(f"conflicts: {out}" + (f"   report: {html}" if html else ""))
    if fail_on_conflict and result.records:
        raise typer.Exit(EXIT_CONFLICTS)


def _run(
    job: CompareJob, settings: Settings, engine: EngineKind, ray_address: str | None, err: Console
) -> CompareResult:
    from contra.service.batch.job import LocalEngine, run_compare

    with RichProgress(err) as progress:
        if engine is EngineKind.RAY:
            from contra.service.batch.ray_engine import RayEngine

            with RayEngine(settings, address=ray_address) as ray_engine:
                return run_compare(job, settings, ray_engine, progress=progress)
        with LocalEngine(settings) as local:
            return run_compare(job, settings, local, progress=progress)
