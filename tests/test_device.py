"""Device and run-profile selection of the torch labs (rnnlib.device)."""

import numpy as np
import pytest
import torch

from rnnlib import device as D


@pytest.fixture(autouse=True)
def no_profile_env(monkeypatch):
    monkeypatch.delenv(D.PROFILE_ENV, raising=False)


def test_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert D.get_device().type == "cpu"
    assert D.get_profile() == "smoke"
    with pytest.raises(RuntimeError, match="CUDA"):
        D.get_device(prefer="cuda")


def test_cuda_when_available(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert D.get_device().type == "cuda"
    assert D.get_device(prefer="cpu").type == "cpu", "prefer='cpu' must win over an available GPU"
    assert D.get_profile() == "full"


def test_profile_follows_the_device_given():
    assert D.get_profile(torch.device("cuda")) == "full"
    assert D.get_profile(torch.device("cpu")) == "smoke"
    assert D.get_profile("cuda") == "full"


@pytest.mark.parametrize(
    "value, expected", [("smoke", "smoke"), ("full", "full"), (" FULL ", "full")]
)
def test_environment_overrides_profile(monkeypatch, value, expected):
    monkeypatch.setenv(D.PROFILE_ENV, value)
    assert D.get_profile(torch.device("cpu")) == expected
    assert D.get_profile(torch.device("cuda")) == expected


def test_bad_profile_names_the_variable(monkeypatch):
    monkeypatch.setenv(D.PROFILE_ENV, "huge")
    with pytest.raises(ValueError, match="RNNLIB_PROFILE"):
        D.get_profile()


def test_bad_preference():
    with pytest.raises(ValueError, match="prefer"):
        D.get_device(prefer="tpu")


def test_seed_everything_reproduces_draws():
    D.seed_everything(7)
    first = (torch.rand(3), np.random.rand(3))
    D.seed_everything(7)
    second = (torch.rand(3), np.random.rand(3))
    assert torch.equal(first[0], second[0]) and np.array_equal(first[1], second[1])


def test_setup_sets_threads_and_returns_device_and_profile(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    before = torch.get_num_threads()
    try:
        device, profile = D.setup(seed=1, threads=1)
        assert torch.get_num_threads() == 1
        assert (device.type, profile) == ("cpu", "smoke")
    finally:
        torch.set_num_threads(before)


def test_max_threads_caps_setup_and_names_a_bad_value(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("RNNLIB_MAX_THREADS", "1")
        D.setup(seed=0, threads=2)
        assert torch.get_num_threads() == 1
        monkeypatch.setenv("RNNLIB_MAX_THREADS", "4")
        D.setup(seed=0, threads=2)
        assert torch.get_num_threads() == 2
        monkeypatch.delenv("RNNLIB_MAX_THREADS")
        assert D.max_threads() is None
        for bad in ("0", "two", "-1"):
            monkeypatch.setenv("RNNLIB_MAX_THREADS", bad)
            with pytest.raises(ValueError, match=f"RNNLIB_MAX_THREADS.*{bad!r}"):
                D.setup(seed=0, threads=2)
    finally:
        torch.set_num_threads(before)


def test_importing_before_torch_sets_passive_waiting():
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    code = "import rnnlib.device, os, torch; print(os.environ.get('OMP_WAIT_POLICY'))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "PASSIVE"
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "ACTIVE", "an explicit setting must be kept"


def test_rnnlib_device_re_exports_the_captioning_module():
    from rnnlib.captioning import device as home

    for name in ("get_device", "get_profile", "seed_everything", "setup", "PROFILES",
                 "PROFILE_ENV"):
        assert getattr(D, name) is getattr(home, name), name
