"""Figures. Each function takes data and returns a matplotlib ``Figure``.

Figures are made without ``pyplot``: no global state, nothing shown from here,
nothing left open. A notebook displays the returned figure as SVG (its
``_repr_svg_``), on the site and in JupyterLab alike, with no ``%matplotlib``
magic needed: sharp at any screen density, on an opaque white background that
stays readable in the site's dark mode, and the same bytes on every run.
"""

import io

import matplotlib
import matplotlib.figure
import numpy as np
from matplotlib.layout_engine import PlaceHolderLayoutEngine

from .data import TRUE_b, TRUE_w
from .reference import loss_grid

DATA_COLOUR = "tab:blue"
PREDICTION_COLOUR = "tab:red"
W_COLOUR = "tab:blue"
B_COLOUR = "tab:orange"

# SVG made reproducible: element ids come from this salt instead of random bits, and no date is written.
SVG_SETTINGS = {"svg.hashsalt": "training-basics", "svg.fonttype": "path"}
SVG_METADATA = {"Date": None}


class Figure(matplotlib.figure.Figure):
    """A matplotlib Figure that IPython displays as a reproducible SVG by itself."""

    def _repr_svg_(self):
        return self.to_svg().decode("utf-8")

    def to_svg(self):
        """The figure as SVG bytes: identical for an identical figure, on an opaque white background."""
        buffer = io.BytesIO()
        with matplotlib.rc_context(SVG_SETTINGS):
            engine = self.get_layout_engine()
            if engine is not None and not isinstance(engine, PlaceHolderLayoutEngine):
                # Lay the figure out once and keep that layout: laid out again on every render,
                # positions drift in their last digit and a second render would differ.
                self.draw_without_rendering()
                self.set_layout_engine("none")
            self.savefig(buffer, format="svg", facecolor="white", transparent=False, metadata=SVG_METADATA)
        return buffer.getvalue()


def _figure(ncols=1, width=6.4, height=4.0):
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, axes


def plot_data(x, y, predictions, title="Data and the model's predictions",
              label="prediction (ŷ = w·x + b)"):
    """Data as blue dots, the model's predictions at the same x as red crosses.

    ``label`` names the red crosses in the legend: say what they are, for instance the true
    line's values when ``predictions`` are those of the true model.

    Taught in: book/data.md, book/evaluation.md
    """
    fig, ax = _figure()
    ax.scatter(np.asarray(x), np.asarray(y), s=8, c=DATA_COLOUR, marker="o", label="data (y)")
    ax.scatter(
        np.asarray(x), np.asarray(predictions), s=14, c=PREDICTION_COLOUR, marker="x",
        linewidths=0.8, label=label,
    )
    ax.set(title=title, xlabel="x", ylabel="y")
    ax.legend(loc="upper left")
    return fig


def plot_trajectory(history, true_w=TRUE_w, true_b=TRUE_b):
    """w and b before each epoch's update, with the true values as dashed lines.

    Taught in: book/training-loop.md
    """
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
    """Each test example's prediction against its true output; perfect ones lie on the dashed line.

    Taught in: book/evaluation.md
    """
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
    """Two panels, as the lab: the loss against w, and against b, one point per step.

    Each panel is a projection of the path (w, b, L) onto one side: w and b move together.

    Taught in: book/evaluation.md
    """
    fig, (ax_w, ax_b) = _figure(ncols=2, width=9.0, height=3.8)
    for ax, values, name, colour in ((ax_w, history.w, "w", W_COLOUR), (ax_b, history.b, "b", B_COLOUR)):
        ax.plot(values, history.loss, "o-", color=colour, markersize=4)
        ax.set(title=f"Loss against {name}", xlabel=name, ylabel="L2 loss")
    return fig


def plot_loss_surface(x, y, history, optimum=None, true_w=TRUE_w, true_b=TRUE_b, levels=20):
    """Contours of L(w, b) with the path training took from its start to its end.

    The ``levels`` contours are evenly spaced in √L, not in L: L is quadratic, so on a round
    bowl they are evenly spaced rings, down to the bottom where training ends.

    Taught in: book/updates.md, book/evaluation.md
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


def plot_loss_decay(histories, factors):
    """The loss against the step on a log scale, each run divided by its first loss, and the theory's band.

    ``histories`` maps a label to a ``History`` (full batch, one step per epoch); ``factors``
    are the contraction factors of I − η·H (``contraction_factors``). The error along the
    eigendirection of factor ρ shrinks as ρᵏ, so its share of the loss as ρ²ᵏ: every run's
    Lₖ/L₀ lies between min|ρ|²ᵏ (dotted) and max|ρ|²ᵏ (dashed). Geometric convergence
    is a straight line on this scale.

    Taught in: book/training-loop.md
    """
    fig, ax = _figure()
    rates = np.sort(np.abs(np.asarray(factors, dtype=np.float64)))
    longest = max(len(h) for h in histories.values())
    steps = np.arange(longest)
    markers = "osD^v"
    for i, (label, history) in enumerate(histories.items()):
        loss = np.asarray(history.loss, dtype=np.float64)
        ax.plot(np.arange(len(loss)), loss / loss[0], markers[i % len(markers)] + "-", markersize=5,
                linewidth=1.0, alpha=0.8, label=label)
    ax.plot(steps, rates[-1] ** (2 * steps), "--", color="black", linewidth=1.2, zorder=3,
            label=rf"theory, slowest: ${rates[-1]:.4f}^{{2k}}$")
    ax.plot(steps, rates[0] ** (2 * steps), ":", color="black", linewidth=1.5, zorder=3,
            label=rf"theory, fastest: ${rates[0]:.4f}^{{2k}}$")
    ax.set_yscale("log")
    ax.set(title="Loss against epoch, on a log scale", xlabel="epoch k (one full-batch step each)",
           ylabel=r"loss $L_k\,/\,L_0$ (log scale)")
    ax.legend(loc="lower left")
    return fig


def plot_distance_to_optimum(history, optimum, true_w=TRUE_w, true_b=TRUE_b):
    """Distance of (w, b) from the optimum (w*, b*) and from the true line, against the epoch, log scale.

    On noisy data the first falls geometrically to float32 rounding; the second stops at
    ‖(w*, b*) − (true_w, true_b)‖, drawn dotted: training finds the optimum, not the truth.

    Taught in: book/noisy-data.md
    """
    fig, ax = _figure()
    w = np.append(history.w, history.final_w).astype(np.float64)
    b = np.append(history.b, history.final_b).astype(np.float64)
    epochs = np.arange(len(w))
    gap = float(np.hypot(optimum[0] - true_w, optimum[1] - true_b))
    ax.plot(epochs, np.hypot(w - true_w, b - true_b), "s-", color=B_COLOUR, markersize=3,
            label=f"from the true line ({true_w:g}, {true_b:g})")
    ax.plot(epochs, np.hypot(w - optimum[0], b - optimum[1]), "o-", color=W_COLOUR, markersize=3,
            label="from the optimum (w*, b*)")
    ax.axhline(gap, color="black", linestyle=":", label=f"optimum from the true line: {gap:.4f}")
    ax.set_yscale("log")
    ax.set(title="Where training goes on noisy data", xlabel="epoch (one full-batch step each)",
           ylabel="distance of (w, b) (log scale)")
    ax.legend(loc="lower left")
    return fig


def plot_residuals(x, residuals, noise_std):
    """Residuals y − ŷ against x (left) and their histogram with the noise's density N(0, σ²) (right).

    Taught in: book/noisy-data.md
    """
    fig, (ax_x, ax_h) = _figure(ncols=2, width=9.0, height=3.8)
    x, residuals = np.asarray(x, dtype=np.float64), np.asarray(residuals, dtype=np.float64)
    ax_x.scatter(x, residuals, s=6, c=DATA_COLOUR, alpha=0.6, label="residual y − ŷ")
    ax_x.axhline(0.0, color="black", linewidth=1.0)
    for sign in (1, -1):
        ax_x.axhline(sign * noise_std, color="black", linestyle="--", linewidth=1.0,
                     label=f"±σ = ±{noise_std:g}" if sign > 0 else None)
    ax_x.set(title="Residuals against x", xlabel="x", ylabel="residual y − ŷ")
    ax_x.legend(loc="upper left")
    ax_h.hist(residuals, bins=30, density=True, color=DATA_COLOUR, alpha=0.6, label="residuals")
    grid = np.linspace(-4 * noise_std, 4 * noise_std, 201)
    density = np.exp(-0.5 * (grid / noise_std) ** 2) / (noise_std * np.sqrt(2 * np.pi))
    ax_h.plot(grid, density, color="black", label=f"noise N(0, {noise_std:g}²)")
    ax_h.set(title="Their distribution", xlabel="residual y − ŷ", ylabel="density")
    ax_h.legend(loc="upper left")
    return fig


def plot_optimum_errors(sizes, errors, noise_std, shown=100):
    """|w* − w| over seeds against N on log-log axes: seeds (dots), their RMS, and the theory σ/√N.

    ``errors`` has shape (len(sizes), seeds), as ``noise.optimum_errors`` returns it; the
    first ``shown`` seeds of each N are drawn as dots, the RMS is over all of them. On these
    axes σ/√N is a straight line of slope −1/2; the exact RMS for inputs drawn from N(0, 1),
    σ/√(N − 3), is drawn dotted (only for N > 3, where it is finite).

    Taught in: book/noisy-data.md
    """
    fig, ax = _figure()
    sizes, errors = np.asarray(sizes, dtype=np.float64), np.asarray(errors, dtype=np.float64)
    dots = errors[:, :shown]
    ax.scatter(np.broadcast_to(sizes[:, None], dots.shape).ravel(), dots.ravel(), s=5, c="0.55", alpha=0.4,
               linewidths=0, label=f"one training set ({dots.shape[1]} of {errors.shape[1]} per N)")
    rms = np.sqrt(np.mean(errors**2, axis=1))
    ax.plot(sizes, rms, "o-", color=W_COLOUR, label="RMS over the training sets")
    ax.plot(sizes, noise_std / np.sqrt(sizes), "--", color="black", label=f"theory σ/√N, σ = {noise_std:g}")
    exact = sizes > 3
    ax.plot(sizes[exact], noise_std / np.sqrt(sizes[exact] - 3), ":", color="black",
            label="exact for normal inputs, σ/√(N − 3)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set(title="Distance of the optimum w* from the true w", xlabel="examples N (log scale)",
           ylabel="|w* − w| (log scale)")
    ax.legend(loc="lower left")
    return fig


def plot_minibatch_paths(x, y, histories, optimum=None):
    """Paths of several runs on the contours of L(w, b): ``plot_loss_surface`` of the first, the others on it.

    ``histories`` maps a label to a ``History``; the first frames the contours: put the widest path first.

    Taught in: book/minibatches.md
    """
    (first, *others), runs = list(histories), list(histories.values())
    fig = plot_loss_surface(x, y, runs[0], optimum=optimum)
    ax = fig.axes[0]
    for line in ax.lines:
        if line.get_label() == "training path":
            line.set(label=first, color="C0", marker="", linewidth=1.0)  # the colours of the loss plot
    for i, (label, history) in enumerate(zip(others, runs[1:], strict=True), start=1):
        ax.plot(np.append(history.w, history.final_w), np.append(history.b, history.final_b),
                "-", color=f"C{i}", linewidth=1.2, label=label)
    ax.set_title("Paths of minibatch gradient descent")
    ax.legend(loc="upper left", fontsize="small")
    return fig


def plot_loss_by_steps_and_examples(curves):
    """The full-data loss against the step (left) and against the examples seen (right), log scales.

    ``curves`` maps a label to (examples seen, loss), two arrays of shape (steps + 1,)
    (``minibatch.examples_seen`` and ``minibatch.loss_along``).

    Taught in: book/minibatches.md
    """
    fig, (ax_s, ax_e) = _figure(ncols=2, width=9.6, height=4.0)
    for i, (label, (examples, loss)) in enumerate(curves.items()):
        ax_s.plot(np.arange(len(loss)), loss, "-", color=f"C{i}", linewidth=1.2, label=label)
        ax_e.plot(examples[1:], loss[1:], "-", color=f"C{i}", linewidth=1.2, label=label)  # log axis: no 0
    ax_s.set(title="Against steps", xlabel="step", ylabel="loss on all examples (log scale)", yscale="log")
    ax_e.set(title="Against examples seen", xlabel="examples seen (log scale)", xscale="log", yscale="log")
    ax_s.legend(loc="lower left", fontsize="small")
    return fig


# --- Choosing the learning rate (book/learning-rate.md) ---------------------------------------------

RUN_STYLES = [("tab:red", "o"), ("tab:purple", "s"), ("tab:green", "D"), ("tab:brown", "^"),
              ("tab:gray", "v")]


def plot_factor_sweep(learning_rates, measured, x):
    """Per-epoch factor of the error against η: each run's measured factor (dots) and the theory.

    The dots are ``measured`` as ``measured_factor`` gives it, the mean factor (‖e_k‖/‖e_0‖)^(1/k).
    The theory is max|1 − η·λ| over the eigenvalues λ of H (solid), with min|1 − η·λ| (dotted)
    and the band between them, where every run must lie; dashed verticals mark η* = 2/(λmin + λmax)
    and 2/λmax, a grey line the factor 1, above which the error grows.

    Taught in: book/learning-rate.md
    """
    from .learning_rate import factor_bounds
    from .reference import hessian

    fig, ax = _figure(width=7.0, height=4.2)
    lam_min, lam_max = np.linalg.eigvalsh(hessian(x))
    etas = np.linspace(0.005, max(np.max(learning_rates), 2 / lam_max) * 1.02, 600)
    low, high = factor_bounds(x, etas)
    ax.fill_between(etas, low, high, color="tab:blue", alpha=0.15, linewidth=0)
    ax.plot(etas, high, "-", color="tab:blue", label=r"theory: $\max|1 - \eta\lambda|$")
    ax.plot(etas, low, ":", color="tab:blue", label=r"$\min|1 - \eta\lambda|$")
    ax.plot(learning_rates, measured, "o", color=PREDICTION_COLOUR, markersize=5,
            label=r"measured per run, $(\|e_k\| / \|e_0\|)^{1/k}$")
    ax.axhline(1.0, color="0.5", linewidth=0.8)
    best, largest = 2 / (lam_min + lam_max), 2 / lam_max
    ax.axvline(best, color="black", linestyle="--", linewidth=1.0)
    ax.axvline(largest, color="black", linestyle="-.", linewidth=1.0)
    ax.annotate(rf"$\eta^* = {best:.3f}$", (best, 1.12), ha="center", fontsize=9,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
    ax.annotate(rf"$2/\lambda_{{max}} = {largest:.3f}$", (largest, 1.12), ha="right", fontsize=9,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
    ax.set(title="Factor per epoch by which the error shrinks", xlabel=r"learning rate $\eta$",
           ylabel="factor per epoch", ylim=(0, 1.2), xlim=(0, etas[-1]))
    ax.legend(loc="lower left")
    return fig


def _surface_panel(ax, x, y, runs, title, equal=False, names=("w", "b")):
    """Contours of L(w, b) around the runs' paths (diverging ones clipped), the optimum, each path.

    ``names`` labels the two axes: the parameters of the model y = w·x + b the runs trained.
    """
    from .reference import closed_form

    optimum = closed_form(x, y)
    paths = {label: (np.append(h.w, h.final_w), np.append(h.b, h.final_b)) for label, h in runs.items()}
    converging = [p for label, p in paths.items() if runs[label].loss[-1] <= runs[label].loss[0]]
    kept = converging or list(paths.values())
    ws = np.concatenate([p[0] for p in kept] + [[optimum[0]]])
    bs = np.concatenate([p[1] for p in kept] + [[optimum[1]]])
    pad = 0.15 * max(np.ptp(ws), np.ptp(bs), 0.5)
    w_lim, b_lim = (ws.min() - pad, ws.max() + pad), (bs.min() - pad, bs.max() + pad)
    if equal:  # one unit as long on both axes, so a round bowl draws round
        half = max(np.ptp(w_lim), np.ptp(b_lim)) / 2
        w_lim = (np.mean(w_lim) - half, np.mean(w_lim) + half)
        b_lim = (np.mean(b_lim) - half, np.mean(b_lim) + half)
    grid_w, grid_b = np.linspace(*w_lim, 121), np.linspace(*b_lim, 121)
    grid = loss_grid(x, y, grid_w, grid_b)
    heights = np.linspace(np.sqrt(grid.min()), np.sqrt(grid.max()), 16)[1:-1] ** 2
    ax.contour(grid_w, grid_b, grid, levels=heights, cmap="viridis", linewidths=0.7)
    for i, (label, (pw, pb)) in enumerate(paths.items()):
        colour, marker = RUN_STYLES[i % len(RUN_STYLES)]
        ax.plot(pw, pb, marker + "-", color=colour, markersize=3.5, linewidth=1.0, label=label)
    first = next(iter(paths.values()))
    ax.plot(first[0][0], first[1][0], "D", color="black", markersize=6, label="start")
    ax.plot(*optimum, "*", color="gold", markeredgecolor="black", markersize=13, label="optimum")
    ax.set(title=title, xlabel=names[0], ylabel=names[1], xlim=w_lim, ylim=b_lim)
    if equal:
        ax.set_aspect("equal", adjustable="box")


def plot_runs(x, y, runs, title="Loss surface"):
    """Two panels: the runs' paths on the contours of L(w, b), and their losses against the step.

    ``runs`` maps a label to a ``History``; the loss is on a log scale, divided by nothing, so runs
    from the same start can be compared directly.

    Taught in: book/learning-rate.md
    """
    fig, (ax_path, ax_loss) = _figure(ncols=2, width=10.0, height=4.3)
    _surface_panel(ax_path, x, y, runs, title)
    ax_path.legend(loc="best", fontsize=8)
    for i, (label, history) in enumerate(runs.items()):
        colour, marker = RUN_STYLES[i % len(RUN_STYLES)]
        ax_loss.plot(np.arange(len(history)), history.loss, marker + "-", color=colour, markersize=3.5,
                     linewidth=1.0, label=label)
    ax_loss.set_yscale("log")
    ax_loss.set(title="Loss against step", xlabel="step k", ylabel="L2 loss (log scale)")
    ax_loss.legend(loc="best", fontsize=8)
    return fig


def plot_bowls(panels):
    """Loss surfaces side by side, each with the paths of its runs, one unit as long on both axes.

    ``panels`` is a list of (title, x, y, runs): inputs and outputs of one problem, and a dict
    mapping a label to a ``History`` trained on them; a fifth item, (name of w, name of b), names
    the axes when the parameters are not w and b (``("$w_z$", "$b_z$")`` for standardized inputs).

    Taught in: book/learning-rate.md
    """
    fig, axes = _figure(ncols=len(panels), width=5.0 * len(panels), height=5.0)
    for ax, (title, x, y, runs, *names) in zip(np.atleast_1d(axes), panels, strict=True):
        _surface_panel(ax, x, y, runs, title, equal=True, names=names[0] if names else ("w", "b"))
        ax.legend(loc="best", fontsize=8)
    return fig
