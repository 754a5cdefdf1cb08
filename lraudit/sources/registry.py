"""The one list of input kinds: every :class:`~lraudit.sources.base.Source` class, in sniff order.

Order = the order files are tried: binary containers first (saved models, TensorBoard event
files), then the JSON kinds (an optimizer config before a History, whose sniffs exclude each
other anyway), CSVLogger files, and the console last because console output is the most
free-form text. Adding an input kind = its module (a ``Source`` subclass with its
:class:`~lraudit.sources.base.SourceFacts`) + one line in :data:`SOURCES`. Code outside
:mod:`lraudit.sources` asks the questions below instead of naming kinds.
"""
from __future__ import annotations

from collections.abc import Callable

from lraudit.sources.base import Source, SourceFacts
from lraudit.sources.console import ConsoleSource
from lraudit.sources.csvlogger import CsvLoggerSource
from lraudit.sources.hf_trainer_state import HfModelConfigSource, HfTrainerStateSource
from lraudit.sources.history import HistorySource
from lraudit.sources.lightning_logs import LightningHparamsSource, LightningMetricsSource
from lraudit.sources.models import ModelsSource
from lraudit.sources.notebook import NotebookSource
from lraudit.sources.optimizer_config import OptimizerConfigSource
from lraudit.sources.script import ScriptSource
from lraudit.sources.tfevents import TfeventsSource
from lraudit.sources.torch_checkpoint import TorchCheckpointSource
from lraudit.sources.torch_console import TorchConsoleSource

#: every source class, in the order files are tried
SOURCES: tuple[type[Source], ...] = (
    TorchCheckpointSource,  # a zip whose first record is data.pkl, torch's legacy magic, a pickle
    ModelsSource,
    TfeventsSource,
    NotebookSource,  # before the JSON kinds: its {"cells": [...]} could pass for a History
    HfTrainerStateSource,  # JSON objects with keys no Keras file has ("log_history", "global_step")
    HfModelConfigSource,  # "transformers_version" + "model_type"
    OptimizerConfigSource,
    HistorySource,
    LightningMetricsSource,  # before CSVLogger: a "step" column (the CSVLogger sniff refuses it too)
    CsvLoggerSource,
    LightningHparamsSource,  # hparams.yaml in a version_N folder
    ScriptSource,  # before the console: Python text that trains is code, not a log
    TorchConsoleSource,  # PyTorch/Transformers/Lightning output; its sniff refuses Keras consoles
    ConsoleSource,
)


def _by_kind() -> dict[str, type[Source]]:
    # rebuilt on each call (a handful of entries), so SOURCES stays the only state
    return {source.facts.kind: source for source in SOURCES}


if len(_by_kind()) != len(SOURCES):
    raise ValueError("two registered sources share a kind")


def source_for_kind(kind: str) -> type[Source]:
    """The source class of ``kind``; KeyError when no source has that kind."""
    return _by_kind()[kind]


def facts_for(kind: object) -> SourceFacts | None:
    """The facts of ``kind``, None for anything that is not a source kind (``None``, NA, ...)."""
    source = _by_kind().get(kind) if isinstance(kind, str) else None
    return source.facts if source is not None else None


def all_facts() -> tuple[SourceFacts, ...]:
    """The facts of every source, in sniff order."""
    return tuple(source.facts for source in SOURCES)


def kinds_where(test: Callable[[SourceFacts], bool]) -> tuple[str, ...]:
    """The kinds whose facts pass ``test``, in sniff order."""
    return tuple(facts.kind for facts in all_facts() if test(facts))


def kinds_ranked(
    rank: Callable[[SourceFacts], int | None], test: Callable[[SourceFacts], bool] = lambda facts: True
) -> tuple[str, ...]:
    """The kinds with a ``rank`` (not None) that pass ``test``, best (lowest) first.

    Equal ranks keep the sniff order, so the answer never depends on set ordering.
    """
    chosen = [facts for facts in all_facts() if rank(facts) is not None and test(facts)]
    return tuple(facts.kind for facts in sorted(chosen, key=lambda facts: rank(facts)))


def rank_of(rank: Callable[[SourceFacts], int | None]) -> dict[str, int]:
    """``{kind: rank}`` for every kind with a ``rank`` (callers choose the rank of the others)."""
    return {facts.kind: value for facts in all_facts() if (value := rank(facts)) is not None}


def citation_rank() -> dict[str, int]:
    """``{kind: rank}``: which logged value to show for an epoch, lowest first. Exact values
    before rounded ones, then values a reader can open at a line, then the most precise."""
    chosen = [facts for facts in all_facts() if facts.value_rank is not None]
    chosen.sort(key=lambda facts: (not facts.exact, facts.located_by != "line", facts.value_rank))
    return {facts.kind: rank for rank, facts in enumerate(chosen)}
