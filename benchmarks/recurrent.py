"""Benchmark: rnnlib's numpy RNN, GRU and LSTM sequences against torch CPU and the GEMM floor.

Usage::

    .venv/bin/python benchmarks/recurrent.py [--rounds 5] [--repeats 5] [--threads 2]
                                             [--numpy-threads 1]
                                             [--cells rnn,gru,lstm] [--shapes bench,small]

Every contender runs in a process of its own, with its own best settings and nothing of the
others' environment:

- ``rnnlib`` and ``floor`` (numpy): ``OPENBLAS_NUM_THREADS`` (and ``OMP_NUM_THREADS``) set to
  ``--numpy-threads`` (default ``--threads``);
- ``torch``: the variables above and ``OMP_WAIT_POLICY`` removed (torch's default OpenMP
  policy) and ``torch.set_num_threads(--threads)``.

A round starts one process per contender, in an order that rotates from round to round, so a
change in the machine's load reaches every contender alike; each process times every cell and
shape ``--repeats`` times after a warm-up. The figures are medians and bests over all rounds.

The GEMM floor is the time numpy takes for exactly the matrix products a cell with ``G`` gate
blocks needs (G = 1 RNN, 3 GRU, 4 LSTM), with the same shapes, and nothing else: the input
projection of all steps, one (N, H) x (H, GH) product per step forward and one (N, GH) x (GH, H)
per step backward, and the three big products after the loop (dx, dWx, dWh). An
implementation made of these numpy products cannot beat it, so ``rnnlib / floor`` is the cost
of everything else (elementwise gate math, memory traffic, Python calls).

torch runs its own cells (``nn.RNN``, ``nn.GRU``, ``nn.LSTM``); its GRU applies the reset
gate after the matmul, which costs the same number of products. Prints figures; asserts
nothing.
"""

import argparse
import json
import os
import subprocess
import sys
import time

SHAPES = {"bench": dict(N=64, T=50, D=128, H=256), "small": dict(N=32, T=20, D=32, H=32)}
GATES = {"rnn": 1, "gru": 3, "lstm": 4}
CONTENDERS = ("rnnlib", "torch", "floor")
# Variables that tune one library's threads; a contender's process gets only its own.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY")


def contender_env(contender, threads):
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    if contender != "torch":
        env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(threads)
    return env


# ---------------------------------------------------------------- worker side (one contender)

def make_inputs(np, cell, N, T, D, H, seed=0):
    G = GATES[cell]
    rng = np.random.default_rng(seed)
    f32 = np.float32
    return dict(
        x=rng.standard_normal((N, T, D)).astype(f32),
        h0=(0.1 * rng.standard_normal((N, H))).astype(f32),
        Wx=(rng.standard_normal((D, G * H)) / np.sqrt(D)).astype(f32),
        Wh=(rng.standard_normal((H, G * H)) / np.sqrt(H)).astype(f32),
        b=(0.1 * rng.standard_normal(G * H)).astype(f32),
        dh=rng.standard_normal((N, T, H)).astype(f32),
    )


def rnnlib_run(cell, x, h0, Wx, Wh, b, dh):
    import rnnlib
    forward = getattr(rnnlib, f"{cell}_forward")
    backward = getattr(rnnlib, f"{cell}_backward")

    def run():
        _, cache = forward(x, h0, Wx, Wh, b)
        backward(dh, cache)
    return run


def torch_run(cell, x, h0, Wx, Wh, b, dh):
    import torch
    N, T, D = x.shape
    H = h0.shape[1]
    module = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell]
    net = module(D, H, batch_first=True)
    with torch.no_grad():
        net.weight_ih_l0.copy_(torch.from_numpy(Wx.T.copy()))
        net.weight_hh_l0.copy_(torch.from_numpy(Wh.T.copy()))
        net.bias_ih_l0.copy_(torch.from_numpy(b))
        net.bias_hh_l0.zero_()
    tx = torch.from_numpy(x).requires_grad_(True)
    th0 = torch.from_numpy(h0)[None].requires_grad_(True)
    state = (th0, torch.zeros_like(th0)) if cell == "lstm" else th0
    tdh = torch.from_numpy(dh)

    def run():
        net.zero_grad()
        tx.grad = th0.grad = None
        out, _ = net(tx, state)
        out.backward(tdh)
    return run


def floor_run(cell, x, h0, Wx, Wh, b, dh):
    """Only the matrix products of the cell's forward and backward pass, same shapes and count."""
    import numpy as np
    N, T, D = x.shape
    H = h0.shape[1]
    GH = Wh.shape[1]
    x2 = np.ascontiguousarray(x.reshape(N * T, D))
    h_all = np.ascontiguousarray(dh.reshape(N * T, H))   # stands in for the (N*T, H) states
    da = np.full((N * T, GH), 0.01, dtype=x.dtype)
    da_t = np.full((N, GH), 0.01, dtype=x.dtype)
    h_t = np.full((N, H), 0.01, dtype=x.dtype)
    step_out = np.empty((N, GH), dtype=x.dtype)
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
        h_all.T @ da                              # dWh
    return run


def worker(contender, cells, shapes, repeats, threads, warmup=3):
    """Time every (cell, shape) in this process; print one JSON line of times in seconds."""
    import numpy as np
    if contender == "torch":
        import torch
        torch.set_num_threads(threads)
    make_run = {"rnnlib": rnnlib_run, "torch": torch_run, "floor": floor_run}[contender]
    results = {}
    for shape in shapes:
        for cell in cells:
            run = make_run(cell, **make_inputs(np, cell, **SHAPES[shape]))
            for _ in range(warmup):
                run()
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                run()
                times.append(time.perf_counter() - start)
            results[f"{cell}/{shape}"] = times
    print(json.dumps(results))


# ---------------------------------------------------------------- driver side

def blas_info(python, threads):
    code = ("from threadpoolctl import threadpool_info\n"
            "import numpy\n"
            "print('; '.join(f\"{p.get('internal_api')} {p.get('version')} "
            "threads={p.get('num_threads')}\" for p in threadpool_info()))")
    env = contender_env("rnnlib", threads)
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env,
                             timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown (threadpoolctl missing)"


def median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else 0.5 * (values[n // 2 - 1] + values[n // 2])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--numpy-threads", type=int, default=None,
                        help="BLAS threads of rnnlib and the floor (default: --threads); the "
                             "per-step (N, H) products often run faster on one")
    parser.add_argument("--cells", default="rnn,gru,lstm")
    parser.add_argument("--shapes", default="bench,small")
    parser.add_argument("--worker", choices=CONTENDERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    cells = args.cells.split(",")
    shapes = args.shapes.split(",")
    for name in cells:
        if name not in GATES:
            parser.error(f"--cells: {name!r} is not one of {sorted(GATES)}")
    for name in shapes:
        if name not in SHAPES:
            parser.error(f"--shapes: {name!r} is not one of {sorted(SHAPES)}")

    if args.numpy_threads is None:
        args.numpy_threads = args.threads
    if args.worker:
        worker(args.worker, cells, shapes, args.repeats, args.threads)
        return

    print(f"Recurrent sequences, forward+backward, float32; {args.rounds} rounds x "
          f"{args.repeats} repeats, each contender in its own process; torch threads="
          f"{args.threads}, numpy BLAS threads={args.numpy_threads}")
    print("shapes: " + "; ".join(f"{k} = " + " ".join(f"{a}={v}" for a, v in s.items())
                                 for k, s in SHAPES.items() if k in shapes))
    print(f"numpy BLAS (rnnlib, floor): {blas_info(sys.executable, args.numpy_threads)}")
    loads = [os.getloadavg()]
    times = {c: {} for c in CONTENDERS}
    for r in range(args.rounds):
        order = CONTENDERS[r % 3:] + CONTENDERS[:r % 3]
        for contender in order:
            threads = args.threads if contender == "torch" else args.numpy_threads
            cmd = [sys.executable, __file__, "--worker", contender, "--cells", args.cells,
                   "--shapes", args.shapes, "--repeats", str(args.repeats),
                   "--threads", str(threads)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                                 env=contender_env(contender, threads))
            for key, values in json.loads(out.stdout.strip().splitlines()[-1]).items():
                times[contender].setdefault(key, []).extend(values)
        loads.append(os.getloadavg())

    print(f"load average (1 min) during the run: {min(x[0] for x in loads):.2f} .. "
          f"{max(x[0] for x in loads):.2f} on {os.cpu_count()} cores"
          + ("  (busy machine: the best times suffer least)"
             if max(x[0] for x in loads) > args.threads + 0.5 else ""))
    print(f"{'case':<11}{'rnnlib ms':>18}{'torch ms':>18}{'floor ms':>18}"
          f"{'rnnlib/torch':>16}{'rnnlib/floor':>16}")
    print(f"{'':<11}{'median (best)':>18}{'median (best)':>18}{'median (best)':>18}"
          f"{'median (best)':>16}{'median (best)':>16}")
    for shape in shapes:
        for cell in cells:
            key = f"{cell}/{shape}"
            med = {c: median(times[c][key]) for c in CONTENDERS}
            best = {c: min(times[c][key]) for c in CONTENDERS}
            cols = "".join(f"{1e3 * med[c]:>10.2f} ({1e3 * best[c]:>5.2f})" for c in CONTENDERS)
            ratios = "".join(f"{med['rnnlib'] / med[o]:>9.2f} ({best['rnnlib'] / best[o]:.2f})"
                             for o in ("torch", "floor"))
            print(f"{key:<11}{cols}{ratios}")
    print("goals: rnnlib/torch <= 1.2 at 'bench', < 1.0 at 'small'")


if __name__ == "__main__":
    main()
