"""IPython startup file for the book build: every figure fits the text column and says so.

The site shows a figure at most as wide as the text column (688 CSS px at a 1280 px window);
a wider figure is shrunk by the browser, and its labels with it (a 14-inch row of panels came
out with 6 px tick labels). Editing every plotting cell would not stop the next wide figure,
so the build's kernels run this file at start-up (``site_polish`` installs it in the build's
IPython profile) and it acts where every figure passes on its way to the page, the canvas's
``print_figure``:

- a figure wider than the column is scaled down to the column's width, keeping its aspect
  ratio, with its fonts, lines and markers at their set sizes, and laid out again (a figure
  without a layout engine of its own gets ``tight_layout``, as most cells already ask for);
- every PNG records, in a text chunk :data:`KEY`, the smallest font it holds in the PNG's own
  pixels, so the browser test can check the size a reader actually sees (that value times
  the displayed width over the PNG's width), and the figure's width before fitting.

A student running a notebook in Jupyter is not affected: this file is only in the build's
profile, and Jupyter shows a figure at its own size.
"""
from __future__ import annotations

import json
import warnings

import matplotlib
from matplotlib.backend_bases import FigureCanvasBase
from matplotlib.text import Text

#: The text column's width in CSS pixels at 1280 px, as the browser test measures it.
COLUMN_PX = 688
#: The width a wide figure is given: under the column by the 0.1 inch (10 px) pad on each side
#: that the inline backend's tight bounding box adds around what it crops to, and a margin.
FIT_PX = 656
#: The PNG text chunk that carries the figure's smallest font (see the module docstring).
KEY = "rnn-course-figure"


def smallest_font_pt(fig) -> float | None:
    """The smallest font size, in points, of any visible non-empty text in ``fig``.

    Tick labels get their text only when the figure is drawn, so it is laid out first."""
    fig.draw_without_rendering()
    sizes = [t.get_fontsize() for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip()]
    return min(sizes) if sizes else None


def fit_column(fig, column_px: float = FIT_PX) -> float:
    """Scale ``fig`` down to ``column_px`` CSS pixels wide if it is wider; return its old width
    in pixels. The figure's own dpi is what the inline backend maps to CSS pixels."""
    width_px = fig.get_figwidth() * fig.dpi
    if width_px > column_px:
        scale = column_px / width_px
        fig.set_size_inches(fig.get_figwidth() * scale, fig.get_figheight() * scale)
        if fig.get_layout_engine() is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # axes placed by hand keep their place
                try:
                    fig.tight_layout()
                except Exception:  # noqa: BLE001 - a layout it cannot solve keeps the cell's own
                    pass
    return width_px


_print_figure = FigureCanvasBase.print_figure


def print_figure(self, filename, *args, **kwargs):
    fig = self.figure
    before_px = fit_column(fig)
    fmt = kwargs.get("format") or (filename if isinstance(filename, str) else "")
    if str(fmt).lower().endswith("png"):
        dpi = kwargs.get("dpi") or matplotlib.rcParams["savefig.dpi"]
        dpi = fig.dpi if dpi == "figure" else dpi
        smallest = smallest_font_pt(fig)
        record = {"min_font_px": None if smallest is None else round(smallest * dpi / 72, 2),
                  "min_font_pt": smallest, "width_px_before_fit": round(before_px),
                  "figure_dpi": fig.dpi}
        kwargs["metadata"] = {**(kwargs.get("metadata") or {}), KEY: json.dumps(record)}
    return _print_figure(self, filename, *args, **kwargs)


FigureCanvasBase.print_figure = print_figure
