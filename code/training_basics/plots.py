"""Figures. Each function takes data and returns a matplotlib ``Figure``.

Figures are made without ``pyplot``: no global state, nothing shown from here,
nothing left open. A notebook displays the returned figure (its ``_repr_png_``),
on the site and in JupyterLab alike, with no ``%matplotlib`` magic needed.
"""

import io

import matplotlib.figure
import numpy as np

from .data import TRUE_b, TRUE_w
from .reference import loss_grid

DATA_COLOUR = "tab:blue"
PREDICTION_COLOUR = "tab:red"
W_COLOUR = "tab:blue"
B_COLOUR = "tab:orange"


class Figure(matplotlib.figure.Figure):
    """A matplotlib Figure that IPython displays as a PNG by itself."""

    def _repr_png_(self):
        buffer = io.BytesIO()
        # No "Software" entry: the bytes depend only on the figure, so builds are reproducible.
        self.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
        return buffer.getvalue()


def _figure(ncols=1, width=6.4, height=4.0):
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, axes


def plot_data(x, y, predictions, title="Data and the model's predictions"):
    """Data as blue dots, the model's predictions at the same x as red crosses."""
    fig, ax = _figure()
    ax.scatter(np.asarray(x), np.asarray(y), s=8, c=DATA_COLOUR, marker="o", label="data (y)")
    ax.scatter(
        np.asarray(x), np.asarray(predictions), s=14, c=PREDICTION_COLOUR, marker="x",
        linewidths=0.8, label="prediction (ŷ = w·x + b)",
    )
    ax.set(title=title, xlabel="x", ylabel="y")
    ax.legend(loc="upper left")
    return fig


def plot_trajectory(history, true_w=TRUE_w, true_b=TRUE_b):
    """w and b before each epoch's update, with the true values as dashed lines."""
    fig, ax = _figure()
    steps = np.arange(len(history))
    ax.plot(steps, history.w, "o-", color=W_COLOUR, label="w")
    ax.plot(steps, history.b, "s-", color=B_COLOUR, label="b")
    ax.axhline(true_w, color=W_COLOUR, linestyle="--", label=f"true w = {true_w:g}")
    ax.axhline(true_b, color=B_COLOUR, linestyle="--", label=f"true b = {true_b:g}")
    ax.set(title="w and b during training", xlabel="step (one per epoch, full batch)",
           ylabel="value before the update")
    ax.legend(loc="lower right")
    return fig


def plot_test_predictions(y_test, predictions):
    """Each test example's prediction against its true output; perfect ones lie on the dashed line."""
    fig, ax = _figure(width=5.0, height=5.0)
    y_test, predictions = np.asarray(y_test), np.asarray(predictions)
    lo = float(min(y_test.min(), predictions.min()))
    hi = float(max(y_test.max(), predictions.max()))
    ax.plot([lo, hi], [lo, hi], "--", color="0.4", label="perfect prediction (ŷ = y)")
    ax.scatter(y_test, predictions, s=8, c=PREDICTION_COLOUR, marker="x", linewidths=0.8,
               label="test example")
    ax.set(title="Test set: predicted against true output", xlabel="true output y",
           ylabel="prediction ŷ", aspect="equal")
    ax.legend(loc="upper left")
    return fig


def plot_loss_vs_weights(history):
    """Two panels, as the lab: the loss against w, and against b, one point per step."""
    fig, (ax_w, ax_b) = _figure(ncols=2, width=9.0, height=3.8)
    for ax, values, name, colour in ((ax_w, history.w, "w", W_COLOUR), (ax_b, history.b, "b", B_COLOUR)):
        ax.plot(values, history.loss, "o-", color=colour, markersize=4)
        ax.set(title=f"Loss against {name}", xlabel=name, ylabel="L2 loss")
    return fig


def plot_loss_surface(x, y, history, optimum=None, true_w=TRUE_w, true_b=TRUE_b, levels=20):
    """Contours of L(w, b) with the path training took from its start to its end.

    The ``levels`` contours are evenly spaced in √L, not in L: L is quadratic, so on a round
    bowl they are evenly spaced rings, down to the bottom where training ends.
    """
    fig, ax = _figure(width=6.0, height=5.0)
    path_w = np.append(history.w, history.final_w)
    path_b = np.append(history.b, history.final_b)
    pad_w = 0.25 * (path_w.max() - path_w.min() + 1.0)
    pad_b = 0.25 * (path_b.max() - path_b.min() + 1.0)
    ws = np.linspace(min(path_w.min(), true_w) - pad_w, max(path_w.max(), true_w) + pad_w, 121)
    bs = np.linspace(min(path_b.min(), true_b) - pad_b, max(path_b.max(), true_b) + pad_b, 121)
    grid = loss_grid(x, y, ws, bs)
    heights = np.linspace(np.sqrt(grid.min()), np.sqrt(grid.max()), levels + 2)[1:-1] ** 2
    contours = ax.contour(ws, bs, grid, levels=heights, cmap="viridis", linewidths=0.8)
    fig.colorbar(contours, ax=ax, label="L2 loss", ticks=heights[::2], format="%.2g")
    ax.plot(path_w, path_b, "o-", color=PREDICTION_COLOUR, markersize=4, label="training path")
    ax.plot(path_w[0], path_b[0], "D", color="black", label="start")
    if optimum is not None:
        ax.plot(*optimum, "*", color="gold", markeredgecolor="black", markersize=14,
                label="closed-form optimum")
    ax.set(title="Loss surface and the path of gradient descent", xlabel="w", ylabel="b")
    ax.legend(loc="upper left")
    return fig
