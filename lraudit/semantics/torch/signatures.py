"""Parameter lists of the PyTorch optimizers and ``torch.optim.lr_scheduler`` classes (torch 2.x).

One table, used to bind positional arguments read from code or typed on the command line to their
names (``StepLR(opt, 10, 0.5)`` -> ``step_size=10, gamma=0.5``) and to fill defaults. The first
parameter (the optimizer, or ``params`` for an optimizer) is not listed: callers drop it.
"""
from __future__ import annotations

from typing import Any

_NO_DEFAULT = object()
#: a parameter without a default value
REQUIRED: Any = _NO_DEFAULT

#: scheduler class -> ordered (parameter, default) pairs after ``optimizer``
SCHEDULER_PARAMETERS: dict[str, tuple[tuple[str, Any], ...]] = {
    "LambdaLR": (("lr_lambda", REQUIRED), ("last_epoch", -1)),
    "MultiplicativeLR": (("lr_lambda", REQUIRED), ("last_epoch", -1)),
    "StepLR": (("step_size", REQUIRED), ("gamma", 0.1), ("last_epoch", -1)),
    "MultiStepLR": (("milestones", REQUIRED), ("gamma", 0.1), ("last_epoch", -1)),
    "ConstantLR": (("factor", 1.0 / 3), ("total_iters", 5), ("last_epoch", -1)),
    "LinearLR": (("start_factor", 1.0 / 3), ("end_factor", 1.0), ("total_iters", 5), ("last_epoch", -1)),
    "ExponentialLR": (("gamma", REQUIRED), ("last_epoch", -1)),
    "SequentialLR": (("schedulers", REQUIRED), ("milestones", REQUIRED), ("last_epoch", -1)),
    "PolynomialLR": (("total_iters", 5), ("power", 1.0), ("last_epoch", -1)),
    "CosineAnnealingLR": (("T_max", REQUIRED), ("eta_min", 0.0), ("last_epoch", -1)),
    # ChainedScheduler(schedulers, optimizer=None): its first parameter is not the optimizer
    "ChainedScheduler": (("schedulers", REQUIRED), ("optimizer", None)),
    "ReduceLROnPlateau": (
        ("mode", "min"), ("factor", 0.1), ("patience", 10), ("threshold", 1e-4),
        ("threshold_mode", "rel"), ("cooldown", 0), ("min_lr", 0), ("eps", 1e-8),
    ),
    "CyclicLR": (
        ("base_lr", REQUIRED), ("max_lr", REQUIRED), ("step_size_up", 2000), ("step_size_down", None),
        ("mode", "triangular"), ("gamma", 1.0), ("scale_fn", None), ("scale_mode", "cycle"),
        ("cycle_momentum", True), ("base_momentum", 0.8), ("max_momentum", 0.9), ("last_epoch", -1),
    ),
    "CosineAnnealingWarmRestarts": (("T_0", REQUIRED), ("T_mult", 1), ("eta_min", 0.0), ("last_epoch", -1)),
    "OneCycleLR": (
        ("max_lr", REQUIRED), ("total_steps", None), ("epochs", None), ("steps_per_epoch", None),
        ("pct_start", 0.3), ("anneal_strategy", "cos"), ("cycle_momentum", True),
        ("base_momentum", 0.85), ("max_momentum", 0.95), ("div_factor", 25.0),
        ("final_div_factor", 1e4), ("three_phase", False), ("last_epoch", -1),
    ),
}

# torch 2.2-2.6 end every scheduler's parameters (ChainedScheduler's aside) with
# verbose="deprecated" (removed in 2.7): listed so a positional verbose binds. It prints, it does
# not change the lr. (Before 2.2 ReduceLROnPlateau had verbose after patience; not modelled.)
for _scheduler in SCHEDULER_PARAMETERS:
    if _scheduler != "ChainedScheduler":
        SCHEDULER_PARAMETERS[_scheduler] += (("verbose", "deprecated"),)

#: optimizer class -> ordered (parameter, default) pairs after ``params`` (lr-related ones first;
#: the rest are listed so positional calls bind, their values do not change the lr)
OPTIMIZER_PARAMETERS: dict[str, tuple[tuple[str, Any], ...]] = {
    "SGD": (("lr", 1e-3), ("momentum", 0), ("dampening", 0), ("weight_decay", 0), ("nesterov", False)),
    "Adam": (("lr", 1e-3), ("betas", (0.9, 0.999)), ("eps", 1e-8), ("weight_decay", 0), ("amsgrad", False)),
    "AdamW": (
        ("lr", 1e-3), ("betas", (0.9, 0.999)), ("eps", 1e-8), ("weight_decay", 1e-2), ("amsgrad", False),
    ),
    "RMSprop": (
        ("lr", 1e-2), ("alpha", 0.99), ("eps", 1e-8), ("weight_decay", 0), ("momentum", 0),
        ("centered", False),
    ),
    "Adagrad": (
        ("lr", 1e-2), ("lr_decay", 0), ("weight_decay", 0), ("initial_accumulator_value", 0), ("eps", 1e-10),
    ),
    "Adadelta": (("lr", 1.0), ("rho", 0.9), ("eps", 1e-6), ("weight_decay", 0)),
    "Adamax": (("lr", 2e-3), ("betas", (0.9, 0.999)), ("eps", 1e-8), ("weight_decay", 0)),
    "NAdam": (
        ("lr", 2e-3), ("betas", (0.9, 0.999)), ("eps", 1e-8), ("weight_decay", 0), ("momentum_decay", 4e-3),
    ),
    "RAdam": (("lr", 1e-3), ("betas", (0.9, 0.999)), ("eps", 1e-8), ("weight_decay", 0)),
    "ASGD": (("lr", 1e-2), ("lambd", 1e-4), ("alpha", 0.75), ("t0", 1e6), ("weight_decay", 0)),
    "Rprop": (("lr", 1e-2), ("etas", (0.5, 1.2)), ("step_sizes", (1e-6, 50))),
    "LBFGS": (("lr", 1),),
    "SparseAdam": (("lr", 1e-3), ("betas", (0.9, 0.999)), ("eps", 1e-8)),
    "Adafactor": (("lr", 1e-2),),
}


def parameters_of(name: str) -> tuple[tuple[str, Any], ...] | None:
    """The parameter list of a scheduler or optimizer class, None for a class not listed."""
    return SCHEDULER_PARAMETERS.get(name) or OPTIMIZER_PARAMETERS.get(name)


def bind_arguments(name: str, positional: list[Any], keyword: dict[str, Any]) -> dict[str, Any]:
    """Name the positional arguments (the optimizer/params argument already dropped).

    Keyword arguments are kept as given; positional ones beyond the known parameters, or of an
    unknown class, are kept as ``"*0"``, ``"*1"``, ... so nothing written is lost. Defaults are
    not filled here (:func:`with_defaults` does), so a reader can tell given from default.
    """
    params = parameters_of(name) or ()
    bound: dict[str, Any] = {}
    for index, value in enumerate(positional):
        key = params[index][0] if index < len(params) else f"*{index}"
        bound[key] = value
    bound.update(keyword)
    return bound


def with_defaults(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` completed with the defaults of ``name``'s missing parameters (required ones left out)."""
    params = parameters_of(name) or ()
    full = {key: default for key, default in params if default is not REQUIRED}
    full.update(kwargs)
    return full


def missing_required(name: str, kwargs: dict[str, Any]) -> list[str]:
    """Required parameters of ``name`` that ``kwargs`` does not give."""
    return [key for key, default in parameters_of(name) or () if default is REQUIRED and key not in kwargs]
