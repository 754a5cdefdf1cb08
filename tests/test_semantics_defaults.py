"""Optimizer defaults per Keras era (lraudit.semantics.defaults): well-formed table, checked facts."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from lraudit.errors import UsageError
from lraudit.semantics import defaults
from lraudit.semantics.defaults import (
    ABSENT,
    CLASS_NAMES,
    ERAS,
    LEGACY_MEANINGS,
    TABLE,
    default_learning_rate,
    era_optimizer,
    exists_in,
    optimizer_defaults,
    optimizer_signature,
    string_shortcut,
)
from lraudit.semantics.expressions import parse_optimizer_expr
from lraudit.semantics.specs import GENERATIONS

DOC = Path(__file__).resolve().parents[1] / "docs" / "optimizer-defaults.md"
_SCALARS = (bool, int, float, str, type(None))


def test_eras_are_keras1_then_lraudit_generations():
    assert ("k1", *GENERATIONS) == ERAS
    assert set(TABLE) == set(ERAS)


@pytest.mark.parametrize("era", ERAS)
def test_every_entry_is_well_formed(era):
    for class_name in CLASS_NAMES:
        entry = TABLE[era].get(class_name)
        if entry is None:
            assert ABSENT[(era, class_name)], f"{era} {class_name}: absence needs a reason"
            assert not exists_in(class_name, era)
            assert optimizer_signature(class_name, era) is None
            continue
        assert (era, class_name) not in ABSENT
        assert entry.era == era and entry.class_name == class_name and entry.signatures
        for signature in entry.signatures:
            names = signature.names
            assert len(set(names)) == len(names), f"{era} {class_name}: duplicate parameter"
            assert names[0] in ("lr", "learning_rate"), "the lr is always the first argument"
            assert all(isinstance(value, _SCALARS) for _, value in signature.parameters)
            assert not set(names) & {name for name, _ in signature.keyword_only}
            assert {key for key, _ in signature.legacy} == {"lr", "decay"}
            assert {meaning for _, meaning in signature.legacy} <= set(LEGACY_MEANINGS)
            assert signature.versions and signature.source.repository and signature.source.path
            assert signature.source.tag
            lr = signature.defaults().get("learning_rate", signature.defaults().get("lr"))
            assert isinstance(lr, float) and math.isfinite(lr) and lr > 0


def test_there_are_43_era_optimizer_entries():
    assert sum(len(classes) for classes in TABLE.values()) == 43


def test_lion_default_lr_differs_between_tf_keras_and_keras3():
    """keras-team/keras keras/optimizers/lion.py @ v2.15.0: ``learning_rate=0.0001`` (Lion added
    in v2.13; absent from keras/optimizers @ v2.12.0); keras-team/tf-keras
    tf_keras/optimizers/lion.py @ v2.15.0 the same; keras-team/keras
    keras/src/optimizers/lion.py @ v3.15.1: ``learning_rate=0.001``."""
    assert default_learning_rate("Lion", "k2-new") == 1e-4
    assert default_learning_rate("Lion", "k3") == 1e-3
    assert not exists_in("Lion", "k2-legacy") and not exists_in("Lion", "k2-standalone")
    assert parse_optimizer_expr("tf_keras.optimizers.Lion()").learning_rate == 1e-4
    assert parse_optimizer_expr("Lion()", generation=("k3",)).learning_rate == 1e-3


def test_adadelta_lr_is_1_in_standalone_keras_and_1e3_in_tf_keras():
    """keras-team/keras keras/optimizers.py @ 1.2.2 and @ 2.2.5: ``Adadelta(lr=1.0, rho=0.95,
    epsilon=..., decay=0.)``, @ 2.3.1 ``learning_rate=1.0``; keras/optimizers/optimizer_v2/
    adadelta.py @ v2.10.0 and keras/src/optimizers/adadelta.py @ v3.15.1: ``learning_rate=0.001``."""
    assert default_learning_rate("Adadelta", "k1") == 1.0
    assert default_learning_rate("Adadelta", "k2-standalone") == 1.0
    for era in ("k2-legacy", "k2-new", "k3"):
        assert default_learning_rate("Adadelta", era) == 0.001
    # standalone Adagrad/Adamax/Nadam defaults also differ from tf.keras
    assert default_learning_rate("Adagrad", "k2-standalone") == 0.01
    assert default_learning_rate("Adamax", "k2-standalone") == 0.002
    assert default_learning_rate("Nadam", "k2-standalone") == 0.002


def test_standalone_adam_epsilon_and_positional_decay():
    """keras-team/keras keras/optimizers.py @ 2.2.5: ``Adam(lr=0.001, beta_1=0.9, beta_2=0.999,
    epsilon=None, decay=0., amsgrad=False)`` with ``if epsilon is None: epsilon = K.epsilon()``
    and keras/backend/common.py ``_EPSILON = 1e-7``; @ 2.1.2 ``epsilon=1e-8``; @ 2.3.1
    ``Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, amsgrad=False, **kwargs)`` with
    ``kwargs.pop('epsilon', K.epsilon())`` and ``kwargs.pop('decay', 0.0)``."""
    entry = era_optimizer("Adam", "k2-standalone")
    by_versions = {sig.versions: sig for sig in entry.signatures}
    assert dict(by_versions["2.1.3-2.2.5"].parameters)["epsilon"] is None
    assert by_versions["2.1.3-2.2.5"].defaults()["epsilon"] == 1e-7
    assert dict(by_versions["2.0.0-2.1.2"].parameters)["epsilon"] == 1e-8
    assert by_versions["2.3.0-2.3.1"].names == ("learning_rate", "beta_1", "beta_2", "amsgrad")
    assert optimizer_defaults("Adam", "k2-standalone")["epsilon"] == 1e-7
    # Adam(0.001, 0.9, 0.999, 1e-8, 0.01): only 2.2 and before take five positional arguments
    spec = parse_optimizer_expr("Adam(0.001, 0.9, 0.999, 1e-8, 0.01)", generation="k2-standalone")
    assert spec.decay == 0.01 and spec.raw["epsilon"] == 1e-8


def test_adagrad_initial_accumulator_and_nadam_schedule_decay():
    """keras-team/keras keras/optimizers.py @ 2.2.4: Adagrad ``accumulators = [K.zeros(shape)
    ...]``, Nadam ``schedule_decay=0.004``; keras/optimizers/optimizer_v2/adagrad.py @ v2.10.0
    ``initial_accumulator_value=0.1``; optimizer_v2/nadam.py ``kwargs['decay'] =
    kwargs.pop('schedule_decay', 0.004)``."""
    assert optimizer_defaults("Adagrad", "k2-standalone")["initial_accumulator_value"] == 0.0
    assert "initial_accumulator_value" not in optimizer_signature("Adagrad", "k2-standalone")[0]
    for era in ("k2-legacy", "k2-new", "k3"):
        assert optimizer_defaults("Adagrad", era)["initial_accumulator_value"] == 0.1
    assert optimizer_defaults("Nadam", "k2-standalone")["schedule_decay"] == 0.004
    assert dict(era_optimizer("Nadam", "k2-legacy").signature.legacy)["decay"] == "schedule_decay"


def test_legacy_ftrl_ignores_lr_and_the_new_optimizer_ignores_it_too():
    """keras-team/keras keras/optimizers/optimizer_v2/ftrl.py @ v2.10.0:
    ``self._set_hyper("learning_rate", learning_rate)`` (every other OptimizerV2 class reads
    ``kwargs.get("lr", learning_rate)``); keras/optimizers/optimizer.py @ v2.15.0
    ``_process_kwargs``: ``lr`` is popped with a warning, ``decay`` raises ValueError."""
    assert parse_optimizer_expr("legacy.Ftrl(lr=0.5)").learning_rate == 0.001
    assert parse_optimizer_expr("legacy.Adam(lr=0.5)").learning_rate == 0.5
    assert parse_optimizer_expr("tf_keras.optimizers.Adam(lr=0.5)").learning_rate == 0.001
    assert dict(era_optimizer("Adam", "k3").signature.legacy) == {"lr": "rejected", "decay": "ignored"}


def test_positional_order_differs_between_eras():
    """keras/optimizers.py @ 2.2.5 ``SGD(lr, momentum, decay, nesterov)`` vs @ 2.3.1
    ``SGD(learning_rate, momentum, nesterov)``; keras/optimizers/optimizer_experimental/sgd.py
    @ v2.11.0 has ``amsgrad`` fourth; tf-keras tf_keras/optimizers/adam.py @ v2.21.0 puts
    ``adaptive_epsilon`` fifth; OptimizerV2 ftrl.py puts ``name`` before
    ``l2_shrinkage_regularization_strength``."""
    standalone = era_optimizer("SGD", "k2-standalone").signatures
    assert standalone[0].names[:3] == ("learning_rate", "momentum", "nesterov")
    assert standalone[-1].names[:4] == ("lr", "momentum", "decay", "nesterov")
    assert era_optimizer("SGD", "k2-new").signatures[-1].names[3] == "amsgrad"
    assert era_optimizer("Adam", "k2-new").signatures[1].names[4] == "adaptive_epsilon"
    assert optimizer_signature("Ftrl", "k2-legacy")[5][0] == "name"
    assert optimizer_signature("Ftrl", "k3")[5][0] == "l2_shrinkage_regularization_strength"


def test_string_shortcuts_per_era():
    """keras/optimizers.py @ 2.3.1 ``all_classes`` (no ftrl); tensorflow/python/keras/optimizers.py
    ``deserialize`` adds ``'ftrl'``; keras/src/optimizers/__init__.py @ v3.15.1 ``ALL_OBJECTS``
    has AdamW and Lion but not Lamb; tf-keras tf_keras/optimizers/__init__.py @ v2.21.0 has
    ``"adamw"`` (not @ v2.15.0), never ``"lion"``."""
    assert string_shortcut("adam", "k2-standalone") == "Adam"
    assert string_shortcut("ADAM", "k3") == "Adam"
    assert string_shortcut("ftrl", "k2-standalone") is None
    assert string_shortcut("ftrl", "k2-legacy") == "Ftrl"
    assert string_shortcut("adamw", "k2-legacy") is None
    assert string_shortcut("lion", "k3") == "Lion" and string_shortcut("lion", "k2-new") is None
    assert string_shortcut("lamb", "k3") is None
    assert string_shortcut("adam", None) is None and string_shortcut("adam", "k9") is None


def test_absent_classes():
    assert not exists_in("AdamW", "k2-legacy") and exists_in("AdamW", "k2-new")
    assert not exists_in("Ftrl", "k2-standalone") and not exists_in("Ftrl", "k1")
    assert exists_in("Lamb", "k3") and not exists_in("Lamb", "k2-new")
    with pytest.raises(UsageError, match="AdamW does not exist"):
        parse_optimizer_expr("tf.keras.optimizers.legacy.AdamW()")


def test_unknown_era_keeps_the_generic_binding():
    spec = parse_optimizer_expr("Lion()")
    assert spec.generation is None and spec.learning_rate == 0.001
    assert optimizer_signature("Adam", None) is None and optimizer_defaults("Adam", "k9") is None


def test_a_keras_hint_picks_the_era_that_has_the_class():
    assert parse_optimizer_expr("Adam()", generation=("k2-legacy", "k2-new")).generation == "k2-legacy"
    assert parse_optimizer_expr("AdamW()", generation=("k2-legacy", "k2-new")).generation == "k2-new"
    assert parse_optimizer_expr("Lamb()", generation=("k2-legacy", "k2-new")).generation is None


def test_committed_doc_is_the_generated_one():
    assert DOC.read_text(encoding="utf-8") == defaults.markdown(), (
        "regenerate: python -m lraudit.semantics.defaults --markdown > docs/optimizer-defaults.md"
    )


def test_main_prints_markdown_or_usage(capsys):
    assert defaults.main(["--markdown"]) == 0
    assert capsys.readouterr().out == defaults.markdown()
    assert defaults.main([]) == 2
