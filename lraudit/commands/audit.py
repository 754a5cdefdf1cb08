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
    SchedulerOpt,
    StepsOpt,
    run_options,
    split_scheduler_option,
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

#: local paths, file:// or remote URLs (s3://, gs://, az://, https://): kept as text, a Path would
#: fold the "//" of a URL
AuditPathsArg = Annotated[
    list[str],
    typer.Argument(help="Run folders, log files, or URLs of folders (s3://bucket/runs).", metavar="PATH"),
]


def audit(
    paths: AuditPathsArg,
    optimizer: OptimizerOpt = None,
    callback: CallbackOpt = None,
    scheduler: SchedulerOpt = None,
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
    from lraudit.auditing import FAIL_ON
    from lraudit.config import load_config
    from lraudit.report._common import summary_line
    from lraudit.report.formats import SUMMARISED, Format
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
    _check_arguments(paths, jobs, output, plot, timeline)  # every output, before any input is read
    addresses, expressions = split_scheduler_option(scheduler)
    options = run_options(optimizer, callback, keras, steps_per_epoch, backend, expressions)
    codes = [rule.code for rule in REGISTRY.select(selected, ignored)]
    result = _run_audits(paths, options, codes, chosen, output, jobs, addresses[0] if addresses else None,
                         keep_timeline=timeline is not None or plot is not None)
    if len(result.errors) == len(result.runs):
        if len(result.runs) == 1:  # its own line says it all: not a second, vaguer one
            raise InputError(result.runs[0].error or "the run could not be audited")
        raise InputError(f"no run could be audited ({len(result.runs)} failed)")
    _write_outputs(result, chosen, output, timeline, plot)
    failed = result.fails(threshold)
    code = EXIT_FINDINGS if failed else EXIT_SUCCESS
    verdict = f"exit {code} (--fail-on {threshold})"
    failures = f", {len(result.errors)} could not be audited" if result.errors else ""
    if output is None and chosen in SUMMARISED and not result.errors:
        # the report on stdout ends with the summary line: stderr adds only the verdict
        typer.echo(f"lraudit: {verdict}", err=True)
    else:
        written = f"; wrote {output}" if output is not None else ""
        counts = summary_line(result.counts(), len(result.runs) - len(result.errors))
        typer.echo(f"lraudit: {counts}{failures} -> {verdict}{written}", err=True)
    raise typer.Exit(code)


def _check_arguments(
    paths: list[str], jobs: int, output: Path | None, plot: Path | None, timeline: Path | None
) -> None:
    """Usage, output and missing-path errors, before any work (exit 2, one line, at once)."""
    from lraudit.scale.remote import is_remote, local_path

    if jobs < 1:
        raise UsageError(f"jobs must be at least 1, not {jobs}", argument="jobs")
    if output is not None:
        check_output(output, "--output")
    if plot is not None:
        _plot_format(plot)
        check_output(plot, "--plot")
    if timeline is not None:
        from lraudit.report.tables import table_format

        table_format(timeline, None)
        check_output(timeline, "--timeline")
    missing = [str(p) for p in paths if not is_remote(p) and not local_path(p).exists()]
    if missing:
        raise InputError(f"no such file or directory: {', '.join(missing)}")


def _write_outputs(result, chosen, output: Path | None, timeline: Path | None, plot: Path | None) -> None:
    """The report (unless jsonl, already streamed) and the side outputs, once the audit succeeded."""
    from lraudit.auditing import AuditResult
    from lraudit.report.formats import Format, render
    from lraudit.report.text import use_color

    # runs that could not be audited are in the JSON reports ("error"); elsewhere only on stderr
    audited = result if chosen in (Format.JSON, Format.JSONL) else AuditResult(
        [run for run in result.runs if run.error is None], result.rules
    )
    color = output is None and use_color(sys.stdout)
    text = "" if chosen is Format.JSONL else render(audited, chosen, color=color)
    if timeline is not None:
        _write_timelines(result, timeline)
    if plot is not None:
        from lraudit.report.plot import plot_runs

        plot_runs([r.timeline for r in result.runs if r.timeline is not None],
                  [r.findings for r in result.runs if r.timeline is not None], plot)
    if chosen is not Format.JSONL:
        if output is not None:
            from lraudit.outputs import atomic_write_text

            atomic_write_text(output, text)
        else:
            sys.stdout.write(text)
            sys.stdout.flush()


def _run_audits(paths, options, codes, chosen, output, jobs, scheduler, *, keep_timeline):
    """Audit every run folder, streaming ``--format jsonl`` lines as runs complete; errors to stderr."""
    from lraudit.auditing import AuditResult
    from lraudit.report.formats import Format
    from lraudit.report.jsonl import run_line
    from lraudit.rules import REGISTRY
    from lraudit.scale import iter_task_audits, plan_tasks
    from lraudit.scale.progress import RunProgress

    tasks = plan_tasks(paths)
    done: dict[int, list] = {}
    stream = None
    if chosen is Format.JSONL:
        stream = output.open("w", encoding="utf-8") if output is not None else sys.stdout
    try:
        with RunProgress(len(tasks)) as progress:
            for index, audits in iter_task_audits(
                tasks, options, codes, jobs=jobs, scheduler=scheduler, keep_timeline=keep_timeline
            ):
                for audit in audits:
                    if audit.usage_error:
                        # the arguments are wrong for every run: one line, exit 2
                        raise UsageError(audit.error or "bad arguments")
                    if audit.error is not None and len(tasks) > 1:
                        typer.echo(f"lraudit: {audit.path}: {audit.error}", err=True)
                    if stream is not None:
                        stream.write(run_line(audit))
                        stream.flush()
                done[index] = audits
                progress.advance()
    finally:
        if stream is not None and output is not None:
            stream.close()
    runs = [audit for index in sorted(done) for audit in done[index]]  # discovery order, as a local run
    return AuditResult(runs=runs, rules=[REGISTRY.get(code) for code in codes])


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
