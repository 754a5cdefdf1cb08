"""Training code read statically: each construct, notebooks in execution order, never executed."""
from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lraudit.code import (
    CodeCell,
    callbacks_for_fit,
    lr_at_fit_start,
    notebook_code_cells,
    optimizer_for_fit,
    read_code,
)
from lraudit.code.values import ConstantFolder, NotConstant
from lraudit.semantics.specs import ScheduleSpec
from lraudit.sources import script

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "code"


def read(text: str, label: str = "train.py"):
    return read_code([CodeCell(text, label)])


def only_fit(text: str):
    facts = read(text)
    assert len(facts.trainings) == 1, facts.trainings
    return facts, facts.trainings[0]


# ------------------------------------------------------------------------------ optimizers


def test_seed_question_constants_are_folded_and_cited():
    facts, fit = only_fit(
        "from keras.optimizers import Adam\n"
        "LR = 1e-3\n"
        "LR_DECAY = 1e-2\n"
        "model.compile(optimizer=Adam(lr=LR, decay=LR_DECAY), loss='mse')\n"
        "model.fit(x, y, epochs=8, batch_size=32)\n"
    )
    spec, citations = optimizer_for_fit(facts, 0)
    assert (spec.class_name, spec.learning_rate, spec.decay) == ("Adam", 1e-3, 1e-2)
    assert spec.source == "train.py:4"
    assert "LR = 0.001 at train.py:2" in citations
    assert "LR_DECAY = 0.01 at train.py:3" in citations
    assert (fit.epochs, fit.batch_size) == (8, 32)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("opt = keras.optimizers.SGD(0.1, momentum=0.9)", ("SGD", 0.1, None)),
        (
            "opt = tf.keras.optimizers.legacy.RMSprop(learning_rate=2e-3, decay=1e-4)",
            ("RMSprop", 2e-3, "k2-legacy"),
        ),
        (
            "from tensorflow.keras.optimizers.legacy import Adam\nopt = Adam(1e-4)",
            ("Adam", 1e-4, "k2-legacy"),
        ),
        (
            "from tensorflow.keras import optimizers\nopt = optimizers.Adamax(lr=0.002)",
            ("Adamax", 0.002, None),
        ),
        ("opt = keras.optimizers.rmsprop(lr=0.0001, decay=1e-6)", ("RMSprop", 1e-4, None)),
        ("import tf_keras\nopt = tf_keras.optimizers.Adam(3e-4)", ("Adam", 3e-4, "k2-new")),
        ("opt = optimizers.SGD(lr=np.sqrt(0.01) * 2 ** -1)", ("SGD", 0.05, None)),
    ],
)
def test_optimizer_constructions(code, expected):
    _facts, fit = only_fit(f"{code}\nmodel.compile(loss='mse', optimizer=opt)\nmodel.fit(x, y, epochs=1)\n")
    assert (fit.optimizer.class_name, fit.optimizer.learning_rate, fit.optimizer.generation) == expected


def test_string_shortcut_and_default_optimizer():
    facts = read(
        "model.compile(optimizer='adam', loss='mse')\nmodel.fit(x, y, epochs=2)\n"
        "other.compile(loss='mse')\nother.fit(x, y, epochs=2)\n"
    )
    first, second = facts.trainings
    assert (first.optimizer.class_name, first.optimizer.raw) == ("Adam", {})
    assert first.optimizer_record.shortcut
    assert second.optimizer.class_name == "RMSprop"  # compile()'s own default


def test_positional_optimizer_and_schedule_bound_to_a_name():
    _facts, fit = only_fit(
        "from tensorflow.keras.experimental import CosineDecay\n"
        "STEPS = 30\n"
        "cos = CosineDecay(initial_learning_rate=1e-2, decay_steps=STEPS, alpha=1e-2)\n"
        "model.compile(tf.keras.optimizers.Adam(learning_rate=cos), loss='mse')\n"
        "model.fit(x, y, epochs=15)\n"
    )
    schedule = fit.optimizer.learning_rate
    assert isinstance(schedule, ScheduleSpec)
    assert (schedule.class_name, schedule.config["decay_steps"]) == ("CosineDecay", 30)


def test_non_literal_lr_is_refused_with_the_option_to_use():
    facts, fit = only_fit(
        "model.compile(optimizer=Adam(learning_rate=base_lr * len(data)), loss='mse')\n"
        "model.fit(x, y, epochs=1)\n"
    )
    assert fit.optimizer is None
    assert "learning_rate=base_lr * len(data) at train.py:1 is not a literal" in fit.optimizer_reasons[0]
    assert "give it with --optimizer" in fit.optimizer_reasons[0]
    assert optimizer_for_fit(facts, 0)[0] is None


def test_non_lr_argument_that_is_not_literal_is_dropped_with_a_note():
    facts, fit = only_fit(
        "model.compile(optimizer=Adam(1e-3, clipnorm=CLIP), loss='mse')\nmodel.fit(x, y, epochs=1)\n"
    )
    assert fit.optimizer.learning_rate == 1e-3
    assert any("clipnorm=CLIP" in note for note in facts.notes)


def test_conditional_optimizer_is_not_guessed():
    _facts, fit = only_fit(
        "opt = AdamW(learning_rate=1e-3) if hasattr(keras.optimizers, 'AdamW') else Adam(1e-3)\n"
        "model.compile(optimizer=opt, loss='mse')\nmodel.fit(x, y, epochs=1)\n"
    )
    assert fit.optimizer is None
    assert "chosen when the code runs" in fit.optimizer_reasons[0]


def test_torch_optimizer_is_not_a_keras_optimizer():
    _facts, fit = only_fit(
        "from torch.optim import Adam\nopt = Adam(params, lr=0.1)\n"
        "model.compile(optimizer=opt, loss='mse')\nmodel.fit(x, y, epochs=1)\n"
    )
    assert fit.optimizer is None


# ------------------------------------------------------------------------------ callbacks


def test_callbacks_list_bound_to_a_name_and_appended():
    facts, fit = only_fit(
        "PATIENCE = 3\n"
        "cbs = [ReduceLROnPlateau(monitor='val_loss', factor=0.5, patience=PATIENCE, min_lr=1e-6)]\n"
        "cbs.append(keras.callbacks.EarlyStopping(monitor='val_loss', patience=PATIENCE + 2))\n"
        "cbs += [CSVLogger('log.csv'), TensorBoard(log_dir='./logs'), ModelCheckpoint('m.h5')]\n"
        "model.compile(optimizer='adam', loss='mse')\n"
        "model.fit(x, y, epochs=10, callbacks=cbs)\n"
    )
    names = [spec.class_name for spec in fit.callbacks]
    assert names == ["ReduceLROnPlateau", "EarlyStopping", "CSVLogger", "TensorBoard", "ModelCheckpoint"]
    assert fit.callbacks[0].kwargs == {"monitor": "val_loss", "factor": 0.5, "patience": 3, "min_lr": 1e-6}
    assert fit.callbacks[1].kwargs["patience"] == 5
    _specs, citations = callbacks_for_fit(facts, 0)
    assert "PATIENCE = 3 at train.py:1" in citations


def test_unused_callback_is_noted():
    facts = read(
        "stop = EarlyStopping(monitor='val_loss', patience=0)\nlog = CSVLogger('t.log')\n"
        "model.compile(optimizer='adam', loss='mse')\nmodel.fit(x, y, epochs=2, callbacks=[log])\n"
    )
    assert facts.notes == ["EarlyStopping at train.py:1 is constructed but passed to no fit"]


def test_callback_with_non_literal_monitor_has_no_spec():
    _facts, fit = only_fit(
        "model.compile(optimizer='adam', loss='mse')\n"
        "model.fit(x, y, epochs=2, callbacks=[ReduceLROnPlateau(monitor=MONITOR)])\n"
    )
    assert fit.callbacks == []
    assert "monitor=MONITOR at train.py:2 is not a literal" in fit.callback_reasons[0]
    assert "--callback" in fit.callback_reasons[0]


def test_scheduler_function_pure_is_kept_for_evaluation():
    _facts, fit = only_fit(
        "import math\nK0 = 0.1\n"
        "def exp_decay(epoch, lr, k=K0 / 2):\n"
        "    '''doc'''\n"
        "    if epoch < 1:\n        return lr\n"
        "    print('epoch', epoch)\n"
        "    return lr * math.exp(-k * epoch)\n"
        "model.compile(optimizer='sgd', loss='mse')\n"
        "model.fit(x, y, epochs=5, callbacks=[LearningRateScheduler(exp_decay, verbose=1)])\n"
    )
    function = fit.callbacks[0].kwargs["schedule"]
    assert function.evaluable and function.takes_lr
    assert (function.name, function.location) == ("exp_decay", "train.py:3")
    assert function.constants == {"k": 0.05}
    assert isinstance(function.node, ast.FunctionDef)
    assert fit.callbacks[0].kwargs["verbose"] == 1


@pytest.mark.parametrize(
    ("definition", "why"),
    [
        ("def sched(epoch):\n    return lr_table[epoch]\n", "Subscript"),
        (
            "def sched(epoch):\n    def inner(e):\n        return 0.1\n    return inner(epoch)\n",
            "FunctionDef",
        ),
        ("def sched(epoch):\n    for i in range(3):\n        pass\n    return 0.1\n", "For"),
        ("def sched(epoch):\n    return 0.1 * unknown_scale\n", "unknown_scale"),
        ("def sched(epoch):\n    os.system('x')\n    return 0.1\n", "effects"),
    ],
)
def test_scheduler_function_not_evaluable(definition, why):
    facts, fit = only_fit(
        f"{definition}model.compile(optimizer='sgd', loss='mse')\n"
        "model.fit(x, y, epochs=5, callbacks=[LearningRateScheduler(sched)])\n"
    )
    function = facts.schedule_functions[0]
    assert not function.evaluable and why in function.reason
    assert "is not statically evaluable" in fit.callback_reasons[0]


def test_scheduler_lambda_and_custom_callback_class():
    _facts, fit = only_fit(
        "class CyclicLR(keras.callbacks.Callback):\n"
        "    def on_batch_begin(self, batch, logs=None):\n"
        "        K.set_value(self.model.optimizer.lr, 0.1)\n"
        "model.compile(optimizer='sgd', loss='mse')\n"
        "model.fit(x, y, epochs=5,\n"
        "          callbacks=[LearningRateScheduler(lambda e: 1e-3 * 0.9 ** e), CyclicLR()])\n"
    )
    assert fit.callbacks[0].kwargs["schedule"].evaluable
    assert fit.callback_records[1].custom and fit.callback_records[1].custom_sets_lr
    assert "sets the lr from its own code" in fit.callback_reasons[0]


# ------------------------------------------------------------------------------ fits


def test_fit_generator_arguments_and_keras1_names():
    _facts, fit = only_fit(
        "model.compile(optimizer='sgd', loss='mse')\n"
        "model.fit_generator(gen, 1562, 20, validation_data=val,\n"
        "                    samples_per_epoch=x.shape[0], initial_epoch=3)\n"
    )
    assert (fit.method, fit.steps_per_epoch, fit.epochs, fit.initial_epoch) == ("fit_generator", 1562, 20, 3)
    assert fit.arguments["samples_per_epoch"].reason.startswith("samples_per_epoch=x.shape[0] at train.py:3")
    assert fit.arguments["validation_data"].text == "val"


def test_steps_not_literal_names_the_option():
    _facts, fit = only_fit(
        "model.compile(optimizer='adam', loss='mse')\n"
        "model.fit(gen, epochs=3, steps_per_epoch=gen.samples // BATCH)\n"
    )
    assert fit.steps_per_epoch is None
    assert fit.arguments["steps_per_epoch"].reason.endswith("give it with --steps-per-epoch")


def test_non_keras_fit_calls_are_ignored():
    facts = read("datagen.fit(x_train)\nclf.fit(X, y)\nscaler.fit(X)\npattern = re.compile('a+')\n")
    assert facts.trainings == []


def test_set_value_between_fits_on_the_same_optimizer():
    facts = read(
        "INITIAL = 0.01\n"
        "adam = Adam(lr=INITIAL)\n"
        "model.compile(loss='mse', optimizer=adam)\n"
        "for i in range(2):\n"
        "    model.fit(x, y, batch_size=100, nb_epoch=50, verbose=2)\n"
        "    backend.set_value(adam.lr, 0.1 * backend.get_value(adam.lr))\n"
        "adam = Adam(lr=INITIAL)\n"
        "model.compile(loss='mse', optimizer=adam)\n"
        "model.fit(x, y, batch_size=100, nb_epoch=19)\n"
        "model.optimizer.learning_rate.assign(1e-4)\n"
        "model.fit(x, y, batch_size=100, nb_epoch=5)\n"
    )
    assert [fit.epochs for fit in facts.trainings] == [50, 50, 19, 5]
    assert [fit.continues_fit for fit in facts.trainings] == [None, 0, None, 2]
    starts = [lr_at_fit_start(facts, index)[0] for index in range(4)]
    assert starts == pytest.approx([0.01, 0.001, 0.01, 1e-4])
    spec, citations = optimizer_for_fit(facts, 1)
    assert spec.learning_rate == pytest.approx(0.001)
    assert any("backend.set_value" not in c and "adam.lr at train.py:6" in c for c in citations)


def test_continued_fit_after_a_plateau_has_an_unknown_start_lr():
    facts = read(
        "model.compile(optimizer=Adam(0.001), loss='mse')\n"
        "model.fit(x, y, epochs=5)\n"
        "model.fit(x, y, epochs=5, callbacks=[ReduceLROnPlateau(patience=3)])\n"
        "model.fit(x, y, epochs=5)\n"
    )
    assert lr_at_fit_start(facts, 1)[0] == 0.001
    value, reasons = lr_at_fit_start(facts, 2)
    assert value is None and "ReduceLROnPlateau may have changed the lr" in reasons[0]


def test_fits_link_to_their_own_model_and_new_models_are_marked():
    facts = read(
        "model = Sequential()\nmodel.summary()\n"
        "model.compile(optimizer=SGD(0.1), loss='mse')\n"
        "other = keras.models.Sequential()\n"
        "other.compile(optimizer='adagrad', loss='mse')\n"
        "model.fit(x, y, epochs=1)\n"
        "model = create_model()\n"
        "model.fit(x, y, epochs=1)\n"
    )
    first, second = facts.trainings
    assert first.optimizer.class_name == "SGD"
    assert second.optimizer is None and "no compile of model" in second.optimizer_reasons[0]
    assert first.model_id != second.model_id
    assert [(m.kind, m.name) for m in facts.markers] == [
        ("new_model", "model"), ("summary", "model"), ("new_model", "other"), ("new_model", "model"),
    ]


def test_constant_if_picks_its_branch_and_unknown_if_reads_both():
    facts = read(
        "AUG = True\nmodel.compile(optimizer='adam', loss='mse')\n"
        "if AUG:\n    model.fit_generator(gen, epochs=2)\nelse:\n    model.fit(x, y, epochs=3)\n"
        "if flag:\n    model.fit(x, y, epochs=4)\n"
    )
    assert [(fit.method, fit.epochs) for fit in facts.trainings] == [("fit_generator", 2), ("fit", 4)]
    assert "both branches were read" in facts.trainings[1].notes[0]


def test_loop_over_constant_list_unrolls_a_sweep():
    facts = read(
        "for lr in [1e-2, 1e-3]:\n"
        "    model = build()\n"
        "    model.compile(optimizer=Adam(learning_rate=lr), loss='mse')\n"
        "    model.fit(x, y, epochs=2)\n"
    )
    assert [fit.optimizer.learning_rate for fit in facts.trainings] == [1e-2, 1e-3]


def test_function_called_under_main_guard_is_followed():
    _facts, fit = only_fit(
        "def train(epochs, lr=1e-3):\n"
        "    model = keras.Sequential()\n"
        "    model.compile(optimizer=keras.optimizers.Adam(lr), loss='mse')\n"
        "    model.fit(x, y, epochs=epochs)\n"
        "    return model\n"
        "if __name__ == '__main__':\n"
        "    trained = train(7)\n"
    )
    assert (fit.epochs, fit.optimizer.learning_rate) == (7, 1e-3)
    assert "inside train()" in fit.notes[0]


def test_function_never_called_is_still_read_with_a_note():
    _facts, fit = only_fit(
        "def main():\n    model.compile(optimizer='nadam', loss='mse')\n    model.fit(x, y, epochs=3)\n"
    )
    assert fit.optimizer.class_name == "Nadam"
    assert "never calls" in fit.notes[0]


# ------------------------------------------------------------------------------ cells


def test_magics_commented_lines_and_python2_prints():
    facts = read_code([
        CodeCell(
            "%matplotlib inline\n!pip install keras\nfiles = !ls\nmodel.fit?\nimport keras\n",
            "nb.ipynb:cell 0", 1,
        ),
        CodeCell(
            "#opt = Adam(lr=0.1, decay=1e-6)\nopt = Adam(lr=0.2)\nmodel.compile(optimizer=opt, loss='mse')\n",
            "nb.ipynb:cell 1", 2,
        ),
        CodeCell("print 'training'\nmodel.fit(x, y, epochs=3)\n", "nb.ipynb:cell 2", 3),
        CodeCell("def broken(:\n", "nb.ipynb:cell 3", 4),
        CodeCell("%%bash\nls -l\n", "nb.ipynb:cell 4", 5),
    ])
    fit = facts.trainings[0]
    assert (fit.optimizer.learning_rate, fit.optimizer.decay) == (0.2, 0.0)
    assert fit.location == "nb.ipynb:cell 2:line 2"
    assert facts.warnings[0] == "nb.ipynb:cell 2: Python 2 print statements read as print(...) calls"
    assert facts.warnings[1].startswith("nb.ipynb:cell 3: does not parse as Python (line 1")
    assert len(facts.warnings) == 2


def test_notebook_with_a_stale_optimizer_cell_reads_in_document_order():
    notebook = json.loads((FIXTURES / "stale_optimizer_cell.ipynb").read_text())
    cells = notebook_code_cells(notebook, "stale.ipynb")
    assert next(cell.label for cell in cells) == "stale.ipynb:cell 1"
    facts = read_code(cells)
    fit = facts.trainings[0]
    assert (fit.method, fit.batch_size, fit.epochs) == ("fit", 64, 3)
    assert (fit.optimizer.class_name, fit.optimizer.learning_rate) == ("Nadam", 0.002)
    assert fit.optimizer.raw["schedule_decay"] == 0.004
    assert any("stale.ipynb:cell 3 has no execution count" in note for note in fit.notes)
    assert any("document order" in note for note in facts.notes)
    assert "stale.ipynb:cell 5: Python 2 print statements" in facts.warnings[0]


def test_notebook_cells_run_out_of_order_follow_execution_count():
    notebook = json.loads((FIXTURES / "out_of_order_cells.ipynb").read_text())
    facts = read_code(notebook_code_cells(notebook, "order.ipynb"))
    # cell 2 (count 9) ran after cell 4 (count 6): its Adam fit comes last
    cells = [fit.cell for fit in facts.trainings]
    assert cells == ["order.ipynb:cell 3", "order.ipynb:cell 3", "order.ipynb:cell 1"]
    sgd_fit, continued, adam_fit = facts.trainings
    assert sgd_fit.optimizer.class_name == "SGD" and sgd_fit.batch_size == 16
    schedule = sgd_fit.callbacks[0].kwargs["schedule"]
    assert schedule.evaluable and schedule.location == "order.ipynb:cell 2:line 1"
    assert continued.continues_fit == 0
    # the scheduler of fit 0 wrote the lr, but set_value then gives it outright
    assert continued.lr_changes[0].value == 0.001
    assert lr_at_fit_start(facts, 1)[0] == 0.001
    assert adam_fit.optimizer.learning_rate == 1e-2
    assert adam_fit.callbacks[0].kwargs["factor"] == 0.5


def test_code_is_never_executed(tmp_path):
    marker = tmp_path / "was_run"
    code = (
        "import os\n"
        f"os.system('touch {marker}')\n"
        f"open({str(marker)!r}, 'w').write('x')\n"
        f"LR = __import__('os').system('touch {marker}')\n"
        f"def sched(epoch):\n    open({str(marker)!r}, 'w')\n    return 0.1\n"
        "model.compile(optimizer=Adam(lr=LR), loss='mse')\n"
        "model.fit(x, y, epochs=1, callbacks=[LearningRateScheduler(sched)])\n"
        f"class Evil:\n    open({str(marker)!r}, 'w')\n"
    )
    facts = read(code)
    assert not marker.exists()
    assert facts.trainings[0].optimizer is None
    assert not facts.schedule_functions[0].evaluable


# ------------------------------------------------------------------------------ script source


def test_script_source_sniffs_and_reads_training_scripts(tmp_path):
    path = FIXTURES / "train_script.py"
    assert script.sniff(path.read_bytes(), path)
    data = script.read(path)
    assert data.kind == "script"
    fit = data.code_facts.trainings[0]
    assert (fit.optimizer.class_name, fit.optimizer.generation) == ("Adam", "k2-legacy")
    assert (fit.optimizer.learning_rate, fit.optimizer.decay) == (1e-3, 1e-2)
    assert (fit.epochs, fit.steps_per_epoch, fit.batch_size) == (5, 32, None)
    assert [spec.class_name for spec in fit.callbacks] == ["CSVLogger", "ReduceLROnPlateau"]
    assert fit.callbacks[1].kwargs["factor"] == 0.5
    plain = tmp_path / "helpers.py"
    plain.write_text("import numpy as np\n\ndef f(x):\n    return np.sqrt(x)\n")
    assert not script.sniff(plain.read_bytes(), plain)
    notebook = FIXTURES / "out_of_order_cells.ipynb"
    assert not script.sniff(notebook.read_bytes(), notebook)


def test_script_that_does_not_parse_still_yields_a_source(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("import keras\nmodel.fit(x, y, epochs=2\n")
    data = script.read(path)
    assert data.code_facts.trainings == []
    assert "does not parse" in data.warnings[0]


# ------------------------------------------------------------------------------ constant folder

_NUMBERS = st.one_of(
    st.integers(min_value=-1000, max_value=1000),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
)


def _expressions(leaves):
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "//", "%"]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            inner.map(lambda e: f"(-{e})"),
            st.tuples(inner, st.integers(min_value=0, max_value=3)).map(lambda t: f"({t[0]} ** {t[1]})"),
        ),
        max_leaves=8,
    )


def _python_value(text: str):
    try:
        # the generated text holds literals and operators only (no names, no calls)
        return eval(compile(text, "<expr>", "eval"), {"__builtins__": {}})
    except (ArithmeticError, ValueError):
        return NotConstant


@settings(max_examples=300, deadline=None)
@given(_expressions(_NUMBERS.map(repr)))
def test_folding_literal_arithmetic_gives_the_python_value(text):
    expected = _python_value(text)
    folder = ConstantFolder(lambda name: None)
    if expected is NotConstant or isinstance(expected, complex):
        with pytest.raises(NotConstant):
            folder.fold(ast.parse(text, mode="eval").body)
        return
    value = folder.fold(ast.parse(text, mode="eval").body).value
    assert value == expected or (math.isnan(expected) and math.isnan(value))


@settings(max_examples=200, deadline=None)
@given(
    _expressions(st.one_of(_NUMBERS.map(repr), st.just("unknown_name"))).filter(lambda t: "unknown_name" in t)
)
def test_folding_refuses_any_expression_with_a_non_constant_name(text):
    folder = ConstantFolder(lambda name: None)
    with pytest.raises(NotConstant):  # the name, or an operand that fails before it
        folder.fold(ast.parse(text, mode="eval").body)


def test_folder_guards_huge_powers_and_strings():
    folder = ConstantFolder(lambda name: None, lambda d: d.replace("np.", "numpy.", 1))
    for text in ("10 ** 10 ** 10", "pow(9, 10 ** 8)", "'a' * 10 ** 9", "len(x)", "x.shape[0]"):
        with pytest.raises(NotConstant):
            folder.fold(ast.parse(text, mode="eval").body)
    value = folder.fold(ast.parse("math.exp(-1) * np.floor(7 / 2) + math.pi", mode="eval").body).value
    assert value == math.exp(-1) * 3.0 + math.pi


def test_folder_reads_literal_mappings():
    """``lr_scheduler_kwargs={"num_cycles": 2}`` / ``dict(lr_end=1e-5)`` are literals; unpacking is not."""
    folder = ConstantFolder(lambda name: None)
    assert folder.fold(ast.parse("{'num_cycles': 2, 'power': 2 ** 0.5}", mode="eval").body).value == {
        "num_cycles": 2, "power": 2 ** 0.5,
    }
    assert folder.fold(ast.parse("dict(lr_end=1e-5, power=2.0)", mode="eval").body).value == {
        "lr_end": 1e-5, "power": 2.0,
    }
    for text in ("{**other, 'a': 1}", "{'a': x}", "{(1, 2): 3}", "dict(other, a=1)", "dict(**other)"):
        with pytest.raises(NotConstant):
            folder.fold(ast.parse(text, mode="eval").body)
