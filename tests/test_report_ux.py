"""How the report reaches a person: epochs as the log numbers them, the terminal's width, verbatim
names, one summary, usage and Ctrl-C, outputs checked first and written atomically, plots that
scale, help without Typer artefacts, docs that stay in the repository."""
from __future__ import annotations

import json
import os
import re
import shutil
import stat
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, RUNS, run_lraudit

from lraudit.numfmt import epoch_text, epochs_text, logged_epoch_text

SEED = RUNS / "k2_adam_decay_plateau"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


# --------------------------------------------------------------------------- 1. epochs


def test_epoch_helpers_number_epochs_as_the_console():
    assert epoch_text(7, 8) == "epoch 8/8"
    assert epoch_text(0) == "epoch 1"
    assert epochs_text([2, 3, 4, 7], 8) == "epochs 3-5 and 8 (of 8)"
    assert epochs_text([5], 8) == "epoch 6/8"
    assert logged_epoch_text(7, "history.csv") == "epoch=7 in history.csv"


def test_text_report_names_epochs_one_based_and_json_keeps_zero_based():
    text = run_lraudit("audit", SEED).stdout
    assert "hidden-decay (epoch 8/8, step 140)" in text
    assert "x0.8333 over epoch 1/8 and x0.9231 over epoch 8/8" in text
    assert "at the end of epoch 8/8 (the last epoch)" in text
    report = json.loads(run_lraudit("audit", SEED, "--format", "json").stdout)
    by_code = {f["code"]: f for f in report["runs"][0]["findings"]}
    assert by_code["LRA001"]["epoch"] == 7 and by_code["LRA024"]["epoch"] == 7


def test_a_value_cited_from_a_zero_based_file_says_how_that_file_counts(tmp_path):
    from lraudit.rules._facts import cited_epoch

    assert cited_epoch(7, 8, "csvlogger", "runs/a/training.csv:9") == "epoch 8/8 (epoch=7 in training.csv)"
    assert cited_epoch(7, 8, "console", "runs/a/console.log:30") == "epoch 8/8"


@pytest.mark.parametrize("fmt", ["github", "markdown", "sarif", "junit"])
def test_every_format_names_epochs_as_the_console_and_shows_no_rst_literals(fmt):
    out = run_lraudit("audit", SEED, "--format", fmt).stdout
    assert "epoch 8/8" in out or "| 8/8 |" in out
    assert "``" not in out


def test_json_schema_is_shipped_documented_and_validates_a_report():
    import jsonschema

    schema_path = ROOT / "lraudit" / "report" / "report.schema.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    assert (ROOT / "docs" / "report.schema.json").read_text(encoding="utf-8") == schema_path.read_text(
        encoding="utf-8"
    )
    assert "0-based" in schema["$defs"]["finding"]["properties"]["epoch"]["description"]
    report = json.loads(run_lraudit("audit", SEED, "--format", "json").stdout)
    jsonschema.Draft202012Validator(schema).validate(report)


# --------------------------------------------------------------------------- 2. the terminal


def _result(path: Path = SEED):
    from lraudit.api import audit

    return audit([path])


@pytest.fixture(scope="module")
def seed_result():
    return _result()


@pytest.mark.parametrize("width", [80, 100, 200])
def test_rich_report_fits_the_terminal_and_keeps_fix_and_source(seed_result, width):
    from lraudit.report.text import render

    out = render(seed_result, color=True, width=width)
    plain = ANSI.sub("", out)
    assert max(len(line) for line in plain.splitlines()) <= width
    flat = " ".join(plain.replace("│", " ").split())
    assert "fix:" in flat and "source:" in flat
    assert "console.log:28" in flat.replace(" ", "")
    assert plain.count("1 run: 0 errors, 1 warning, 2 info") == 1
    table = "┏" in plain
    assert table == (width >= 100)  # a narrow terminal gets the stacked layout


def test_clean_run_says_no_findings(seed_result):
    from lraudit.report.text import render

    clean = json.loads(run_lraudit("audit", SEED, "--select", "LRA005", "--format", "json").stdout)
    assert clean["runs"][0]["findings"] == []
    assert "no findings" in run_lraudit("audit", SEED, "--select", "LRA005").stdout
    empty = type(seed_result)(runs=[type(seed_result.runs[0])(**{**seed_result.runs[0].__dict__,
                                                                 "findings": []})],
                              rules=seed_result.rules)
    assert "no findings" in ANSI.sub("", render(empty, color=True, width=120))


def test_names_with_rich_markup_are_printed_verbatim(tmp_path):
    from lraudit.report.text import render

    run = tmp_path / "exp[bold]"
    shutil.copytree(SEED, run)
    result = _result(run)
    for width in (80, 160):
        assert "exp[bold]" in ANSI.sub("", render(result, color=True, width=width))
    assert "exp[bold]" in run_lraudit("audit", run).stdout


def test_summary_line_appears_once_across_stdout_and_stderr():
    done = run_lraudit("audit", SEED)
    both = done.stdout + done.stderr
    assert both.count("1 run: 0 errors, 1 warning, 2 info") == 1
    assert "lraudit: exit 0 (--fail-on error)" in done.stderr
    as_json = run_lraudit("audit", SEED, "--format", "json")
    assert as_json.stderr.count("1 run: 0 errors, 1 warning, 2 info") == 1


def test_bare_lraudit_prints_usage_without_an_error_line():
    done = run_lraudit()
    assert done.returncode == 0
    assert "Usage:" in done.stdout and "audit" in done.stdout
    assert "error" not in done.stderr


def test_ctrl_c_prints_interrupted_and_exits_130(monkeypatch):
    import lraudit.scale

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(lraudit.scale, "iter_task_audits", interrupted)  # what `lraudit audit` runs
    done = run_lraudit("audit", SEED)
    assert done.returncode == 130
    assert "lraudit: interrupted" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "command", ["", "audit", "timeline", "parse", "explain", "solve-decay", "plot", "rules"]
)
def test_help_has_no_typer_type_labels(command):
    done = run_lraudit(*([command] if command else []), "--help")
    assert done.returncode == 0
    assert "Usage:" in done.stdout
    for artefact in ("<bool>", "<str>", "<int>", "<list", "<path>", "{paths}", "{PATH"):
        assert artefact not in done.stdout, (command, artefact)


def test_audit_help_names_the_values_options_take():
    out = run_lraudit("audit", "--help").stdout
    assert "Usage: lraudit audit [OPTIONS] PATH..." in out
    assert "--optimizer EXPR|FILE" in out and "-j, --jobs N" in out and "--plot FILE" in out


def test_rule_text_shows_code_without_rst_literals():
    out = run_lraudit("rules", "LRA001").stdout
    assert "``" not in out and "`decay`" in out


def test_runs_progress_draws_only_on_a_terminal(tmp_path):
    from lraudit.progress import RunsProgress

    with open(tmp_path / "err.txt", "w") as piped:
        progress = RunsProgress(stream=piped, show_after=0.0)
        with progress:
            for done in range(4):
                progress.update(done, 3)
        assert not progress.shown
    assert (tmp_path / "err.txt").read_text() == ""


@pytest.mark.slow  # a real pseudo-terminal and a subprocess
@pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")
@pytest.mark.parametrize("columns", [80, 100, 200])
def test_terminal_layout_in_a_pseudo_terminal(columns):
    """``lraudit audit`` on a terminal of ``columns`` (COLUMNS, which rich honours): no line wider."""
    import pty
    import subprocess

    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": str(columns), "PYTHONPATH": str(ROOT)}
    env.pop("NO_COLOR", None)
    env.pop("FORCE_COLOR", None)
    process = subprocess.Popen([sys.executable, "-m", "lraudit", "audit", str(SEED.relative_to(ROOT))],
                               stdout=follower, stderr=subprocess.DEVNULL, cwd=ROOT, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=120)
    os.close(leader)
    text = ANSI.sub("", b"".join(chunks).decode("utf-8", "replace")).replace("\r", "")
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines and max(len(line) for line in lines) <= columns
    assert "k2_adam_decay_plateau" in text and "fix:" in text
    assert ("┏" in text) == (columns >= 100)


# --------------------------------------------------------------------------- 3. files


@pytest.mark.parametrize(
    "option,name", [("--output", "report.json"), ("--plot", "lr.png"), ("--timeline", "steps.csv")]
)
def test_audit_checks_every_output_before_any_work(tmp_path, option, name):
    started = time.monotonic()
    done = run_lraudit("audit", tmp_path / "no-such-run", option, tmp_path / "missing" / name)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0  # one line
    assert option in done.stderr and "does not exist" in done.stderr
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("command", ["parse", "timeline"])
def test_table_commands_check_the_output_folder_first(tmp_path, command):
    done = run_lraudit(command, tmp_path / "no-such-run", "-o", tmp_path / "missing" / "out.csv")
    assert done.returncode == 2 and "--output" in done.stderr and "does not exist" in done.stderr


def test_written_files_get_the_umask_mode_and_no_temp_file_is_left(tmp_path):
    previous = os.umask(0o022)
    try:
        report = tmp_path / "report.json"
        steps = tmp_path / "steps.csv"
        done = run_lraudit("audit", SEED, "--format", "json", "-o", report, "--timeline", steps)
        assert done.returncode == 0, done.stderr
        parsed = tmp_path / "parsed.csv"
        assert run_lraudit("parse", SEED, "-o", parsed).returncode == 0
    finally:
        os.umask(previous)
    for path in (report, steps, parsed):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["parsed.csv", "report.json", "steps.csv"]
    assert "wrote" in done.stderr


def test_atomic_write_leaves_the_old_file_when_interrupted(tmp_path):
    from lraudit.outputs import atomic_target

    target = tmp_path / "report.txt"
    target.write_text("previous")
    with pytest.raises(KeyboardInterrupt), atomic_target(target) as temporary:
        Path(temporary).write_text("half")
        raise KeyboardInterrupt
    assert target.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["report.txt"]


def test_parse_says_what_it_wrote(tmp_path):
    done = run_lraudit("parse", SEED, "-o", tmp_path / "scalars.csv")
    assert done.returncode == 0
    assert re.search(r"lraudit: wrote .*scalars\.csv \(\d", done.stderr)


def test_config_errors_name_pyproject_and_the_key(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.lraudit]\nfail-on = "warnings"\n')
    done = run_lraudit("audit", SEED, cwd=tmp_path)
    assert done.returncode == 2
    assert "pyproject.toml" in done.stderr and "fail-on" in done.stderr and "'warnings'" in done.stderr


def test_config_unknown_keys_are_warned_about(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.lraudit]\nfail_onn = "warning"\nignore = ["LRA021"]\n')
    done = run_lraudit("audit", SEED, cwd=tmp_path)
    assert done.returncode == 0
    assert "warning:" in done.stderr and "pyproject.toml" in done.stderr and "'fail_onn'" in done.stderr


# --------------------------------------------------------------------------- 4. plots


def test_invalid_lr_legend_is_grammatical():
    from lraudit.report.plot import invalid_lr_text

    assert invalid_lr_text(np.full(20, np.nan)) == "20 updates with NaN lr"
    assert invalid_lr_text(np.array([0.0])) == "1 update with lr 0"
    assert invalid_lr_text(np.array([np.nan, np.nan, 0.0])) == "2 updates with NaN lr, 1 with lr 0"


def test_file_stems_are_readable_and_unique():
    from lraudit.report.plot import file_stem

    used: set[str] = set()
    assert file_stem("runs/exp[1]", used) == "exp[1]"
    assert file_stem("other/exp[1]", used) == "exp[1]-2"
    assert file_stem("runs/a:b", used) == "a_b"


def test_plot_needs_one_destination(tmp_path):
    done = run_lraudit("plot", SEED)
    assert done.returncode == 2 and "--plot-dir" in done.stderr
    done = run_lraudit("plot", SEED, "-o", tmp_path / "missing" / "x.png")
    assert done.returncode == 2 and "does not exist" in done.stderr


@pytest.mark.slow  # renders seven runs
def test_plot_dir_writes_one_picture_per_run_and_many_runs_make_an_overview(tmp_path):
    runs = sorted(p for p in RUNS.iterdir() if p.is_dir())[:7]
    folder = tmp_path / "plots"
    done = run_lraudit("plot", *runs, "--plot-dir", folder)
    assert done.returncode == 0, done.stderr
    assert sorted(p.stem for p in folder.iterdir()) == sorted(r.name for r in runs)
    assert "wrote 7 pictures" in done.stderr
    overview = tmp_path / "all.svg"
    started = time.monotonic()
    assert run_lraudit("plot", *runs, "-o", overview).returncode == 0
    assert time.monotonic() - started < 120
    text = overview.read_text(encoding="utf-8")
    assert "7 runs" in text and "epoch (as Keras prints it" in text
    assert "logged lr (one marker shape per log)" in text  # one shared legend


# --------------------------------------------------------------------------- 5. docs, packaging


def _example_block() -> tuple[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- example:start -->", 1)[1].split("<!-- example:end -->", 1)[0]
    lines = block.strip().splitlines()
    assert lines[0] == "```console" and lines[-1] == "```"
    return lines[1].removeprefix("$ lraudit "), "\n".join(lines[2:-1]) + "\n"


def test_readme_example_is_the_real_output():
    command, shown = _example_block()
    done = run_lraudit(*command.split(), cwd=ROOT)
    assert done.stdout == shown


def test_docs_point_only_to_files_in_the_repository():
    texts = [(ROOT / "README.md").read_text(encoding="utf-8")]
    texts += [p.read_text(encoding="utf-8") for p in (ROOT / "docs").glob("*.md")]
    for text in texts:
        assert "DESIGN.md" not in text and "reference §" not in text and "../shared" not in text
        for target in re.findall(r"\]\(((?!https?:|#)[^)\s]+)\)", text):
            assert (ROOT / target.split("#")[0]).exists() or (ROOT / "docs" / target).exists(), target


def test_rules_and_cli_cite_no_file_outside_the_repository():
    out = run_lraudit("rules", "--format", "markdown").stdout
    assert "reference §" not in out and "DESIGN" not in out
    assert (ROOT / "docs" / "rules.md").read_text(encoding="utf-8") == out  # docs/rules.md is current


def test_distribution_metadata_is_complete():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == "keras-lraudit"  # "lraudit" on the index is another project
    assert project["scripts"] == {"lraudit": "lraudit.cli:main"}
    assert project["urls"] and project["classifiers"] and project["license"]
    assert any(d.startswith("typer>=") and "<" in d for d in project["dependencies"])
    assert "pip install keras-lraudit" in (ROOT / "README.md").read_text(encoding="utf-8")
