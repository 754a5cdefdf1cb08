"""``lraudit audit``: reconstruct runs, apply the rules, render one report, exit 0/1/2."""

from __future__ import annotations

import sys
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
from lraudit.errors import InputError, UsageError
from lraudit.exit_codes import EXIT_FINDINGS, EXIT_SUCCESS
from lraudit.outputs import check_output

FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format", metavar="FORMAT", help="text, json, junit, sarif, github or markdown (default text)."
    ),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", metavar="FILE", help="Write the report here (only when the audit ran)."),
]
FailOnOpt = Annotated[
    str | None,
    typer.Option(
        "--fail-on", metavar="LEVEL", help="Exit 1 on findings at or above: error, warning, info or never."
    ),
]
SelectOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--select", metavar="CODES", help="Only these rules (codes, names or prefixes; comma list)."
    ),
]
IgnoreOpt = Annotated[
    list[str] | None, typer.Option("--ignore", metavar="CODES", help="Skip these rules (comma list).")
]
TimelineOpt = Annotated[
    Path | None,
    typer.Option(
        "--timeline", metavar="FILE", help="Also write the per-step timeline(s) (.csv/.parquet/.json)."
    ),
]
PlotOpt = Annotated[
    Path | None, typer.Option("--plot", metavar="FILE", help="Also plot logged vs effective lr (.png/.svg).")
]
JobsOpt = Annotated[int, typer.Option("--jobs", "-j", help="Audit this many runs in parallel processes.")]


def audit(
    paths: PathsArg,
    optimizer: OptimizerOpt = None,
    callback: CallbackOpt = None,
    keras: KerasOpt = "auto",
    backend: BackendOpt = "auto",
    steps_per_epoch: StepsOpt = None,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    fail_on: FailOnOpt = None,
    select: SelectOpt = None,
    ignore: IgnoreOpt = None,
    timeline: TimelineOpt = None,
    plot: PlotOpt = None,
    jobs: JobsOpt = 1,
) -> None:
    """Audit the learning rate of one or more runs; exit 1 when findings reach --fail-on."""
    from lraudit.api import audit as audit_paths
    from lraudit.auditing import FAIL_ON
    from lraudit.config import load_config
    from lraudit.outputs import atomic_write_text
    from lraudit.progress import RunsProgress
    from lraudit.report._common import summary_line
    from lraudit.report.formats import SUMMARISED, Format, render
    from lraudit.report.text import use_color
    from lraudit.rules import REGISTRY, parse_codes

    config = load_config()
    for warning in config.warnings:
        typer.echo(f"lraudit: warning: {warning}", err=True)
    chosen = Format.parse(fmt or config.format or "text")
    threshold = (fail_on or config.fail_on or "error").strip().lower()
    if threshold not in FAIL_ON:
        raise UsageError(f"--fail-on must be error, warning, info or never, not {threshold!r}")
    selected = parse_codes(select) or config.select
    ignored = parse_codes(ignore) or config.ignore
    REGISTRY.select(selected, ignored)  # unknown codes are usage errors before any work
    if jobs < 1:
        raise UsageError(f"jobs must be at least 1, not {jobs}", argument="jobs")
    _check_outputs(output, timeline, plot)  # every file it will write, before any input is read
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise InputError(f"no such file or directory: {', '.join(missing)}")
    options = run_options(optimizer, callback, keras, steps_per_epoch, backend)

    with RunsProgress() as progress:
        result = audit_paths(
            paths, select=selected, ignore=ignored, jobs=jobs, options=options, progress=progress.update
        )
    to_terminal = output is None and use_color(sys.stdout)
    text = render(result, chosen, color=to_terminal)

    # side outputs and the report are written only now that the audit has succeeded
    if timeline is not None:
        _write_timelines(result, timeline)
    if plot is not None:
        from lraudit.report.plot import plot_runs

        plot_runs(
            [r.timeline for r in result.runs if r.timeline is not None],
            [r.findings for r in result.runs if r.timeline is not None],
            plot,
        )
    if output is not None:
        atomic_write_text(output, text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    failed = result.fails(threshold)
    code = EXIT_FINDINGS if failed else EXIT_SUCCESS
    verdict = f"exit {code} (--fail-on {threshold})"
    if output is None and chosen in SUMMARISED:
        # the report on stdout ends with the summary line: stderr adds only the verdict
        typer.echo(f"lraudit: {verdict}", err=True)
    else:
        written = f"; wrote {output}" if output is not None else ""
        typer.echo(
            f"lraudit: {summary_line(result.counts(), len(result.runs))} -> {verdict}{written}", err=True
        )
    raise typer.Exit(code)


def _check_outputs(output: Path | None, timeline: Path | None, plot: Path | None) -> None:
    """Fail at once (exit 2, one line) on an output that cannot be written or has no known format."""
    if output is not None:
        check_output(output, "--output")
    if plot is not None:
        _plot_format(plot)
        check_output(plot, "--plot")
    if timeline is not None:
        from lraudit.report.tables import table_format

        table_format(timeline, None)
        check_output(timeline, "--timeline")


def _plot_format(path: Path) -> None:
    try:
        from lraudit.report.plot import plot_format
    except ImportError as exc:  # the plotting module is another command's; say so plainly
        raise UsageError(f"--plot is not available in this installation ({exc})") from exc
    plot_format(path)


def _write_timelines(result, path: Path) -> None:
    import pandas as pd

    from lraudit.reconstruction import write_timeline

    frames = []
    for run in result.runs:
        if run.timeline is None:
            continue
        frame = run.timeline.frame.copy()
        frame["run"] = run.path
        frames.append(frame)
    if frames:
        write_timeline(pd.concat(frames, ignore_index=True), path)
