"""The neural Turing machine section (rnnlib.apps.ntm) and its pretraining script."""

import numpy as np
import pytest
import torch

from rnnlib import pretrain
from rnnlib.apps import ntm as N


def test_copy_batches_are_deterministic_and_splits_differ():
    x1, y1 = N.copy_batch(4, 5, bits=6, seed=1, split="train")
    x2, y2 = N.copy_batch(4, 5, bits=6, seed=1, split="train")
    np.testing.assert_array_equal(x1, x2)
    x3, _ = N.copy_batch(4, 5, bits=6, seed=1, split="test")
    assert not np.array_equal(x1, x3)
    assert x1.shape == (4, 11, 7) and y1.shape == (4, 5, 6)
    np.testing.assert_array_equal(x1[:, :5, :6], y1)
    assert (x1[:, 5, 6] == 1).all() and (x1[:, 6:] == 0).all() and (x1[:, :5, 6] == 0).all()


def _address_reference(params, w_prev, memory, W):
    """The NTM addressing written slot by slot in float64, as in Graves et al. (2014)."""
    N, S, _ = memory.shape
    out = torch.zeros(N, S, dtype=torch.float64)
    for n in range(N):
        k = params[n, :W]
        beta = torch.nn.functional.softplus(params[n, W])
        g = torch.sigmoid(params[n, W + 1])
        s = torch.softmax(params[n, W + 2:W + 5], 0)
        gamma = 1 + torch.nn.functional.softplus(params[n, W + 5])
        sim = torch.stack([k @ memory[n, i] / (k.norm() * memory[n, i].norm()) for i in range(S)])
        wc = torch.softmax(beta * sim, 0)
        wg = g * wc + (1 - g) * w_prev[n]
        shifted = torch.stack([sum(wg[(i - off) % S] * s[off + 1] for off in (-1, 0, 1))
                               for i in range(S)])
        p = shifted ** gamma
        out[n] = p / p.sum()
    return out


def test_addressing_and_its_gradient_match_a_slot_by_slot_reference():
    torch.manual_seed(0)
    model = N.NTM(bits=3, slots=6, width=4, controller=8).double()
    params = torch.randn(2, 4 + 6, dtype=torch.float64, requires_grad=True)
    w_prev = torch.softmax(torch.randn(2, 6, dtype=torch.float64), 1)
    memory = torch.randn(2, 6, 4, dtype=torch.float64)
    got = model._address(params, w_prev, memory)
    want = _address_reference(params, w_prev, memory, 4)
    assert torch.allclose(got, want, atol=1e-9)
    weights = torch.randn(2, 6, dtype=torch.float64)
    (g1,) = torch.autograd.grad((got * weights).sum(), params)
    (g2,) = torch.autograd.grad((want * weights).sum(), params)
    assert torch.allclose(g1, g2, atol=1e-8)


def test_shift_moves_a_sharp_weighting_by_one_slot():
    model = N.NTM(bits=2, slots=5, width=3, controller=4).double()
    params = torch.zeros(1, 9, dtype=torch.float64)
    params[0, 4] = -30.0   # g = 0: keep the previous weighting, ignore content
    params[0, 5:8] = torch.tensor([-30.0, -30.0, 30.0])  # all mass on shift +1
    params[0, 8] = 30.0    # strong sharpening
    w_prev = torch.tensor([[1.0, 0, 0, 0, 0]], dtype=torch.float64)
    w = model._address(params, w_prev, torch.randn(1, 5, 3, dtype=torch.float64))
    assert torch.allclose(w, torch.tensor([[0.0, 1, 0, 0, 0]], dtype=torch.float64), atol=1e-6)


def test_forward_shapes_and_weightings_are_distributions():
    model = N.NTM(bits=4, slots=10, width=5, controller=12)
    x, _ = N.copy_batch(3, 4, bits=4)
    logits, reads, writes = model(torch.from_numpy(x), return_weights=True)
    assert logits.shape == (3, 9, 4) and reads.shape == writes.shape == (3, 9, 10)
    assert torch.allclose(reads.sum(2), torch.ones(3, 9), atol=1e-5)
    assert torch.allclose(writes.sum(2), torch.ones(3, 9), atol=1e-5)
    assert N.LSTMCopier(bits=4, hidden=8)(torch.from_numpy(x)).shape == (3, 9, 4)


def test_training_smoke_loss_goes_down():
    torch.manual_seed(0)
    model = N.NTM(bits=4, slots=8, width=6, controller=24)
    hist = N.train_copy(model, steps=40, batch_size=16, lr=3e-3, max_len=3, bits=4,
                        log_every=10)
    assert hist["loss"][-1] < hist["loss"][0]
    assert 0.0 <= N.bit_error(model, 3, n=20, bits=4) <= 1.0


def test_pretrain_tiny_run_writes_its_metadata(tmp_path):
    out = pretrain.run("ntm-copy", seed=3, steps=2, out=tmp_path / "w.pt", log=lambda s: None)
    payload = pretrain.load("ntm-copy", path=out)
    assert payload["meta"]["seed"] == 3 and payload["meta"]["config"]["steps"] == 2
    assert set(payload["states"]) == {"ntm", "lstm"}
    model = N.NTM(*(payload["meta"]["config"][k] for k in ("bits", "slots", "width", "controller")))
    model.load_state_dict(payload["states"]["ntm"])


def test_committed_weights_match_the_command():
    path = pretrain.weights_path("ntm-copy", 0)
    if not path.is_file():
        pytest.fail(f"{path} is missing: run python -m rnnlib.pretrain ntm-copy --seed 0")
    assert path.stat().st_size < 1_000_000, "the committed weights must stay under 1 MB"
    meta = pretrain.load("ntm-copy", 0)["meta"]
    assert meta["task"] == "ntm-copy" and meta["seed"] == 0
    assert meta["config"] == pretrain.default_config("ntm-copy"), (
        "the committed file was made with other settings than the command's defaults")
    assert meta["command"] == "python -m rnnlib.pretrain ntm-copy --seed 0"


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="split"):
        N.copy_batch(2, 3, split="dev")
    with pytest.raises(ValueError, match="length"):
        N.copy_batch(2, 0)
    with pytest.raises(ValueError, match="x: expected shape"):
        N.NTM(bits=4)(torch.zeros(1, 3, 4))
    with pytest.raises(ValueError, match="task"):
        pretrain.run("ntm-paste")
    with pytest.raises(ValueError, match="min_len"):
        N.train_copy(N.LSTMCopier(2, 4), steps=1, min_len=3, max_len=2, bits=2)
