"""Optimizer constructor signatures and defaults in every Keras era, read from each era's source.

Which default an argument-less ``Adam()`` or a positional ``SGD(0.1, 0.9, True)`` gets depends on
the Keras that ran it: ``Adadelta()`` trains at 1.0 in standalone Keras and at 0.001 in tf.keras,
``Lion()`` at 1e-4 in tf.keras 2.13-2.15 and at 1e-3 in Keras 3, and the third positional
argument of standalone ``SGD`` is ``decay`` up to 2.2.5 but ``nesterov`` from 2.3.0. This module
is the table of those facts, as data:

* an *era* is one of :data:`ERAS`: ``k1`` (Keras 1.x) plus the optimizer generations of
  :data:`lraudit.semantics.specs.GENERATIONS`;
* per (era, optimizer class) an :class:`EraOptimizer` holds one or more :class:`Signature`
  variants (the releases inside an era sometimes differ), the first being the one the era's
  name stands for;
* each :class:`Signature` names the releases it covers and the :class:`Source` (repository, tag,
  path) it was read from. The citations are data for maintainers and the generated
  ``docs/optimizer-defaults.md``; product messages do not quote them.

``python -m lraudit.semantics.defaults --markdown`` prints that document.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from lraudit.semantics.specs import GENERATIONS

__all__ = [
    "ERAS",
    "ERA_TITLES",
    "TABLE",
    "EraOptimizer",
    "Signature",
    "Source",
    "default_learning_rate",
    "era_optimizer",
    "eras_for_keras",
    "exists_in",
    "markdown",
    "optimizer_defaults",
    "optimizer_signature",
    "string_shortcut",
]

#: every era the table knows, oldest first: Keras 1.x, then lraudit's optimizer generations
ERAS: tuple[str, ...] = ("k1", *GENERATIONS)

ERA_TITLES = {
    "k1": "Keras 1.x (standalone)",
    "k2-standalone": "standalone Keras 2.0-2.3",
    "k2-legacy": "tf.keras OptimizerV2: TF 2.0-2.5, keras 2.6-2.10, optimizers.legacy.* after",
    "k2-new": "tf.keras 2.11-2.15 and tf-keras 2.15-2.21 (the new optimizer)",
    "k3": "Keras 3.0-3.15",
}

#: what the era does with the Keras 2 ``lr=`` / ``decay=`` keywords (values of Signature.legacy)
LEGACY_MEANINGS = {
    "parameter": "a named constructor parameter",
    "alias": "accepted through **kwargs; it overrides learning_rate",
    "applied": "accepted through **kwargs; decays the lr on every update",
    "ignored": "accepted, a warning is logged, the value has no effect",
    "unused": "stored silently on the object, no effect",
    "schedule_decay": "overwritten by schedule_decay (Nadam's momentum constant): no lr decay",
    "rejected": "raises at construction",
}


@dataclass(frozen=True)
class Source:
    """Where a signature was read: ``repository`` at ``tag``, file ``path``."""

    repository: str
    tag: str
    path: str

    def __str__(self) -> str:
        return f"{self.repository} {self.path} @ {self.tag}"


@dataclass(frozen=True)
class Signature:
    """One constructor as a set of releases wrote it."""

    #: the releases this signature covers, e.g. ``"2.3.0-2.3.1"``
    versions: str
    #: positional-or-keyword parameters in their order, with defaults
    parameters: tuple[tuple[str, Any], ...]
    source: Source
    #: keyword arguments read from ``**kwargs`` (``epsilon`` in Keras 2.3), with defaults
    keyword_only: tuple[tuple[str, Any], ...] = ()
    #: ``(("lr", meaning), ("decay", meaning))`` with meanings from :data:`LEGACY_MEANINGS`
    legacy: tuple[tuple[str, str], ...] = ()
    #: what a ``None`` default becomes in the code (``epsilon=None`` -> ``K.epsilon()`` = 1e-7)
    resolved: tuple[tuple[str, Any], ...] = ()
    #: constants the code fixes that other eras expose as arguments (Adagrad's accumulator start)
    fixed: tuple[tuple[str, Any], ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """Positional parameter names, in order."""
        return tuple(name for name, _ in self.parameters)

    def defaults(self) -> dict[str, Any]:
        """Every argument's default as the code resolves it (parameters, then keyword-only)."""
        values = dict(self.parameters)
        values.update(self.keyword_only)
        for name, value in self.resolved:
            if values.get(name) is None:
                values[name] = value
        return values


@dataclass(frozen=True)
class EraOptimizer:
    """An optimizer class in one era: its signatures, the era's representative first."""

    era: str
    class_name: str
    signatures: tuple[Signature, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def signature(self) -> Signature:
        """The signature the era's name stands for."""
        return self.signatures[0]


# --------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------

_KERAS = "keras-team/keras"
_TF_KERAS = "keras-team/tf-keras"
_TF = "tensorflow/tensorflow"


def _keras(tag: str, path: str = "keras/optimizers.py") -> Source:
    return Source(_KERAS, tag, path)


# --------------------------------------------------------------------------------------------
# Keras 1.x and standalone Keras 2.0-2.3: keras/optimizers.py, lr first, epsilon from K.epsilon()
# --------------------------------------------------------------------------------------------

_K_EPSILON = (("epsilon", 1e-7),)  # keras/backend/common.py: _EPSILON = 1e-7 (10e-8 in 1.x-2.0)
_ZERO_ACCUMULATOR = (("initial_accumulator_value", 0.0),)  # Adagrad: K.zeros accumulators

#: class -> (lr default, parameters after lr in Keras 2.0-2.2.5) with epsilon given as 1e-8
_STANDALONE_HEADS: dict[str, tuple[float, tuple[tuple[str, Any], ...]]] = {
    "SGD": (0.01, (("momentum", 0.0), ("decay", 0.0), ("nesterov", False))),
    "RMSprop": (0.001, (("rho", 0.9), ("epsilon", 1e-8), ("decay", 0.0))),
    "Adagrad": (0.01, (("epsilon", 1e-8), ("decay", 0.0))),
    "Adadelta": (1.0, (("rho", 0.95), ("epsilon", 1e-8), ("decay", 0.0))),
    "Adam": (0.001, (("beta_1", 0.9), ("beta_2", 0.999), ("epsilon", 1e-8), ("decay", 0.0))),
    "Adamax": (0.002, (("beta_1", 0.9), ("beta_2", 0.999), ("epsilon", 1e-8), ("decay", 0.0))),
    "Nadam": (
        0.002, (("beta_1", 0.9), ("beta_2", 0.999), ("epsilon", 1e-8), ("schedule_decay", 0.004)),
    ),
}
#: Keras 2.3.0-2.3.1: lr/epsilon/decay moved to **kwargs (and learning_rate became the name)
_K23_HEADS: dict[str, tuple[tuple[str, Any], ...]] = {
    "SGD": (("momentum", 0.0), ("nesterov", False)),
    "RMSprop": (("rho", 0.9),),
    "Adagrad": (),
    "Adadelta": (("rho", 0.95),),
    "Adam": (("beta_1", 0.9), ("beta_2", 0.999), ("amsgrad", False)),
    "Adamax": (("beta_1", 0.9), ("beta_2", 0.999)),
    "Nadam": (("beta_1", 0.9), ("beta_2", 0.999)),
}


def _epsilon_none(params: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, Any], ...]:
    return tuple((name, None if name == "epsilon" else value) for name, value in params)


def _standalone(class_name: str) -> EraOptimizer:
    lr, tail = _STANDALONE_HEADS[class_name]
    fixed = _ZERO_ACCUMULATOR if class_name == "Adagrad" else ()
    nadam = class_name == "Nadam"
    decay_kwarg = "rejected" if nadam else "applied"
    keyword_only: tuple[tuple[str, Any], ...] = (("epsilon", None),)
    keyword_only += (("schedule_decay", 0.004),) if nadam else (("decay", 0.0),)
    if class_name == "SGD":
        keyword_only = (("decay", 0.0),)
    k23 = Signature(
        "2.3.0-2.3.1",
        (("learning_rate", lr), *_K23_HEADS[class_name]),
        _keras("2.3.1"),
        keyword_only=keyword_only,
        legacy=(("lr", "alias"), ("decay", decay_kwarg)),
        resolved=_K_EPSILON if class_name != "SGD" else (),
        fixed=fixed,
        notes=("epsilon and decay are read from **kwargs: they can no longer be given by position",),
    )
    tail_213 = _epsilon_none(tail)
    if class_name == "Adam":
        tail_213 += (("amsgrad", False),)
    lr_legacy = (("lr", "parameter"), ("decay", "rejected" if nadam else "parameter"))
    k213 = Signature(
        "2.1.3-2.2.5", (("lr", lr), *tail_213), _keras("2.2.5"), legacy=lr_legacy,
        resolved=_K_EPSILON if class_name != "SGD" else (), fixed=fixed,
        notes=("learning_rate= is rejected (TypeError): only lr exists",),
    )
    k20 = Signature(
        "2.0.0-2.1.2", (("lr", lr), *tail), _keras("2.1.2"), legacy=lr_legacy, fixed=fixed,
        notes=("learning_rate= is rejected (TypeError): only lr exists",),
    )
    return EraOptimizer("k2-standalone", class_name, (k23, k213, k20))


def _keras1(class_name: str) -> EraOptimizer:
    lr, tail = _STANDALONE_HEADS[class_name]
    fixed = _ZERO_ACCUMULATOR if class_name == "Adagrad" else ()
    nadam = class_name == "Nadam"
    legacy = (("lr", "parameter"), ("decay", "rejected" if nadam else "parameter"))
    late = Signature(
        "1.0.5-1.2.2" if nadam else "1.1.0-1.2.2", (("lr", lr), *tail), _keras("1.2.2"),
        legacy=legacy, fixed=fixed,
    )
    signatures = [late]
    if not nadam:
        # 1.0.x: only SGD takes decay; RMSprop/Adagrad/Adadelta had epsilon=1e-6 up to 1.0.2
        early_tail = tuple(item for item in tail if item[0] != "decay" or class_name == "SGD")
        decay = "parameter" if class_name == "SGD" else "rejected"
        small_epsilon = class_name in ("RMSprop", "Adagrad", "Adadelta")
        signatures.append(Signature(
            "1.0.3-1.0.8" if small_epsilon else "1.0.0-1.0.8", (("lr", lr), *early_tail), _keras("1.0.8"),
            legacy=(("lr", "parameter"), ("decay", decay)), fixed=fixed,
            notes=() if small_epsilon or decay == "parameter"
            else ("before 1.0.3 an unknown keyword such as decay was stored without effect",),
        ))
        if small_epsilon:
            first_tail = tuple((n, 1e-6 if n == "epsilon" else v) for n, v in early_tail)
            signatures.append(Signature(
                "1.0.0-1.0.2", (("lr", lr), *first_tail), _keras("1.0.2"),
                legacy=(("lr", "parameter"), ("decay", "unused")), fixed=fixed,
                notes=("unknown keywords are stored on the object without error",),
            ))
    notes = ("added in Keras 1.0.5",) if nadam else ()
    return EraOptimizer("k1", class_name, tuple(signatures), notes)


# --------------------------------------------------------------------------------------------
# tf.keras OptimizerV2 (k2-legacy): optimizer_v2/*.py, name positional, lr/decay via **kwargs
# --------------------------------------------------------------------------------------------

_V2_HEADS: dict[str, tuple[tuple[str, Any], ...]] = {
    "SGD": (("learning_rate", 0.01), ("momentum", 0.0), ("nesterov", False)),
    "RMSprop": (
        ("learning_rate", 0.001), ("rho", 0.9), ("momentum", 0.0), ("epsilon", 1e-7),
        ("centered", False),
    ),
    "Adagrad": (("learning_rate", 0.001), ("initial_accumulator_value", 0.1), ("epsilon", 1e-7)),
    "Adadelta": (("learning_rate", 0.001), ("rho", 0.95), ("epsilon", 1e-7)),
    "Adam": (
        ("learning_rate", 0.001), ("beta_1", 0.9), ("beta_2", 0.999), ("epsilon", 1e-7),
        ("amsgrad", False),
    ),
    "Adamax": (("learning_rate", 0.001), ("beta_1", 0.9), ("beta_2", 0.999), ("epsilon", 1e-7)),
    "Nadam": (("learning_rate", 0.001), ("beta_1", 0.9), ("beta_2", 0.999), ("epsilon", 1e-7)),
    "Ftrl": (
        ("learning_rate", 0.001), ("learning_rate_power", -0.5), ("initial_accumulator_value", 0.1),
        ("l1_regularization_strength", 0.0), ("l2_regularization_strength", 0.0),
    ),
}
_V2_FILES = {
    "SGD": "gradient_descent", "RMSprop": "rmsprop", "Adagrad": "adagrad", "Adadelta": "adadelta",
    "Adam": "adam", "Adamax": "adamax", "Nadam": "nadam", "Ftrl": "ftrl",
}


def _legacy(class_name: str) -> EraOptimizer:
    params = (*_V2_HEADS[class_name], ("name", class_name))
    if class_name == "Ftrl":
        # `name` sits before the two arguments added later, in every OptimizerV2 release
        params += (("l2_shrinkage_regularization_strength", 0.0), ("beta", 0.0))
    nadam = class_name == "Nadam"
    module = _V2_FILES[class_name]
    notes: tuple[str, ...] = ()
    if any(name == "epsilon" for name, _ in params):
        notes += ("epsilon=0 or None becomes the backend epsilon 1e-7 (`epsilon or epsilon()`)",)
    if nadam:
        notes += ("decay= is overwritten by schedule_decay (default 0.004): Nadam never decays its lr",)
    if class_name == "Ftrl":
        notes += ("Ftrl never reads lr=: the base class warns and learning_rate keeps its default",)
    lr = "ignored" if class_name == "Ftrl" else "alias"
    legacy = (("lr", lr), ("decay", "schedule_decay" if nadam else "applied"))
    keyword_only = (("schedule_decay", 0.004),) if nadam else (("decay", 0.0),)
    signature = Signature(
        "keras 2.6.0-2.15.0 (legacy.* from 2.11), tf-keras 2.15-2.21 legacy.*",
        params, _keras("v2.10.0", f"keras/optimizers/optimizer_v2/{module}.py"),
        keyword_only=keyword_only, legacy=legacy, notes=notes,
    )
    signatures = [signature]
    commit = _TF_READ.get(class_name)
    if commit:
        signatures.append(Signature(
            "TF 2.x tensorflow/python/keras (before keras 2.6)", params,
            Source(_TF, commit, f"tensorflow/python/keras/optimizer_v2/{module}.py"),
            keyword_only=keyword_only, legacy=legacy, notes=notes,
        ))
    return EraOptimizer("k2-legacy", class_name, tuple(signatures))


#: the tensorflow/tensorflow copies read (one stored revision each; same signatures as keras 2.6)
_TF_READ = {
    "Adam": "0004ac98864da68d6a90d96385bd55c86e04a8c1",
    "SGD": "02596fdc47b95728884e381723c1c70ea4a2de2f",
    "Ftrl": "0304934138cbfabd338ec432a630a9c3c1191564",
}


# --------------------------------------------------------------------------------------------
# The new optimizer (k2-new, 2.11+) and Keras 3: every argument positional, name last
# --------------------------------------------------------------------------------------------

_NEW_HEADS: dict[str, tuple[tuple[str, Any], ...]] = {
    **{name: head[1:] for name, head in _V2_HEADS.items()},
    "Ftrl": (
        ("learning_rate_power", -0.5), ("initial_accumulator_value", 0.1),
        ("l1_regularization_strength", 0.0), ("l2_regularization_strength", 0.0),
        ("l2_shrinkage_regularization_strength", 0.0), ("beta", 0.0),
    ),
    "AdamW": (
        ("weight_decay", 0.004), ("beta_1", 0.9), ("beta_2", 0.999), ("epsilon", 1e-7),
        ("amsgrad", False),
    ),
    "Lion": (("beta_1", 0.9), ("beta_2", 0.99)),
    "Lamb": (("beta_1", 0.9), ("beta_2", 0.999), ("epsilon", 1e-7)),
}
_NEW_LR = {"SGD": 0.01}
_COMMON_TAIL = (
    ("clipnorm", None), ("clipvalue", None), ("global_clipnorm", None), ("use_ema", False),
    ("ema_momentum", 0.99),
)


def _new_params(class_name: str, lr: float, extra: tuple[tuple[str, Any], ...], name: Any) -> tuple:
    """learning_rate, class arguments, [weight_decay], clipping/EMA, ``extra``, name."""
    head = _NEW_HEADS[class_name]
    weight_decay = () if class_name == "AdamW" else (("weight_decay", None),)
    overwrite = 100 if class_name == "RMSprop" else None
    return (
        ("learning_rate", lr), *head, *weight_decay, *_COMMON_TAIL,
        ("ema_overwrite_frequency", overwrite), *extra, ("name", name),
    )


_NEW_FILES = {**_V2_FILES, "SGD": "sgd", "Lion": "lion", "AdamW": "adamw", "Lamb": "lamb"}
_NEW_LEGACY = (("lr", "ignored"), ("decay", "rejected"))


def _new(class_name: str) -> EraOptimizer:
    lr = 0.0001 if class_name == "Lion" else _NEW_LR.get(class_name, 0.001)
    module = _NEW_FILES[class_name]
    params = _new_params(class_name, lr, (("jit_compile", True),), class_name)
    first = {"SGD": "2.12.0", "Lion": "2.13.1"}.get(class_name, "2.11.0")
    tf_keras = "2.15" if class_name == "Adam" else "2.15-2.21"
    signatures = [Signature(
        f"keras {first}-2.15.0, tf-keras {tf_keras}", params,
        _keras("v2.15.0", f"keras/optimizers/{module}.py"), legacy=_NEW_LEGACY,
    )]
    if class_name == "Adam":
        with_adaptive = list(params)
        with_adaptive.insert(4, ("adaptive_epsilon", False))
        signatures.append(Signature(
            "tf-keras 2.16-2.21", tuple(with_adaptive),
            Source(_TF_KERAS, "v2.21.0", "tf_keras/optimizers/adam.py"), legacy=_NEW_LEGACY,
            notes=("the fifth positional argument is adaptive_epsilon, no longer amsgrad",),
        ))
    if class_name == "SGD":
        with_amsgrad = list(params)
        with_amsgrad.insert(3, ("amsgrad", False))
        signatures.append(Signature(
            "keras 2.11.0", tuple(with_amsgrad),
            _keras("v2.11.0", "keras/optimizers/optimizer_experimental/sgd.py"), legacy=_NEW_LEGACY,
            notes=("an unused amsgrad is the fourth positional argument",),
        ))
    notes = ("added in keras 2.13 (absent from 2.11-2.12)",) if class_name == "Lion" else ()
    return EraOptimizer("k2-new", class_name, tuple(signatures), notes)


def _k3(class_name: str) -> EraOptimizer:
    lr = _NEW_LR.get(class_name, 0.001)
    module = _NEW_FILES[class_name]
    k3_extra = (("loss_scale_factor", None), ("gradient_accumulation_steps", None))
    path = f"keras/src/optimizers/{module}.py"
    legacy = (("lr", "rejected"), ("decay", "ignored"))
    signatures = [
        Signature("3.15.0-3.15.1", _new_params(class_name, lr, k3_extra, None), _keras("v3.15.1", path),
                  legacy=legacy),
        Signature(
            "3.5.0-3.14.1" if class_name == "Lamb" else "3.3.0-3.14.1",
            _new_params(class_name, lr, k3_extra, class_name.lower()), _keras("v3.14.1", path),
            legacy=legacy,
        ),
    ]
    if class_name != "Lamb":
        signatures.append(Signature(
            "3.0.0-3.2.1", _new_params(class_name, lr, (), class_name.lower()),
            _keras("v3.0.0", f"keras/optimizers/{module}.py"), legacy=legacy,
        ))
    notes = ("added in Keras 3.5.0",) if class_name == "Lamb" else ()
    return EraOptimizer("k3", class_name, tuple(signatures), notes)


# --------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------

#: every optimizer class lraudit reads, in the order of the docs
CLASS_NAMES = (
    "SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "AdamW", "Adamax", "Nadam", "Ftrl", "Lion", "Lamb",
)

_STANDALONE_CLASSES = ("SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "Adamax", "Nadam")

TABLE: dict[str, dict[str, EraOptimizer]] = {
    "k1": {name: _keras1(name) for name in _STANDALONE_CLASSES},
    "k2-standalone": {name: _standalone(name) for name in _STANDALONE_CLASSES},
    "k2-legacy": {name: _legacy(name) for name in _V2_HEADS},
    "k2-new": {name: _new(name) for name in CLASS_NAMES if name != "Lamb"},
    "k3": {name: _k3(name) for name in CLASS_NAMES},
}

#: (era, class) -> why the class is absent from that era
ABSENT: dict[tuple[str, str], str] = {
    **{(era, "Ftrl"): "no Ftrl in standalone Keras" for era in ("k1", "k2-standalone")},
    **{(era, "AdamW"): "no AdamW before the new optimizer (2.11; experimental in 2.9-2.10)"
       for era in ("k1", "k2-standalone", "k2-legacy")},
    **{(era, "Lion"): "Lion arrived with keras 2.13's new optimizer"
       for era in ("k1", "k2-standalone", "k2-legacy")},
    **{(era, "Lamb"): "Lamb exists only in Keras 3 (from 3.5.0)"
       for era in ("k1", "k2-standalone", "k2-legacy", "k2-new")},
}

#: era -> lower-case string accepted by ``compile(optimizer=...)`` -> (class, releases, source)
SHORTCUTS: dict[str, dict[str, tuple[str, str]]] = {
    "k1": {name.lower(): (name, "") for name in _STANDALONE_CLASSES},
    "k2-standalone": {name.lower(): (name, "") for name in _STANDALONE_CLASSES},
    "k2-legacy": {name.lower(): (name, "") for name in _V2_HEADS},
    "k2-new": {
        **{name.lower(): (name, "") for name in _V2_HEADS},
        "adamw": ("AdamW", "tf-keras 2.16+ only (keras 2.11-2.15 and tf-keras 2.15 reject 'adamw')"),
    },
    "k3": {
        **{name.lower(): (name, "") for name in CLASS_NAMES if name != "Lamb"},
    },
}
SHORTCUT_SOURCES = {
    "k1": _keras("1.2.2"),
    "k2-standalone": _keras("2.3.1"),
    "k2-legacy": _keras("v2.10.0", "keras/optimizers/__init__.py"),
    "k2-new": Source(_TF_KERAS, "v2.21.0", "tf_keras/optimizers/__init__.py"),
    "k3": _keras("v3.15.1", "keras/src/optimizers/__init__.py"),
}
SHORTCUT_NOTES = {
    "k1": "module-level aliases (sgd = SGD, ...): the lower-case name or the class name",
    "k2-standalone": "case-insensitive; the class of the installed standalone Keras",
    "k2-legacy": "case-insensitive; in keras 2.9-2.10 get(..., use_legacy_optimizer=False) picks the "
    "experimental classes instead",
    "k2-new": "case-insensitive; the new classes, except on Apple-silicon Macs (keras 2.12+ and tf-keras), "
    "where the string gives the legacy class; 'lion' is not a shortcut",
    "k3": "case-insensitive; 'lamb' is not a shortcut (not in ALL_OBJECTS); 'muon' from 3.10",
}


def _known_era(generation: str | None) -> str | None:
    return generation if generation in TABLE else None


def eras_for_keras(keras: str | None) -> tuple[str, ...]:
    """Candidate eras for a Keras major version: ``"3"`` -> k3; ``"2"`` -> OptimizerV2 first
    (what Keras 2 code with a float lr runs, as the timeline assumes), then the 2.11+ optimizer
    (the only Keras 2 home of AdamW and Lion); anything else -> none."""
    return {"3": ("k3",), "2": ("k2-legacy", "k2-new")}.get(str(keras), ())


def era_optimizer(class_name: str, generation: str | None) -> EraOptimizer | None:
    """The table entry of ``class_name`` in ``generation`` (an era of :data:`ERAS`), or None."""
    era = _known_era(generation)
    return TABLE[era].get(class_name) if era else None


def exists_in(class_name: str, generation: str) -> bool:
    """True when the era has an optimizer class of that name (``AdamW`` in ``k2-legacy``: False)."""
    return era_optimizer(class_name, generation) is not None


def optimizer_signature(class_name: str, generation: str | None) -> tuple[tuple[str, Any], ...] | None:
    """``((name, default), ...)`` of the era's representative constructor, positional order.

    None when the era is unknown or the class did not exist in it. Keyword-only arguments
    (standalone Keras 2.3's ``epsilon``/``decay``) are not included: see :func:`era_optimizer`.
    """
    entry = era_optimizer(class_name, generation)
    return entry.signature.parameters if entry else None


def optimizer_defaults(class_name: str, generation: str | None) -> dict[str, Any] | None:
    """Every argument's default in the era as the code resolves it, or None.

    ``None`` defaults the code replaces are resolved (``epsilon=None`` -> 1e-7 in standalone
    Keras 2.1.3+), keyword-only arguments are included, and constants another era exposes as
    arguments are added (standalone ``Adagrad`` starts its accumulators at 0.0).
    """
    entry = era_optimizer(class_name, generation)
    if entry is None:
        return None
    values = entry.signature.defaults()
    for name, value in entry.signature.fixed:
        values.setdefault(name, value)
    return values


def default_learning_rate(class_name: str, generation: str | None) -> float | None:
    """The lr an optimizer built without one trains at (``learning_rate`` or Keras 1/2.0's ``lr``)."""
    values = optimizer_defaults(class_name, generation)
    if values is None:
        return None
    return values.get("learning_rate", values.get("lr"))


def string_shortcut(name: str, generation: str | None) -> str | None:
    """The class ``compile(optimizer=name)`` builds in the era (``"adam"`` -> ``"Adam"``), or None."""
    era = _known_era(generation)
    if era is None or not isinstance(name, str):
        return None
    found = SHORTCUTS[era].get(name.lower())
    return found[0] if found else None


# --------------------------------------------------------------------------------------------
# The generated document
# --------------------------------------------------------------------------------------------


def _value(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return repr(value)


def _arguments(signature: Signature) -> str:
    text = ", ".join(f"{name}={_value(value)}" for name, value in signature.parameters)
    if signature.keyword_only:
        text += "; **kwargs: " + ", ".join(f"{n}={_value(v)}" for n, v in signature.keyword_only)
    return text


def _entry_lines(entry: EraOptimizer) -> list[str]:
    lines = []
    for index, signature in enumerate(entry.signatures):
        defaults = signature.defaults()
        legacy = ", ".join(f"`{k}`: {v}" for k, v in signature.legacy)
        extra = [*signature.notes]
        extra += [f"{n} fixed at {_value(v)} (not an argument)" for n, v in signature.fixed]
        extra += [f"{n}=None means {_value(v)}" for n, v in signature.resolved]
        if index == 0:
            extra = [*entry.notes, *extra]
        lr = defaults.get("learning_rate", defaults.get("lr"))
        lines.append(
            f"| {entry.class_name if index == 0 else ''} | {signature.versions} | {_value(lr)} | "
            f"`{_arguments(signature)}` | {legacy} | {'; '.join(extra)} | `{signature.source}` |"
        )
    return lines


def markdown() -> str:
    """``docs/optimizer-defaults.md``: the whole table in Markdown."""
    out = [
        "# Optimizer defaults in each Keras era",
        "",
        "<!-- generated by `python -m lraudit.semantics.defaults --markdown`; do not edit by hand -->",
        "",
        "An optimizer built without a learning rate, or with positional arguments, takes its",
        "values from the constructor of the Keras that ran it. lraudit binds `--optimizer`",
        "expressions with the signature of the era it knows (from a `legacy.`/`tf_keras.` prefix,",
        "`--keras`, or the logs). Each row was read from the source named in its last column.",
        "",
        "Legacy keywords: "
        + "; ".join(f"**{key}**: {text}" for key, text in LEGACY_MEANINGS.items())
        + ".",
        "",
    ]
    for era in ERAS:
        out += [f"## `{era}`: {ERA_TITLES[era]}", ""]
        out += [
            "| class | releases | default lr | arguments in positional order | `lr` / `decay` | notes "
            "| source |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for class_name in CLASS_NAMES:
            entry = TABLE[era].get(class_name)
            if entry is None:
                out.append(f"| {class_name} | — | — | absent: {ABSENT[(era, class_name)]} | | | |")
            else:
                out += _entry_lines(entry)
        shortcuts = ", ".join(
            f"`'{key}'` → {cls}" + (f" ({note})" if note else "")
            for key, (cls, note) in SHORTCUTS[era].items()
        )
        out += [
            "",
            f"String shortcuts (`compile(optimizer='adam')`): {shortcuts}. {SHORTCUT_NOTES[era]}. "
            f"Source: `{SHORTCUT_SOURCES[era]}`.",
            "",
        ]
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m lraudit.semantics.defaults --markdown``: print the document."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["--markdown"]:
        print("usage: python -m lraudit.semantics.defaults --markdown", file=sys.stderr)
        return 2
    sys.stdout.write(markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
