"""A small character-level language model built only from rnnlib layers.

The model reads characters as integer ids and predicts the next character at every step::

    e_t   = W_embed[x_t]                              word_embedding_forward   (N, T, D)
    h_t   = tanh(e_t W_x + h_{t-1} W_h + b)           rnn_forward              (N, T, H)
    o_t   = h_t W_y + b_y                             temporal_affine_forward  (N, T, V)
    L     = -(1/N) sum_n sum_t log softmax(o_t)[y_t]  temporal_softmax_loss

so the loss is summed over time and averaged over the batch, as everywhere in rnnlib.
:func:`train_charlm` fits the parameters with Adam and global gradient-norm clipping on
random windows of a text; :func:`sample` generates text at a chosen temperature.

Parameters are one dict with the keys ``W_embed`` (V, D), ``Wx`` (D, H), ``Wh`` (H, H),
``b`` (H,), ``Wy`` (H, V) and ``by`` (V,).
"""

import numpy as np

from . import training
from ._checks import check_index_array, check_shape
from .init import glorot_uniform, orthogonal
from .layers import (
    log_softmax,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)
from .rnn import rnn_backward, rnn_forward, rnn_step_forward

__all__ = [
    "PARAM_NAMES",
    "init_charlm",
    "charlm_loss",
    "charlm_scores",
    "sample_windows",
    "fit",
    "train_charlm",
    "evaluate_charlm",
    "sample",
]

PARAM_NAMES = ("W_embed", "Wx", "Wh", "b", "Wy", "by")


def init_charlm(V, H, rng, D=32, dtype=np.float64):
    """Initial parameters of a character language model.

    Embeddings are drawn from N(0, 1); ``Wx`` and ``Wy`` are Glorot uniform; ``Wh`` is
    orthogonal (so a step neither shrinks nor stretches the state at the start); biases
    are zero.

    Inputs:

    - V: vocabulary size
    - H: hidden size
    - rng: numpy.random.Generator
    - D: embedding size
    - dtype: floating dtype of every parameter

    Returns:

    - params: dict with ``W_embed`` (V, D), ``Wx`` (D, H), ``Wh`` (H, H), ``b`` (H,),
      ``Wy`` (H, V), ``by`` (V,)
    """
    for name, value in (("V", V), ("H", H), ("D", D)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    params = {
        "W_embed": rng.standard_normal((V, D)),
        "Wx": glorot_uniform(D, H, rng),
        "Wh": orthogonal((H, H), rng),
        "b": np.zeros(H),
        "Wy": glorot_uniform(H, V, rng),
        "by": np.zeros(V),
    }
    return {name: value.astype(dtype) for name, value in params.items()}


def _check_params(params):
    missing = [name for name in PARAM_NAMES if name not in params]
    if missing:
        raise ValueError(f"params is missing {missing}; expected the keys {list(PARAM_NAMES)}")
    V, D = np.shape(params["W_embed"])
    H = np.shape(params["Wh"])[0]
    check_shape("Wy", params["Wy"], ("H", "V"), (H, V), "H = Wh.shape[0] and V = W_embed.shape[0]")
    check_shape("by", params["by"], ("V",), (V,), "V = W_embed.shape[0]")
    return V, D, H


def charlm_loss(params, x, y, h0=None):
    """Loss and gradients of the character language model on one batch.

    Inputs:

    - params: dict of parameters (see :func:`init_charlm`)
    - x: (N, T) integer input ids
    - y: (N, T) integer target ids (usually ``x`` shifted by one character)
    - h0: (N, H) initial hidden state, or None for zeros

    Returns a tuple of:

    - loss: float, summed over the T steps and averaged over the N sequences
      (divide by T for nats per character)
    - grads: dict with the gradient of every parameter (same keys and shapes as ``params``)
    - h_last: (N, H) the hidden state after the last step
    """
    V, D, H = _check_params(params)
    x = check_index_array("x", x, V, "V")
    check_shape("x", x, ("N", "T"))
    N, T = x.shape
    check_shape("y", y, ("N", "T"), (N, T), "N, T = x.shape")
    if h0 is None:
        h0 = np.zeros((N, H), dtype=params["Wh"].dtype)

    embedded, embed_cache = word_embedding_forward(x, params["W_embed"])
    h, rnn_cache = rnn_forward(embedded, h0, params["Wx"], params["Wh"], params["b"])
    scores, affine_cache = temporal_affine_forward(h, params["Wy"], params["by"])
    loss, dscores = temporal_softmax_loss(scores, y, np.ones((N, T), dtype=bool))

    dh, dWy, dby = temporal_affine_backward(dscores, affine_cache)
    dembedded, _, dWx, dWh, db = rnn_backward(dh, rnn_cache)
    dW_embed = word_embedding_backward(dembedded, embed_cache)
    grads = {"W_embed": dW_embed, "Wx": dWx, "Wh": dWh, "b": db, "Wy": dWy, "by": dby}
    return float(loss), grads, h[:, -1]


def sample_windows(ids, batch_size, seq_len, rng):
    """Draw random training windows from a long sequence of ids.

    Inputs:

    - ids: (L,) integer ids of the whole text, L > seq_len
    - batch_size: N, number of windows
    - seq_len: T, length of each window
    - rng: numpy.random.Generator

    Returns a tuple of:

    - x: (N, T) ids starting at random offsets
    - y: (N, T) the next characters, ``y[n, t] = ids[start_n + t + 1]``
    """
    ids = np.asarray(ids)
    if ids.ndim != 1 or len(ids) <= seq_len:
        raise ValueError(
            f"ids must be 1-D and longer than seq_len={seq_len}, got shape {ids.shape}")
    starts = rng.integers(0, len(ids) - seq_len, size=batch_size)
    offsets = starts[:, None] + np.arange(seq_len)[None, :]
    return ids[offsets], ids[offsets + 1]


def fit(params, loss_and_grads, sample_batch, num_steps, learning_rate=1e-2, max_norm=5.0,
        progress=False, description="training", callback=None):
    """A general training loop: Adam with global gradient-norm clipping, in place.

    This is :func:`rnnlib.training.fit` with the arrays of ``params`` updated in place and
    an error when the loss stops being finite.
    Each step draws a batch with ``sample_batch()``, calls
    ``loss, grads = loss_and_grads(params, *batch)``, rescales the gradients so that their
    global norm is at most ``max_norm`` (:func:`rnnlib.optim.clip_grad_norm`) and applies
    one step of :class:`rnnlib.optim.Adam`.

    Inputs:

    - params: dict of float arrays, updated in place
    - loss_and_grads: function ``(params, *batch) -> (loss, grads)`` where ``grads`` has
      the keys of ``params``
    - sample_batch: function of no arguments returning a tuple ``batch``
    - num_steps: number of Adam steps
    - learning_rate: Adam step size
    - max_norm: clipping threshold of the global gradient norm, or None for no clipping
    - progress: show a ``tqdm.auto`` progress bar
    - description: label of the progress bar
    - callback: optional function ``callback(step, history)`` called after every step
      (``step`` counts from 1), for example to evaluate on held-out data

    Returns:

    - history: dict of lists with one entry per step: ``loss`` and ``grad_norm`` (the
      global norm before clipping)

    Raises ``FloatingPointError`` when the loss is not finite.
    """
    def report(step, history):
        if callback is not None:
            callback(step, history)
        if (step - 1) % 50 == 0:
            return {"loss": f"{history['loss'][-1]:.4f}"}
        return None

    history = training.fit(params, loss_and_grads, sample_batch, num_steps,
                           learning_rate=learning_rate, max_norm=max_norm, in_place=True,
                           on_divergence="raise", callback=report, progress=progress,
                           description=description)
    return {"loss": history["loss"], "grad_norm": history["grad_norm"]}


def train_charlm(ids, params, num_steps, rng, batch_size=32, seq_len=64,
                 learning_rate=3e-3, max_norm=25.0, progress=True, eval_ids=None, eval_every=100):
    """Train a character language model in place with Adam and gradient clipping.

    Every step draws ``batch_size`` random windows of ``seq_len`` characters (the hidden
    state starts at zero in each window, so gradients flow back at most ``seq_len`` steps),
    computes :func:`charlm_loss`, rescales the gradients to a global norm of at most
    ``max_norm`` with :func:`rnnlib.optim.clip_grad_norm` and takes one Adam step
    (this is :func:`fit` with the character model's loss).

    Inputs:

    - ids: (L,) integer ids of the training text
    - params: dict from :func:`init_charlm`, updated in place
    - num_steps: number of Adam steps
    - rng: numpy.random.Generator that draws the windows
    - batch_size, seq_len: N and T of each batch
    - learning_rate: Adam step size
    - max_norm: clipping threshold (None turns clipping off). The gradient is that of the
      loss summed over the window, so its norm grows with ``seq_len``; the default suits
      windows of a few dozen characters and clips only the largest steps
    - progress: show a ``tqdm.auto`` progress bar (turn it off in notebooks that are
      rendered as static pages)
    - eval_ids: optional (L,) ids of held-out text, scored with :func:`evaluate_charlm`
      every ``eval_every`` steps and after the last step
    - eval_every: evaluation interval in steps

    Returns:

    - history: dict of lists, one entry per step: ``loss`` (nats per character, that is
      the batch loss divided by ``seq_len``) and ``grad_norm`` (the norm, before clipping,
      of the gradient of the loss summed over the window); with ``eval_ids`` also
      ``eval_step`` and ``eval_loss`` (nats per character)
    """
    _check_params(params)
    evaluations = {"eval_step": [], "eval_loss": []}

    def evaluate(step, history):
        if step % eval_every == 0 or step == num_steps:
            evaluations["eval_step"].append(step)
            evaluations["eval_loss"].append(evaluate_charlm(params, eval_ids))

    def loss_and_grads(params, x, y):
        loss, grads, _ = charlm_loss(params, x, y)
        return loss, grads

    history = fit(params, loss_and_grads, lambda: sample_windows(ids, batch_size, seq_len, rng),
                  num_steps, learning_rate=learning_rate, max_norm=max_norm,
                  progress=progress, description="char-LM",
                  callback=None if eval_ids is None else evaluate)
    # The gradients are those of the loss summed over the window; report nats per character.
    history["loss"] = [loss / seq_len for loss in history["loss"]]
    if eval_ids is not None:
        history.update(evaluations)
    return history


def charlm_scores(params, x, h0=None):
    """Forward pass only: scores of the next character at every step.

    Inputs:

    - params: dict of parameters
    - x: (N, T) integer input ids
    - h0: (N, H) initial hidden state, or None for zeros

    Returns a tuple of:

    - scores: (N, T, V) unnormalised log probabilities of the next character
    - h_last: (N, H) the hidden state after the last step
    """
    V, D, H = _check_params(params)
    x = check_index_array("x", x, V, "V")
    check_shape("x", x, ("N", "T"))
    if h0 is None:
        h0 = np.zeros((x.shape[0], H), dtype=params["Wh"].dtype)
    embedded, _ = word_embedding_forward(x, params["W_embed"])
    h, _ = rnn_forward(embedded, h0, params["Wx"], params["Wh"], params["b"])
    scores, _ = temporal_affine_forward(h, params["Wy"], params["by"])
    return scores, h[:, -1]


def evaluate_charlm(params, ids):
    """Average loss in nats per character of the model reading ``ids`` as one sequence.

    The text is read from a zero state; the loss counts the predictions of
    ``ids[1:]`` from ``ids[:-1]``. Only the forward pass runs.

    Inputs:

    - params: dict of parameters
    - ids: (L,) integer ids, L >= 2

    Returns:

    - float, nats per character (``exp`` of it is the perplexity)
    """
    ids = np.asarray(ids)
    if ids.ndim != 1 or len(ids) < 2:
        raise ValueError(f"ids must be 1-D with at least 2 ids, got shape {ids.shape}")
    scores, _ = charlm_scores(params, ids[None, :-1])
    logp = log_softmax(scores[0])
    return float(-np.mean(logp[np.arange(len(ids) - 1), ids[1:]]))


def sample(params, prefix_ids, length, rng, temperature=1.0):
    """Generate ids one at a time, feeding each sampled id back as the next input.

    The model first reads ``prefix_ids``; then, ``length`` times, it draws the next id
    from ``softmax(o_t / temperature)``. A temperature below 1 sharpens the distribution
    (more likely, more repetitive text), above 1 flattens it; ``temperature=0`` picks the
    most likely id every time (greedy decoding).

    Inputs:

    - params: dict of parameters
    - prefix_ids: (P,) integer ids to start from, P >= 1
    - length: number of ids to generate
    - rng: numpy.random.Generator
    - temperature: float >= 0

    Returns:

    - (length,) int64 array of generated ids (the prefix is not included)
    """
    V, D, H = _check_params(params)
    prefix_ids = check_index_array("prefix_ids", prefix_ids, V, "V")
    if prefix_ids.ndim != 1 or len(prefix_ids) < 1:
        raise ValueError(f"prefix_ids must be 1-D and non-empty, got shape {prefix_ids.shape}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    Wx, Wh, b = params["Wx"], params["Wh"], params["b"]
    h = np.zeros((1, H), dtype=Wh.dtype)
    for token in prefix_ids[:-1]:
        h, _ = rnn_step_forward(params["W_embed"][token][None], h, Wx, Wh, b)
    token = prefix_ids[-1]
    out = np.empty(length, dtype=np.int64)
    for k in range(length):
        h, _ = rnn_step_forward(params["W_embed"][token][None], h, Wx, Wh, b)
        scores = (h @ params["Wy"] + params["by"])[0]
        if temperature == 0:
            token = int(np.argmax(scores))
        else:
            probs = np.exp(log_softmax(scores / temperature))
            token = int(rng.choice(V, p=probs / probs.sum()))
        out[k] = token
    return out
