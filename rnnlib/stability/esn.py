"""An echo state network: a fixed random reservoir and a linear readout trained in closed form."""

import numpy as np

from .._checks import check_shape
from .spectra import scale_to_spectral_radius

__all__ = ["EchoStateNetwork"]


class EchoStateNetwork:
    """An echo state network: a fixed random reservoir and a trained linear readout.

    The reservoir state follows (row-vector convention)

        ``r_t = (1 - leak) r_{t-1} + leak * tanh(u_t W_in + r_{t-1} W + b)``

    with ``W`` random and rescaled to the chosen spectral radius (near but below 1, so the
    reservoir forgets its initial state while it keeps a fading memory of the input). Only
    the readout ``y_t = [r_t, 1] W_out`` is trained, by ridge regression in closed form:

        ``W_out = (S^T S + ridge I)^-1 S^T Y``  with ``S`` the rows ``[r_t, 1]`` after the washout.

    No gradient flows through time, so nothing can vanish or explode.

    Inputs:

    - input_size: D; reservoir_size: R.
    - spectral_radius: ``rho(W)`` after rescaling.
    - input_scale: entries of ``W_in`` are uniform in ``[-input_scale, input_scale]``.
    - leak: leak rate in (0, 1].
    - bias_scale: entries of ``b`` are uniform in ``[-bias_scale, bias_scale]``.
    - rng: ``numpy.random.Generator``.
    """

    def __init__(self, input_size, reservoir_size, spectral_radius=0.95, input_scale=1.0,
                 leak=1.0, bias_scale=0.0, rng=None):
        if rng is None:
            raise ValueError("rng is None; pass a numpy.random.Generator")
        if not 0 < leak <= 1:
            raise ValueError(f"leak is {leak}; expected a value in (0, 1]")
        self.leak = float(leak)
        self.W_in = rng.uniform(-input_scale, input_scale, (input_size, reservoir_size))
        W = rng.standard_normal((reservoir_size, reservoir_size))
        self.W = scale_to_spectral_radius(W, spectral_radius)
        self.b = rng.uniform(-bias_scale, bias_scale, reservoir_size)
        self.W_out = None

    def run(self, u, r0=None):
        """Return the reservoir states ``(T, R)`` driven by the inputs ``u`` of shape ``(T, D)``."""
        u = np.asarray(u, dtype=float)
        check_shape("u", u, ("T", "D"), (None, self.W_in.shape[0]), "D = input_size")
        R = self.W.shape[0]
        r = np.zeros(R) if r0 is None else np.asarray(r0, dtype=float)
        drive = u @ self.W_in + self.b
        states = np.empty((u.shape[0], R))
        for t in range(u.shape[0]):
            r = states[t] = self._step(r, drive[t])
        return states

    def _step(self, r, drive):
        """One reservoir update from the state ``r`` and the input drive ``u_t W_in + b``."""
        return (1 - self.leak) * r + self.leak * np.tanh(drive + r @ self.W)

    @staticmethod
    def _design(states):
        return np.hstack([states, np.ones((states.shape[0], 1))])

    def _solve_readout(self, states, y, ridge):
        """``W_out = (S^T S + ridge I)^-1 S^T y`` with ``S`` the rows ``[r, 1]``."""
        S = self._design(states)
        self.W_out = np.linalg.solve(S.T @ S + ridge * np.eye(S.shape[1]), S.T @ y)

    def fit(self, u, y, washout=100, ridge=1e-6):
        """Fit the readout on inputs ``u`` (T, D) and targets ``y`` (T, K); return ``self``.

        The first ``washout`` steps, where the state still depends on ``r_{-1} = 0``, are
        left out of the regression.
        """
        y = np.asarray(y, dtype=float)
        if y.ndim == 1:
            y = y[:, None]
        check_shape("y", y, ("T", "K"), (np.shape(u)[0], None), "T = u.shape[0]")
        self._solve_readout(self.run(u)[washout:], y[washout:], ridge)
        return self

    def predict(self, u):
        """Readout ``(T, K)`` for the inputs ``u`` (T, D), starting from ``r_{-1} = 0``."""
        if self.W_out is None:
            raise ValueError("the readout is not trained yet; call fit first")
        return self._design(self.run(u)) @ self.W_out

    def final_states(self, x):
        """Reservoir states after the last step, ``(N, R)``, for a batch ``x`` of shape (N, T, D).

        Every sequence starts from ``r_{-1} = 0``; row ``n`` equals ``run(x[n])[-1]``. Only the
        last state is kept, so memory stays ``O(N R)`` whatever the length ``T``.
        """
        x = np.asarray(x, dtype=float)
        check_shape("x", x, ("N", "T", "D"), (None, None, self.W_in.shape[0]), "D = input_size")
        r = np.zeros((x.shape[0], self.W.shape[0]))
        for t in range(x.shape[1]):
            r = self._step(r, x[:, t] @ self.W_in + self.b)
        return r

    def fit_final(self, x, y, ridge=1e-6):
        """Fit the readout for a many-to-one task: from the last state of each sequence in ``x``
        (N, T, D) to its target ``y`` (N,) or (N, K), by ridge regression; return ``self``."""
        y = np.asarray(y, dtype=float)
        if y.ndim == 1:
            y = y[:, None]
        check_shape("y", y, ("N", "K"), (np.shape(x)[0], None), "N = x.shape[0]")
        self._solve_readout(self.final_states(x), y, ridge)
        return self

    def predict_final(self, x):
        """Readout ``(N, K)`` from the last state of each sequence in ``x`` (N, T, D)."""
        if self.W_out is None:
            raise ValueError("the readout is not trained yet; call fit_final first")
        return self._design(self.final_states(x)) @ self.W_out
