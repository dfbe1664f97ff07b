"""Benchmark: rnnlib's numpy LSTM (forward + backward) against torch's CPU nn.LSTM and the GEMM floor.

Usage::

    .venv/bin/python benchmarks/lstm.py [--repeats 15] [--threads 2] [--clock wall|cpu]
                                        [--N 64 --T 50 --D 128 --H 256] [--dtype float32]

The GEMM floor is the time numpy takes for exactly the matrix products an LSTM needs,
with the same shapes, and nothing else: the input projection of all steps, one
(N, H) x (H, 4H) product per step forward and one (N, 4H) x (4H, H) per step backward,
and the three big products after the loop (dx, dWx, dWh), each run on warm inputs.
An implementation made of these numpy products cannot beat it, so ``rnnlib / floor``
measures the cost of everything else (elementwise gate math, memory traffic, Python).
Times are medians (and bests) over ``--repeats`` interleaved runs after warm-up. Prints
figures only; it asserts nothing.

On a busy machine two BLAS threads mostly wait for each other and wall times scatter
widely; ``--threads 1 --clock cpu`` (CPU time of the process) is then the steadier
comparison.

Note: on some processors this machine sets ``OPENBLAS_CORETYPE`` and
``OPENBLAS_L2_SIZE`` (older OpenBLAS builds miscompute there). They select a slower
kernel in a current numpy; to see numpy's native speed run::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/lstm.py
"""

import argparse
import os
import sys
import time

# Thread counts must be fixed before numpy and torch load their thread pools.
_threads = "2"
for _k, _arg in enumerate(sys.argv):
    if _arg == "--threads" and _k + 1 < len(sys.argv):
        _threads = sys.argv[_k + 1]
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = _threads

import numpy as np  # noqa: E402
import torch  # noqa: E402

import rnnlib  # noqa: E402


def interleaved_times(runs, repeats, warmup=2, clock=time.perf_counter):
    """Time each function ``repeats`` times, taking turns (a, b, c, then b, c, a, ...).

    Taking turns spreads any change in machine load over all contenders alike.
    """
    for run in runs.values():
        for _ in range(warmup):
            run()
    names = list(runs)
    times = {name: [] for name in names}
    for k in range(repeats):
        order = names[k % len(names):] + names[:k % len(names)]
        for name in order:
            start = clock()
            runs[name]()
            times[name].append(clock() - start)
    return {name: np.array(t) for name, t in times.items()}


def make_inputs(N, T, D, H, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, T, D)).astype(dtype)
    h0 = (0.1 * rng.standard_normal((N, H))).astype(dtype)
    Wx = (rng.standard_normal((D, 4 * H)) / np.sqrt(D)).astype(dtype)
    Wh = (rng.standard_normal((H, 4 * H)) / np.sqrt(H)).astype(dtype)
    b = np.zeros(4 * H, dtype=dtype)
    dh = rng.standard_normal((N, T, H)).astype(dtype)
    return x, h0, Wx, Wh, b, dh


def rnnlib_run(x, h0, Wx, Wh, b, dh):
    def run():
        _, cache = rnnlib.lstm_forward(x, h0, Wx, Wh, b)
        rnnlib.lstm_backward(dh, cache)
    return run


def torch_run(x, h0, Wx, Wh, b, dh):
    N, T, D = x.shape
    H = h0.shape[1]
    net = torch.nn.LSTM(D, H, batch_first=True)
    with torch.no_grad():
        net.weight_ih_l0.copy_(torch.from_numpy(Wx.T.copy()))
        net.weight_hh_l0.copy_(torch.from_numpy(Wh.T.copy()))
        net.bias_ih_l0.copy_(torch.from_numpy(b))
        net.bias_hh_l0.zero_()
    tx = torch.from_numpy(x).requires_grad_(True)
    th0 = torch.from_numpy(h0)[None].requires_grad_(True)
    tc0 = torch.zeros_like(th0)
    tdh = torch.from_numpy(dh)

    def run():
        net.zero_grad()
        tx.grad = th0.grad = None
        out, _ = net(tx, (th0, tc0))
        out.backward(tdh)
    return run


def floor_run(x, h0, Wx, Wh, b, dh):
    """Only the matrix products of an LSTM's forward and backward pass, same shapes, same count."""
    N, T, D = x.shape
    H = h0.shape[1]
    x2 = x.reshape(N * T, D)
    h_prev = np.ascontiguousarray(dh.reshape(N * T, H))      # stands in for the (N*T, H) states
    da = np.ones((N * T, 4 * H), dtype=x.dtype) * 0.01
    da_t = np.ones((N, 4 * H), dtype=x.dtype) * 0.01
    h_t = np.ones((N, H), dtype=x.dtype) * 0.01
    step_out = np.empty((N, 4 * H), dtype=x.dtype)
    step_back = np.empty((N, H), dtype=x.dtype)
    WhT = Wh.T

    def run():
        x2 @ Wx                                   # input projection of all steps
        for _ in range(T):
            np.matmul(h_t, Wh, out=step_out)      # h_{t-1} Wh
        for _ in range(T):
            np.matmul(da_t, WhT, out=step_back)   # dh_prev = da_t Wh^T
        da @ Wx.T                                 # dx
        x2.T @ da                                 # dWx
        h_prev.T @ da                             # dWh
    return run


def flops(N, T, D, H):
    forward = 2 * N * T * D * 4 * H + 2 * N * T * H * 4 * H
    backward = 2 * (2 * N * T * D * 4 * H) + 2 * (2 * N * T * H * 4 * H)
    return forward + backward


def blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    parts = []
    for pool in threadpool_info():
        parts.append(f"{pool.get('internal_api')} {pool.get('version')} "
                     f"kernel={pool.get('architecture')} threads={pool.get('num_threads')}")
    return "; ".join(parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--N", type=int, default=64)
    parser.add_argument("--T", type=int, default=50)
    parser.add_argument("--D", type=int, default=128)
    parser.add_argument("--H", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--clock", default="wall", choices=["wall", "cpu"],
                        help="wall time (default) or the process's CPU time; CPU time is "
                             "steadier on a busy machine but counts every thread, so use it "
                             "with --threads 1 only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    N, T, D, H = args.N, args.T, args.D, args.H
    inputs = make_inputs(N, T, D, H, np.dtype(args.dtype))
    if args.dtype == "float64":
        torch.set_default_dtype(torch.float64)

    print(f"LSTM forward+backward  N={N} T={T} D={D} H={H} {args.dtype}  threads={args.threads}"
          f"  clock={args.clock}  repeats={args.repeats}")
    print(f"numpy {np.__version__}, torch {torch.__version__}; BLAS: {blas_info()}")
    env = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ}
    if env:
        print(f"note: {env} is set and may slow numpy; compare with "
              "`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE`")

    runs = {"floor": floor_run(*inputs), "rnnlib": rnnlib_run(*inputs), "torch": torch_run(*inputs)}
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    times = interleaved_times(runs, args.repeats, clock=clock)
    gflop = flops(N, T, D, H) / 1e9
    for name, t in times.items():
        med = np.median(t)
        print(f"{name:>7}: median {1e3 * med:7.1f} ms  (best {1e3 * t.min():6.1f} ms, "
              f"{gflop / med:5.1f} GFLOP/s on the {gflop:.2f} GFLOP of matmuls)")
    r, t, f = (np.median(times[k]) for k in ("rnnlib", "torch", "floor"))
    rb, tb, fb = (times[k].min() for k in ("rnnlib", "torch", "floor"))
    print(f"rnnlib / torch = {r / t:.2f}x median, {rb / tb:.2f}x best   (goal <= 1.0)")
    print(f"rnnlib / floor = {r / f:.2f}x median, {rb / fb:.2f}x best   (goal <= 1.5)")
    print(f" torch / floor = {t / f:.2f}x median, {tb / fb:.2f}x best")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    if load > args.threads + 0.5:
        print(f"note: load average {load:.1f} on {os.cpu_count()} cores; other processes "
              "compete for the CPU, so these figures are noisy (the best times suffer least)")


if __name__ == "__main__":
    main()
