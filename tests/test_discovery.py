"""Discovery: files recognised by content, runs found in folders, bad paths as user errors."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from lraudit.errors import InputError
from lraudit.sources.discovery import discover, discover_runs, plan_runs

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RUNS = sorted(path for path in (FIXTURES / "runs").iterdir() if path.is_dir())


def test_folder_of_runs_gives_one_run_per_fixture_folder():
    assert discover_runs([FIXTURES / "runs"]) == RUNS


def test_every_file_of_a_run_is_recognised_or_skipped_with_a_reason():
    run = RUNS[0]
    found, skipped = discover([run])
    all_files = sorted(path for path in run.rglob("*") if path.is_file())
    assert sorted(found + [Path(entry.path) for entry in skipped]) == all_files
    names = {path.name for path in found}
    assert {"history.csv", "history.json", "optimizer.json"} <= names
    for entry in skipped:
        assert entry.status == "skipped" and entry.kind is None and entry.reason


def test_python_files_are_never_executed(tmp_path):
    marker = tmp_path / "executed"
    (tmp_path / "history.csv").write_text("epoch,loss\n0,1.0\n")
    (tmp_path / "schedule.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    found, skipped = discover([tmp_path])
    assert [path.name for path in found] == ["history.csv"]
    assert [Path(entry.path).name for entry in skipped] == ["schedule.py"]
    assert "not a recognised training log" in skipped[0].reason
    assert not marker.exists()


def test_hidden_folders_skipped_and_link_loops_guarded(tmp_path):
    (tmp_path / "history.csv").write_text("epoch,loss\n0,1.0\n")
    hidden = tmp_path / ".git"
    hidden.mkdir()
    (hidden / "other.csv").write_text("epoch,loss\n0,1.0\n")
    os.symlink(tmp_path, tmp_path / "loop")
    found, _ = discover([tmp_path])
    assert [path.name for path in found] == ["history.csv"]


def test_tensorboard_mode_folders_belong_to_the_run_above(tmp_path):
    run = RUNS[0]
    for name in ("run_a", "run_b"):
        shutil.copytree(run / "tb", tmp_path / "collection" / name / "tb")
    shutil.copy(run / "history.csv", tmp_path / "collection" / "run_a" / "history.csv")
    roots = discover_runs([tmp_path / "collection"])
    # run_a holds a log directly; run_b holds only tb/{train,validation}
    assert roots == [tmp_path / "collection" / "run_a", tmp_path / "collection" / "run_b" / "tb"]


def test_explicit_files_form_one_run(tmp_path):
    run = RUNS[0]
    plans = plan_runs([run / "history.csv", run / "optimizer.json"])
    assert len(plans) == 1
    assert sorted(item.path.name for item in plans[0].found) == ["history.csv", "optimizer.json"]


def test_missing_path_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        discover([tmp_path / "nope"])


def test_empty_folder_and_unrecognised_files_are_input_errors(tmp_path):
    with pytest.raises(InputError, match=r"no training log found in .* \(0 files skipped\)"):
        discover([tmp_path])
    (tmp_path / "notes.txt").write_text("hello\n")
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)))
    with pytest.raises(InputError, match=r"\(2 files skipped\)"):
        discover_runs([tmp_path])
