"""Tools for studying the stability of recurrent networks (chapter 3).

Two conventions appear, and every function says which one it uses:

- **Column convention** of the linear-algebra lectures: the state is a column vector and a
  recurrence reads ``h_t = f(W h_{t-1} + C x_t + b)`` with ``W`` of shape (n, n) and ``C`` of
  shape (n, m). Arrays of states are returned as ``(T, n)``, one state per row.
- **Row-vector convention** of the rest of rnnlib (batch-first): ``a_t = x_t Wx + h_{t-1} Wh + b``,
  ``h_t = f(a_t)`` with ``x`` (N, T, D), ``h0`` (N, H), ``Wx`` (D, H), ``Wh`` (H, H), ``b`` (H,).
  A column-convention ``W`` corresponds to the row-convention ``Wh = W.T``.

One module per idea; every public name is re-exported here, so ``from rnnlib.stability import X``
works for all of them:

- activations and their derivatives, with the bound ``gamma`` on ``|f'|``: the table of
  :mod:`rnnlib.activations` (``ACTIVATIONS``, ``DERIVATIVE_BOUND``, ``activation_function``,
  ``activation_derivative``, ``derivative_from_output``);
- ``spectra``: spectral radius, largest singular value, matrices with chosen eigenvalues;
- ``dynamics``: linear and non-linear recurrences (scalar and vector), impulse responses;
- ``jacobians``: Jacobians of hidden states, gradients carried back through them, and the
  norm bound ``||dL/dh_t|| <= ||dL/dh_T|| prod_k sigma_max(D_k) sigma_max(W)``;
- ``remedies``: leaky units with time constants, skip connections through time, and a
  training loop with a linear readout of the last state;
- ``esn``: an echo state network with a trained linear readout;
- ``mlp``: a deep feed-forward network's per-layer gradient norms at initialisation.
"""

from ..activations import BOUND as DERIVATIVE_BOUND
from ..activations import NAMES as ACTIVATIONS
from ..activations import derivative as activation_derivative
from ..activations import derivative_from_output
from ..activations import function as activation_function
from .dynamics import impulse_response, scalar_recurrence, simulate_recurrence
from .esn import EchoStateNetwork
from .jacobians import backprop_through_jacobians, gradient_norm_bound, hidden_state_jacobians
from .mlp import mlp_gradient_norms, mlp_init
from .remedies import (
    leaky_rnn_backward,
    leaky_rnn_forward,
    skip_rnn_backward,
    skip_rnn_forward,
    train_last_step_regressor,
)
from .spectra import (
    matrix_with_eigenvalues,
    max_singular_value,
    scale_to_spectral_radius,
    spectral_radius,
)

__all__ = [
    "ACTIVATIONS",
    "DERIVATIVE_BOUND",
    "activation_function",
    "activation_derivative",
    "derivative_from_output",
    "spectral_radius",
    "max_singular_value",
    "scale_to_spectral_radius",
    "matrix_with_eigenvalues",
    "simulate_recurrence",
    "impulse_response",
    "scalar_recurrence",
    "hidden_state_jacobians",
    "backprop_through_jacobians",
    "gradient_norm_bound",
    "leaky_rnn_forward",
    "leaky_rnn_backward",
    "skip_rnn_forward",
    "skip_rnn_backward",
    "EchoStateNetwork",
    "train_last_step_regressor",
    "mlp_init",
    "mlp_gradient_norms",
]
