"""Matplotlib figures of the captioning labs: image grids with captions, attention maps, losses."""

from __future__ import annotations

import textwrap

import numpy as np


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width)) if text else "(empty)"


def show_captions(
    images, captions, references=None, ncols: int = 6, width: int = 26, scale: float = 2.1
):
    """A grid of images titled by their captions.

    With ``references`` each title shows the generated caption, in green when it equals the
    reference and in red otherwise, followed by the reference ("true: ...") for the mistakes.
    Returns the figure.
    """
    import matplotlib.pyplot as plt

    n = len(images)
    nrows = max(1, int(np.ceil(n / ncols)))
    titles, colours = [], []
    for k in range(n):
        title, colour = _wrap(captions[k], width), "black"
        if references is not None:
            correct = captions[k] == references[k]
            colour = "tab:green" if correct else "tab:red"
            if not correct:
                title += "\ntrue: " + _wrap(references[k], width - 6)
        titles.append(title)
        colours.append(colour)
    lines = max((t.count("\n") + 1 for t in titles), default=1)
    # room for the tallest title above every image, so titles never run into the row above
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(scale * ncols, (scale + 0.13 * lines + 0.1) * nrows), squeeze=False
    )
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k >= n:
            continue
        ax.imshow(np.clip(images[k], 0.0, 1.0), interpolation="nearest")
        ax.set_title(titles[k], fontsize=7, color=colours[k])
    fig.tight_layout()
    return fig


def show_attention(
    image, words, alphas, grid: int, ncols: int = 6, scale: float = 1.8, title: str = "image"
):
    """The image, then one panel per generated word with its attention map overlaid.

    ``alphas`` (len(words), grid * grid) are the attention weights used to emit each word; each
    map is drawn as a heat map stretched over the image (one square per feature-map location).
    ``title`` heads the first panel (the plain image). Returns the figure.
    """
    import matplotlib.pyplot as plt

    panels = len(words) + 1
    nrows = int(np.ceil(panels / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(scale * ncols, (scale + 0.5) * nrows), squeeze=False
    )
    size = image.shape[0]
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k >= panels:
            continue
        ax.imshow(np.clip(image, 0.0, 1.0), interpolation="nearest")
        if k == 0:
            ax.set_title(_wrap(title, 24), fontsize=7)
            continue
        alpha = np.asarray(alphas[k - 1], dtype=float).reshape(grid, grid)
        ax.imshow(
            alpha,
            cmap="magma",
            alpha=0.6,
            extent=(-0.5, size - 0.5, size - 0.5, -0.5),
            interpolation="nearest",
            vmin=0.0,
            vmax=max(float(alpha.max()), 1e-6),
        )
        ax.set_title(f"{words[k - 1]} ({alpha.max():.2f})", fontsize=8)
    fig.tight_layout()
    return fig


def plot_losses(histories: dict, ax=None):
    """Per-step training loss (thin) and per-epoch validation loss (dots) of named runs."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.5))
    for k, (name, history) in enumerate(histories.items()):
        colour = f"C{k}"
        steps = np.arange(1, len(history["step_loss"]) + 1)
        ax.plot(
            steps,
            history["step_loss"],
            color=colour,
            lw=0.8,
            alpha=0.7,
            label=f"{name}: training batches",
        )
        if history.get("val_loss"):
            per_epoch = len(history["step_loss"]) / len(history["val_loss"])
            epochs_end = per_epoch * np.arange(1, len(history["val_loss"]) + 1)
            ax.plot(
                epochs_end,
                history["val_loss"],
                "o-",
                color=colour,
                ms=4,
                label=f"{name}: validation",
            )
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("cross-entropy per word")
    ax.legend(fontsize=8)
    return ax
