"""The normalized run: what the logs of one training run say, merged from every source.

A :class:`Run` holds facts only (what was logged, printed or saved), never a reconstruction.
Where two sources disagree (e.g. the console and CSVLogger), both values are kept in
:attr:`Run.scalars` and the disagreement is listed in :attr:`Run.disagreements`.
:func:`lraudit.api.build_run` makes a Run from what the sources read (the merging itself lives
in :mod:`lraudit.run_builder`, which imports this module: this one stays a light contract).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lraudit.sources.base import CallbackEvent, InputFile

if TYPE_CHECKING:
    import pandas as pd

    from lraudit.code.model import CodeFacts, CodeFit
    from lraudit.torchfacts import TorchFacts


@dataclass
class Fit:
    """One ``fit()`` call of the run, in global 0-based epochs (``end_epoch`` exclusive).

    ``epoch_offset`` maps the epoch numbers Keras printed in this fit to global epochs:
    it is 0 when a resumed fit continued the numbering (``initial_epoch``), and the number
    of epochs before this fit when the numbering restarted at 1.
    """

    index: int
    first_epoch: int
    end_epoch: int
    epoch_offset: int = 0
    initial_epoch: int = 0  # Keras' initial_epoch argument as seen in the logs
    steps_per_epoch: int | None = None
    #: updates the last epoch ran when it was cut (an exception, an interrupt); None if complete
    last_epoch_steps: int | None = None
    #: what told :attr:`last_epoch_steps`, and whether it is exact or a lower bound
    last_epoch_evidence: str | None = None


@dataclass
class SavedCounter:
    """An optimizer iteration counter stored in a saved model."""

    path: str
    iterations: int
    stage: str | None = None  # e.g. "after fit 1" when the file name/order tells, else None


@dataclass
class Run:
    """Everything the logs of one run say. Epochs here are *global* and 0-based."""

    path: str
    inputs: list[InputFile] = field(default_factory=list)
    #: every logged scalar (SCALAR_COLUMNS + ``global_epoch``), all sources, long format
    scalars: pd.DataFrame | None = None
    #: callback events with ``epoch`` converted to global epochs
    events: list[CallbackEvent] = field(default_factory=list)
    fits: list[Fit] = field(default_factory=list)
    epochs: int = 0
    steps_per_epoch: int | None = None
    #: optimizer config in serialize() form (class_name/config/module); the latest one found
    optimizer: dict[str, Any] | None = None
    optimizer_source: str | None = None
    #: a config taken before training, when one was found (lr variable = initial value)
    optimizer_initial: dict[str, Any] | None = None
    saved_counters: list[SavedCounter] = field(default_factory=list)
    compile_config: dict[str, Any] = field(default_factory=dict)
    keras: str | None = None  # "2" | "3" | None when the logs do not tell
    backend: str | None = None
    #: what named :attr:`backend` when it is not a log (the code's ``KERAS_BACKEND``)
    backend_evidence: str | None = None
    warnings: list[str] = field(default_factory=list)
    #: how the run was told apart from others read with it (context, not problems)
    notes: list[str] = field(default_factory=list)
    #: the training code read statically with the logs (a notebook's cells, a script), if any
    code_facts: CodeFacts | None = None
    #: a PyTorch / Transformers / Lightning run: every file's :class:`TorchFacts`, merged; None for
    #: a Keras run (the reconstruction dispatches on it)
    torch: TorchFacts | None = None
    #: per fit (as :attr:`fits`): the code's ``fit`` call that produced it, None when unlinked
    code_fits: list[CodeFit | None] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)
    #: every optimizer config found, in serialize() form, with the file it came from
    optimizer_configs: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
