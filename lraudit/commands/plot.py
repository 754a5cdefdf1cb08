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
    StepsOpt,
    run_options,
)


def plot(
    paths: PathsArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="Picture to write: .png or .svg.")],
    optimizer: OptimizerOpt = None,
    callback: CallbackOpt = None,
    keras: KerasOpt = "auto",
    backend: BackendOpt = "auto",
    steps_per_epoch: StepsOpt = None,
    title: Annotated[str | None, typer.Option("--title", help="Figure title.")] = None,
    findings: Annotated[
        bool, typer.Option("--findings/--no-findings", help="Mark the audit's findings on the plot.")
    ] = True,
) -> None:
    """Plot the logged and the effective learning rate of one or more runs (a grid of panels)."""
    from lraudit.report.plot import plot_format, plot_runs

    plot_format(output)  # an unknown suffix fails before any log is read
    options = run_options(optimizer, callback, keras, steps_per_epoch, backend)
    from lraudit.api import load_runs
    from lraudit.reconstruction import build_timeline

    timelines = [build_timeline(run, options) for run in load_runs(paths)]
    found = [_findings(t) for t in timelines] if findings else None
    written = plot_runs(timelines, found, output, title=title)
    typer.echo(f"wrote {written}", err=True)


def _findings(timeline):
    """Every rule's findings for one reconstructed run (the audit's own rule runner)."""
    from lraudit.auditing import check_run
    from lraudit.rules import REGISTRY

    findings, _ = check_run(timeline.run, timeline, REGISTRY.all())
    return findings
