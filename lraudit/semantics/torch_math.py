"""torch's float32 ``cos`` on x86-64 CPU, bit for bit, as vectorised NumPy.

PyTorch's CPU ``cos`` kernel for float32 (``aten/src/ATen/cpu/vml.h``, ``IMPLEMENT_VML_MKL``)
does not call the C library nor SLEEF: the x86-64 wheels are built with MKL, and ``torch.cos``
hands the whole buffer - a 0-d tensor too - to MKL VML ``vmsCos`` in high-accuracy mode
(``mkl_vml_kernel_sCos_*HAynn``). Keras 3 on torch therefore gets MKL's cosine in
``CosineDecay``/``CosineDecayRestarts``; it differs from glibc's ``cosf`` by 1 ulp on ~5% of
inputs.

For ``|x| <= 10000`` every MKL HA kernel (``EX``/``E2`` SSE, ``H8`` AVX, ``L9`` AVX2, ``Z0``
AVX-512, disassembled from ``libtorch_cpu.so`` of torch 2.13.0+cpu) gives the same bits; the
algorithm, without fused operations, is::

    a = |x|                                       float32 ops, each rounded
    t = (a + f32(pi/2)) * f32(1/pi) + 1.5*2**23   -> k = round((a + pi/2) / pi) in t's low bits
    n = (t - 1.5*2**23) - 0.5                     = k - 1/2, exact
    r = double(a) - n*PI1 - n*PI2                 float64 (PI1 has 34 bits: n*PI1 is exact)
    s = r + r*(r2*(S3 + r2*(S5 + r2*(S7 + r2*S9))))   float64, r2 = r*r, Horner as written
    cos(x) = (-1)**k * float32(s)                 (sign flipped on t's lowest bit)

Larger arguments take a Payne-Hanek path in float32 arithmetic that is *not* ported: there
:func:`cosf` falls back to glibc's ``cosf`` (:func:`lraudit.semantics.libm.cosf`), which can be
1 ulp off. Schedules only take ``cos`` of angles in ``[0, pi]`` (``2*pi*num_periods`` for
``LinearCosineDecay``, a TensorFlow-only schedule).
"""

from __future__ import annotations

import numpy as np

from lraudit.semantics import libm

__all__ = ["MKL_COS_FAST_PATH_LIMIT", "cosf"]

F32 = np.float32

#: the largest ``|x|`` MKL reduces with the two-constant float64 scheme (ported exactly)
MKL_COS_FAST_PATH_LIMIT = F32(10000.0)

_HALF_PI = F32(float.fromhex("0x1.921fb6p+0"))
_INV_PI = F32(float.fromhex("0x1.45f306p-2"))
_SHIFTER = F32(float.fromhex("0x1.8p+23"))
_PI1 = float.fromhex("0x1.921fb54440000p+1")
_PI2 = float.fromhex("0x1.68c234c4c6629p-38")
_S9 = float.fromhex("0x1.5dbdf0e4c7deep-19")
_S7 = float.fromhex("-0x1.9f6ffeea73463p-13")
_S5 = float.fromhex("0x1.110ed3804ca96p-7")
_S3 = float.fromhex("-0x1.55554bc836587p-3")


def cosf(x) -> np.ndarray:
    """``torch.cos`` of float32 ``x`` (MKL VML ``vmsCos``, HA) as a float32 array."""
    x = np.asarray(x, dtype=F32)
    with np.errstate(all="ignore"):
        a = np.abs(x)
        t = ((((a + _HALF_PI).astype(F32) * _INV_PI).astype(F32)) + _SHIFTER).astype(F32)
        n = (((t - _SHIFTER).astype(F32)) - F32(0.5)).astype(F32).astype(np.float64)
        r = (a.astype(np.float64) - n * _PI1) - n * _PI2
        r2 = r * r
        s = (((r2 * _S9 + _S7) * r2 + _S5) * r2 + _S3) * r2
        s = (s * r + r).astype(F32)
        sign = (t.view(np.uint32) << np.uint32(31)).astype(np.uint32)
        out = (s.view(np.uint32) ^ sign).view(F32)
        slow = ~(a <= MKL_COS_FAST_PATH_LIMIT)  # also NaN
        if np.any(slow):
            out = np.where(slow, libm.cosf(x), out).astype(F32)
    return out
