"""``lraudit explain``: a schedule in plain words and numbers, or what a run's lr did epoch by epoch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lraudit.commands.common import (
    BackendOpt,
    CallbackOpt,
    KerasOpt,
    OptimizerOpt,
    SchedulerOpt,
    StepsOpt,
    run_options,
)
from lraudit.errors import InputError, UsageError

if TYPE_CHECKING:
    from lraudit.options import OptimizerOverride
    from lraudit.semantics.specs import OptimizerSpec


def explain(
    path: Annotated[
        Path | None, typer.Argument(help="A run directory or log file (omit to explain --optimizer alone).")
    ] = None,
    optimizer: OptimizerOpt = None,
    callback: CallbackOpt = None,
    scheduler: SchedulerOpt = None,
    steps_per_epoch: StepsOpt = None,
    epochs: Annotated[
        int | None, typer.Option("--epochs", help="Epochs to explain without a run (default 10).")
    ] = None,
    keras: KerasOpt = "auto",
    backend: BackendOpt = "auto",
    step: Annotated[
        str,
        typer.Option(
            "--step",
            metavar="auto|batch|epoch",
            help="PyTorch schedulers without a run: scheduler.step() after every batch or every epoch "
            "(auto: per batch for OneCycleLR/CyclicLR, else per epoch).",
        ),
    ] = "auto",
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """The learning rate in plain words and numbers: per batch or per epoch, per-epoch factor, floors."""
    from lraudit.explain import DEFAULT_EPOCHS, explain_optimizer, explain_timeline, explanation_document
    from lraudit.report.workflow_text import print_document

    if fmt not in ("text", "json"):
        raise UsageError(f"--format must be text or json, not {fmt!r}")
    if optimizer and len(optimizer) > 1 and path is None:
        raise UsageError("explain --optimizer alone takes one optimizer")
    optimizer_text = optimizer[0] if optimizer and path is None else None
    options = run_options(optimizer, callback, keras, steps_per_epoch, backend, scheduler)
    if path is not None:
        if epochs is not None:
            raise UsageError("--epochs applies to --optimizer alone; a run's logs say how many epochs ran")
        from lraudit.api import load_run
        from lraudit.reconstruction import build_timeline

        explanation = explain_timeline(build_timeline(load_run(path), options))
    elif optimizer_text is not None and (scheduler or options.optimizer.spec is None):
        if steps_per_epoch is None:
            raise UsageError("explain --optimizer needs --steps-per-epoch N (optimizer updates per epoch)")
        from lraudit.api import torch_schedule_timeline

        explanation = explain_timeline(torch_schedule_timeline(
            optimizer_text, list(scheduler or []), steps_per_epoch=steps_per_epoch,
            epochs=DEFAULT_EPOCHS if epochs is None else epochs, step=step,
        ))
    elif optimizer_text is not None:
        if steps_per_epoch is None:
            raise UsageError("explain --optimizer needs --steps-per-epoch N (optimizer updates per epoch)")
        from lraudit.semantics.expressions import parse_callback_expr

        explanation = explain_optimizer(
            _optimizer_spec(options.optimizer, keras),
            steps_per_epoch=steps_per_epoch,
            epochs=DEFAULT_EPOCHS if epochs is None else epochs,
            keras=keras,
            callbacks=[parse_callback_expr(text) for text in options.callbacks],
            subject=optimizer_text if not Path(optimizer_text).is_file() else None,
        )
    else:
        raise UsageError("explain needs a run PATH or --optimizer EXPR")
    if fmt == "json":
        typer.echo(json.dumps(explanation.to_dict(), indent=2))
    else:
        print_document(explanation_document(explanation))


def _optimizer_spec(override: OptimizerOverride, keras: str) -> OptimizerSpec:
    """``--optimizer`` as resolved by the library: an expression's spec, or a file's config."""
    if override.spec is not None:
        major = keras.split(".", 1)[0] if keras != "auto" else None
        if major in ("2", "3") and override.spec.generation is None:
            # the Keras version given picks the constructor's defaults of that era
            from lraudit.semantics.defaults import eras_for_keras
            from lraudit.semantics.expressions import parse_optimizer_expr

            return parse_optimizer_expr(override.text, generation=eras_for_keras(major))
        return override.spec
    from lraudit.semantics.optimizers import optimizer_spec_from_config

    config = override.initial or override.config
    if config is None:
        raise InputError(
            f"optimizer={override.path!r}: no optimizer config found in that file", argument="optimizer"
        )
    source = str(override.path)
    major = keras.split(".", 1)[0] if keras != "auto" else None
    return optimizer_spec_from_config(config, keras=major, source=source)
