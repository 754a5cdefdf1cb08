"""What the user tells lraudit when the logs do not say it (shared by audit/timeline/plot/explain)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RunOptions:
    """Overrides and hints for reconstructing a run.

    ``optimizer`` is an expression as the user wrote it (``"Adam(lr=1e-3, decay=1e-2)"``) or a
    path to a JSON config / saved model; ``callbacks`` are expressions such as
    ``"ReduceLROnPlateau(monitor='val_loss', factor=0.75, patience=3)"``; ``keras`` is
    ``"2"``, ``"3"`` or ``"auto"``; ``backend`` decides the bit-level arithmetic of schedules
    (``"tensorflow"``, ``"jax"``, ``"torch"`` or ``"auto"``).
    """

    optimizer: str | None = None
    callbacks: list[str] = field(default_factory=list)
    keras: str = "auto"
    steps_per_epoch: int | None = None
    #: executor of the train step when the logs do not tell it: tensorflow | jax | torch | auto
    backend: str = "auto"
