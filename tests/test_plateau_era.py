"""The rules replay ReduceLROnPlateau in the run's Keras era, exactly as the timeline does."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import lraudit
from lraudit.api import load_run, run_options
from lraudit.reconstruction import PLATEAU, build_timeline
from lraudit.rules._facts import callback_specs
from lraudit.rules.plateau import _spec_replay

RUN = Path(__file__).resolve().parent.parent / "fixtures" / "runs" / "k3jax_adam_plateau"
#: the run's callback plus `epsilon`, which Keras 3 ignores (Keras 2 reads it as min_delta): with
#: it, val_loss's 0.00066 improvement at epoch 2 counts in Keras 3 and not in Keras 2
CALLBACK = "ReduceLROnPlateau(monitor='val_loss', factor=0.5, patience=1, epsilon=0.01)"


def test_rules_and_timeline_replay_the_same_reductions_on_a_keras3_run():
    run = load_run(RUN)
    options = run_options(callbacks=[CALLBACK])
    # the timeline replays the callback where the logs show no reduction message
    silent = dataclasses.replace(run, events=[e for e in run.events if e.kind != "plateau_reduction"])
    replayed = build_timeline(silent, options)
    assert replayed.keras == "3"
    by_timeline = [(c.epoch, c.new_lr) for c in replayed.changes if c.callback == PLATEAU]
    timeline = build_timeline(run, options)
    by_rules = _spec_replay(run, timeline, callback_specs(timeline, "ReduceLROnPlateau")[0])
    logged = [(e.epoch, float(e.value)) for e in run.events if e.kind == "plateau_reduction"]
    assert by_rules == by_timeline
    assert [epoch for epoch, _ in by_rules] == [epoch for epoch, _ in logged] == [3, 4, 5]


def test_no_plateau_finding_when_the_keras3_logs_follow_the_callback():
    result = lraudit.audit(RUN, callbacks=[CALLBACK])
    codes = {finding.code for finding in result.findings}
    assert not codes & {"LRA003", "LRA004", "LRA005"}, codes
