import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from matplotlib.figure import Figure

import training_basics as tb


@pytest.fixture(scope="module")
def trained():
    data = tb.synthesize()
    model = tb.Model()
    history = tb.train(model, data.x, data.y)
    return data, model, history


def _svg(fig):
    svg = fig._repr_svg_()
    return svg, ET.fromstring(svg.encode("utf-8"))


def figures(trained):
    data, model, history = trained
    test = tb.synthesize(seed=tb.TEST_SEED)
    return {
        "data": tb.plots.plot_data(data.x, data.y, model(data.x)),
        "trajectory": tb.plots.plot_trajectory(history),
        "test": tb.plots.plot_test_predictions(test.y, model(test.x)),
        "loss_vs_weights": tb.plots.plot_loss_vs_weights(history),
        "surface": tb.plots.plot_loss_surface(data.x, data.y, history,
                                              optimum=tb.closed_form(data.x, data.y)),
        "loss_decay": tb.plots.plot_loss_decay({"lab": history}, tb.contraction_factors(data.x, 0.1)),
    }


def test_every_plot_is_a_figure_with_title_labels_and_legend_that_displays_itself(trained):
    for name, fig in figures(trained).items():
        assert isinstance(fig, Figure), name
        for ax in [a for a in fig.axes if a.get_label() != "<colorbar>"]:
            assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel(), name
        if name != "loss_vs_weights":
            assert fig.axes[0].get_legend() is not None, name
        _, root = _svg(fig)
        assert root.tag == "{http://www.w3.org/2000/svg}svg", name
        width, height = (float(root.get(side).removesuffix("pt")) for side in ("width", "height"))
        assert width > 300 and height > 200, name


def test_figures_are_svg_displayed_by_themselves_and_never_png(trained):
    """Vector figures are sharp on any screen; a PNG beside them would only double the notebook."""
    fig = figures(trained)["data"]
    assert not hasattr(fig, "_repr_png_") or fig._repr_png_() is None
    assert fig._repr_svg_().lstrip().startswith("<?xml")


def test_figures_render_to_identical_bytes(trained):
    """The same figure rendered twice, and a second figure made from the same data, give the same bytes."""
    figs = figures(trained)
    first = [fig.to_svg() for fig in figs.values()]
    again = [fig.to_svg() for fig in figs.values()]
    remade = [fig.to_svg() for fig in figures(trained).values()]
    assert first == again == remade
    assert all(b"<dc:date>" not in svg for svg in first)


def test_figures_have_an_opaque_white_background_for_the_sites_dark_mode(trained):
    """The first shape drawn is the figure's background: a white rectangle, fully opaque."""
    for name, fig in figures(trained).items():
        svg = fig.to_svg().decode("utf-8")
        background = re.search(r'<g id="patch_1">\s*<path d="[^"]*"\s*style="([^"]*)"', svg)
        assert background, name
        style = background.group(1)
        assert "fill: #ffffff" in style and "opacity" not in style, (name, style)


def test_data_plot_draws_blue_dots_for_data_and_red_crosses_for_predictions(trained):
    data, model, _ = trained
    fig = tb.plots.plot_data(data.x, data.y, model(data.x))
    dots, crosses = fig.axes[0].collections
    assert tuple(dots.get_facecolor()[0][:3]) == pytest.approx((0.12, 0.47, 0.71), abs=0.01)  # tab:blue
    assert tuple(crosses.get_facecolor()[0][:3]) == pytest.approx((0.84, 0.15, 0.16), abs=0.01)  # tab:red
    np.testing.assert_allclose(dots.get_offsets()[:, 1], data.y.numpy())


def test_data_plot_legend_names_the_red_crosses_as_told(trained):
    data, model, _ = trained
    labels = [text.get_text() for text in tb.plots.plot_data(data.x, data.y, model(data.x)).axes[0]
              .get_legend().get_texts()]
    assert labels == ["data (y)", "prediction (ŷ = w·x + b)"]
    fig = tb.plots.plot_data(data.x, data.y, data.y, label="true line")
    assert [text.get_text() for text in fig.axes[0].get_legend().get_texts()] == ["data (y)", "true line"]


def test_trajectory_has_dashed_true_values(trained):
    _, _, history = trained
    ax = tb.plots.plot_trajectory(history).axes[0]
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert sorted(line.get_ydata()[0] for line in dashed) == [tb.TRUE_b, tb.TRUE_w]


def test_loss_surface_path_starts_at_the_start_and_ends_at_the_final_values(trained):
    data, _, history = trained
    ax = tb.plots.plot_loss_surface(data.x, data.y, history).axes[0]
    path = next(line for line in ax.lines if line.get_label() == "training path")
    assert (path.get_xdata()[0], path.get_ydata()[0]) == (2.0, 1.0)
    assert path.get_xdata()[-1] == pytest.approx(history.final_w)


def test_loss_surface_contours_are_evenly_spaced_rings(trained):
    """Levels evenly spaced in √L: on the (nearly round) quadratic bowl, evenly spaced rings
    reaching down towards the optimum, not rings crowded at the rim."""
    data, _, history = trained
    fig = tb.plots.plot_loss_surface(data.x, data.y, history, levels=12)
    contours = next(c for c in fig.axes[0].collections if hasattr(c, "levels"))
    levels = np.asarray(contours.levels)
    assert len(levels) == 12
    steps = np.diff(np.sqrt(levels))
    np.testing.assert_allclose(steps, steps[0], rtol=1e-9)
    assert levels[0] < 0.02 * levels[-1]  # evenly spaced in L, the innermost ring would be at 1/13 of the top


def test_loss_decay_draws_each_run_relative_to_its_start_and_the_theorys_two_rates(trained):
    data, _, history = trained
    factors = tb.contraction_factors(data.x, 0.1)
    ax = tb.plots.plot_loss_decay({"lab": history}, factors).axes[0]
    assert ax.get_yscale() == "log"
    run, slow, fast = ax.lines
    np.testing.assert_allclose(run.get_ydata(), history.loss / history.loss[0], rtol=1e-6)
    steps = np.arange(len(history))
    np.testing.assert_allclose(slow.get_ydata(), np.abs(factors).max() ** (2 * steps))
    np.testing.assert_allclose(fast.get_ydata(), np.abs(factors).min() ** (2 * steps))


def test_factor_sweep_labels_its_dots_as_the_kth_root_it_plots(trained):
    data = trained[0]
    rates = np.round(np.arange(1, 23) * 0.05, 2)
    runs = tb.sweep(data.x, data.y, rates)
    measured = tb.measured_factor(runs.w, runs.b, tb.closed_form(data.x, data.y))
    ax = tb.plots.plot_factor_sweep(rates, measured, data.x).axes[0]
    (dots,) = [line for line in ax.lines if line.get_linestyle() == "None"]
    np.testing.assert_array_equal(dots.get_ydata(), measured)
    assert r"(\|e_k\| / \|e_0\|)^{1/k}" in dots.get_label() and ax.get_ylabel() == "factor per epoch"


def test_bowls_name_their_axes_w_and_b_unless_told_otherwise(trained):
    data, _, history = trained
    z, _, _ = tb.standardize(data.x)
    fig = tb.plots.plot_bowls([("x", data.x, data.y, {"run": history}),
                               ("z", z, data.y, {"run": history}, ("$w_z$", "$b_z$"))])
    assert [(ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes] == [("w", "b"), ("$w_z$", "$b_z$")]
