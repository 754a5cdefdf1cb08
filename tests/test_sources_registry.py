"""The source registry: every input kind is a Source class with complete facts, and nothing
outside lraudit/sources names a kind (code reads SourceFacts instead)."""
from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from lraudit.sources import read_prefix, sniff_file
from lraudit.sources.base import (
    EPOCH_NUMBERINGS,
    EPOCH_VALUES,
    LOCATIONS,
    NAMINGS,
    TELLABLE,
    Source,
    SourceFacts,
)
from lraudit.sources.registry import (
    SOURCES,
    all_facts,
    facts_for,
    kinds_ranked,
    kinds_where,
    source_for_kind,
)

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "fixtures" / "runs" / "k2_adam_decay_plateau"
HF_CHECKPOINT = ROOT / "fixtures" / "torch-runs" / "hf5_linear_warmup" / "out" / "checkpoint-24"
LIGHTNING_LOGS = ROOT / "fixtures" / "torch-runs" / "pl_plateau_epoch_monitor" / "logs" / "lightning_logs"
LIGHTNING_LOGS = LIGHTNING_LOGS / "version_0"
#: one file of each kind (a new kind adds its sample here)
SAMPLES = {
    "models": RUN / "model.h5",
    "tfevents": next((RUN / "tb" / "train").glob("events.out.tfevents.*")),
    "optimizer_config": RUN / "optimizer.json",
    "history": RUN / "history.json",
    "csvlogger": RUN / "history.csv",
    "console": RUN / "console.log",
    "notebook": RUN.parent.parent / "notebooks" / "two_compiles.ipynb",
    "script": RUN.parent.parent / "code" / "train_script.py",
    "torch_checkpoint": RUN.parent.parent / "torch-binaries" / "training_args.bin",
    "hf_trainer_state": HF_CHECKPOINT / "trainer_state.json",
    "hf_model_config": HF_CHECKPOINT / "config.json",
    "lightning_metrics": LIGHTNING_LOGS / "metrics.csv",
    "lightning_hparams": LIGHTNING_LOGS / "hparams.yaml",
    "torch_console": RUN.parent.parent / "torch-runs" / "pt_step_epoch_arg_at_start" / "console.log",
}


@pytest.mark.parametrize("source", SOURCES, ids=lambda source: source.facts.kind)
def test_every_source_has_complete_facts(source: type[Source]) -> None:
    facts = source.facts
    assert issubclass(source, Source) and isinstance(facts, SourceFacts)
    assert facts.kind and facts.label and facts.tells and facts.tells <= TELLABLE
    assert source_for_kind(facts.kind) is source and facts_for(facts.kind) is facts
    assert facts.epoch_values in (*EPOCH_VALUES, None)
    assert facts.epoch_numbering in (*EPOCH_NUMBERINGS, None)
    assert facts.names in (*NAMINGS, None)
    assert facts.located_by in (*LOCATIONS, None)
    assert isinstance(facts.hint_rank, int)
    if facts.tells & {"lr", "metrics"}:  # a kind that logs values says how
        for name in ("epoch_values", "epoch_numbering", "names", "located_by", "value_rank", "fit_rank"):
            assert getattr(facts, name) is not None, f"{facts.kind}: {name} unset"
    with pytest.raises(dataclasses.FrozenInstanceError):
        facts.kind = "other"  # type: ignore[misc]


@pytest.mark.parametrize("source", SOURCES, ids=lambda source: source.facts.kind)
def test_every_source_sniffs_a_sample_of_its_kind(source: type[Source]) -> None:
    kind = source.facts.kind
    assert kind in SAMPLES, f"add a sample file of kind {kind!r} to SAMPLES"
    sample = SAMPLES[kind]
    assert source.sniff(read_prefix(sample), sample)
    assert sniff_file(sample) is source  # and no kind tried before it claims the file
    data = source.read(sample)
    assert data.kind == kind and data.path == str(sample)


def test_kinds_are_unique_and_ranks_order_as_before() -> None:
    kinds = [facts.kind for facts in all_facts()]
    assert len(kinds) == len(set(kinds))
    # the orders the run builder and the timeline used before they read facts (new kinds may interleave)
    known = ("history", "csvlogger", "tfevents", "console")
    by_value = [kind for kind in kinds_ranked(lambda facts: facts.value_rank) if kind in known]
    by_fit = [kind for kind in kinds_ranked(lambda facts: facts.fit_rank) if kind in known]
    assert by_value == ["history", "csvlogger", "tfevents", "console"]
    assert by_fit == ["console", "csvlogger", "tfevents", "history"]
    assert set(kinds_where(lambda facts: facts.rounded)) >= {"console"}
    assert facts_for(None) is None and facts_for("callback") is None
    with pytest.raises(KeyError):
        source_for_kind("no such kind")


def test_facts_refuse_an_incomplete_descriptor() -> None:
    with pytest.raises(ValueError, match="needs"):
        SourceFacts(
            kind="x", label="x", tells=frozenset({"lr"}), epoch_values=None, epoch_numbering=None,
            names=None, located_by=None, value_rank=None, fit_rank=None, hint_rank=0,
        )
    with pytest.raises(ValueError, match="outside"):
        SourceFacts(
            kind="x", label="x", tells=frozenset({"weights"}), epoch_values=None, epoch_numbering=None,
            names=None, located_by=None, value_rank=None, fit_rank=None, hint_rank=0,
        )
    with pytest.raises(TypeError, match="facts"):
        type("NoFacts", (Source,), {"sniff": staticmethod(lambda prefix, path: False)})


# ------------------------------------------------------------------ no kind names outside sources

#: functions whose string arguments name attributes or keys, never a source kind
_NAME_ARGUMENT_CALLS = {"getattr", "hasattr", "setattr", "_get"}


def _string_elements(node: ast.AST) -> list[str]:
    items = node.keys if isinstance(node, ast.Dict) else node.elts  # type: ignore[attr-defined]
    return [item.value for item in items if isinstance(item, ast.Constant) and isinstance(item.value, str)]


def _kind_names_in(tree: ast.AST, kinds: set[str]) -> list[tuple[int, str]]:
    """Kind names used as kinds: compared, listed among other kind names, ranked in a dict, or
    passed as a value. A word that only happens to equal a kind (a dict key among other keys,
    a column name among other columns, an attribute name) is not one."""
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    hits = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and node.value in kinds):
            continue
        parent = parents.get(node)
        if isinstance(parent, (ast.Tuple, ast.List, ast.Set)) and not set(_string_elements(parent)) <= kinds:
            continue  # e.g. ("code", "severity", "name"): column names, not kinds
        if isinstance(parent, ast.Dict) and node in parent.keys:
            ranks = all(isinstance(value, ast.Constant) for value in parent.values)
            if not (ranks and set(_string_elements(parent)) <= kinds):
                continue  # a record's key ({"code": rule.code}), not a table of kinds
        if isinstance(parent, ast.Call) and node in parent.args:
            func = parent.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in _NAME_ARGUMENT_CALLS:
                continue
        if isinstance(parent, ast.Expr):
            continue  # a docstring
        hits.append((node.lineno, node.value))
    return hits


def test_no_source_kind_is_named_outside_lraudit_sources() -> None:
    kinds = {facts.kind for facts in all_facts()}
    package = ROOT / "lraudit"
    found = []
    for path in sorted(package.rglob("*.py")):
        if (package / "sources") in path.parents:
            continue
        for line, kind in _kind_names_in(ast.parse(path.read_text(encoding="utf-8")), kinds):
            found.append(f"{path.relative_to(ROOT)}:{line}: {kind!r}")
    assert not found, "read SourceFacts (lraudit.sources.registry) instead of naming kinds:\n" + "\n".join(
        found
    )


def test_the_kind_name_check_sees_the_usual_patterns() -> None:
    code = (
        'a = x == "console"\nb = ("history", "csvlogger")\nc = {"console": 1, "history": 2}\n'
        'd = f(x, "console")\ne = ("code", "severity")\ng = getattr(x, "code")\nh = {"code": x.code}\n'
    )
    hits = _kind_names_in(ast.parse(code), {"console", "history", "csvlogger", "code"})
    assert sorted({line for line, _ in hits}) == [1, 2, 3, 4]


# ------------------------------------------------------------------ a new kind needs one line


class _PrintedCopySource(Source):
    """A made-up kind holding console text (like a notebook's output cells): rounded, 1-based."""

    facts = dataclasses.replace(
        source_for_kind("console").facts, kind="printed_copy", label="printed copy", fit_rank=5, hint_rank=9
    )
    sniff = staticmethod(lambda prefix, path: False)
    read = staticmethod(source_for_kind("console").read)


def test_a_new_kind_is_treated_by_its_facts_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registering a class is all it takes: the run builder compares its rounded values with a
    tolerance and maps its 1-based epochs like the console's, without naming the kind."""
    import pandas as pd

    from lraudit.api import build_run
    from lraudit.sources import registry
    from lraudit.sources.base import FitInfo, SourceData, scalars_frame

    monkeypatch.setattr(registry, "SOURCES", (*registry.SOURCES, _PrintedCopySource))
    printed = SourceData(
        path="run.ipynb",
        kind="printed_copy",
        scalars=scalars_frame([("printed_copy", "run.ipynb", 3, "lr", 0, None, 0, 0.0010, "0.0010")]),
        fits=[FitInfo(index=0, first_epoch=0, end_epoch=1, epochs_seen=[0])],
    )
    exact = SourceData(
        path="log.csv",
        kind="csvlogger",
        scalars=scalars_frame([("csvlogger", "log.csv", 2, "lr", 0, None, 0, 0.00100004, "0.00100004")]),
        fits=[FitInfo(index=0, first_epoch=0, end_epoch=1, epochs_seen=[0])],
    )
    run = build_run("run", [printed, exact])
    assert run.disagreements == []  # within the printed precision of the rounded kind
    assert run.fits and run.epochs == 1
    assert not pd.isna(run.scalars["global_epoch"]).any()
    assert "printed_copy" in kinds_where(lambda facts: facts.rounded)
