"""From an optimizer config to the learning rate each update applied (float32, bit for bit).

Generations (reference §0, §1): ``k2-standalone`` (Keras 2.0–2.3, ``keras/optimizers.py``),
``k2-legacy`` (tf.keras OptimizerV2 and ``*.legacy.*``, ``optimizer_v2/optimizer_v2.py``),
``k2-new`` (the 2.11+ optimizer, ``keras/optimizers/optimizer.py @ v2.15.0``) and ``k3``
(``keras/src/optimizers/base_optimizer.py @ v3.15.1``). Per update, with ``it`` the raw counter
read by that update (reference §1.7)::

    k2-standalone   lr_eff = lr * f32(1 / f32(1 + f32(decay * f32(it))))     (decay > 0)
    k2-legacy       lr_eff = base / f32(1 + f32(decay * f32(it)))             (decay > 0;
                    base = variable or schedule(f32(it)); decay composes with a schedule)
    k2-new, k3      lr_eff = variable or schedule(it)                         (decay rejected/ignored)
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from lraudit.errors import InputError
from lraudit.semantics import libm
from lraudit.semantics.schedules import EXECUTORS, schedule_class, schedule_from_spec
from lraudit.semantics.specs import OptimizerSpec, ScheduleSpec

__all__ = [
    "backend_from_config",
    "decay_applies",
    "default_executor",
    "effective_lr",
    "executors_agree",
    "optimizer_spec_from_config",
]

F32 = np.float32

#: Keras 3 ``get_config()["name"]`` is the lower-case class name; map it back
_CLASS_NAMES = {
    name.lower(): name
    for name in (
        "SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "AdamW", "Adamax", "Nadam", "Ftrl", "Lion",
        "Lamb", "Muon", "LossScaleOptimizer",
    )
}  # fmt: skip
#: keys only the Keras 3 optimizer writes
_K3_KEYS = ("loss_scale_factor", "gradient_accumulation_steps")
_BACKEND_MODULES = {"torch": "torch", "jax": "jax", "tensorflow": "tensorflow", "numpy": "numpy"}


def _schedule_spec(value: dict[str, Any]) -> ScheduleSpec:
    """A nested schedule in either serialized form (TF ≤2.12 or serialization_lib) → ScheduleSpec.

    The class name is the registry's (a legacy alias becomes the class it names); an unknown
    class is kept as written and reported when the schedule is evaluated.
    """
    class_name = str(value.get("class_name") or value.get("registered_name") or "")
    class_name = class_name.rsplit(">", 1)[-1].rsplit(".", 1)[-1]
    known = schedule_class(class_name)
    class_name = known.class_name if known is not None else class_name
    config = value.get("config")
    if not class_name or not isinstance(config, dict):
        raise InputError(f"learning_rate schedule without class_name/config: {value!r}")
    return ScheduleSpec(class_name=class_name, config=dict(config))


def backend_from_config(cfg: dict[str, Any]) -> str | None:
    """The Keras 3 backend a serialized optimizer names, if it does.

    Keras 3 on torch serializes its backend-specific classes with their module, e.g.
    ``"module": "keras.src.backend.torch.optimizers.torch_sgd"``; TensorFlow and JAX runs write
    ``"keras.optimizers"`` for the built-in optimizers, so ``None`` means "not told".
    """
    module = str(cfg.get("module") or "")
    parts = module.split(".")
    if len(parts) > 3 and parts[:3] == ["keras", "src", "backend"]:
        return _BACKEND_MODULES.get(parts[3])
    return None


def _infer_generation(cfg: dict[str, Any], config: dict[str, Any], keras: str | None) -> str | None:
    module = str(cfg.get("module") or "")
    if keras == "3" or backend_from_config(cfg) or any(k in config for k in _K3_KEYS):
        return "k3"
    if ".legacy" in module or config.get("is_legacy_optimizer") is True:
        return "k2-legacy"
    if config.get("is_legacy_optimizer") is False:
        return "k2-new"
    if "decay" in config or "lr" in config:
        # standalone Keras 2.0-2.3 writes no "name"; OptimizerV2 always does
        return "k2-standalone" if "name" not in config else "k2-legacy"
    if keras == "2":
        return "k2-new" if "use_ema" in config or "jit_compile" in config else "k2-legacy"
    if "use_ema" in config:
        return "k3" if "jit_compile" not in config else "k2-new"
    return None


def optimizer_spec_from_config(
    cfg: dict[str, Any], *, keras: str | None = None, source: str = ""
) -> OptimizerSpec:
    """Build an :class:`OptimizerSpec` from ``{"class_name", "module"?, "config": {...}}``.

    A bare ``get_config()`` dict (no ``"config"`` key) is accepted too. ``keras`` ("2"/"3") is
    a hint from elsewhere (log format). Values are kept as given (widened float32 values from a
    config saved after training round back to the same float32). Nadam's ``decay`` slot holds
    ``schedule_decay`` (a momentum constant, reference §1.2), so it is not an lr decay. A
    ``LossScaleOptimizer`` gives the spec of the optimizer it wraps, with ``wrapper`` set.
    """
    if not isinstance(cfg, dict):
        raise InputError(f"optimizer config is not a mapping: {cfg!r}")
    config = cfg.get("config") if isinstance(cfg.get("config"), dict) else cfg
    raw_name = str(cfg.get("class_name") or config.get("name") or "")
    inner = config.get("inner_optimizer")
    if not isinstance(inner, dict) and "lossscale" in raw_name.lower():
        inner = config.get("optimizer")  # TF 2.1-2.3 mixed_precision.experimental wrapper
    if isinstance(inner, dict):
        # LossScaleOptimizer (mixed precision) scales the loss and delegates learning_rate and
        # iterations to the optimizer it wraps (reference §1.5): that one decides the lr
        spec = optimizer_spec_from_config(inner, keras=keras, source=source)
        return dataclasses.replace(
            spec,
            wrapper=_CLASS_NAMES.get(raw_name.lower().replace("_", ""), raw_name) or "LossScaleOptimizer",
            backend=spec.backend or backend_from_config(cfg),
        )
    class_name = _CLASS_NAMES.get(raw_name.lower(), raw_name) or "Optimizer"
    generation = _infer_generation(cfg, config, keras)

    lr_value = config.get("learning_rate", config.get("lr"))
    if "lr" in config and generation != "k2-new":
        lr_value = config["lr"]  # `lr=` overrides learning_rate (E2/E3); E4 discards it
    learning_rate: float | ScheduleSpec
    if isinstance(lr_value, dict):
        learning_rate = _schedule_spec(lr_value)
    elif isinstance(lr_value, bool) or not isinstance(lr_value, (int, float)):
        raise InputError(f"{class_name}: learning_rate is not a number or schedule: {lr_value!r}")
    else:
        learning_rate = float(lr_value)

    decay = config.get("decay") or 0.0
    if class_name == "Nadam":
        decay = 0.0
    try:
        decay = float(decay)
    except (TypeError, ValueError):
        raise InputError(f"{class_name}: decay is not a number: {decay!r}") from None
    weight_decay = config.get("weight_decay")
    accumulation = config.get("gradient_accumulation_steps")
    return OptimizerSpec(
        class_name=class_name,
        generation=generation,
        learning_rate=learning_rate,
        decay=decay,
        weight_decay=float(weight_decay) if isinstance(weight_decay, (int, float)) else None,
        gradient_accumulation_steps=int(accumulation) if isinstance(accumulation, int) else None,
        backend=backend_from_config(cfg),
        raw=dict(config),
        source=source,
    )


def default_executor(spec: OptimizerSpec) -> str:
    """How the train step computes the lr: Keras 2 and Keras 3 + TensorFlow → ``"tf-graph"``,
    Keras 3 + torch → ``"eager"``, Keras 3 + JAX → ``"xla"`` (unknown backend: TensorFlow).

    A train step compiled with ``jit_compile=True`` runs XLA's arithmetic on TensorFlow too
    (Keras 2 and Keras 3); on torch ``jit_compile`` means ``torch.compile``, not XLA.
    """
    if spec.jit_compile and spec.backend != "torch":
        return "xla"
    if spec.generation == "k3":
        return {"torch": "eager", "jax": "xla"}.get(spec.backend or "tensorflow", "tf-graph")
    return "tf-graph"


def decay_applies(spec: OptimizerSpec) -> bool:
    """True when the legacy ``decay`` changes the applied lr (E1–E3 with ``decay > 0``).

    The 2.11+ optimizer rejects ``decay`` (ValueError) and Keras 3 ignores it; an unknown
    generation with a ``decay`` is taken as legacy (the only kind that accepts it).
    """
    return spec.decay > 0 and spec.generation in ("k2-standalone", "k2-legacy", None)


def effective_lr(
    spec: OptimizerSpec,
    counter: np.ndarray,
    lr_variable: np.ndarray | None = None,
    *,
    executor: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(lr_base, lr_effective)`` float32 arrays for each raw counter value an update read.

    ``counter`` is the 0-based optimizer counter (with gradient accumulation the raw micro-step
    counter ``k*n - 1``). ``lr_variable`` is the lr variable's value per update (it changes when
    callbacks act); without it the spec's ``learning_rate`` is used. A schedule ignores it.
    """
    executor = executor or default_executor(spec)
    if executor not in EXECUTORS:
        raise InputError(f"unknown executor {executor!r}; expected one of {', '.join(EXECUTORS)}")
    steps = np.atleast_1d(np.asarray(counter, dtype=np.int64))
    if isinstance(spec.learning_rate, ScheduleSpec):
        step_dtype = "float32" if spec.generation in ("k2-legacy", "k2-standalone") else "int"
        base = schedule_from_spec(spec.learning_rate)(
            steps, executor=executor, step_dtype=step_dtype, backend=spec.backend
        )
    elif lr_variable is not None:
        base = np.broadcast_to(np.asarray(lr_variable, dtype=F32), steps.shape).astype(F32)
    else:
        base = np.full(steps.shape, F32(spec.learning_rate), dtype=F32)

    if not decay_applies(spec):
        return base, base.copy()
    it = steps.astype(F32)
    decay = F32(spec.decay)
    with np.errstate(all="ignore"):
        if executor == "xla":
            # XLA contracts 1 + decay*it into one fused multiply-add (rounded once)
            denom = libm.fmaf(decay, it, F32(1))
        else:
            denom = (F32(1) + (decay * it).astype(F32)).astype(F32)
        if spec.generation == "k2-standalone":
            # keras/optimizers.py @ 2.2.4: lr * (1. / (1. + decay * iterations))
            effective = (base * (F32(1) / denom).astype(F32)).astype(F32)
        else:
            # optimizer_v2.py _decayed_lr: lr_t / (1. + decay_t * local_step)
            effective = (base / denom).astype(F32)
    return base, effective


def executors_agree(spec: OptimizerSpec, counter: np.ndarray, lr_variable: np.ndarray | None = None) -> bool:
    """True when every executor gives the same bits at every step (the backend is not decisive)."""
    results = [effective_lr(spec, counter, lr_variable, executor=ex)[1] for ex in EXECUTORS]
    first = results[0].view(np.uint32)
    return all(np.array_equal(first, other.view(np.uint32)) for other in results[1:])
