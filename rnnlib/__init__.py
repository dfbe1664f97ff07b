"""rnnlib: the numpy reference implementation of the course on recurrent neural networks.

Pure numpy (no torch), batch-first, row-vector layout ``a = x @ Wx + h_prev @ Wh + b``.
Layers are pairs of functions: ``*_forward`` returns ``(out, cache)`` and
``*_backward(dout, cache)`` returns one gradient per input. Every function keeps the
input dtype and raises ``ValueError`` naming the argument when a shape is wrong.

Modules: ``rnn`` (vanilla RNN), ``lstm``, ``gru``, ``layers`` (embedding, temporal affine,
temporal softmax loss, stable sigmoid and softmax), ``activations`` (the activation table),
``cells`` (the registry of cell kinds), ``gradcheck``, ``init``, ``optim`` (SGD, Adam,
gradient clipping), ``training`` (the one training loop, ``fit``) and ``multilayer``
(stacked and bidirectional networks). Chapter modules built on them: ``train`` (many-to-one
models), ``charlm`` (a character language model), ``stability`` (chapter 3), ``data`` and
``tasks`` (data sets), ``captioning`` (the torch labs).
"""

from .gradcheck import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
    rel_error,
)
from .gru import gru_backward, gru_forward, gru_step_backward, gru_step_forward
from .init import glorot_normal, glorot_uniform, init_rnn_params, orthogonal, scaled_identity
from .layers import (
    affine_backward,
    affine_forward,
    log_softmax,
    sigmoid,
    softmax,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)
from .lstm import (
    lstm_backward,
    lstm_backward_peephole,
    lstm_cell_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_backward_peephole,
    lstm_step_forward,
)
from .multilayer import (
    CELLS,
    bidirectional_backward,
    bidirectional_forward,
    layer_backward,
    layer_forward,
    stacked_backward,
    stacked_forward,
)
from .optim import SGD, Adam, adam, clip_grad_norm, global_norm, sgd
from .rnn import ACTIVATIONS, rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward

__all__ = [
    # vanilla RNN
    "ACTIVATIONS",
    "rnn_step_forward",
    "rnn_step_backward",
    "rnn_forward",
    "rnn_backward",
    # LSTM
    "lstm_step_forward",
    "lstm_step_backward",
    "lstm_forward",
    "lstm_backward",
    "lstm_step_backward_peephole",
    "lstm_backward_peephole",
    "lstm_cell_backward",
    # GRU
    "gru_step_forward",
    "gru_step_backward",
    "gru_forward",
    "gru_backward",
    # layers
    "sigmoid",
    "softmax",
    "log_softmax",
    "affine_forward",
    "affine_backward",
    "word_embedding_forward",
    "word_embedding_backward",
    "temporal_affine_forward",
    "temporal_affine_backward",
    "temporal_softmax_loss",
    # gradient checking
    "rel_error",
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "grad_check_sparse",
    # initialisation
    "glorot_uniform",
    "glorot_normal",
    "orthogonal",
    "scaled_identity",
    "init_rnn_params",
    # optimisation
    "sgd",
    "adam",
    "SGD",
    "Adam",
    "clip_grad_norm",
    "global_norm",
    # stacked and bidirectional networks
    "CELLS",
    "layer_forward",
    "layer_backward",
    "stacked_forward",
    "stacked_backward",
    "bidirectional_forward",
    "bidirectional_backward",
]
