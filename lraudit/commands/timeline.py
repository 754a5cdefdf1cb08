"""``lraudit timeline``: the learning rate applied at every optimizer step, written as a table."""
from __future__ import annotations

import typer

from lraudit.commands.common import (
    BackendOpt,
    CallbackOpt,
    KerasOpt,
    OptimizerOpt,
    PathsArg,
    SchedulerOpt,
    StepsOpt,
    TableFormatOpt,
    TableOutputOpt,
    run_options,
)

#: notes that state an assumption the table rests on: shown, because the table alone hides them
ASSUMPTION_NOTES = ("optimizer unknown", "steps per epoch unknown", "no log shows an lr value")


def timeline(
    paths: PathsArg,
    output: TableOutputOpt,
    fmt: TableFormatOpt = None,
    optimizer: OptimizerOpt = None,
    callback: CallbackOpt = None,
    scheduler: SchedulerOpt = None,
    keras: KerasOpt = "auto",
    steps_per_epoch: StepsOpt = None,
    backend: BackendOpt = "auto",
) -> None:
    """The learning rate applied at every optimizer step (Keras or PyTorch), joined with what was logged."""
    from lraudit.api import load_timelines, timelines_frame
    from lraudit.outputs import check_output
    from lraudit.reconstruction import write_timeline
    from lraudit.report.tables import table_format

    chosen = table_format(output, fmt)  # a bad format or a missing folder fails before any input is read
    check_output(output, "--output")
    options = run_options(optimizer, callback, keras, steps_per_epoch, backend, scheduler)
    results = load_timelines(paths, options)
    frame = timelines_frame(results)
    write_timeline(frame, output, chosen)
    for result in results:
        for note in result.notes:
            if note.startswith(ASSUMPTION_NOTES):
                typer.echo(f"note: {note}", err=True)
    trainings = f" in {len(results)} trainings (column run)" if len(results) > 1 else ""
    epochs = frame["epoch"].nunique()
    typer.echo(f"lraudit: wrote {output}: {len(frame)} steps, {epochs} epochs{trainings}", err=True)
