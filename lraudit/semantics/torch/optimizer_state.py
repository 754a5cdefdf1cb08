"""A stand-in for a PyTorch optimizer as the lr schedulers see it: ``param_groups`` and ``defaults``.

``torch.optim.lr_scheduler`` only touches an optimizer through ``optimizer.param_groups`` (a list of
dicts: ``lr``, ``initial_lr``, and ``momentum``/``betas``/``max_lr``... when a scheduler writes
them), ``optimizer.defaults`` (CyclicLR/OneCycleLR ask whether ``momentum`` or ``betas`` exist) and
the ``_opt_called`` flag the scheduler's wrapper of ``optimizer.step`` sets (the "scheduler stepped
before the optimizer" warning). :class:`ParamGroups` holds exactly that, so the schedulers of
:mod:`lraudit.semantics.torch.schedulers` run the same code paths as torch's.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lraudit.semantics.torch.signatures import OPTIMIZER_PARAMETERS, with_defaults

__all__ = ["ParamGroups"]


class ParamGroups:
    """``optimizer.param_groups`` + ``optimizer.defaults`` of one optimizer, without tensors.

    Attributes mirror torch's names (``param_groups``, ``defaults``, ``_opt_called``) because the
    scheduler code reads them under those names.
    """

    def __init__(self, param_groups: list[dict[str, Any]], defaults: dict[str, Any], name: str = "SGD"):
        """Wrap ready-made groups; most callers want :meth:`from_lrs`."""
        self.param_groups = param_groups
        self.defaults = defaults
        self.name = name
        #: set by :meth:`step` like torch's wrapper of ``optimizer.step`` (read for the order warning)
        self._opt_called = False

    @classmethod
    def from_lrs(cls, lrs: list[float], optimizer_name: str = "SGD",
                 options: dict[str, Any] | None = None) -> ParamGroups:
        """One group per lr, each with the optimizer's other options (given ones over defaults).

        ``options`` are the optimizer constructor's keyword arguments (``momentum=0.9``,
        ``betas=(0.9, 0.99)``); an ``lr`` among them is the default of groups, the groups' own
        lrs are ``lrs``. An optimizer missing from the signature table gets only the given options.
        """
        if not lrs:
            raise ValueError("ParamGroups needs at least one lr (one per parameter group)")
        given = dict(options or {})
        given.setdefault("lr", lrs[0])
        known = optimizer_name in OPTIMIZER_PARAMETERS
        defaults = with_defaults(optimizer_name, given) if known else given
        defaults = {key: value for key, value in defaults.items() if not key.startswith("*")}
        if isinstance(defaults.get("betas"), list):
            defaults["betas"] = tuple(defaults["betas"])  # torch keeps betas as a tuple
        groups = [{**defaults, "lr": lr} for lr in lrs]
        return cls(groups, defaults, optimizer_name)

    def step(self) -> None:
        """Record an ``optimizer.step()`` call (what torch's scheduler wrapper notes)."""
        self._opt_called = True

    def lrs(self) -> list[float]:
        """The current ``lr`` of every group."""
        return [group["lr"] for group in self.param_groups]

    def __len__(self) -> int:
        """Number of parameter groups."""
        return len(self.param_groups)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Iterate over the group dicts."""
        return iter(self.param_groups)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """One group dict (``groups[0]["lr"]``)."""
        return self.param_groups[index]

    def __repr__(self) -> str:
        """Short description with the groups' lrs."""
        return f"ParamGroups({self.name}, lrs={self.lrs()!r})"
