"""torch's float32 ``cos`` (MKL VML, HA) ported to NumPy: checked against values torch recorded.

``tests/data/torch_cosf_2.13.0_cpu.npz`` was written by ``tests/data/make_torch_cosf.py`` with
torch 2.13.0+cpu (x86-64 wheel, MKL) on an AMD EPYC with AVX-512 (MKL chose its ``EXHAynn`` kernel;
its ``E2``/``H8``/``L9``/``Z0`` HA kernels give the same bits for ``|x| <= 10000``): 60,253 float32
inputs (Keras schedule angles, uniform and normal samples, random bit patterns incl. subnormals,
float32 neighbours of multiples of pi/2, signed zeros, the 10000 limit, inf, NaN) and
``torch.cos`` of each, stored as uint32 bits.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from lraudit.semantics import libm, torch_math
from lraudit.semantics.optimizers import effective_lr, optimizer_spec_from_config
from lraudit.semantics.schedules import CosineDecay

DATA = Path(__file__).resolve().parent / "data" / "torch_cosf_2.13.0_cpu.npz"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RUN = "k3_warmup_target_below_initial_torch"


def _recorded() -> tuple[np.ndarray, np.ndarray]:
    with np.load(DATA) as data:
        return data["x"].view(np.float32), data["cos"].view(np.float32)


def test_torch_cosf_matches_recorded_torch_bit_for_bit() -> None:
    x, expected = _recorded()
    ours = torch_math.cosf(x)
    nan = np.isnan(expected)
    assert np.array_equal(np.isnan(ours), nan)
    fast = np.abs(x) <= torch_math.MKL_COS_FAST_PATH_LIMIT
    assert fast.sum() > 60000 - 300
    differ = (ours.view(np.uint32) != expected.view(np.uint32)) & ~nan & fast
    examples = np.stack([x[differ][:5], ours[differ][:5], expected[differ][:5]], axis=1).tolist()
    assert not differ.any(), examples
    # the recorded inputs exercise where torch and glibc disagree
    glibc = libm.cosf(x)
    assert ((glibc.view(np.uint32) != expected.view(np.uint32)) & ~nan).sum() > 1000


def test_torch_cosf_scalars_and_shapes() -> None:
    assert torch_math.cosf(np.float32(0.0)) == np.float32(1.0)
    assert torch_math.cosf(np.float32(-0.0)) == np.float32(1.0)
    assert np.isnan(torch_math.cosf(np.float32(np.inf))) and np.isnan(torch_math.cosf(np.float32(np.nan)))
    assert torch_math.cosf(np.zeros((2, 3), dtype=np.float32)).shape == (2, 3)
    assert torch_math.cosf(np.float32(2.0)).dtype == np.float32


def test_cosine_decay_on_torch_matches_the_recorded_run() -> None:
    cfg = json.loads((FIXTURES / "runs" / RUN / "optimizer_serialized.json").read_text())
    truth = pd.read_csv(FIXTURES / "expected" / RUN / "truth.csv", dtype={"lr_effective": str})
    expected = np.array([np.float32(float(v)) for v in truth["lr_effective"]], dtype=np.float32)
    steps = truth["optimizer_iterations"].to_numpy(dtype=np.int64)
    schedule = CosineDecay(
        initial_learning_rate=0.05, decay_steps=40, alpha=0.2, warmup_target=0.01, warmup_steps=10
    )
    torch_lr = schedule(steps, executor="eager", backend="torch")
    assert np.array_equal(torch_lr.view(np.uint32), expected.view(np.uint32))
    # glibc's cosf is 1 ulp off at steps 21, 41, 42 and 49
    glibc_lr = schedule(steps, executor="eager")
    assert truth["step"][glibc_lr.view(np.uint32) != expected.view(np.uint32)].tolist() == [21, 41, 42, 49]
    # the optimizer layer picks torch's cos from the backend the serialized config names
    spec = optimizer_spec_from_config(cfg)
    assert spec.backend == "torch"
    _, effective = effective_lr(spec, steps)
    assert np.array_equal(effective.view(np.uint32), expected.view(np.uint32))
