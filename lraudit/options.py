"""What the user tells lraudit when the logs do not say it (shared by audit/timeline/plot/explain)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lraudit.semantics.specs import OptimizerSpec


@dataclass
class OptimizerOverride:
    """``optimizer=`` resolved before any run is rebuilt, so the timeline stage never reads a file.

    An expression is parsed into ``spec``; a JSON config or saved model is read into ``config``
    (the latest optimizer config in it) and ``initial`` (one taken before training, if any). The
    spec of a file is finished by the timeline stage, which knows the run's Keras generation.
    """

    text: str
    spec: OptimizerSpec | None = None
    path: str | None = None
    config: dict[str, Any] | None = None
    initial: dict[str, Any] | None = None


@dataclass
class RunOptions:
    """Overrides and hints for reconstructing a run.

    ``optimizer`` is an :class:`OptimizerOverride` (see :func:`lraudit.api.run_options`), or an
    expression as the user wrote it (``"Adam(lr=1e-3, decay=1e-2)"``); ``callbacks`` are
    expressions such as ``"ReduceLROnPlateau(monitor='val_loss', factor=0.75, patience=3)"``;
    ``keras`` is ``"2"``, ``"3"`` or ``"auto"``; ``backend`` decides the bit-level arithmetic of
    schedules (``"tensorflow"``, ``"jax"``, ``"torch"`` or ``"auto"``).
    """

    optimizer: OptimizerOverride | str | None = None
    #: fresh optimizers compiled before a fit: 1-based fit number (in log order) -> override; the
    #: counter restarts there and every later fit uses it (fine-tuning with a re-compile)
    fit_optimizers: dict[int, OptimizerOverride | str] = field(default_factory=dict)
    callbacks: list[str] = field(default_factory=list)
    keras: str = "auto"
    steps_per_epoch: int | None = None
    #: executor of the train step when the logs do not tell it: tensorflow | jax | torch | auto
    backend: str = "auto"
    #: PyTorch-ecosystem runs: schedulers in PyTorch syntax, in construction order
    #: (``"CosineAnnealingLR(T_max=30)"``); they replace the ones the code builds
    schedulers: list[str] = field(default_factory=list)
