"""Torch models of the captioning labs: a small CNN encoder and three recurrent decoders.

Notation follows the book (row vectors): x_t is the embedding of the word fed at step t, v the
image vector from the CNN, h_t and c_t the LSTM state, gate blocks ordered (i, f, g, o).

* ``LSTMDecoder(conditioning="inject")`` -- the lecture's conditioning
  h_t = tanh(x_t W_xh + h_{t-1} W_hh + v W_ih) carried over to the LSTM: the image term v W_ih is
  added to the gate pre-activations at **every** step,
  ``a_t = x_t W_x + h_{t-1} W_h + v W_i + b`` and ``(i, f, g, o) = split(a_t)``.
  Feeding the concatenation [x_t, v] to a standard LSTM computes exactly this sum, because
  [x_t, v] [W_x; W_i] = x_t W_x + v W_i; so W_i is the block of torch's ``weight_ih`` that acts on
  v, and the fast fused LSTM does the work.
* ``LSTMDecoder(conditioning="first_input")`` -- the image as the first input (as in "Show and
  Tell"): x_0 = v W_p is fed once before <start>; afterwards only words enter.
* ``AttentionDecoder`` -- soft attention over the CNN feature map in the style of "Show, Attend
  and Tell": at each step the previous state h_{t-1} scores every location, the softmax of the
  scores (alpha_t) weights the features into a context z_t, and [x_t, z_t] enters the LSTM.

Every decoder offers ``forward(encoded, tokens) -> (logits, aux)`` for teacher forcing and
``init_state(encoded)`` / ``step(tokens, state) -> (logits, state, aux)`` for decoding. A state is
a tuple of tensors whose first dimension is the batch, so beam search can reorder it.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class CNNEncoder(nn.Module):
    """Three 3x3 conv blocks (conv, batch norm, ReLU), max-pooling after the first two.

    Input (N, 3, S, S) in [0, 1]. Returns the feature map (N, C, S/4, S/4) and the image vector
    v (N, image_dim): the flattened map through a linear layer and ReLU. Flattening, rather than
    global pooling, keeps where things are, which the spatial relations need.
    """

    def __init__(self, image_size: int = 32, channels=(32, 64, 64), image_dim: int = 128):
        super().__init__()
        if image_size % 4:
            raise ValueError(f"image_size: expected a multiple of 4, got {image_size}")
        layers, c_in = [], 3
        for k, c_out in enumerate(channels):
            layers += [
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(),
            ]
            if k < 2:
                layers.append(nn.MaxPool2d(2))
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.grid = image_size // 4
        self.channels = c_in
        self.to_vector = nn.Sequential(
            nn.Flatten(), nn.Linear(c_in * self.grid**2, image_dim), nn.ReLU()
        )
        self.image_dim = image_dim

    def forward(self, images: torch.Tensor):
        fmap = self.features(images)
        return fmap, self.to_vector(fmap)


class LSTMDecoder(nn.Module):
    """LSTM caption decoder conditioned on the image vector v ("inject" or "first_input")."""

    CONDITIONINGS = ("inject", "first_input")

    def __init__(
        self,
        vocab_size: int,
        image_dim: int,
        embed_dim: int = 64,
        hidden_dim: int = 128,
        conditioning: str = "inject",
        dropout: float = 0.0,
    ):
        super().__init__()
        if conditioning not in self.CONDITIONINGS:
            raise ValueError(
                f"conditioning: expected one of {self.CONDITIONINGS}, got {conditioning!r}"
            )
        self.conditioning = conditioning
        self.embed = nn.Embedding(vocab_size, embed_dim)
        if conditioning == "inject":
            self.lstm = nn.LSTM(embed_dim + image_dim, hidden_dim, batch_first=True)
        else:
            # x_0 = LayerNorm(v W_p): the normalisation puts x_0 on the scale of the word
            # embeddings (unit variance); without it the first input is too faint at the start of
            # training and the decoder settles into ignoring the image.
            self.image_to_input = nn.Sequential(
                nn.Linear(image_dim, embed_dim), nn.LayerNorm(embed_dim)
            )
            self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_dim, vocab_size)
        self.hidden_dim = hidden_dim

    def _inputs(self, v: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens)  # (N, T, E)
        if self.conditioning == "inject":
            return torch.cat([x, v.unsqueeze(1).expand(-1, x.shape[1], -1)], dim=2)
        return x

    def forward(self, encoded, tokens: torch.Tensor):
        """Teacher forcing: tokens (N, T) are the inputs; returns logits (N, T, V) and {}."""
        state = self.init_state(encoded)
        h, c, v = state
        out, _ = self.lstm(
            self._inputs(v, tokens), (h.unsqueeze(0).contiguous(), c.unsqueeze(0).contiguous())
        )
        return self.out(self.dropout(out)), {}

    def init_state(self, encoded):
        """(h_0, c_0, v): zeros for "inject"; the state after reading x_0 = v W_p for "first_input".
        """
        _, v = encoded
        n = v.shape[0]
        zeros = v.new_zeros(1, n, self.hidden_dim)
        if self.conditioning == "inject":
            return zeros[0], zeros[0], v
        _, (h, c) = self.lstm(self.image_to_input(v).unsqueeze(1), (zeros, zeros))
        return h[0], c[0], v

    def step(self, tokens: torch.Tensor, state):
        """One step: tokens (N,) -> logits (N, V), the new state, {}."""
        h, c, v = state
        x = self._inputs(v, tokens.unsqueeze(1))
        out, (h, c) = self.lstm(x, (h.unsqueeze(0).contiguous(), c.unsqueeze(0).contiguous()))
        return self.out(out[:, 0]), (h[0], c[0], v), {}


class AttentionDecoder(nn.Module):
    """LSTM decoder with soft (additive) attention over the L = G*G locations of the feature map.

    The locations' features a_i (C channels plus their normalised (row, col) coordinates, so the
    context says *where* it looked) are scored against the previous state::

        e_ti = w^T tanh(a_i W_a + h_{t-1} W_ha),  alpha_t = softmax(e_t),  z_t = sum_i alpha_ti a_i

    z_t is scaled by a gate beta_t = sigmoid(h_{t-1} W_beta) ("Show, Attend and Tell", 4.2.1),
    the LSTM reads [x_t, beta_t z_t], and the word logits come from [h_t, z_t].
    h_0 and c_0 are tanh of linear maps of the mean feature.
    """

    def __init__(
        self,
        vocab_size: int,
        feature_channels: int,
        grid: int,
        embed_dim: int = 64,
        hidden_dim: int = 128,
        attention_dim: int = 64,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.grid = grid
        feat = feature_channels + 2
        ys, xs = torch.meshgrid(
            torch.linspace(-1, 1, grid), torch.linspace(-1, 1, grid), indexing="ij"
        )
        self.register_buffer(
            "coords", torch.stack([ys, xs], dim=-1).reshape(grid * grid, 2), persistent=False
        )
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.init_h = nn.Linear(feat, hidden_dim)
        self.init_c = nn.Linear(feat, hidden_dim)
        self.att_features = nn.Linear(feat, attention_dim)  # W_a
        self.att_hidden = nn.Linear(hidden_dim, attention_dim, bias=False)  # W_ha
        self.att_score = nn.Linear(attention_dim, 1, bias=False)  # w
        self.gate = nn.Linear(hidden_dim, 1)  # W_beta
        self.cell = nn.LSTMCell(embed_dim + feat, hidden_dim)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_dim + feat, vocab_size)
        self.hidden_dim = hidden_dim

    def init_state(self, encoded):
        """(h_0, c_0, a, a W_a) with a (N, L, C+2) the located features."""
        fmap, _ = encoded
        n, c = fmap.shape[:2]
        a = fmap.reshape(n, c, -1).transpose(1, 2)
        a = torch.cat([a, self.coords.to(a.dtype).expand(n, -1, -1)], dim=2)
        mean = a.mean(dim=1)
        return torch.tanh(self.init_h(mean)), torch.tanh(self.init_c(mean)), a, self.att_features(a)

    def attend(self, h: torch.Tensor, a: torch.Tensor, a_proj: torch.Tensor):
        """alpha (N, L) and the gated context beta * z (N, C+2) for the state h (N, H)."""
        scores = self.att_score(torch.tanh(a_proj + self.att_hidden(h).unsqueeze(1))).squeeze(2)
        alpha = torch.softmax(scores.float(), dim=1).to(a.dtype)
        z = torch.bmm(alpha.unsqueeze(1), a).squeeze(1)
        return alpha, torch.sigmoid(self.gate(h)) * z

    def step(self, tokens: torch.Tensor, state):
        """One step: tokens (N,) -> logits (N, V), the new state, {"alpha": (N, L)}."""
        h, c, a, a_proj = state
        alpha, z = self.attend(h, a, a_proj)
        h, c = self.cell(torch.cat([self.embed(tokens), z], dim=1), (h, c))
        logits = self.out(self.dropout(torch.cat([h, z], dim=1)))
        return logits, (h, c, a, a_proj), {"alpha": alpha}

    def forward(self, encoded, tokens: torch.Tensor):
        """Teacher forcing: tokens (N, T) -> logits (N, T, V), {"alphas": (N, T, L)}."""
        state = self.init_state(encoded)
        logits, alphas = [], []
        for t in range(tokens.shape[1]):
            step_logits, state, aux = self.step(tokens[:, t], state)
            logits.append(step_logits)
            alphas.append(aux["alpha"])
        return torch.stack(logits, dim=1), {"alphas": torch.stack(alphas, dim=1)}


class ImageCaptioner(nn.Module):
    """Encoder + decoder; ``config`` holds the constructor arguments so a checkpoint can rebuild it.
    """

    def __init__(self, encoder: CNNEncoder, decoder: nn.Module, config: dict | None = None):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.config = dict(config or {})

    def encode(self, images: torch.Tensor):
        return self.encoder(images)

    def forward(self, images: torch.Tensor, tokens: torch.Tensor):
        return self.decoder(self.encode(images), tokens)


DECODERS = ("inject", "first_input", "attention")


def build_captioner(
    decoder: str,
    vocab_size: int,
    image_size: int = 32,
    channels=(32, 64, 64),
    image_dim: int = 128,
    embed_dim: int = 64,
    hidden_dim: int = 128,
    attention_dim: int = 64,
    dropout: float = 0.0,
) -> ImageCaptioner:
    """An ``ImageCaptioner`` with decoder "inject", "first_input" or "attention"."""
    if decoder not in DECODERS:
        raise ValueError(f"decoder: expected one of {DECODERS}, got {decoder!r}")
    config = dict(
        decoder=decoder,
        vocab_size=vocab_size,
        image_size=image_size,
        channels=list(channels),
        image_dim=image_dim,
        embed_dim=embed_dim,
        hidden_dim=hidden_dim,
        attention_dim=attention_dim,
        dropout=dropout,
    )
    encoder = CNNEncoder(image_size, tuple(channels), image_dim)
    if decoder == "attention":
        dec = AttentionDecoder(
            vocab_size,
            encoder.channels,
            encoder.grid,
            embed_dim,
            hidden_dim,
            attention_dim,
            dropout,
        )
    else:
        dec = LSTMDecoder(vocab_size, image_dim, embed_dim, hidden_dim, decoder, dropout)
    return ImageCaptioner(encoder, dec, config)


def images_to_tensor(images, device=None) -> torch.Tensor:
    """(N, S, S, 3) float images in [0, 1] (numpy) -> (N, 3, S, S) float32 tensor."""
    return (
        torch.as_tensor(images, dtype=torch.float32, device=device).permute(0, 3, 1, 2).contiguous()
    )


def sequence_loss(logits: torch.Tensor, targets: torch.Tensor, pad_id: int = 0) -> torch.Tensor:
    """Cross-entropy averaged over the non-padding target tokens; logits (N, T, V), targets (N, T).
    """
    return F.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=pad_id
    )
