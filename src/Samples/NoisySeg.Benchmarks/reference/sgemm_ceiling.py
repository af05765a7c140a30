#!/usr/bin/env python3
"""SGEMM ceiling of this machine: numpy float32 matmul n x n on the BLAS numpy loaded (Debian: OpenBLAS).
Usage: sgemm_ceiling.py [n] [repeats]
Prints one line of key=value fields: GFLOP/s (median and best of `repeats` timed products after one warm-up),
the BLAS library, OpenBLAS's core name (which kernels it picked), its thread count, and a correctness check of the
timed product (16 entries against exactly rounded float64 sums; err = |c - exact| / (|a_i| |b_j|)).
cpu1_gflops: the same product on ONE OpenBLAS thread, per second of that thread's CPU time (time.thread_time), i.e.
the kernels' throughput per core independent of how much of the machine other processes take; x threads = the
ceiling of dedicated cores."""
import ctypes, math, os, sys, time
import numpy as np

n, reps = (int(a) for a in (sys.argv[1:] + ['4096', '5'])[:2])
rng = np.random.default_rng(0)
a = rng.standard_normal((n, n), dtype=np.float32)
b = rng.standard_normal((n, n), dtype=np.float32)
c = np.empty((n, n), dtype=np.float32)
np.matmul(a, b, out=c)
ts = []
for _ in range(reps):
    t = time.perf_counter()
    np.matmul(a, b, out=c)
    ts.append(time.perf_counter() - t)
ts.sort()
flop = 2.0 * n ** 3

lib, core, config, threads = '-', '-', '-', '-'
with open('/proc/self/maps') as maps:
    paths = sorted({f[-1] for f in (line.split() for line in maps) if f[-1].startswith('/') and 'blas' in os.path.basename(f[-1])})
for p in paths:
    if not os.path.isfile(p):
        continue
    try:
        h = ctypes.CDLL(p)
    except OSError:
        continue
    if hasattr(h, 'openblas_get_corename'):
        h.openblas_get_corename.restype = ctypes.c_char_p
        h.openblas_get_config.restype = ctypes.c_char_p
        lib, core = os.path.realpath(p), h.openblas_get_corename().decode()
        config = h.openblas_get_config().decode().replace(' ', '_')
        threads = str(h.openblas_get_num_threads())
        break

cpu1 = float('nan')
if lib != '-':
    h.openblas_set_num_threads(1)
    np.matmul(a, b, out=c)
    t = time.thread_time()
    for _ in range(2):
        np.matmul(a, b, out=c)
    cpu1 = 2 * flop / (time.thread_time() - t) / 1e9

worst = 0.0
for i, j in zip(rng.integers(0, n, 16), rng.integers(0, n, 16)):
    x, y = a[i, :].astype(np.float64), b[:, j].astype(np.float64)
    exact = math.fsum((x * y).tolist())
    worst = max(worst, abs(float(c[i, j]) - exact) / math.sqrt(float(x @ x) * float(y @ y)))

print(f"sgemm n={n} reps={reps} gflops_median={flop / ts[len(ts) // 2] / 1e9:.1f} gflops_best={flop / ts[0] / 1e9:.1f} "
      f"cpu1_gflops={cpu1:.1f} core={core} threads={threads} coretype_env={os.environ.get('OPENBLAS_CORETYPE', '-')} "
      f"l2_env={os.environ.get('OPENBLAS_L2_SIZE', '-')} check_max_err={worst:.2e} numpy={np.__version__} lib={lib} config={config}")
