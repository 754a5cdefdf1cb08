"""THE acceptance test: every real run, rebuilt from the user's files only, matches truth.csv.

For each run in ``fixtures/runs`` the timelines are built through the public path
(``load_runs`` -> ``build_timeline``, no option) and compared with
``fixtures/expected/<run>/truth.csv``: the same (step, epoch, batch) rows, and ``lr_effective``
equal bit for bit in float32 (two NaNs are equal: an update that applied NaN). A run folder may
hold several trainings (a notebook that compiles a fresh optimizer, a sweep log of two models):
each is its own Run with its own timeline, compared with the truth rows of its fits (truth's
``fit`` column, in order; ``step`` is each optimizer's own counter). The Keras 3
backend (which decides the arithmetic) must come from the files themselves (TensorBoard's model
summary holds the resolved ``jit_compile``); ``run.json`` only names it for the test without
that evidence, and for the allowed exception: on a run whose truth cross-check records
compiled-vs-eager ``pow``/``cos`` differences, a schedule step may differ by at most 2 ulp.
Every such step is reported; the target is none.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import corpus_params

from lraudit.api import load_run, load_runs
from lraudit.options import RunOptions
from lraudit.reconstruction import build_timeline

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RUNS = sorted(path.name for path in (FIXTURES / "runs").iterdir() if path.is_dir())
MAX_ULP_WHERE_COMPILED_MATH_DIFFERS = 2


def read_truth(name: str) -> pd.DataFrame:
    truth = pd.read_csv(FIXTURES / "expected" / name / "truth.csv", dtype={"lr_effective": str})
    truth["lr_effective_f32"] = [
        np.float32(float(text)) if isinstance(text, str) and text else np.float32(np.nan)
        for text in truth["lr_effective"]
    ]
    return truth


def run_facts(name: str) -> dict:
    return json.loads((FIXTURES / "expected" / name / "run.json").read_text())


def ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance in float32 units in the last place (0 when both are NaN)."""
    ia = a.view(np.int32).astype(np.int64)
    ib = b.view(np.int32).astype(np.int64)
    # map sign-magnitude to a monotonic integer line
    ia = np.where(ia < 0, -(ia & 0x7FFFFFFF), ia)
    ib = np.where(ib < 0, -(ib & 0x7FFFFFFF), ib)
    distance = np.abs(ia - ib)
    both_nan = np.isnan(a) & np.isnan(b)
    return np.where(both_nan, 0, distance)


def backend_assumed(timeline) -> bool:
    return any("assumed TensorFlow" in note for note in timeline.notes)


#: runs whose files hold several trainings (each a separate Run); every other run holds one
TRAININGS = {
    "nb_e2_finetune_recompile": 2,  # compile() with a new optimizer before fit 2
    "nb_k3_two_models_scheduler": 2,  # a second model, a fresh RMSprop
    "k3_sweep_two_models_pipe": 2,  # two models one after the other in one pipe log
}


def build_as_a_user_would(name: str):
    """The timeline from the run's files alone: no option, the backend is read from them."""
    return build_timeline(load_run(FIXTURES / "runs" / name))


def build_trainings_as_a_user_would(name: str) -> list:
    """Every training's timeline from the run's files alone, in log order."""
    return [build_timeline(run) for run in load_runs(FIXTURES / "runs" / name)]


def truth_of_trainings(timelines: list, truth: pd.DataFrame) -> list[pd.DataFrame]:
    """The truth rows of each training: as many of truth's fits, in order, as its timeline has."""
    fits = list(dict.fromkeys(truth["fit"].tolist()))
    parts, used = [], 0
    for timeline in timelines:
        count = timeline.frame["fit"].nunique()
        parts.append(truth[truth["fit"].isin(fits[used : used + count])])
        used += count
    assert used == len(fits), f"the trainings hold {used} fits, truth has {len(fits)}"
    return parts


def exact_steps(timeline, name: str) -> int:
    ours = timeline.frame["lr_effective"].to_numpy(dtype=np.float32)
    expected = read_truth(name)["lr_effective_f32"].to_numpy(dtype=np.float32)
    return int((ulp_distance(ours, expected) == 0).sum()) if len(ours) == len(expected) else -1


@pytest.mark.parametrize("name", corpus_params(RUNS))
def test_timeline_matches_truth_bit_for_bit(name, record_property):
    timelines = build_trainings_as_a_user_would(name)
    assert len(timelines) == TRAININGS.get(name, 1), [timeline.run.path for timeline in timelines]
    truth_parts = truth_of_trainings(timelines, read_truth(name))
    ours_parts, expected_parts, exact_parts = [], [], []
    for position, (timeline, truth) in enumerate(zip(timelines, truth_parts, strict=True)):
        frame = timeline.frame
        where = f"{name} training {position + 1}"
        assert len(frame) == len(truth), f"{where}: {len(frame)} rows, truth has {len(truth)}"
        for column in ("step", "epoch", "batch"):
            assert frame[column].tolist() == truth[column].tolist(), f"{where}: column {column} differs"
        ours_parts.append(frame["lr_effective"].to_numpy(dtype=np.float32))
        expected_parts.append(truth["lr_effective_f32"].to_numpy(dtype=np.float32))
        exact_parts.append(int((ulp_distance(ours_parts[-1], expected_parts[-1]) == 0).sum()))
    frame = pd.concat([timeline.frame for timeline in timelines], ignore_index=True)
    truth = pd.concat(truth_parts, ignore_index=True)
    ours, expected = np.concatenate(ours_parts), np.concatenate(expected_parts)
    distance = ulp_distance(ours, expected)
    exact = int((distance == 0).sum())
    record_property("exact_steps", f"{exact}/{len(truth)} (per training: {exact_parts})")
    if exact == len(truth):
        return
    crosscheck = run_facts(name)["truth"].get("crosscheck", {})
    pow_cos_differs = any(
        pair.get("max_ulps", 0) > 0 for pair in crosscheck.get("pairs", {}).values()
    )
    bad = np.flatnonzero(distance > 0)
    examples = [
        (int(frame["step"].iloc[i]), float(ours[i]), float(expected[i]), int(distance[i])) for i in bad[:5]
    ]
    assert pow_cos_differs and distance.max() <= MAX_ULP_WHERE_COMPILED_MATH_DIFFERS, (
        f"{name}: {exact}/{len(truth)} steps exact; (step, ours, truth, ulp): {examples}"
    )
    print(f"{name}: {exact}/{len(truth)} exact, {len(bad)} within {distance.max()} ulp: {examples}")


JAX_RUNS = [name for name in RUNS if run_facts(name).get("backend") == "jax"]


def test_there_are_jax_runs():
    assert len(JAX_RUNS) >= 3


@pytest.mark.parametrize("name", JAX_RUNS)
def test_jax_backend_comes_from_the_tensorboard_model_summary(name):
    timeline = build_as_a_user_would(name)
    assert timeline.optimizer.backend == "jax"
    assert not backend_assumed(timeline)
    assert any("jit_compile=True" in note for note in timeline.notes)


@pytest.mark.parametrize("name", JAX_RUNS)
def test_without_the_model_summary_the_backend_is_assumed_and_backend_option_restores_it(name, tmp_path):
    """The same files minus TensorBoard's folder: nothing tells JAX; lraudit says so, and
    ``--backend jax`` (what the user knows) makes the timeline exact again."""
    source = FIXTURES / "runs" / name
    copy = tmp_path / name
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("tb"))
    assert not any(path.name.startswith("events.out.tfevents") for path in copy.rglob("*"))
    run = load_run(copy)
    assert run.compile_config.get("jit_compile") is not True
    truth_rows = len(read_truth(name))
    blind = build_timeline(run)
    assert blind.extra["backend_assumed"]
    if exact_steps(blind, name) != truth_rows:
        assert backend_assumed(blind), blind.notes  # a wrong guess is never silent
    told = build_timeline(run, RunOptions(backend="jax"))
    assert not told.extra["backend_assumed"] and not backend_assumed(told)
    assert exact_steps(told, name) == truth_rows
