"""Running the real ``lraudit`` entry point in-process, shared by the CLI tests."""
from __future__ import annotations

import sys

import pytest

from lraudit.cli import main


def run_cli(args, monkeypatch, capsys):
    """Run the real entry point in-process; return (exit code, stdout, stderr).

    ``FORCE_COLOR`` is cleared so rich writes plain text whatever the environment of the test run.
    """
    monkeypatch.setattr(sys, "argv", ["lraudit", *args])
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        main()
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err
