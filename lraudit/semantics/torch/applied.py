"""The float32 factor a PyTorch optimizer step really multiplies by, given the float64 group lr.

A scheduler keeps ``param_groups[i]["lr"]`` as a Python float (float64). The update kernels of
float32 parameters receive it as a C++ ``double`` scalar and round it once to the parameter's
dtype before use: SGD (``param.add_(grad, alpha=-lr)``, foreach ``_foreach_add_`` with a scalar
alpha) multiplies by ``float32(lr)``; Adam/AdamW (``addcdiv_(exp_avg, denom, value=-step_size)``,
``step_size = lr / bias_correction1``) round the *product* ``lr / bias_correction1`` instead, and
the probe of the shared PyTorch corpus (betas (0, 0), eps 0, gradient 1) measures exactly
``float32(lr)`` for them too. With non-zero betas the real factor is
``float32(lr / (1 - beta1**t))`` - the optimizer's own arithmetic, not the lr's - so the lr
applied is reported as ``float32(lr)`` for every optimizer, which is what the truth files of
real runs (``lr_applied_f32``) hold.
"""
from __future__ import annotations

import numpy as np

__all__ = ["F32_LR_OPTIMIZERS", "applied_float32"]

#: optimizers whose float32 update factor is exactly ``float32(lr)`` (with neutral options)
F32_LR_OPTIMIZERS = frozenset({"SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam"})


def applied_float32(lr: float | np.ndarray, optimizer_name: str = "SGD") -> np.ndarray:
    """``float32(lr)`` element-wise (round-to-nearest-even from float64), as a float32 array.

    ``optimizer_name`` is accepted so that callers state which optimizer they mean; every optimizer
    is given the same rounding (see the module docstring for why Adam/AdamW are too).
    """
    del optimizer_name  # same rounding for all: the lr enters every kernel as one float32 scalar
    return np.asarray(lr, dtype=np.float64).astype(np.float32)
