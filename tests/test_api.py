"""The documented library API: lraudit.parse / load_run / timeline / audit."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

import lraudit

RUNS = Path(__file__).resolve().parent.parent / "fixtures" / "runs"
EXPECTED = RUNS.parent / "expected"


def test_timeline_is_a_function_returning_the_design_columns():
    frame = lraudit.timeline(RUNS / "k2_sgd_decay_probe")
    assert list(frame.columns[:7]) == [
        "step", "epoch", "batch", "lr_base", "lr_effective", "logged_lr", "logged_source",
    ]
    with open(EXPECTED / "k2_sgd_decay_probe" / "truth.csv", newline="") as fh:
        truth = [np.float32(float(row["lr_effective"])) for row in csv.DictReader(fh)]
    assert len(frame) == len(truth)
    assert (frame["lr_effective"].to_numpy(np.float32) == np.array(truth, np.float32)).all()


def test_timeline_module_stays_importable_and_callable():
    from lraudit.reconstruction import build_timeline

    assert callable(build_timeline)
    assert callable(lraudit.timeline)


def test_audit_returns_findings_for_the_seed_run():
    result = lraudit.audit(RUNS / "k2_adam_decay_plateau")
    codes = {finding.code for run in result.runs for finding in run.findings}
    assert {"LRA001", "LRA007"} <= codes
    assert not result.fails("error")


def test_parse_and_load_run():
    frame = lraudit.parse(RUNS / "k2_adam_decay_plateau")
    assert {"source", "name", "value", "location"} <= set(frame.columns)
    run = lraudit.load_run(RUNS / "k2_adam_decay_plateau")
    assert run.epochs == 8 and run.steps_per_epoch == 20


# ---------------------------------------------------------------- a real library API

def test_the_four_entry_points_are_plain_typed_documented_functions():
    import inspect
    import types

    for name in ("parse", "load_run", "timeline", "audit"):
        function = getattr(lraudit, name)
        assert isinstance(function, types.FunctionType), name
        assert function.__module__ == "lraudit.api" and function.__doc__, name
        signature = inspect.signature(function)
        assert signature.return_annotation is not inspect.Signature.empty, name
        assert all(p.annotation is not inspect.Parameter.empty for p in signature.parameters.values()), name


def test_importing_the_timeline_stage_does_not_shadow_the_function():
    import lraudit.auditing
    import lraudit.reconstruction

    assert callable(lraudit.timeline) and callable(lraudit.audit)
    assert not isinstance(lraudit.timeline, type(lraudit))


def test_no_module_is_made_callable_by_swapping_its_class():
    import ast

    package = Path(lraudit.__file__).parent
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    assert not (isinstance(target, ast.Attribute) and target.attr == "__class__"), path


def test_errors_are_typed_and_name_arguments_not_flags(tmp_path):
    import pytest

    from lraudit.errors import InputError, LrauditError, UsageError

    with pytest.raises(UsageError) as bad_keras:
        lraudit.timeline(RUNS / "k2_sgd_decay_probe", keras="4")
    assert bad_keras.value.argument == "keras" and "--" not in str(bad_keras.value)
    with pytest.raises(UsageError, match="steps_per_epoch") as bad_steps:
        lraudit.audit(RUNS / "k2_sgd_decay_probe", steps_per_epoch=0)
    assert "--" not in str(bad_steps.value)
    with pytest.raises(InputError, match="optimizer=") as missing:
        lraudit.timeline(RUNS / "k2_sgd_decay_probe", optimizer=str(tmp_path / "gone.json"))
    assert missing.value.argument == "optimizer" and isinstance(missing.value, LrauditError)
    history = tmp_path / "history.json"  # no steps per epoch, and a per-batch decay needs them
    history.write_text((RUNS / "k2_adam_decay_plateau" / "history.json").read_text())
    with pytest.raises(InputError, match="steps_per_epoch=N") as no_steps:
        lraudit.timeline(history, optimizer="Adam(lr=1e-3, decay=1e-2)")
    assert no_steps.value.argument == "steps_per_epoch" and "--" not in str(no_steps.value)


def test_the_cli_translates_arguments_into_flags(monkeypatch, capsys):
    from conftest import run_cli

    from lraudit.cli import cli_message
    from lraudit.errors import UsageError

    error = UsageError("steps_per_epoch must be a positive integer, not 0", argument="steps_per_epoch")
    assert cli_message(error) == "--steps-per-epoch must be a positive integer, not 0"
    error = UsageError("optimizer='x.json': no such file", argument="optimizer")
    assert cli_message(error) == "--optimizer 'x.json': no such file"
    code, _, err = run_cli(["timeline", str(RUNS / "k2_sgd_decay_probe"), "-o", "x.csv", "--keras", "4"],
                           monkeypatch, capsys)
    assert code == 2 and err.startswith("lraudit: error: --keras must be") and err.count("\n") == 1


def test_an_error_keeps_its_argument_across_processes():
    import pickle

    from lraudit.errors import InputError

    copy = pickle.loads(pickle.dumps(InputError("optimizer='x': no such file", argument="optimizer")))
    assert isinstance(copy, InputError) and copy.argument == "optimizer"
    assert str(copy).startswith("optimizer=")


def test_optimizer_file_is_resolved_before_the_timeline_stage():
    from lraudit.semantics.expressions import parse_optimizer_expr

    config = RUNS / "k2_adam_decay_plateau" / "optimizer.json"
    options = lraudit.run_options(optimizer=config)
    assert options.optimizer.path == str(config) and options.optimizer.spec is None
    assert options.optimizer.config is not None or options.optimizer.initial is not None
    spec = parse_optimizer_expr("SGD(learning_rate=0.01, decay=0.01)")
    by_spec = lraudit.timeline(RUNS / "k2_sgd_decay_probe", optimizer=spec)
    by_text = lraudit.timeline(RUNS / "k2_sgd_decay_probe", optimizer="SGD(learning_rate=0.01, decay=0.01)")
    assert (by_spec["lr_effective"].to_numpy() == by_text["lr_effective"].to_numpy()).all()


def test_expression_errors_name_the_argument_and_the_cli_names_the_option():
    import pytest

    from lraudit.cli import cli_message
    from lraudit.errors import UsageError

    with pytest.raises(UsageError) as bad_optimizer:
        lraudit.timeline(RUNS / "k2_sgd_decay_probe", optimizer="Adam(lr=")
    assert str(bad_optimizer.value).startswith("optimizer: not a valid expression")
    assert cli_message(bad_optimizer.value).startswith("--optimizer: not a valid expression")
    with pytest.raises(UsageError) as bad_callback:  # before any log is read
        lraudit.audit(RUNS / "no-such-run", callbacks=["Foo()"])
    assert "--" not in str(bad_callback.value) and bad_callback.value.argument == "callbacks"
    assert "--callback" in cli_message(bad_callback.value)
