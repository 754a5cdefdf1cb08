"""Record torch.cos on float32 inputs for tests/data/torch_cosf_2.13.0_cpu.npz."""

import math
import platform

import numpy as np
import torch

torch.set_num_threads(1)
F32 = np.float32
rng = np.random.default_rng(20250613)
parts = []
# schedule angles: pi * (s / D) as Keras computes them in float32
pi = F32(math.pi)
for D in (1, 2, 3, 7, 10, 40, 100, 1000, 12345):
    s = np.arange(0, D + 1, max(1, D // 2000), dtype=F32)
    parts.append((pi * (s / F32(D)).astype(F32)).astype(F32))
parts.append(rng.uniform(0, 4, 15000).astype(F32))
parts.append(rng.uniform(-10000, 10000, 15000).astype(F32))
parts.append((rng.standard_normal(5000) * 10).astype(F32))
# random bit patterns with |x| <= 10000 (all exponents, subnormals)
bits = rng.integers(0, 2**32, 60000, dtype=np.uint64).astype(np.uint32).view(F32)
parts.append(bits[np.abs(bits) <= 10000][:10000])
# near multiples of pi/2 and the 10000 limit, signed zeros, tiny values, limits, specials
k = np.arange(-2000, 2001, dtype=np.float64)
near = (k * math.pi / 2).astype(F32)
parts.append(np.concatenate([near, np.nextafter(near, F32(np.inf)), np.nextafter(near, F32(-np.inf))]))
edge = [
    0.0,
    -0.0,
    1e-45,
    -1e-45,
    1.1754944e-38,
    1e-30,
    1e-10,
    1e-4,
    0.5,
    1.0,
    1.5707964,
    3.1415927,
    -3.1415927,
    4.712389,
    6.2831855,
    9999.999,
    10000.0,
    -10000.0,
    np.inf,
    -np.inf,
    np.nan,
]
parts.append(np.array(edge, dtype=F32))
x = np.concatenate(parts).astype(F32)
y = torch.cos(torch.from_numpy(x)).numpy()
y0 = np.array([torch.cos(torch.tensor(v)).item() for v in x[::50]], dtype=F32)  # 0-d tensors
assert np.array_equal(y0.view(np.uint32), y[::50].view(np.uint32))
meta = (
    f"torch {torch.__version__}, numpy {np.__version__}, {platform.machine()}, "
    f"torch cpu capability {torch.backends.cpu.get_cpu_capability()}, "
    f"MKL {torch.backends.mkl.is_available()}, "
    "CPU AMD EPYC (MKL HA kernel EXHAynn); torch.cos on a 1-d float32 tensor, 0-d spot-checked"
)
out = __file__.rsplit("/", 1)[0] + "/torch_cosf_2.13.0_cpu.npz"
np.savez_compressed(out, x=x.view(np.uint32), cos=y.view(np.uint32), meta=np.array(meta))
print(len(x), meta)
