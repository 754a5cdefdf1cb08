"""Shared test fixtures: the fixture folders, and the ``lraudit`` command run in-process.

Most CLI tests run the real entry point (:func:`lraudit.cli.main`, with its error translation
and exit codes) inside the test process through Typer's ``CliRunner`` isolation: a subprocess
costs ~3 s of imports on the 2-core CI machine and proves nothing more. The few tests that check
the installed script / ``python -m lraudit`` themselves use a subprocess and are marked ``slow``.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "fixtures" / "runs"
EXPECTED = ROOT / "fixtures" / "expected"


def run_lraudit(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``lraudit ARGS`` in this process: exit code, stdout and stderr as a subprocess would give.

    ``cwd`` is where the command runs (``[tool.lraudit]`` defaults are looked up from there).
    """
    from typer.testing import CliRunner

    from lraudit.cli import main

    argv = ["lraudit", *(str(arg) for arg in args)]
    saved_argv, saved_cwd = sys.argv, os.getcwd()
    runner = CliRunner()
    with runner.isolation(env={"FORCE_COLOR": None}) as (stdout, stderr, _):
        sys.argv = argv
        try:
            if cwd is not None:
                os.chdir(cwd)
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        finally:
            sys.argv = saved_argv
            os.chdir(saved_cwd)
        sys.stdout.flush()
        sys.stderr.flush()
        out = stdout.getvalue().decode("utf-8", "replace")
        err = stderr.getvalue().decode("utf-8", "replace")
    return subprocess.CompletedProcess(argv, code, out, err)


def run_lraudit_subprocess(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m lraudit ARGS`` in a new process (for the entry-point contract tests only)."""
    return subprocess.run(
        [sys.executable, "-m", "lraudit", *(str(arg) for arg in args)],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
    )


def run_cli(args, monkeypatch, capsys):
    """The real entry point in-process with pytest's fixtures: (exit code, stdout, stderr).

    ``FORCE_COLOR`` is cleared so rich writes plain text whatever the environment of the test run.
    """
    from lraudit.cli import main

    monkeypatch.setattr(sys, "argv", ["lraudit", *args])
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        main()
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


@pytest.fixture
def lraudit_cli():
    """The in-process ``lraudit`` runner (see :func:`run_lraudit`)."""
    return run_lraudit


#: a few runs that together cover every source kind and both Keras generations: the fast tier
#: checks these, the whole corpus is checked by the tests marked slow (``-m slow`` / full run)
FAST_RUNS = (
    "k2_adam_decay_plateau",  # Keras 2: console, History, CSVLogger, TensorBoard, .h5
    "k3jax_adam_plateau",  # Keras 3 on JAX
    "e2_rmsprop_decay_lrscheduler",  # standalone Keras 2.x era, LearningRateScheduler
)


def corpus_params(names):
    """``names`` as pytest params: the :data:`FAST_RUNS` in the fast tier, the others ``slow``."""
    return [
        pytest.param(name, id=name, marks=() if name in FAST_RUNS else pytest.mark.slow) for name in names
    ]


class LazyRuns(dict):
    """run name -> value, computed by ``load(name)`` on first use (a fast-tier test loads only its run)."""

    def __init__(self, load) -> None:
        super().__init__()
        self._load = load

    def __missing__(self, name: str):
        value = self[name] = self._load(name)
        return value
