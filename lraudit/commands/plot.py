"""``lraudit plot``: logged vs effective lr per step, callback actions, fit boundaries and findings."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lraudit.commands.common import (
    BackendOpt,
    CallbackOpt,
    KerasOpt,
    OptimizerOpt,
    PathsArg,
    SchedulerOpt,
    StepsOpt,
    run_options,
)


def plot(
    paths: PathsArg,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", metavar="FILE",
                     help="One picture of every run: .png or .svg (more than 6 runs: an overview grid)."),
    ] = None,
    plot_dir: Annotated[
        Path | None,
        typer.Option("--plot-dir", metavar="DIR", help="One picture per run in this folder (created)."),
    ] = None,
    plot_format: Annotated[
        str, typer.Option("--plot-format", metavar="png|svg", help="Format of the --plot-dir pictures.")
    ] = "png",
    optimizer: OptimizerOpt = None,
    callback: CallbackOpt = None,
    scheduler: SchedulerOpt = None,
    keras: KerasOpt = "auto",
    backend: BackendOpt = "auto",
    steps_per_epoch: StepsOpt = None,
    title: Annotated[str | None, typer.Option("--title", metavar="TEXT", help="Figure title.")] = None,
    findings: Annotated[
        bool, typer.Option("--findings/--no-findings", help="Mark the audit's findings on the plot.")
    ] = True,
) -> None:
    """Plot the logged and the effective learning rate of one or more runs, per step and epoch."""
    from lraudit.errors import UsageError
    from lraudit.outputs import check_output, check_output_folder
    from lraudit.report.plot import PLOT_FORMATS, plot_each_run, plot_runs
    from lraudit.report.plot import plot_format as format_of

    if (output is None) == (plot_dir is None):
        raise UsageError("give -o FILE (one picture) or --plot-dir DIR (one picture per run)")
    if output is not None:
        format_of(output)  # an unknown suffix or a missing folder fails before any log is read
        check_output(output, "--output")
    elif plot_format.lower() not in PLOT_FORMATS.values():
        raise UsageError(f"--plot-format must be png or svg, not {plot_format!r}")
    options = run_options(optimizer, callback, keras, steps_per_epoch, backend, scheduler)
    from lraudit.api import load_runs
    from lraudit.reconstruction import build_timeline

    timelines = [build_timeline(run, options) for run in load_runs(paths)]
    found = [_findings(t) for t in timelines] if findings else None
    if output is not None:
        written = plot_runs(timelines, found, output, title=title)
        runs = f"{len(timelines)} run{'' if len(timelines) == 1 else 's'}"
        typer.echo(f"lraudit: wrote {written} ({runs})", err=True)
        return
    folder = check_output_folder(plot_dir, "--plot-dir")
    pictures = plot_each_run(timelines, found, folder, fmt=plot_format.lower(), title=title)
    typer.echo(f"lraudit: wrote {len(pictures)} pictures in {folder}", err=True)


def _findings(timeline):
    """Every rule's findings for one reconstructed run (the audit's own rule runner)."""
    from lraudit.auditing import check_run
    from lraudit.rules import REGISTRY

    findings, _ = check_run(timeline.run, timeline, REGISTRY.all())
    return findings
