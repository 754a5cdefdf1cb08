"""build_timeline on synthetic runs: step layout, lr variable, callbacks, logged values.

Expected values are written out from the Keras formulas (reference §1.7), never taken from
the code under test.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lraudit.errors import InputError
from lraudit.options import RunOptions
from lraudit.reconstruction import LOGGED_COLUMNS, TIMELINE_COLUMNS, build_timeline
from lraudit.run import Fit, Run, SavedCounter
from lraudit.sources.base import CallbackEvent, scalars_frame

f32 = np.float32


def legacy_decay(lr: float, decay: float, it: np.ndarray) -> np.ndarray:
    """tf.keras OptimizerV2: f32(lr) / f32(1 + f32(decay * f32(it))), all float32."""
    it32 = it.astype(np.float32)
    return (f32(lr) / (f32(1) + f32(decay) * it32)).astype(np.float32)


def config(lr, decay=0.0, name="SGD", **extra):
    """A tf.keras legacy optimizer get_config() in serialize() form."""
    return {
        "class_name": name,
        "config": {"name": name, "learning_rate": lr, "decay": decay, "momentum": 0.0, **extra},
    }


def keras3_config(lr, name="SGD", **extra):
    return {
        "module": "keras.optimizers",
        "class_name": name,
        "config": {"name": name, "learning_rate": lr, "weight_decay": None, **extra},
        "registered_name": None,
    }


def scalars(rows):
    """rows: (source, file, line, name, epoch, step, fit, value, text); global_epoch = epoch."""
    frame = scalars_frame(rows)
    return frame.assign(global_epoch=frame["epoch"])


def make_run(
    epochs=4,
    spe=5,
    fits=None,
    optimizer=None,
    initial=None,
    events=(),
    rows=(),
    keras="2",
    counters=(),
    backend="tensorflow",
):
    fits = fits or [Fit(index=0, first_epoch=0, end_epoch=epochs, steps_per_epoch=spe)]
    return Run(
        path="synthetic",
        scalars=scalars(list(rows)),
        events=list(events),
        fits=fits,
        epochs=epochs,
        steps_per_epoch=spe,
        optimizer=optimizer,
        optimizer_source="synthetic/optimizer.json" if optimizer else None,
        optimizer_initial=initial,
        saved_counters=list(counters),
        keras=keras,
        backend=backend,
    )


def plateau(epoch, value, line=1):
    return CallbackEvent(
        kind="plateau_reduction",
        epoch=epoch,
        value=value,
        text=repr(value),
        location=f"console.log:{line}",
        callback="ReduceLROnPlateau",
    )


def scheduler(epoch, value, line=1):
    return CallbackEvent(
        kind="scheduler_set",
        epoch=epoch,
        value=value,
        text=repr(value),
        location=f"console.log:{line}",
        callback="LearningRateScheduler",
    )


def bits(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).view(np.uint32)


# ------------------------------------------------------------------------------------------
# contract and layout
# ------------------------------------------------------------------------------------------


def test_columns_and_dtypes_follow_the_contract():
    timeline = build_timeline(make_run(initial=config(0.1, 1e-3)))
    assert tuple(timeline.frame.columns) == TIMELINE_COLUMNS
    assert tuple(timeline.logged.columns) == LOGGED_COLUMNS
    for column in ("lr_base", "lr_effective", "lr_variable", "decay_factor"):
        assert timeline.frame[column].dtype == np.float32
    assert timeline.keras == "2"


def test_legacy_decay_every_step_bit_exact():
    timeline = build_timeline(make_run(epochs=3, spe=7, initial=config(0.1, 1e-3)))
    frame = timeline.frame
    assert frame["step"].tolist() == list(range(21))
    assert frame["epoch"].tolist() == [s // 7 for s in range(21)]
    assert frame["batch"].tolist() == [s % 7 for s in range(21)]
    expected = legacy_decay(0.1, 1e-3, np.arange(21))
    assert (bits(frame["lr_effective"]) == bits(expected)).all()
    assert (frame["lr_base"] == f32(0.1)).all()
    assert (frame["lr_variable"] == f32(0.1)).all()


def test_counter_continues_across_fits():
    fits = [
        Fit(index=0, first_epoch=0, end_epoch=2, steps_per_epoch=6),
        Fit(index=1, first_epoch=2, end_epoch=5, steps_per_epoch=6),
    ]
    timeline = build_timeline(make_run(epochs=5, fits=fits, initial=config(1e-3, 5e-3, "Adam")))
    frame = timeline.frame
    assert frame["step"].tolist() == list(range(30))
    assert frame["fit"].tolist() == [0] * 12 + [1] * 18
    expected = legacy_decay(1e-3, 5e-3, np.arange(30))
    assert (bits(frame["lr_effective"]) == bits(expected)).all()


def test_saved_counter_of_two_epochs_after_four_shows_a_fresh_optimizer():
    fits = [
        Fit(index=0, first_epoch=0, end_epoch=2, steps_per_epoch=11),
        Fit(index=1, first_epoch=2, end_epoch=4, steps_per_epoch=11),
    ]
    run = make_run(
        epochs=4,
        fits=fits,
        optimizer=config(0.08, 2e-2),
        counters=[SavedCounter(path="model.h5", iterations=22)],
    )
    timeline = build_timeline(run)
    frame = timeline.frame
    assert frame["step"].tolist() == list(range(22)) * 2
    assert frame["epoch"].tolist() == [i // 11 for i in range(44)]
    second = frame[frame["fit"] == 1]
    assert second["lr_effective"].iloc[0] == f32(0.08)
    assert any("restarted" in note for note in timeline.notes)


def test_saved_counter_after_fit_one_confirms_continuation():
    fits = [
        Fit(index=0, first_epoch=0, end_epoch=3, steps_per_epoch=12),
        Fit(index=1, first_epoch=3, end_epoch=6, steps_per_epoch=12),
    ]
    counters = [
        SavedCounter(path="model_after_fit1.keras", iterations=36, stage="after fit 1"),
        SavedCounter(path="model.keras", iterations=72),
    ]
    run = make_run(epochs=6, fits=fits, optimizer=keras3_config(0.04), keras="3", counters=counters)
    frame = build_timeline(run).frame
    assert frame["step"].tolist() == list(range(72))


def two_fits_with_csv_lr(lrs, spe=4, epochs_per_fit=2, events=(), counters=()):
    """Legacy SGD(0.1, decay=1e-2) over two fits, epochs continuing; ``lrs``: CSV lr per epoch."""
    fits = [
        Fit(index=0, first_epoch=0, end_epoch=epochs_per_fit, steps_per_epoch=spe),
        Fit(index=1, first_epoch=epochs_per_fit, end_epoch=2 * epochs_per_fit, steps_per_epoch=spe),
    ]
    rows = [
        ("csvlogger", "history.csv", epoch + 2, "lr", epoch, None, fit, float(f32(lr)), None)
        for epoch, lr in enumerate(lrs)
        for fit in [epoch // epochs_per_fit]
    ]
    return make_run(
        epochs=2 * epochs_per_fit,
        spe=spe,
        fits=fits,
        initial=config(0.1, 1e-2),
        rows=rows,
        events=list(events),
        counters=list(counters),
    )


def test_logged_lr_back_up_to_the_initial_at_a_fit_boundary_shows_a_fresh_optimizer():
    # a silent plateau halved the variable in fit 1; fit 2 logs the initial 0.1 again: only a
    # new optimizer (variable and counter both fresh) can raise it
    timeline = build_timeline(two_fits_with_csv_lr([0.1, 0.05, 0.1, 0.05]))
    frame = timeline.frame
    assert frame["step"].tolist() == list(range(8)) * 2
    it = np.arange(4)
    expected = np.concatenate(
        [legacy_decay(0.1, 1e-2, it), legacy_decay(0.05, 1e-2, it + 4)] * 2
    )
    assert (bits(frame["lr_effective"]) == bits(expected)).all()
    assert timeline.extra["counter_resets"] == [1]
    assert any("went back up to the initial" in note for note in timeline.notes)


@pytest.mark.parametrize(
    "case",
    ["scheduler message", "scheduler option", "lr not raised", "raised elsewhere", "saved counter"],
)
def test_fresh_optimizer_is_not_inferred_without_that_evidence(case, tmp_path):
    lrs = [0.1, 0.05, 0.1, 0.05]
    events, options, counters = [], RunOptions(), []
    if case == "scheduler message":
        events = [scheduler(2, 0.1)]
    elif case == "scheduler option":
        schedule = tmp_path / "schedule.py"
        schedule.write_text("def restart(epoch, lr):\n    return 0.1 if epoch == 2 else lr\n")
        options = RunOptions(callbacks=[f"LearningRateScheduler('{schedule}:restart')"])
    elif case == "lr not raised":
        lrs = [0.1, 0.05, 0.05, 0.025]
    elif case == "raised elsewhere":  # back up inside fit 2, not at its first epoch
        lrs = [0.1, 0.05, 0.05, 0.1]
    else:  # a saved counter wins: it shows the counter continued
        counters = [SavedCounter(path="model.h5", iterations=16)]
    run = two_fits_with_csv_lr(lrs, events=events, counters=counters)
    timeline = build_timeline(run, options)
    assert timeline.frame["step"].tolist() == list(range(16))
    assert timeline.extra["counter_resets"] == []
    assert not any("went back up" in note for note in timeline.notes)


def test_constant_lr_over_fits_says_nothing_about_the_counter():
    timeline = build_timeline(two_fits_with_csv_lr([0.1] * 4))
    assert timeline.frame["step"].tolist() == list(range(16))
    assert not any("counter" in note for note in timeline.notes)


def test_gradient_accumulation_updates_every_kth_micro_batch_with_the_raw_counter():
    # odd steps per epoch: accumulation windows straddle epoch ends
    spec = keras3_config(0.05, gradient_accumulation_steps=3)
    timeline = build_timeline(make_run(epochs=2, spe=5, optimizer=spec, keras="3"))
    frame = timeline.frame
    assert frame["step"].tolist() == [2, 5, 8]
    assert frame["epoch"].tolist() == [0, 1, 1]
    assert frame["batch"].tolist() == [2, 0, 3]


def test_steps_per_epoch_option_wins_and_missing_is_asked_only_when_a_step_depends_on_it():
    run = make_run(initial=config(0.1, decay=0.01))
    run.fits[0].steps_per_epoch = None
    run.steps_per_epoch = None
    with pytest.raises(InputError, match=r"legacy decay=0\.01 divides the lr at every batch"):
        build_timeline(run)
    frame = build_timeline(run, RunOptions(steps_per_epoch=3)).frame
    assert len(frame) == 4 * 3


def test_missing_steps_per_epoch_with_a_constant_lr_is_audited_per_epoch():
    run = make_run(initial=config(0.1))
    run.fits[0].steps_per_epoch = None
    run.steps_per_epoch = None
    timeline = build_timeline(run)
    assert len(timeline.frame) == 4
    assert list(timeline.frame["epoch"]) == [0, 1, 2, 3]
    assert any(note.startswith("steps per epoch unknown") for note in timeline.notes)


def test_no_optimizer_anywhere_takes_the_logged_lr_as_applied():
    timeline = build_timeline(make_run())
    assert timeline.extra["optimizer_origin"] == "assumed"
    assert any(note.startswith("optimizer unknown") for note in timeline.notes)


def test_optimizer_option_overrides_the_config():
    run = make_run(epochs=1, spe=4, initial=config(0.5))
    frame = build_timeline(run, RunOptions(optimizer="SGD(learning_rate=0.1, decay=0.5)")).frame
    expected = legacy_decay(0.1, 0.5, np.arange(4))
    assert (bits(frame["lr_effective"]) == bits(expected)).all()


# ------------------------------------------------------------------------------------------
# the lr variable: callbacks
# ------------------------------------------------------------------------------------------


def test_plateau_message_changes_the_variable_from_the_next_epoch():
    printed = 0.0007500000356230885  # Keras: float(f32(1e-3)) * 0.75 in double
    run = make_run(epochs=3, spe=4, initial=config(1e-3, 1e-2, "Adam"), events=[plateau(0, printed)])
    timeline = build_timeline(run)
    frame = timeline.frame
    variable = frame["lr_variable"].to_numpy()
    assert (variable[:4] == f32(1e-3)).all()
    assert (variable[4:] == f32(printed)).all()
    expected = np.concatenate(
        [legacy_decay(1e-3, 1e-2, np.arange(4)), legacy_decay(printed, 1e-2, np.arange(4, 12))]
    )
    assert (bits(frame["lr_effective"]) == bits(expected)).all()
    (change,) = timeline.changes
    assert change.callback == "ReduceLROnPlateau"
    assert change.epoch == 0
    assert change.new_lr == float(f32(printed))
    assert change.effective_from_step == 4
    assert change.overwritten_by is None


def test_scheduler_overwrites_the_plateau_reduction_of_the_previous_epoch_end():
    events = [
        scheduler(0, 0.04),
        scheduler(1, 0.04),
        plateau(1, 0.009999999776482582),
        scheduler(2, 0.01),
        plateau(2, 0.0024999999441206455),
    ]
    run = make_run(epochs=3, spe=2, initial=config(0.04), events=events)
    timeline = build_timeline(run)
    assert timeline.frame["lr_effective"].tolist() == [f32(0.04)] * 4 + [f32(0.01)] * 2
    reductions = [c for c in timeline.changes if c.callback == "ReduceLROnPlateau"]
    assert [c.overwritten_by for c in reductions] == ["LearningRateScheduler", None]
    # the reduction at the very last epoch end applies to no step
    assert [c.effective_from_step for c in reductions] == [None, None]
    sets = [c for c in timeline.changes if c.callback == "LearningRateScheduler"]
    assert [c.effective_from_step for c in sets] == [0, 2, 4]


def test_history_lr_read_after_the_reduction_is_not_a_silent_write():
    """Plateau listed before the scheduler: History 'lr' is the reduced variable (no step used it)."""
    events = [
        scheduler(0, 0.04),
        scheduler(1, 0.04),
        plateau(1, 0.009999999776482582),
        scheduler(2, 0.04),
    ]
    # History/CSV copy the variable in the scheduler's on_epoch_end, after the reduction
    rows = [
        ("history", "history.json", 2, "lr", 0, None, 0, 0.04, "0.04"),
        ("history", "history.json", 3, "lr", 1, None, 0, 0.009999999776482582, "0.01"),
        ("history", "history.json", 4, "lr", 2, None, 0, 0.04, "0.04"),
    ]
    run = make_run(epochs=3, spe=2, initial=config(0.04), events=events, rows=rows)
    timeline = build_timeline(run)
    # the printed scheduler values are facts: every step ran at 0.04
    assert timeline.frame["lr_effective"].tolist() == [f32(0.04)] * 6
    assert {c.callback for c in timeline.changes} == {"LearningRateScheduler", "ReduceLROnPlateau"}
    (reduction,) = [c for c in timeline.changes if c.callback == "ReduceLROnPlateau"]
    assert reduction.overwritten_by == "LearningRateScheduler"
    history = timeline.logged[timeline.logged["source"] == "history"].set_index("epoch")
    assert history.loc[1, "relation"] == "after_callback"
    assert history["step"].isna().tolist() == [False, True, False]  # no step used epoch 1's value
    assert history.loc[0, "relation"] == history.loc[2, "relation"] == "effective"


def test_exact_epoch_log_fills_a_write_nothing_printed():
    rows = [
        ("csvlogger", "history.csv", 2, "lr", 0, None, 0, 0.01, "0.01"),
        ("csvlogger", "history.csv", 3, "lr", 1, None, 0, 0.005, "0.005"),
    ]
    run = make_run(epochs=2, spe=3, initial=config(0.01), rows=rows)
    timeline = build_timeline(run)
    assert timeline.frame["lr_effective"].tolist() == [f32(0.01)] * 3 + [f32(0.005)] * 3
    assert len(timeline.changes) == 1
    assert timeline.changes[0].effective_from_step == 3


def test_final_config_initial_lr_recovered_from_history():
    # the config was saved after a reduction: it holds the final variable
    rows = [
        ("history", "history.json", None, "lr", 0, None, 0, float(f32(1e-3)), None),
        ("history", "history.json", None, "lr", 1, None, 0, float(f32(5e-4)), None),
    ]
    run = make_run(
        epochs=2,
        spe=3,
        optimizer=config(float(f32(5e-4)), 0.0, "Adam"),
        rows=rows,
        events=[plateau(0, 0.0005000000237487257)],
    )
    timeline = build_timeline(run)
    assert timeline.frame["lr_effective"].tolist() == [f32(1e-3)] * 3 + [f32(5e-4)] * 3
    assert any("final" in note for note in timeline.notes)


def test_plateau_replayed_from_the_metric_when_nothing_was_printed():
    # val_loss: improves, then stalls twice: patience=1 reduces at the end of epochs 1 and 2
    losses = [1.0, 1.5, 1.6, 0.5]
    rows = [("csvlogger", "h.csv", e + 2, "val_loss", e, None, 0, v, str(v)) for e, v in enumerate(losses)]
    run = make_run(epochs=4, spe=2, initial=config(0.1), rows=rows)
    options = RunOptions(callbacks=["ReduceLROnPlateau(monitor='val_loss', factor=0.5, patience=1)"])
    timeline = build_timeline(run, options)
    first = f32(float(f32(0.1)) * 0.5)
    second = f32(float(first) * 0.5)
    expected = [f32(0.1)] * 4 + [first] * 2 + [second] * 2
    assert timeline.frame["lr_effective"].tolist() == expected
    assert [c.origin for c in timeline.changes] == ["replayed", "replayed"]
    assert [c.epoch for c in timeline.changes] == [1, 2]


# ------------------------------------------------------------------------------------------
# logged values
# ------------------------------------------------------------------------------------------


def test_logged_base_value_under_hidden_decay_is_classified_base():
    rows = [("csvlogger", "history.csv", 2 + e, "lr", e, None, 0, 0.001, "0.001") for e in range(2)]
    run = make_run(epochs=2, spe=5, initial=config(1e-3, 1e-2, "Adam"), rows=rows)
    timeline = build_timeline(run)
    logged = timeline.logged
    # step 0 applies the base value itself (no decay yet); from step 1 on the decay hides
    assert logged["relation"].tolist() == ["effective", "base"]
    assert logged["step"].tolist() == [0, 5]
    frame = timeline.frame
    assert frame.loc[frame["step"] == 5, "logged_source"].item() == "history.csv:3"
    # step 0: no decay yet, so the base value is also the applied one
    assert frame.loc[frame["step"] == 0, "logged_lr"].item() == pytest.approx(0.001)


def test_keras3_tensorboard_after_plateau_is_after_callback():
    rows = [
        ("tfevents", "tb/train/events", None, "epoch_learning_rate", 0, 0, 0, float(f32(2e-3)), None),
        ("tfevents", "tb/train/events", None, "epoch_learning_rate", 1, 1, 0, float(f32(1e-3)), None),
        ("history", "history.json", None, "learning_rate", 1, None, 0, float(f32(2e-3)), None),
    ]
    run = make_run(
        epochs=3,
        spe=2,
        keras="3",
        initial=keras3_config(2e-3, "Adam"),
        rows=rows,
        events=[plateau(1, 0.001)],
    )
    logged = build_timeline(run).logged.set_index(["source", "epoch"])
    assert logged.loc[("tfevents", 0), "relation"] == "effective"
    assert logged.loc[("tfevents", 1), "relation"] == "after_callback"
    assert logged.loc[("tfevents", 1), "step"] == 4
    assert logged.loc[("history", 1), "relation"] == "effective"


def test_keras2_tensorboard_schedule_is_next_step():
    schedule = {
        "class_name": "ExponentialDecay",
        "config": {"initial_learning_rate": 0.01, "decay_steps": 3, "decay_rate": 0.5, "staircase": True},
    }
    # the schedule at the counter after epoch 0 (step 4): 0.01 * 0.5**1
    rows = [("tfevents", "tb/train/ev", None, "epoch_learning_rate", 0, 0, 0, float(f32(0.005)), None)]
    run = make_run(epochs=2, spe=4, initial=config(schedule), rows=rows)
    timeline = build_timeline(run)
    (record,) = timeline.logged.itertuples(index=False)
    assert record.relation == "next_step"
    assert record.step == 4
    assert np.isnan(timeline.frame["lr_variable"]).all()


def test_console_value_compared_to_print_precision():
    rows = [("console", "console.log", 9, "lr", 0, None, 0, 0.001, "0.0010")]
    run = make_run(epochs=1, spe=3, initial=config(1e-3, 1e-2, "Adam"), rows=rows)
    (record,) = build_timeline(run).logged.itertuples(index=False)
    assert record.relation == "effective"  # step 0: 0.001 == 0.0010 to 4 decimals


def test_logged_value_nothing_explains_is_a_mismatch():
    rows = [("csvlogger", "history.csv", 2, "lr", 0, None, 0, 0.3, "0.3")]
    run = make_run(epochs=2, spe=3, initial=config(0.1), rows=rows)
    timeline = build_timeline(run)
    assert timeline.logged["relation"].tolist() == ["mismatch"]


def test_printed_plateau_values_join_the_steps_that_used_them():
    printed = 0.0007500000356230885
    run = make_run(epochs=2, spe=2, initial=config(1e-3, 1e-2, "Adam"), events=[plateau(0, printed, 17)])
    logged = build_timeline(run).logged
    (record,) = logged.itertuples(index=False)
    assert record.source == "callback"
    assert record.location == "console.log:17"
    assert record.relation == "base"
    assert record.step == 2


# ------------------------------------------------------------------------------------------
# properties
# ------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    spe=st.integers(1, 9),
    epochs_per_fit=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    accumulation=st.integers(1, 4),
)
def test_layout_invariants(spe, epochs_per_fit, accumulation):
    fits, first = [], 0
    for index, count in enumerate(epochs_per_fit):
        fits.append(Fit(index=index, first_epoch=first, end_epoch=first + count, steps_per_epoch=spe))
        first += count
    extra = {"gradient_accumulation_steps": accumulation} if accumulation > 1 else {}
    run = make_run(epochs=first, spe=spe, fits=fits, optimizer=keras3_config(0.01, **extra), keras="3")
    frame = build_timeline(run).frame
    micro = first * spe
    assert len(frame) == micro // accumulation
    steps = frame["step"].to_numpy()
    # continuing counter: raw step k*n - 1, and the micro-batch it is tells epoch and batch
    assert (steps == accumulation * np.arange(1, len(frame) + 1) - 1).all()
    assert (frame["epoch"].to_numpy() == steps // spe).all()
    assert (frame["batch"].to_numpy() == steps % spe).all()
    assert (frame["lr_effective"] == f32(0.01)).all()


@settings(max_examples=30, deadline=None)
@given(
    lr=st.floats(1e-5, 1.0),
    decay=st.floats(1e-5, 0.5),
    reductions=st.lists(st.booleans(), min_size=2, max_size=6),
)
def test_plateau_variable_is_piecewise_constant_and_decay_divides_it(lr, decay, reductions):
    spe = 3
    events, value = [], float(f32(lr))
    for epoch, reduce in enumerate(reductions[:-1]):
        if reduce:
            value = value * 0.5
            events.append(plateau(epoch, value))
            value = float(f32(value))
    run = make_run(epochs=len(reductions), spe=spe, initial=config(lr, decay, "Adam"), events=events)
    frame = build_timeline(run).frame
    variable = frame["lr_variable"].to_numpy()
    for epoch in range(len(reductions)):
        assert len(set(variable[epoch * spe : (epoch + 1) * spe].tolist())) == 1
    assert (np.diff(variable) <= 0).all()
    expected = (variable / (f32(1) + f32(decay) * frame["step"].to_numpy().astype(np.float32))).astype(
        np.float32
    )
    assert (bits(frame["lr_effective"]) == bits(expected)).all()
