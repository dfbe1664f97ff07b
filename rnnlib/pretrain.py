"""Seeded pretraining of the chapter 5 models that do not train within a notebook's budget.

    python -m rnnlib.pretrain ntm-copy --seed 0      # rnnlib/apps/weights/ntm_copy_seed0.pt

Each run writes one small file holding the models' state dicts (in float16) and the metadata a
notebook and a test need: the task, the seed, every setting (``config``), torch's version, the
run time and the results measured at the end of the run. ``--steps`` and ``--out`` override the
defaults (the tests use a tiny run); the committed files are made with the defaults. Torch runs
on one CPU thread so that the result depends only on the seed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

WEIGHTS_DIR = Path(__file__).resolve().parent / "apps" / "weights"


def default_config(task: str) -> dict:
    """The settings of ``task`` used for the committed weights."""
    if task == "ntm-copy":
        from rnnlib.apps.ntm import NTM_COPY_CONFIG

        return dict(NTM_COPY_CONFIG)
    raise ValueError(f"task: expected one of {TASKS}, got {task!r}")


def weights_path(task: str, seed: int = 0) -> Path:
    """Where the committed weights of ``task`` and ``seed`` live."""
    if task not in TASKS:
        raise ValueError(f"task: expected one of {TASKS}, got {task!r}")
    return WEIGHTS_DIR / f"{task.replace('-', '_')}_seed{seed}.pt"


def _float16(state: dict) -> dict:
    # float16 keeps the file under 1 MB; load_state_dict casts back to the model's float32
    return {k: v.detach().to(torch.float16).clone() for k, v in state.items()}


def _ntm_copy(cfg: dict, seed: int, log) -> dict:
    from rnnlib.apps.ntm import NTM, LSTMCopier, bit_error, train_copy

    results, states, histories = {}, {}, {}
    test_lengths = sorted({cfg["max_len"], 2 * cfg["max_len"]})
    for name in ("ntm", "lstm"):
        torch.manual_seed(seed)
        if name == "ntm":
            model = NTM(cfg["bits"], cfg["slots"], cfg["width"], cfg["controller"])
        else:
            model = LSTMCopier(cfg["bits"], cfg["lstm_hidden"])
        hist = train_copy(model, cfg["steps"], cfg["batch_size"], cfg["lr"], cfg["min_len"],
                          cfg["max_len"], cfg["bits"], cfg["clip"], seed=seed,
                          log_every=max(1, min(100, cfg["steps"] // 10)),
                          callback=lambda step, loss, name=name: log(
                              f"{name} step {step} loss {loss:.4f}"))
        model.eval()
        errors = {L: bit_error(model, L, seed=seed, bits=cfg["bits"]) for L in test_lengths}
        log(f"{name}: {cfg['steps']} steps in {hist['seconds']:.0f} s; final loss "
            f"{hist['loss'][-1]:.4f}; bit error " +
            ", ".join(f"length {L}: {e:.4f}" for L, e in errors.items()))
        results[name] = {f"bit_error_len{L}": e for L, e in errors.items()}
        results[name]["seconds"] = hist["seconds"]
        states[name] = _float16(model.state_dict())
        histories[name] = {"step": hist["step"], "loss": hist["loss"]}
    return {"states": states, "results": results, "histories": histories}


TASKS = ("ntm-copy",)
_RUNNERS = {"ntm-copy": _ntm_copy}


def run(task: str, seed: int = 0, steps: int | None = None, out: Path | str | None = None,
        log=print) -> Path:
    """Train ``task`` from ``seed`` and save the weights with their metadata; returns the path."""
    if task not in TASKS:
        raise ValueError(f"task: expected one of {TASKS}, got {task!r}")
    if seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed}")
    cfg = default_config(task)
    if steps is not None:
        if steps < 1:
            raise ValueError(f"steps: expected a positive number, got {steps}")
        cfg["steps"] = int(steps)
    out = Path(out) if out is not None else weights_path(task, seed)
    torch.set_num_threads(1)
    started = time.perf_counter()
    payload = _RUNNERS[task](cfg, seed, log)
    payload["meta"] = dict(task=task, seed=seed, config=cfg, torch=str(torch.__version__),
                           seconds=time.perf_counter() - started,
                           command=f"python -m rnnlib.pretrain {task} --seed {seed}"
                           + (f" --steps {steps}" if steps is not None else ""))
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, out)
    log(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB) in {payload['meta']['seconds']:.0f} s")
    return out


def load(task: str, seed: int = 0, path: Path | str | None = None) -> dict:
    """The saved payload (``states``, ``results``, ``histories``, ``meta``) of ``task``."""
    path = Path(path) if path is not None else weights_path(task, seed)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `python -m rnnlib.pretrain {task} "
                                f"--seed {seed}`")
    from torch.torch_version import TorchVersion

    with torch.serialization.safe_globals([TorchVersion]):
        return torch.load(path, map_location="cpu", weights_only=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnnlib.pretrain", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=TASKS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="override the number of steps")
    parser.add_argument("--out", type=Path, default=None, help="output file")
    args = parser.parse_args(argv)
    run(args.task, args.seed, args.steps, args.out, log=lambda s: print(s, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
