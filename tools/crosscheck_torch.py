"""Compare lraudit's PyTorch scheduler replay with real torch on random arguments.

Run where torch is installed (it is not a dependency of lraudit, so the test suite cannot):

    pip install torch==2.13.0 && python tools/crosscheck_torch.py

Exit 0 when every lr of 60 random schedulers x 79 steps is bit-identical, 1 with the first
difference. The corpus runs in fixtures/torch-runs already check real torch's values end to end.
"""
from __future__ import annotations

import sys

from lraudit.semantics.torch.optimizer_state import ParamGroups
from lraudit.semantics.torch.schedulers import build_scheduler


def compare(torch) -> None:
    import random
    import warnings

    from torch.optim import lr_scheduler as real

    warnings.simplefilter("ignore")
    rng = random.Random(7)
    for _ in range(60):
        name, kwargs = rng.choice([
            ("StepLR", {"step_size": rng.randint(1, 6), "gamma": rng.random()}),
            ("ExponentialLR", {"gamma": rng.uniform(0.8, 0.999)}),
            ("CosineAnnealingLR", {"T_max": rng.randint(1, 30), "eta_min": rng.random() * 1e-3}),
            ("LinearLR", {"start_factor": rng.uniform(0.01, 1), "total_iters": rng.randint(1, 9)}),
            ("PolynomialLR", {"total_iters": rng.randint(1, 20), "power": rng.uniform(0.5, 3)}),
            ("CyclicLR", {"base_lr": 1e-3, "max_lr": 0.1, "step_size_up": rng.randint(1, 7),
                          "mode": rng.choice(["triangular", "triangular2", "exp_range"]), "gamma": 0.97}),
            ("OneCycleLR", {"max_lr": rng.uniform(0.01, 1), "total_steps": 80,
                            "anneal_strategy": rng.choice(["cos", "linear"])}),
            ("CosineAnnealingWarmRestarts", {"T_0": rng.randint(1, 6), "T_mult": rng.randint(1, 3)}),
        ])
        lr = rng.uniform(1e-4, 1.0)
        param = torch.nn.Parameter(torch.zeros(1))
        optimizer = torch.optim.SGD([param], lr=lr, momentum=0.9)
        theirs = getattr(real, name)(optimizer, **kwargs)
        groups = ParamGroups.from_lrs([lr], "SGD", {"momentum": 0.9})
        ours = build_scheduler(name, groups, kwargs)
        for _ in range(79):
            assert optimizer.param_groups[0]["lr"] == groups.param_groups[0]["lr"], (name, kwargs)
            optimizer.step()
            groups.step()
            theirs.step()
            ours.step()


def main() -> int:
    try:
        import torch
    except ImportError:
        print("crosscheck_torch: torch is not installed (pip install torch==2.13.0)", file=sys.stderr)
        return 2
    try:
        compare(torch)
    except AssertionError as exc:
        print(f"crosscheck_torch: differs: {exc}", file=sys.stderr)
        return 1
    print("crosscheck_torch: 60 schedulers x 79 steps identical to torch", torch.__version__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
