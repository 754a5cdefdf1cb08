"""The NumPy port of glibc's powf/expf/logf/cosf against the C library this process runs on."""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lraudit.semantics import libm


def _load_glibc():
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    major, minor = (int(v) for v in platform.libc_ver()[1].split(".")[:2])
    if (major, minor) < (2, 28):
        return None
    name = ctypes.util.find_library("m")
    return ctypes.CDLL(name) if name else None


GLIBC = _load_glibc()
needs_glibc = pytest.mark.skipif(GLIBC is None, reason="needs glibc >= 2.28 to compare with")


def _host_uses_fma() -> bool:
    """glibc picks its FMA builds on x86-64 CPUs with FMA+AVX2; aarch64 builds always fuse."""
    if platform.machine() in ("aarch64", "arm64"):
        return True
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text() if cpuinfo.exists() else ""
    return " fma" in flags and " avx2" in flags


FUSED = _host_uses_fma()


def _c(name: str, *args: np.ndarray) -> np.ndarray:
    fn = getattr(GLIBC, name)
    fn.restype = ctypes.c_float
    fn.argtypes = [ctypes.c_float] * len(args)
    return np.array([fn(*(float(a[i]) for a in args)) for i in range(len(args[0]))], dtype=np.float32)


def _assert_same(got: np.ndarray, expected: np.ndarray) -> None:
    same = (got.view(np.uint32) == expected.view(np.uint32)) | (np.isnan(got) & np.isnan(expected))
    bad = np.nonzero(~same)[0][:5]
    assert same.all(), f"{(~same).sum()} differ, e.g. got {got[bad]} expected {expected[bad]}"


any_f32 = hnp.arrays(np.float32, st.integers(1, 64), elements=st.floats(width=32, allow_nan=True))
lr_like = hnp.arrays(np.float32, 32, elements=st.floats(2.0**-20, 1.0, width=32))
exponents = hnp.arrays(np.float32, 32, elements=st.floats(-8192.0, 8192.0, width=32))


@needs_glibc
@settings(max_examples=150, deadline=None)
@given(x=any_f32, data=st.data())
def test_powf_matches_glibc_on_any_floats(x, data) -> None:
    y = data.draw(hnp.arrays(np.float32, x.shape, elements=st.floats(width=32, allow_nan=True)))
    _assert_same(libm.powf(x, y, fused=FUSED), _c("powf", x, y))


@needs_glibc
@settings(max_examples=150, deadline=None)
@given(x=lr_like, y=exponents)
def test_powf_matches_glibc_on_schedule_ranges(x, y) -> None:
    _assert_same(libm.powf(x, y, fused=FUSED), _c("powf", x, y))


@needs_glibc
@settings(max_examples=150, deadline=None)
@given(x=any_f32)
def test_cos_log_exp_match_glibc(x) -> None:
    _assert_same(libm.cosf(x, fused=FUSED), _c("cosf", x))
    _assert_same(libm.logf(x, fused=FUSED), _c("logf", x))
    _assert_same(libm.expf(x, fused=FUSED), _c("expf", x))


@needs_glibc
def test_dense_random_sample_matches_glibc() -> None:
    """40 000 inputs per function across the ranges schedules use (cos up to 2*pi*periods)."""
    rng = np.random.default_rng(7)
    n = 10_000
    base = rng.uniform(0, 1, n).astype(np.float32)
    expo = rng.uniform(-200, 200, n).astype(np.float32)
    _assert_same(libm.powf(base, expo, fused=FUSED), _c("powf", base, expo))
    angles = rng.uniform(-400, 400, n).astype(np.float32)
    _assert_same(libm.cosf(angles, fused=FUSED), _c("cosf", angles))
    positive = rng.uniform(0, 50, n).astype(np.float32)
    _assert_same(libm.logf(positive, fused=FUSED), _c("logf", positive))
    exps = rng.uniform(-104, 89, n).astype(np.float32)
    _assert_same(libm.expf(exps, fused=FUSED), _c("expf", exps))


@needs_glibc
def test_edge_inputs_match_glibc() -> None:
    special = np.array(
        [0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1.17549435e-38,
         3.4028235e38, -3.4028235e38, np.pi / 4, np.pi / 2, np.pi, 120.0, 119.99999, 1e6, -5.2e-8],
        dtype=np.float32,
    )  # fmt: skip
    xs, ys = np.meshgrid(special, special)
    xs, ys = xs.ravel(), ys.ravel()
    _assert_same(libm.powf(xs, ys, fused=FUSED), _c("powf", xs, ys))
    for name, fn in (("cosf", libm.cosf), ("logf", libm.logf), ("expf", libm.expf)):
        _assert_same(fn(special, fused=FUSED), _c(name, special))


def test_negative_base_non_integer_power_is_nan() -> None:
    """What JAX's PolynomialDecay(power=1.5) hits past decay_steps (reference §1.8)."""
    assert np.isnan(libm.powf(np.float32(-5.2e-8), np.float32(1.5)))
    assert libm.powf(np.float32(-2.0), np.float32(3.0)) == np.float32(-8.0)


def test_powf_is_close_to_the_exact_power() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(0.01, 1, 2000).astype(np.float32)
    y = rng.uniform(-20, 20, 2000).astype(np.float32)
    exact = np.power(x.astype(np.float64), y.astype(np.float64))
    ulp = np.spacing(exact.astype(np.float32)).astype(np.float64)
    assert np.all(np.abs(libm.powf(x, y).astype(np.float64) - exact) <= ulp)


def test_scalar_inputs_give_zero_dim_arrays() -> None:
    assert libm.cosf(0.0).shape == ()
    assert libm.powf(np.float32(0.5), np.array([1.0, 2.0])).tolist() == [0.5, 0.25]


@settings(max_examples=100, deadline=None)
@given(
    a=st.floats(-(2.0**20), 2.0**20, width=32),
    b=st.floats(-(2.0**20), 2.0**20, width=32),
    c=st.floats(-(2.0**20), 2.0**20, width=32),
)
def test_fmaf_rounds_once(a, b, c) -> None:
    exact = Fraction(a) * Fraction(b) + Fraction(c)
    got = libm.fmaf(np.float32(a), np.float32(b), np.float32(c))[()]
    if exact == 0:
        assert got == 0
        return
    below, above = np.nextafter(got, np.float32(-np.inf)), np.nextafter(got, np.float32(np.inf))
    error = abs(Fraction(float(got)) - exact)
    assert error <= abs(Fraction(float(below)) - exact)
    assert error <= abs(Fraction(float(above)) - exact)


@settings(max_examples=100, deadline=None)
@given(
    a=st.floats(-1e50, 1e50).filter(lambda v: v == 0 or abs(v) > 1e-50),
    b=st.floats(-1e50, 1e50).filter(lambda v: v == 0 or abs(v) > 1e-50),
    c=st.floats(-1e100, 1e100).filter(lambda v: v == 0 or abs(v) > 1e-100),
)
def test_fma_float64_rounds_once(a, b, c) -> None:
    exact = Fraction(a) * Fraction(b) + Fraction(c)
    got = float(libm.fma(np.float64(a), np.float64(b), np.float64(c)))
    assert got == float(exact)  # float(Fraction) rounds correctly to nearest
