"""glibc's float32 ``powf``, ``expf``, ``logf`` and ``cosf``, bit for bit, as vectorised NumPy.

TensorFlow's CPU kernels (scalar path), torch and XLA on CPU call the C library for these
functions, so the learning rate a schedule really produced is whatever glibc returned. glibc
≥ 2.28 computes them in double precision from small tables and rounds once to float32; the
result is accurate to < 1 ulp but *not* correctly rounded, so NumPy's own ``np.power`` /
``np.cos`` (different algorithms) disagree with it on some inputs. This module ports the glibc
algorithms line by line:

* ``powf``: ``sysdeps/ieee754/flt-32/e_powf.c`` + ``e_powf_log2_data.c`` + ``e_exp2f_data.c``
* ``expf``: ``sysdeps/ieee754/flt-32/e_expf.c`` + ``e_exp2f_data.c``
* ``logf``: ``sysdeps/ieee754/flt-32/e_logf.c`` + ``e_logf_data.c``
* ``cosf``: ``sysdeps/ieee754/flt-32/s_cosf.c`` + ``s_sincosf.h`` + ``sincosf_poly.h`` +
  ``s_sincosf_data.c``

(``bminor/glibc`` @ glibc-2.28 … 2.40, ``TOINT_INTRINSICS == 0`` as on x86-64.)

**Fused multiply-add.** On x86-64 CPUs with FMA and AVX2 (every server CPU since ~2013) glibc
selects the ``*-fma`` builds of these files (``sysdeps/x86_64/fpu/multiarch``), compiled with
``-mfma``: GCC contracts every ``a*b + c`` whose product only feeds additions into one fused
operation, which changes the last bits of some intermediate doubles and, rarely, the float32
result. aarch64 builds are always contracted. ``fused=True`` (the default) reproduces those
builds; ``fused=False`` the plain x86-64 build. NumPy has no FMA, so :func:`fma` emulates a
correctly rounded one (exact product by Veltkamp/Dekker splitting, then the sum rounded to odd
and once more to nearest: Boldo & Melquiond, "Emulation of FMA and correctly rounded sums:
proved algorithms using rounding to odd", IEEE TC 2008).
"""

from __future__ import annotations

import numpy as np

__all__ = ["cosf", "expf", "fma", "fmaf", "logf", "powf"]

# ---------------------------------------------------------------------------------------------
# exact arithmetic helpers (float64)

_SPLITTER = float(2**27 + 1)


def _two_product(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``p + e == a * b`` exactly, ``p = fl(a*b)`` (Dekker; no overflow for |a|,|b| < 2^995)."""
    p = a * b
    ca = _SPLITTER * a
    a_hi = ca - (ca - a)
    a_lo = a - a_hi
    cb = _SPLITTER * b
    b_hi = cb - (cb - b)
    b_lo = b - b_hi
    e = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    return p, e


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``s + e == a + b`` exactly, ``s = fl(a+b)`` (Knuth)."""
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


def _add_round_to_odd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a + b`` rounded to odd: exact if representable, else the neighbour with an odd last bit."""
    s, e = _two_sum(a, b)
    inexact = e != 0
    even = (s.view(np.int64) & 1) == 0
    fix = inexact & even
    if np.any(fix):
        # the exact sum lies between s and its neighbour in the direction of e; one of them is odd
        s = np.where(fix, np.nextafter(s, np.where(e > 0, np.inf, -np.inf)), s)
    return s


def fma(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``a*b + c`` rounded once to float64 (emulated fused multiply-add, elementwise).

    Exact for finite operands whose product and sum neither overflow nor fall into the
    subnormal range (always the case inside the libm algorithms below).
    """
    a, b, c = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c)))
    ph, pl = _two_product(a, b)
    uh, ul = _two_sum(c, ph)
    t = _add_round_to_odd(ul, pl)
    with np.errstate(invalid="ignore"):
        result = uh + t
        # zero products, infinities and NaNs: the plain expression is already exact/correct
        plain = a * b + c
    special = ~np.isfinite(plain) | (ph == 0) | ~np.isfinite(ph)
    return np.where(special, plain, result)


def fmaf(a, b, c) -> np.ndarray:
    """float32 ``a*b + c`` rounded once (what a fused multiply-add instruction gives in float32).

    The float32 product is exact in float64; the float64 sum is rounded *to odd*, which makes the
    final rounding to float32 correct (53 ≥ 24 + 2 bits, no double-rounding error).
    """
    a, b, c = np.broadcast_arrays(*(np.asarray(v, dtype=np.float32).astype(np.float64) for v in (a, b, c)))
    with np.errstate(invalid="ignore", over="ignore"):
        product = a * b
        result = _add_round_to_odd(product, c).astype(np.float32)
        plain = (product + c).astype(np.float32)
    # infinities and NaNs (and exact zeros) take the plain path
    return np.where(np.isfinite(product + c) & (product != 0), result, plain).astype(np.float32)


def _mul_add(a, b, c, fused: bool) -> np.ndarray:
    """``a*b + c`` as the glibc build computes it: fused (one rounding) or two roundings."""
    if fused:
        return fma(a, b, c)
    return a * b + c


def _asfloat64(bits: np.ndarray) -> np.ndarray:
    return np.asarray(bits, dtype=np.uint64).view(np.float64)


def _asuint64(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).view(np.uint64)


def _asfloat32(bits: np.ndarray) -> np.ndarray:
    return np.asarray(bits, dtype=np.uint32).view(np.float32)


def _asuint32(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)


def _f32_array(x) -> np.ndarray:
    return np.array(x, dtype=np.float32, copy=True)


# ---------------------------------------------------------------------------------------------
# tables (copied from glibc; hexadecimal float literals are exact)

_h = float.fromhex

#: e_exp2f_data.c: tab[i] = uint(2^(i/32)) - (i << 47)
_EXP2F_TAB = np.array(
    [
        0x3FF0000000000000, 0x3FEFD9B0D3158574, 0x3FEFB5586CF9890F, 0x3FEF9301D0125B51,
        0x3FEF72B83C7D517B, 0x3FEF54873168B9AA, 0x3FEF387A6E756238, 0x3FEF1E9DF51FDEE1,
        0x3FEF06FE0A31B715, 0x3FEEF1A7373AA9CB, 0x3FEEDEA64C123422, 0x3FEECE086061892D,
        0x3FEEBFDAD5362A27, 0x3FEEB42B569D4F82, 0x3FEEAB07DD485429, 0x3FEEA47EB03A5585,
        0x3FEEA09E667F3BCD, 0x3FEE9F75E8EC5F74, 0x3FEEA11473EB0187, 0x3FEEA589994CCE13,
        0x3FEEACE5422AA0DB, 0x3FEEB737B0CDC5E5, 0x3FEEC49182A3F090, 0x3FEED503B23E255D,
        0x3FEEE89F995AD3AD, 0x3FEEFF76F2FB5E47, 0x3FEF199BDD85529C, 0x3FEF3720DCEF9069,
        0x3FEF5818DCFBA487, 0x3FEF7C97337B9B5F, 0x3FEFA4AFA2A490DA, 0x3FEFD0765B6E4540,
    ],
    dtype=np.uint64,
)  # fmt: skip
_EXP2F_TABLE_BITS = 5
_EXP2F_N = 1 << _EXP2F_TABLE_BITS
_EXP2F_SHIFT_SCALED = _h("0x1.8p+52") / _EXP2F_N
_EXP2F_SHIFT = _h("0x1.8p+52")
_EXP2F_POLY = (_h("0x1.c6af84b912394p-5"), _h("0x1.ebfce50fac4f3p-3"), _h("0x1.62e42ff0c52d6p-1"))
_EXP2F_INVLN2_SCALED = _h("0x1.71547652b82fep+0") * _EXP2F_N
_EXP2F_POLY_SCALED = (
    _h("0x1.c6af84b912394p-5") / _EXP2F_N / _EXP2F_N / _EXP2F_N,
    _h("0x1.ebfce50fac4f3p-3") / _EXP2F_N / _EXP2F_N,
    _h("0x1.62e42ff0c52d6p-1") / _EXP2F_N,
)

#: the (invc, logc) tables of powf (log2) and logf (natural log) share invc
_LOG_INVC = np.array(
    [_h(v) for v in (
        "0x1.661ec79f8f3bep+0", "0x1.571ed4aaf883dp+0", "0x1.49539f0f010bp+0", "0x1.3c995b0b80385p+0",
        "0x1.30d190c8864a5p+0", "0x1.25e227b0b8eap+0", "0x1.1bb4a4a1a343fp+0", "0x1.12358f08ae5bap+0",
        "0x1.0953f419900a7p+0", "0x1p+0", "0x1.e608cfd9a47acp-1", "0x1.ca4b31f026aap-1",
        "0x1.b2036576afce6p-1", "0x1.9c2d163a1aa2dp-1", "0x1.886e6037841edp-1", "0x1.767dcf5534862p-1",
    )]
)  # fmt: skip
_POWF_LOG2C = np.array(
    [_h(v) for v in (
        "-0x1.efec65b963019p-2", "-0x1.b0b6832d4fca4p-2", "-0x1.7418b0a1fb77bp-2", "-0x1.39de91a6dcf7bp-2",
        "-0x1.01d9bf3f2b631p-2", "-0x1.97c1d1b3b7afp-3", "-0x1.2f9e393af3c9fp-3", "-0x1.960cbbf788d5cp-4",
        "-0x1.a6f9db6475fcep-5", "0x0p+0", "0x1.338ca9f24f53dp-4", "0x1.476a9543891bap-3",
        "0x1.e840b4ac4e4d2p-3", "0x1.40645f0c6651cp-2", "0x1.88e9c2c1b9ff8p-2", "0x1.ce0a44eb17bccp-2",
    )]
)  # fmt: skip
_POWF_LOG2_POLY = tuple(
    _h(v)
    for v in (
        "0x1.27616c9496e0bp-2", "-0x1.71969a075c67ap-2", "0x1.ec70a6ca7baddp-2",
        "-0x1.7154748bef6c8p-1", "0x1.71547652ab82bp0",
    )
)  # fmt: skip
_LOGF_LOGC = np.array(
    [_h(v) for v in (
        "-0x1.57bf7808caadep-2", "-0x1.2bef0a7c06ddbp-2", "-0x1.01eae7f513a67p-2", "-0x1.b31d8a68224e9p-3",
        "-0x1.6574f0ac07758p-3", "-0x1.1aa2bc79c81p-3", "-0x1.a4e76ce8c0e5ep-4", "-0x1.1973c5a611cccp-4",
        "-0x1.252f438e10c1ep-5", "0x0p+0", "0x1.aa5aa5df25984p-5", "0x1.c5e53aa362eb4p-4",
        "0x1.526e57720db08p-3", "0x1.bc2860d22477p-3", "0x1.1058bc8a07ee1p-2", "0x1.4043057b6ee09p-2",
    )]
)  # fmt: skip
_LOGF_LN2 = _h("0x1.62e42fefa39efp-1")
_LOGF_POLY = (_h("-0x1.00ea348b88334p-2"), _h("0x1.5575b0be00b6ap-2"), _h("-0x1.ffffef20a4123p-2"))
_LOG_TABLE_BITS = 4
_LOG_OFF = 0x3F330000

#: s_sincosf_data.c, sincos_t entry 0; entry 1 negates the cosine polynomial
_SC_HPI_INV = _h("0x1.45F306DC9C883p+23")  # 2/pi * 2^24 (TOINT_INTRINSICS == 0)
_SC_HPI = _h("0x1.921FB54442D18p0")
_SC_COS = (1.0, _h("-0x1.ffffffd0c621cp-2"), _h("0x1.55553e1068f19p-5"),
           _h("-0x1.6c087e89a359dp-10"), _h("0x1.99343027bf8c3p-16"))  # fmt: skip
_SC_SIN = (_h("-0x1.555545995a603p-3"), _h("0x1.1107605230bc4p-7"), _h("-0x1.994eb3774cf24p-13"))
_SC_SIGN = np.array([1.0, -1.0, -1.0, 1.0])
_PI63 = _h("0x1.921FB54442D18p-62")  # 2pi * 2^-64
_PIO4_F32 = np.float32(_h("0x1.921FB54442D18p-1"))
#: 4/pi to 192 bits, 8 new bits per entry
_INV_PIO4 = np.array(
    [
        0xA2, 0xA2F9, 0xA2F983, 0xA2F9836E, 0xF9836E4E, 0x836E4E44, 0x6E4E4415, 0x4E441529,
        0x441529FC, 0x1529FC27, 0x29FC2757, 0xFC2757D1, 0x2757D1F5, 0x57D1F534, 0xD1F534DD, 0xF534DDC0,
        0x34DDC0DB, 0xDDC0DB62, 0xC0DB6295, 0xDB629599, 0x6295993C, 0x95993C43, 0x993C4390, 0x3C439041,
    ],
    dtype=np.uint64,
)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# powf


def _checkint(iy: np.ndarray) -> np.ndarray:
    """0 if not an integer, 1 if odd integer, 2 if even integer (``iy``: bits of finite non-zero y)."""
    e = ((iy >> np.uint32(23)) & np.uint32(0xFF)).astype(np.int64)
    shift = np.clip(0x7F + 23 - e, 0, 31).astype(np.uint32)
    fraction = iy & ((np.uint32(1) << shift) - np.uint32(1))
    units = iy & (np.uint32(1) << shift)
    integral = np.where(fraction != 0, 0, np.where(units != 0, 1, 2))
    return np.where(e < 0x7F, 0, np.where(e > 0x7F + 23, 2, integral)).astype(np.int8)


def _zeroinfnan(i: np.ndarray) -> np.ndarray:
    return (np.uint32(2) * i - np.uint32(1)) >= np.uint32(2 * 0x7F800000 - 1)


def _issignaling(i: np.ndarray) -> np.ndarray:
    return np.uint32(2) * (i ^ np.uint32(0x00400000)) > np.uint32(2 * 0x7FC00000)


def _log2_inline(ix: np.ndarray, fused: bool) -> np.ndarray:
    """e_powf.c ``log2_inline``: log2 of the float with bits ``ix`` (may encode a scaled subnormal)."""
    tmp = ix - np.uint32(_LOG_OFF)
    i = ((tmp >> np.uint32(23 - _LOG_TABLE_BITS)) % np.uint32(1 << _LOG_TABLE_BITS)).astype(np.intp)
    top = tmp & np.uint32(0xFF800000)
    iz = ix - top
    k = top.view(np.int32) >> 23  # arithmetic shift
    invc = _LOG_INVC[i]
    logc = _POWF_LOG2C[i]
    z = _asfloat32(iz).astype(np.float64)
    a = _POWF_LOG2_POLY
    r = _mul_add(z, invc, -1.0, fused)
    y0 = logc + k.astype(np.float64)
    r2 = r * r
    y = _mul_add(a[0], r, a[1], fused)
    p = _mul_add(a[2], r, a[3], fused)
    r4 = r2 * r2
    q = _mul_add(a[4], r, y0, fused)
    q = _mul_add(p, r2, q, fused)
    return _mul_add(y, r4, q, fused)


def _exp2_inline(xd: np.ndarray, sign_bias: np.ndarray, fused: bool) -> np.ndarray:
    """e_powf.c ``exp2_inline``: 2^xd in double, its sign bit set by ``sign_bias``."""
    kd = xd + _EXP2F_SHIFT_SCALED
    ki = _asuint64(kd)
    kd = kd - _EXP2F_SHIFT_SCALED
    r = xd - kd
    t = _EXP2F_TAB[(ki % np.uint64(_EXP2F_N)).astype(np.intp)]
    ski = ki + sign_bias.astype(np.uint64)
    t = t + (ski << np.uint64(52 - _EXP2F_TABLE_BITS))
    s = _asfloat64(t)
    c = _EXP2F_POLY
    z = _mul_add(c[0], r, c[1], fused)
    r2 = r * r
    y = _mul_add(c[2], r, 1.0, fused)
    y = _mul_add(z, r2, y, fused)
    return y * s


def powf(x, y, *, fused: bool = True) -> np.ndarray:
    """glibc ``powf(x, y)`` elementwise (float32 in, float32 out; inputs broadcast)."""
    xb, yb = np.broadcast_arrays(_f32_array(x), _f32_array(y))
    shape = xb.shape
    xf = xb.ravel().copy()
    yf = yb.ravel().copy()
    ix = _asuint32(xf).copy()
    iy = _asuint32(yf).copy()
    out = np.empty(xf.shape, dtype=np.float32)
    done = np.zeros(xf.shape, dtype=bool)
    sign_bias = np.zeros(xf.shape, dtype=np.uint32)

    with np.errstate(all="ignore"):
        special = ((ix - np.uint32(0x00800000)) >= np.uint32(0x7F800000 - 0x00800000)) | _zeroinfnan(iy)
        if np.any(special):
            # y is 0, inf or nan
            yz = special & _zeroinfnan(iy)
            if np.any(yz):
                res = np.where(
                    (np.uint32(2) * ix) < np.uint32(2 * 0x3F800000),
                    np.where(iy & np.uint32(0x80000000), np.float32(np.inf), np.float32(0.0)),
                    np.where(iy & np.uint32(0x80000000), np.float32(0.0), np.float32(np.inf)),
                ).astype(np.float32)
                res = np.where(np.uint32(2) * ix == np.uint32(2 * 0x3F800000), np.float32(1.0), res)
                nan_in = (np.uint32(2) * ix > np.uint32(2 * 0x7F800000)) | (
                    np.uint32(2) * iy > np.uint32(2 * 0x7F800000)
                )
                res = np.where(nan_in, xf + yf, res)
                res = np.where(ix == np.uint32(0x3F800000), np.where(_issignaling(iy), xf + yf, 1.0), res)
                res = np.where(np.uint32(2) * iy == 0, np.where(_issignaling(ix), xf + yf, 1.0), res)
                out[yz] = res[yz].astype(np.float32)
                done |= yz
            # x is 0, inf or nan (y finite non-zero)
            xz = special & ~done & _zeroinfnan(ix)
            if np.any(xz):
                x2 = (xf * xf).astype(np.float32)
                odd_neg = ((ix & np.uint32(0x80000000)) != 0) & (_checkint(iy) == 1)
                x2 = np.where(odd_neg, -x2, x2).astype(np.float32)
                res = np.where(iy & np.uint32(0x80000000), np.float32(1.0) / x2, x2)
                out[xz] = res[xz]
                done |= xz
            # finite non-zero x: negative and/or subnormal
            rest = special & ~done
            neg = rest & ((ix & np.uint32(0x80000000)) != 0)
            if np.any(neg):
                yint = _checkint(iy)
                invalid = neg & (yint == 0)
                out[invalid] = np.float32(np.nan)
                done |= invalid
                sign_bias[neg & (yint == 1)] = 1 << (_EXP2F_TABLE_BITS + 11)
                ix[neg] &= np.uint32(0x7FFFFFFF)
            sub = rest & ~done & (ix < np.uint32(0x00800000))
            if np.any(sub):
                scaled = _asuint32((_asfloat32(ix[sub]) * np.float32(2.0**23)).astype(np.float32))
                ix[sub] = (scaled & np.uint32(0x7FFFFFFF)) - np.uint32(23 << 23)

        todo = ~done
        logx = _log2_inline(ix[todo], fused)
        ylogx = yf[todo].astype(np.float64) * logx
        sb = sign_bias[todo]
        res = _exp2_inline(ylogx, sb, fused).astype(np.float32)
        big = ((_asuint64(ylogx) >> np.uint64(47)) & np.uint64(0xFFFF)) >= (
            _asuint64(np.array([126.0]))[0] >> np.uint64(47)
        )
        if np.any(big):
            negative = sb != 0
            over = big & (ylogx > _h("0x1.fffffffd1d571p+6"))
            res = np.where(over, np.where(negative, -np.inf, np.inf), res)
            under = big & (ylogx <= -150.0)
            res = np.where(under, np.where(negative, -0.0, 0.0), res)
            # __math_may_uflowf: 0x1.4p-75f squared rounds to the smallest subnormal
            may_under = big & ~under & (ylogx < -149.0)
            tiny = np.float32(2.0**-149)
            res = np.where(may_under, np.where(negative, -tiny, tiny), res)
        out[todo] = res.astype(np.float32)
    return out.reshape(shape)


# ---------------------------------------------------------------------------------------------
# expf and logf


def expf(x, *, fused: bool = True) -> np.ndarray:
    """glibc ``expf(x)`` elementwise (float32 in, float32 out)."""
    xf = _f32_array(x)
    shape = xf.shape
    xf = xf.ravel()
    ix = _asuint32(xf)
    with np.errstate(all="ignore"):
        xd = xf.astype(np.float64)
        # z = InvLn2N * xd feeds only additions, so the fma build fuses it into both uses
        kd = _mul_add(_EXP2F_INVLN2_SCALED, xd, _EXP2F_SHIFT, fused)
        ki = _asuint64(kd)
        kd = kd - _EXP2F_SHIFT
        r = fma(_EXP2F_INVLN2_SCALED, xd, -kd) if fused else _EXP2F_INVLN2_SCALED * xd - kd
        t = _EXP2F_TAB[(ki % np.uint64(_EXP2F_N)).astype(np.intp)]
        t = t + (ki << np.uint64(52 - _EXP2F_TABLE_BITS))
        s = _asfloat64(t)
        c = _EXP2F_POLY_SCALED
        z = _mul_add(c[0], r, c[1], fused)
        r2 = r * r
        y = _mul_add(c[2], r, 1.0, fused)
        y = _mul_add(z, r2, y, fused)
        out = (y * s).astype(np.float32)

        abstop = (ix >> np.uint32(20)) & np.uint32(0x7FF)
        big = abstop >= (_asuint32(np.float32(88.0))[0] >> np.uint32(20))
        if np.any(big):
            res = out.copy()
            res = np.where(xf > np.float32(_h("0x1.62e42ep6")), np.float32(np.inf), res)
            res = np.where(xf < np.float32(_h("-0x1.9fe368p6")), np.float32(0.0), res)
            may_under = (xf < np.float32(_h("-0x1.9d1d9ep6"))) & (xf >= np.float32(_h("-0x1.9fe368p6")))
            res = np.where(may_under, np.float32(2.0**-149), res)
            res = np.where(abstop >= np.uint32(0x7F8), xf + xf, res)
            res = np.where(ix == _asuint32(np.float32(-np.inf))[0], np.float32(0.0), res)
            out = np.where(big, res, out).astype(np.float32)
    return out.reshape(shape)


def logf(x, *, fused: bool = True) -> np.ndarray:
    """glibc ``logf(x)`` elementwise (float32 in, float32 out)."""
    xf = _f32_array(x)
    shape = xf.shape
    xf = xf.ravel()
    ix = _asuint32(xf).copy()
    out = np.empty(xf.shape, dtype=np.float32)
    done = np.zeros(xf.shape, dtype=bool)
    with np.errstate(all="ignore"):
        one = ix == np.uint32(0x3F800000)
        out[one] = 0.0
        done |= one
        special = ~done & ((ix - np.uint32(0x00800000)) >= np.uint32(0x7F800000 - 0x00800000))
        if np.any(special):
            zero = special & (np.uint32(2) * ix == 0)
            out[zero] = -np.inf
            pinf = special & (ix == np.uint32(0x7F800000))
            out[pinf] = np.inf
            bad = (
                special
                & ~zero
                & ~pinf
                & (((ix & np.uint32(0x80000000)) != 0) | (np.uint32(2) * ix >= np.uint32(0xFF000000)))
            )
            out[bad] = np.nan
            done |= zero | pinf | bad
            sub = special & ~done
            if np.any(sub):
                scaled = _asuint32((xf[sub] * np.float32(2.0**23)).astype(np.float32))
                ix[sub] = scaled - np.uint32(23 << 23)
        todo = ~done
        ixt = ix[todo]
        tmp = ixt - np.uint32(_LOG_OFF)
        i = ((tmp >> np.uint32(23 - _LOG_TABLE_BITS)) % np.uint32(1 << _LOG_TABLE_BITS)).astype(np.intp)
        k = tmp.view(np.int32) >> 23
        iz = ixt - (tmp & np.uint32(0x1FF << 23))
        invc = _LOG_INVC[i]
        logc = _LOGF_LOGC[i]
        z = _asfloat32(iz).astype(np.float64)
        a = _LOGF_POLY
        r = _mul_add(z, invc, -1.0, fused)
        y0 = _mul_add(k.astype(np.float64), _LOGF_LN2, logc, fused)
        r2 = r * r
        y = _mul_add(a[1], r, a[2], fused)
        y = _mul_add(a[0], r2, y, fused)
        y = _mul_add(y, r2, y0 + r, fused)
        out[todo] = y.astype(np.float32)
    return out.reshape(shape)


# ---------------------------------------------------------------------------------------------
# cosf


def _abstop12(ix: np.ndarray) -> np.ndarray:
    return (ix >> np.uint32(20)) & np.uint32(0x7FF)


def _sinf_poly(x: np.ndarray, x2: np.ndarray, negate_cos: np.ndarray, use_cos: np.ndarray, fused: bool):
    """sincosf_poly.h ``sinf_poly``: the sine polynomial, or (``use_cos``) the cosine one."""
    # cosine branch (the table's second entry has every cosine coefficient negated)
    sgn = np.where(negate_cos, -1.0, 1.0)
    c0, c1, c2, c3, c4 = (sgn * v for v in _SC_COS)
    x4 = x2 * x2
    cc2 = _mul_add(x2, c4, c3, fused)
    cc1 = _mul_add(x2, c1, c0, fused)
    x6 = x4 * x2
    c = _mul_add(x4, c2, cc1, fused)
    cos_val = _mul_add(x6, cc2, c, fused)
    # sine branch
    s1p, s2p, s3p = _SC_SIN
    x3 = x * x2
    s1 = _mul_add(x2, s3p, s2p, fused)
    x7 = x3 * x2
    s = _mul_add(x3, s1p, x, fused)
    sin_val = _mul_add(x7, s1, s, fused)
    return np.where(use_cos, cos_val, sin_val)


def _reduce_large(xi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """s_sincosf.h ``reduce_large``: exact 4/pi range reduction for |x| >= 120 (bits ``xi``)."""
    xi64 = xi.astype(np.uint64)
    idx = ((xi64 >> np.uint64(26)) & np.uint64(15)).astype(np.intp)
    shift = (xi64 >> np.uint64(23)) & np.uint64(7)
    m = ((xi64 & np.uint64(0xFFFFFF)) | np.uint64(0x800000)) << shift
    m = m & np.uint64(0xFFFFFFFF)  # xi is a uint32 in C
    res0 = (m * _INV_PIO4[idx]) & np.uint64(0xFFFFFFFF)  # 32-bit multiply in C
    res1 = m * _INV_PIO4[idx + 4]
    res2 = m * _INV_PIO4[idx + 8]
    res0 = (res2 >> np.uint64(32)) | (res0 << np.uint64(32))
    res0 = res0 + res1
    n = (res0 + np.uint64(1 << 61)) >> np.uint64(62)
    res0 = res0 - (n << np.uint64(62))
    xr = res0.view(np.int64).astype(np.float64)
    return xr * _PI63, n.astype(np.int64)


def cosf(x, *, fused: bool = True) -> np.ndarray:
    """glibc ``cosf(x)`` elementwise (float32 in, float32 out)."""
    yf = _f32_array(x)
    shape = yf.shape
    yf = yf.ravel()
    iy = _asuint32(yf)
    top = _abstop12(iy)
    out = np.empty(yf.shape, dtype=np.float32)
    with np.errstate(all="ignore"):
        xd = yf.astype(np.float64)
        tiny = top < _abstop12(_asuint32(np.float32(2.0**-12)))[0]
        small = ~tiny & (top < _abstop12(_asuint32(_PIO4_F32))[0])
        medium = ~tiny & ~small & (top < _abstop12(_asuint32(np.float32(120.0)))[0])
        large = ~tiny & ~small & ~medium & (top < np.uint32(0x7F8))
        bad = ~(tiny | small | medium | large)
        out[tiny] = 1.0
        out[bad] = np.nan

        if np.any(small):
            xs = xd[small]
            false = np.zeros(xs.shape, dtype=bool)
            out[small] = _sinf_poly(xs, xs * xs, false, ~false, fused).astype(np.float32)
        if np.any(medium):
            xm = xd[medium]
            r = xm * _SC_HPI_INV
            n = (r.astype(np.int32).astype(np.int64) + 0x800000) >> 24
            xr = _mul_add(-n.astype(np.float64), _SC_HPI, xm, fused)
            s = _SC_SIGN[n & 3]
            out[medium] = _sinf_poly(xr * s, xr * xr, (n & 2) != 0, ((n ^ 1) & 1) != 0, fused).astype(
                np.float32
            )
        if np.any(large):
            il = iy[large]
            xr, n = _reduce_large(il)
            sign = (il >> np.uint32(31)).astype(np.int64)
            q = n + sign
            s = _SC_SIGN[q & 3]
            out[large] = _sinf_poly(xr * s, xr * xr, (q & 2) != 0, ((n ^ 1) & 1) != 0, fused).astype(
                np.float32
            )
    return out.reshape(shape)
