"""The noise module and its figures: the normal equations, the floor σ², the vectorised seed study."""

import ast
import inspect
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import training_basics as tb
from training_basics import noise

SIGMA = tb.NOISE_STD


@pytest.fixture(scope="module")
def noisy():
    x, y = tb.synthesize(noise_std=SIGMA)
    model = tb.Model()
    history = tb.train(model, x, y, epochs=100, learning_rate=0.1)
    return x, y, model, history


def _lstsq(x, y):
    """(w*, b*) of float64 data by np.linalg.lstsq (tb.closed_form stores its data as float32 first)."""
    return tuple(np.linalg.lstsq(np.stack([x, np.ones_like(x)], axis=1), y, rcond=None)[0])


# --- normal_equations -------------------------------------------------------------------------------


def test_normal_equations_equal_lstsq_on_noisy_data(noisy):
    x, y, _, _ = noisy
    w, b = tb.normal_equations(x, y)
    assert isinstance(w, float) and isinstance(b, float)
    w_ls, b_ls = tb.closed_form(x, y)
    assert w == pytest.approx(w_ls, abs=1e-12) and b == pytest.approx(b_ls, abs=1e-12)


def test_normal_equations_are_cov_over_var_and_mean_minus_slope_times_mean(noisy):
    x, y = (np.asarray(v, dtype=np.float64) for v in noisy[:2])
    w, b = tb.normal_equations(x, y)
    assert w == pytest.approx(np.cov(x, y)[0, 1] / np.var(x, ddof=1), abs=1e-12)
    assert b == pytest.approx(y.mean() - w * x.mean(), abs=1e-12)


def test_normal_equations_on_data_without_noise_give_the_true_line():
    x, y = tb.synthesize()
    w, b = tb.normal_equations(x, y)
    assert abs(w - tb.TRUE_w) < 1e-6 and abs(b - tb.TRUE_b) < 1e-6


def test_normal_equations_solve_every_row_of_an_array_at_once():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((7, 50))
    y = 3.0 * x + 2.0 + 0.5 * rng.standard_normal((7, 50))
    w, b = tb.normal_equations(x, y)
    assert w.shape == b.shape == (7,)
    for i in range(7):
        assert (w[i], b[i]) == pytest.approx(_lstsq(x[i], y[i]), abs=1e-12)


def test_the_optimums_residuals_average_to_zero_and_are_uncorrelated_with_x(noisy):
    x, y = (np.asarray(v, dtype=np.float64) for v in noisy[:2])
    w, b = tb.normal_equations(x, y)
    r = y - (w * x + b)
    assert abs(r.mean()) < 1e-12 and abs(np.mean(x * r)) < 1e-12


def test_training_on_noisy_data_converges_to_the_optimum_not_to_the_truth(noisy):
    x, y, _, history = noisy
    w, b = tb.normal_equations(x, y)
    assert max(abs(history.final_w - w), abs(history.final_b - b)) < 2e-6
    assert np.hypot(history.final_w - tb.TRUE_w, history.final_b - tb.TRUE_b) > 1e-3


# --- expected_test_mse ------------------------------------------------------------------------------


def test_expected_test_mse_is_sigma_squared_at_the_truth_and_more_anywhere_else():
    assert tb.expected_test_mse(tb.TRUE_w, tb.TRUE_b, SIGMA) == SIGMA**2
    for w, b in [(2.9, 2.0), (3.0, 2.1), (3.01, 1.99), (0.0, 0.0)]:
        assert tb.expected_test_mse(w, b, SIGMA) == pytest.approx(SIGMA**2 + (w - 3) ** 2 + (b - 2) ** 2)
        assert tb.expected_test_mse(w, b, SIGMA) > SIGMA**2


def test_expected_test_mse_is_what_a_large_test_set_measures():
    data = tb.synthesize(num_examples=1_000_000, noise_std=SIGMA, seed=5)
    for w, b in [(3.0, 2.0), (2.9, 2.05), (3.2, 1.7)]:
        measured = float(tb.l2_loss(data.y, w * data.x + b))
        assert measured == pytest.approx(tb.expected_test_mse(w, b, SIGMA), abs=3e-3)


# --- optimum_errors ---------------------------------------------------------------------------------


def test_optimum_errors_shape_and_same_seed_same_errors():
    errors = tb.optimum_errors([10, 100], num_seeds=40)
    assert errors.shape == (2, 40) and (errors >= 0).all()
    np.testing.assert_array_equal(errors, tb.optimum_errors([10, 100], num_seeds=40))
    assert not np.array_equal(errors, tb.optimum_errors([10, 100], num_seeds=40, seed=12))


def test_optimum_errors_are_the_normal_equations_on_each_row_of_the_draw():
    rng = np.random.default_rng(noise.STUDY_SEED)
    x = rng.standard_normal((30, 20))
    y = tb.TRUE_w * x + tb.TRUE_b + SIGMA * rng.standard_normal((30, 20))
    expected = [abs(_lstsq(x[i], y[i])[0] - tb.TRUE_w) for i in range(30)]
    np.testing.assert_allclose(tb.optimum_errors([20], num_seeds=30)[0], expected, atol=1e-12)


def test_optimum_errors_are_proportional_to_sigma():
    """The same draws with twice the noise: w* − w = cov(x, σz)/var(x) doubles exactly."""
    one = tb.optimum_errors([100, 1000], num_seeds=50, noise_std=0.5)
    two = tb.optimum_errors([100, 1000], num_seeds=50, noise_std=1.0)
    np.testing.assert_allclose(two, 2 * one, rtol=1e-9)


def test_optimum_errors_shrink_like_sigma_over_root_n():
    sizes = np.array([100, 1000, 10000])
    rms = np.sqrt(np.mean(tb.optimum_errors(sizes, num_seeds=400) ** 2, axis=1))
    np.testing.assert_allclose(rms, SIGMA / np.sqrt(sizes), rtol=0.1)


def test_optimum_errors_loop_over_sizes_only_not_over_seeds():
    tree = ast.parse(inspect.getsource(tb.optimum_errors))
    loops = [node for node in ast.walk(tree) if isinstance(node, (ast.For, ast.comprehension))]
    assert [ast.unparse(loop.iter) for loop in loops] == ["sizes", "sizes"]
    assert not any(isinstance(node, ast.While) for node in ast.walk(tree))


# --- bad input --------------------------------------------------------------------------------------


@pytest.mark.parametrize("call, message", [
    (lambda: tb.normal_equations("abc", [1.0, 2.0, 3.0]), r"x must be an array of numbers, got 'abc'"),
    (lambda: tb.normal_equations([1.0, 2.0], [1.0, 2.0, 3.0]), r"x.shape=\(2,\) and y.shape=\(3,\)"),
    (lambda: tb.normal_equations([1.0, np.nan], [1.0, 2.0]), r"x\[1\] is nan"),
    (lambda: tb.normal_equations([1.0, 2.0], [1.0, np.inf]), r"y\[1\] is inf"),
    (lambda: tb.normal_equations([2.0, 2.0], [1.0, 3.0]), r"x is constant: var\(x\) = 0"),
    (lambda: tb.normal_equations([[1.0, 2.0], [4.0, 4.0]], np.ones((2, 2))), r"x is constant \(row 1\)"),
    (lambda: tb.normal_equations([1.0], [1.0]), r"N >= 2"),
    (lambda: tb.expected_test_mse(3.0, 2.0, -0.5), r"noise_std must be >= 0, got -0.5"),
    (lambda: tb.expected_test_mse("3", 2.0), r"w must be a real number, got '3'"),
    (lambda: tb.optimum_errors([100, 1]), r"size must be >= 2, got 1"),
    (lambda: tb.optimum_errors([100], num_seeds=0), r"num_seeds must be >= 1, got 0"),
    (lambda: tb.optimum_errors([100], noise_std=float("nan")), r"noise_std must be finite, got nan"),
])
def test_bad_input_raises_an_error_that_names_the_value(call, message):
    with pytest.raises((TypeError, ValueError), match=message):
        call()


# --- figures ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def figures(noisy):
    x, y, model, history = noisy
    sizes = [10, 100, 1000]
    return {
        "distance": tb.plots.plot_distance_to_optimum(history, tb.normal_equations(x, y)),
        "residuals": tb.plots.plot_residuals(x, y.numpy() - model(x).numpy(), SIGMA),
        "errors": tb.plots.plot_optimum_errors(sizes, tb.optimum_errors(sizes, num_seeds=200), SIGMA),
    }


def test_figures_have_titles_labels_legends_and_reproducible_svg_on_white(figures):
    for name, fig in figures.items():
        for ax in fig.axes:
            assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel(), name
            assert ax.get_legend() is not None, name
        svg = fig.to_svg()
        assert svg == fig.to_svg() and b"<dc:date>" not in svg, name
        root = ET.fromstring(svg)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        background = re.search(r'<g id="patch_1">\s*<path d="[^"]*"\s*style="([^"]*)"', svg.decode())
        assert "fill: #ffffff" in background.group(1), name


def test_distance_figure_draws_both_distances_and_the_optimums_gap(noisy, figures):
    x, y, _, history = noisy
    w_opt, b_opt = tb.normal_equations(x, y)
    ax = figures["distance"].axes[0]
    to_truth, to_optimum, gap = ax.lines
    w = np.append(history.w, history.final_w).astype(np.float64)
    b = np.append(history.b, history.final_b).astype(np.float64)
    np.testing.assert_allclose(to_optimum.get_ydata(), np.hypot(w - w_opt, b - b_opt))
    np.testing.assert_allclose(to_truth.get_ydata(), np.hypot(w - 3.0, b - 2.0))
    assert gap.get_ydata()[0] == pytest.approx(np.hypot(w_opt - 3.0, b_opt - 2.0))
    assert ax.get_yscale() == "log"


def test_error_figure_theory_line_has_slope_minus_one_half_on_log_log_axes(figures):
    ax = figures["errors"].axes[0]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    rms, theory, exact = ax.lines
    n, e = np.log(theory.get_xdata()), np.log(theory.get_ydata())
    assert np.polyfit(n, e, 1)[0] == pytest.approx(-0.5)
    sizes = exact.get_xdata()  # the exact RMS for normal inputs, sigma/sqrt(N - 3), dotted
    np.testing.assert_allclose(exact.get_ydata(), SIGMA / np.sqrt(sizes - 3))
    assert exact.get_linestyle() == ":"
    assert len(ax.collections[0].get_offsets()) == 3 * 100  # the first 100 seeds of each N as dots


def test_residual_figure_marks_plus_minus_sigma_and_the_noise_density(figures):
    left, right = figures["residuals"].axes
    levels = sorted(line.get_ydata()[0] for line in left.lines)
    assert levels == [-SIGMA, 0.0, SIGMA]
    density = right.lines[0]
    peak = density.get_ydata().max()
    assert peak == pytest.approx(1 / (SIGMA * np.sqrt(2 * np.pi)), rel=1e-3)
