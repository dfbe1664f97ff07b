"""The adaptive-computation-time section (rnnlib.apps.act)."""

import numpy as np
import pytest
import torch

from rnnlib.apps import act as A


def test_parity_batches_are_deterministic_and_correct():
    x1, y1, k1 = A.parity_batch(50, 6, seed=2, split="train")
    x2, y2, k2 = A.parity_batch(50, 6, seed=2, split="train")
    np.testing.assert_array_equal(x1, x2)
    x3, _, _ = A.parity_batch(50, 6, seed=2, split="test")
    assert not np.array_equal(x1, x3)
    assert x1.shape == (50, 6) and y1.shape == (50,) and k1.shape == (50,)
    np.testing.assert_array_equal((x1 != 0).sum(1), k1)
    np.testing.assert_array_equal(y1, (x1 == 1).sum(1) % 2)
    assert k1.min() >= 1 and k1.max() <= 6



def test_parity_positions_signs_and_difficulty_are_uniform():
    """k is uniform on 1..bits; given k, every position is non-zero with probability k / bits
    (a uniform k-subset); a non-zero entry is +1 or -1 with equal odds."""
    x, _, k = A.parity_batch(30000, 6, seed=3)
    np.testing.assert_allclose(np.bincount(k, minlength=7)[1:] / len(k), 1 / 6, atol=0.012)
    for j in range(1, 7):
        np.testing.assert_allclose((x[k == j] != 0).mean(0), j / 6, atol=0.03)
    assert abs((x == 1).sum() / (x != 0).sum() - 0.5) < 0.01
    assert x.dtype == np.float32 and set(np.unique(x)) <= {-1.0, 0.0, 1.0}

def _act_reference(model, x):
    """ACT for one example at a time, written from Graves (2016), equations (5)-(11)."""
    outs, costs = [], []
    for row in x:
        s = torch.zeros(1, model.cell.hidden_size, dtype=x.dtype)
        total, out = 0.0, 0.0
        for n in range(model.max_steps):
            inp = torch.cat([row, torch.tensor([1.0 if n == 0 else 0.0], dtype=x.dtype)])[None]
            s = model.cell(inp, s)
            p = torch.sigmoid(model.halt(s))[0, 0]
            if total + p >= 1 - model.eps or n == model.max_steps - 1:
                R = 1 - total
                out = out + R * model.out(s)[0, 0]
                costs.append(n + 1 + R)
                break
            out = out + p * model.out(s)[0, 0]
            total = total + p
        outs.append(out)
    return torch.stack(outs), torch.stack(costs)


def test_batched_act_and_its_gradient_match_the_per_example_reference():
    torch.manual_seed(0)
    model = A.ACTParity(bits=4, hidden=6, max_steps=5).double()
    with torch.no_grad():
        model.halt.bias.fill_(-1.0)  # 3 to 5 ponder steps, different per example
    x = torch.from_numpy(A.parity_batch(7, 4, seed=0)[0]).double()
    out, cost, steps = model(x)
    ref_out, ref_cost = _act_reference(model, x)
    assert steps.min() < steps.max(), "the test should exercise different numbers of steps"
    assert torch.allclose(out, ref_out, atol=1e-10) and torch.allclose(cost, ref_cost, atol=1e-10)
    params = list(model.parameters())
    g1 = torch.autograd.grad((out + cost).sum(), params)
    ref_out, ref_cost = _act_reference(model, x)
    g2 = torch.autograd.grad((ref_out + ref_cost).sum(), params)
    for a, b in zip(g1, g2):
        assert torch.allclose(a, b, atol=1e-9)


def test_one_step_model_takes_one_step():
    model = A.ACTParity(bits=5, hidden=4, act=False)
    out, cost, steps = model(torch.zeros(3, 5))
    assert out.shape == (3,) and (steps == 1).all() and (cost == 1).all()


def test_training_smoke_loss_goes_down():
    torch.manual_seed(0)
    model = A.ACTParity(bits=3, hidden=16, max_steps=4)
    hist = A.train_parity(model, steps=200, batch_size=64, lr=1e-2, log_every=50)
    assert hist["loss"][-1] < hist["loss"][0]
    acc, ponder, detail = A.parity_accuracy(model, n=100)
    assert 0 <= acc <= 1 and 1 <= ponder <= 4 and detail["k"].shape == (100,)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="split"):
        A.parity_batch(2, 4, split="dev")
    with pytest.raises(ValueError, match="profile"):
        A.act_config("huge")
    with pytest.raises(ValueError, match="x: expected shape"):
        A.ACTParity(bits=4)(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="steps"):
        A.train_parity(A.ACTParity(bits=2), steps=0)
