"""Claims of book/noisy-data.md: every quantitative statement its prose makes, computed from the package.

One test per claim, named after the chapter, its section and the claim; each checks that the chapter
still says the sentence, then computes the fact.
"""

import re
from statistics import NormalDist

import numpy as np
import pytest
from chapter import Chapter

import training_basics as tb

CHAPTER = Chapter("noisy-data")
SIGMA = tb.NOISE_STD
RNG_SEED = 2026  # the tests' own Monte Carlo draws


@pytest.fixture(scope="module")
def run():
    """The chapter's run: noisy data, 100 epochs at 0.1, the optimum, the test sets."""
    x, y = tb.synthesize(noise_std=SIGMA)
    model = tb.Model()
    history = tb.train(model, x, y, epochs=100, learning_rate=0.1)
    x64, y64 = x.numpy().astype(np.float64), y.numpy().astype(np.float64)
    w_star, b_star = tb.normal_equations(x, y)
    path_w = np.append(history.w, history.final_w).astype(np.float64)
    path_b = np.append(history.b, history.final_b).astype(np.float64)
    return dict(x=x, y=y, x64=x64, y64=y64, model=model, history=history, w_star=w_star, b_star=b_star,
                to_optimum=np.hypot(path_w - w_star, path_b - b_star),
                to_truth=np.hypot(path_w - tb.TRUE_w, path_b - tb.TRUE_b),
                test=tb.synthesize(noise_std=SIGMA, seed=tb.TEST_SEED),
                big_test=tb.synthesize(num_examples=1_000_000, noise_std=SIGMA, seed=tb.TEST_SEED))


@pytest.fixture(scope="module")
def study():
    sizes = np.array([10, 30, 100, 300, 1_000, 3_000, 10_000])
    errors = tb.optimum_errors(sizes, num_seeds=500, noise_std=SIGMA)
    return sizes, errors, np.sqrt(np.mean(errors**2, axis=1))


@pytest.fixture(scope="module")
def table():
    """The chapter's table: distance from the truth after 5, 15, 50 epochs and of the optimum."""
    distance, factors = {}, {}
    for n in [1_000, 10_000, 100_000]:
        data = tb.synthesize(num_examples=n, noise_std=SIGMA)
        h = tb.train(tb.Model(), data.x, data.y, epochs=50, learning_rate=0.1)
        w, b = np.append(h.w, h.final_w), np.append(h.b, h.final_b)
        w_opt, b_opt = tb.normal_equations(data.x, data.y)
        for k in [5, 15, 50]:
            distance[n, k] = float(np.hypot(w[k] - tb.TRUE_w, b[k] - tb.TRUE_b))
            distance[n, k, "to optimum"] = float(np.hypot(w[k] - w_opt, b[k] - b_opt))
        distance[n, "optimum"] = float(np.hypot(w_opt - tb.TRUE_w, b_opt - tb.TRUE_b))
        factors[n] = tb.contraction_factors(data.x, 0.1)
    return distance, factors


def _sets(num_sets, n, sigma=SIGMA, seed=RNG_SEED):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((num_sets, n))
    return x, tb.TRUE_w * x + tb.TRUE_b + sigma * rng.standard_normal((num_sets, n))


# --- Setup and Training on noisy data ---------------------------------------------------------------


def test_noisy_data__setup__sigma_is_the_value_the_data_chapter_used():
    """Issue 16, item 11: the setup said "sigma = `noise_std`", a variable name where the value belongs."""
    assert not CHAPTER.says("$\\sigma$ = `noise_std`")
    assert CHAPTER.says("The noise has standard deviation $\\sigma =$ {glue:text}`noisy-sigma:.1f`, "
                        "`tb.NOISE_STD`, "
                        "the value the data chapter used.")
    assert 'glue("noisy-sigma", float(noise_std), display=False)' in CHAPTER.source
    assert "noise_std = tb.NOISE_STD" in CHAPTER.setup_code()
    assert "tb.synthesize(noise_std=0.5)" in Chapter("data").source and tb.NOISE_STD == 0.5


def test_noisy_data__training_on_noisy_data__the_inputs_are_the_books_usual_ones_only_outputs_move(run):
    assert CHAPTER.says("The inputs are the book's usual {glue:text}`noisy-n` training inputs; "
                        "only the outputs move.")
    clean = tb.synthesize()
    assert np.array_equal(clean.x.numpy(), run["x"].numpy())
    assert not np.array_equal(clean.y.numpy(), run["y"].numpy())


def test_noisy_data__training_on_noisy_data__more_epochs_will_not_make_it_the_true_line(run):
    assert CHAPTER.says("That is not the true line, and more epochs will not make it so")
    model = tb.Model()
    h = tb.train(model, run["x"], run["y"], epochs=300, learning_rate=0.1)
    assert np.hypot(h.final_w - tb.TRUE_w, h.final_b - tb.TRUE_b) > 0.01
    assert abs(h.final_w - run["w_star"]) < 1e-6 and abs(h.final_b - run["b_star"]) < 1e-6


def test_noisy_data__the_normal_equations__formulas_and_lstsq_agree_to_double_precision(run):
    assert CHAPTER.says("The two formulas and `lstsq` agree to {glue:text}`noisy-lstsq-gap:.0e`, "
                        "the rounding of double precision.")
    w_ls, b_ls = tb.closed_form(run["x"], run["y"])
    assert max(abs(run["w_star"] - w_ls), abs(run["b_star"] - b_ls)) < 100 * np.finfo(np.float64).eps


def test_noisy_data__the_normal_equations__trained_agrees_to_float32_rounding(run):
    assert CHAPTER.says("The trained parameters agree with them to {glue:text}`noisy-trained-gap:.0e`, "
                        "the rounding of the model's float32 variables")
    h = run["history"]
    gap = max(abs(h.final_w - run["w_star"]), abs(h.final_b - run["b_star"]))
    assert gap < 4 * np.spacing(np.float32(tb.TRUE_w))


def test_noisy_data__the_normal_equations__the_optimum_is_tens_of_thousands_of_times_further(run):
    assert CHAPTER.says("is {glue:text}`noisy-truth-gap:.4f` away from the true line, "
                        "tens of thousands of times further.")
    h = run["history"]
    trained_gap = max(abs(h.final_w - run["w_star"]), abs(h.final_b - run["b_star"]))
    truth_gap = max(abs(run["w_star"] - tb.TRUE_w), abs(run["b_star"] - tb.TRUE_b))
    assert 1e4 <= truth_gap / trained_gap < 1e5


def test_noisy_data__the_normal_equations__slope_error_is_cov_x_noise_over_var_x(run):
    assert CHAPTER.says("w^* - 3 = \\frac{\\operatorname{cov}(x, \\varepsilon)}{\\operatorname{var}(x)}.")
    x, y = run["x64"], run["y64"]
    eps = y - (tb.TRUE_w * x + tb.TRUE_b)
    assert np.cov(x, eps)[0, 1] / np.var(x, ddof=1) == pytest.approx(run["w_star"] - tb.TRUE_w, abs=1e-12)
    assert np.corrcoef(x, eps)[0, 1] != 0  # "never exactly uncorrelated with it"


def test_noisy_data__where_training_goes__a_nearly_constant_factor_per_epoch(run):
    assert CHAPTER.says("Each epoch shrinks the distance to the optimum by a nearly constant factor")
    ratios = run["to_optimum"][1:61] / run["to_optimum"][:60]
    assert ratios.max() - ratios.min() < 0.03 and abs(ratios.mean() - 0.8) < 0.02


def test_noisy_data__where_training_goes__the_two_distances_are_the_same_at_first(run):
    assert CHAPTER.says("the two distances are the same at first, while the optimisation error dominates")
    np.testing.assert_allclose(run["to_truth"][:6], run["to_optimum"][:6], rtol=0.05)


def test_noisy_data__where_training_goes__float32_stops_one_the_dotted_line_the_other(run):
    assert CHAPTER.says("the distance to the optimum keeps falling until float32 rounding stops it, and "
                        "the distance to the true line stops at the dotted line.")
    to_optimum, to_truth = run["to_optimum"], run["to_truth"]
    assert to_optimum[-1] < 1e-6 and np.ptp(to_optimum[-20:]) < 1e-6  # flat at float32 rounding
    gap = np.hypot(run["w_star"] - tb.TRUE_w, run["b_star"] - tb.TRUE_b)
    np.testing.assert_allclose(to_truth[-30:], gap, atol=1e-5)


def _draws(seeds):
    """The chapter's run on other draws: (seed, angle at the optimum between start and truth, closest distance
    to the truth over the optimum's, the same after 100 epochs), as the chapter computes them."""
    out = []
    for seed in seeds:
        data = tb.synthesize(noise_std=SIGMA, seed=seed)
        path = tb.sweep(data.x, data.y, [0.1], epochs=100)
        to_truth = np.hypot(path.w[0] - tb.TRUE_w, path.b[0] - tb.TRUE_b)
        w_opt, b_opt = tb.normal_equations(data.x, data.y)
        gap = np.hypot(w_opt - tb.TRUE_w, b_opt - tb.TRUE_b)
        start, truth = np.array([2.0 - w_opt, 1.0 - b_opt]), np.array([tb.TRUE_w - w_opt, tb.TRUE_b - b_opt])
        angle = np.degrees(np.arccos(start @ truth / (np.linalg.norm(start) * np.linalg.norm(truth))))
        out.append((seed, angle, to_truth.min() / gap, to_truth[-1] / gap))
    return np.array(out)


def test_noisy_data__where_training_goes__other_draws_pass_closer_to_the_truth_on_the_way(run):
    """Review W1: 'the distance to the true line cannot fall below the optimum's own' holds for the book's
    draw only; on seeds 1-12 the path passes closer to the truth than the optimum in 8 (by more than 1 %)."""
    assert not CHAPTER.says("the distance to the true line cannot fall below the optimum's own")
    assert CHAPTER.says("the distance to the true line ends at the optimum's own:")
    assert CHAPTER.says("In this draw the distance to the true line never falls below the optimum's. That is "
                        "the draw's doing, not a law.")
    assert CHAPTER.says("where the true line lies on the start's side of the optimum, the path usually "
                        "passes by it on the way: for a while it is closer to the true line than the optimum "
                        "is, by more than a hundredth of the optimum's distance, and then it moves on to the "
                        "optimum.")
    assert CHAPTER.says("In {glue:text}`noisy-draws-closer` of the {glue:text}`noisy-draws` draws the path "
                        "comes "
                        "closer to the true line than the optimum, by more than a hundredth of its distance, "
                        "and in one to "
                        "{glue:text}`noisy-draws-closest:.0%` of the optimum's distance: each time at an "
                        "angle "
                        "below 90°, the true line on the start's side. Where the angle is above 90° it never "
                        "comes closer by more than a hundredth. After {glue:text}`noisy-epochs` epochs every "
                        "run is back at the optimum's distance")
    gap = np.hypot(run["w_star"] - tb.TRUE_w, run["b_star"] - tb.TRUE_b)
    assert run["to_truth"].min() > 0.999 * gap  # the book's draw: never below
    shown = _draws(range(1, 13))
    closer = shown[:, 2] < 0.99
    assert closer.sum() == 8 and round(shown[:, 2].min(), 2) == 0.24
    more = np.concatenate([shown, _draws(range(13, 25))])  # 24 draws: the rule holds beyond the twelve
    closer = more[:, 2] < 0.99
    assert np.all(more[closer, 1] < 90) and np.all(more[more[:, 1] > 90, 2] >= 0.99)
    assert closer.sum() >= 8 and (~closer).sum() >= 8
    assert np.all(np.abs(more[:, 3] - 1) < 1e-3)  # back at the optimum's distance
    # post-fix review, item 5: only with the hundredth - without it, draws above 90° come a little closer, and
    # on the start's side a draw can come only a little closer: "usually"
    assert np.any(more[more[:, 1] > 90, 2] < 1) and np.any((more[:, 1] < 90) & ~closer)
    start_side = more[:, 1] < 90
    assert closer[start_side].mean() > 0.5
    data = tb.synthesize(noise_std=SIGMA, seed=3)  # "trains each as tb.train would": the same run, to the bit
    assert CHAPTER.says("`tb.sweep` from {ref}`the learning-rate chapter <chapter-learning-rate>` trains "
                        "each "
                        "as `tb.train` would, and records the parameters after the last epoch too")
    h = tb.train(tb.Model(), data.x, data.y, epochs=100, learning_rate=0.1)
    path = tb.sweep(data.x, data.y, [0.1], epochs=100)
    np.testing.assert_array_equal(path.w[0, :-1], h.w)
    np.testing.assert_array_equal(path.b[0, :-1], h.b)
    assert (path.w[0, -1], path.b[0, -1]) == (np.float32(h.final_w), np.float32(h.final_b))


def test_noisy_data__where_training_goes__what_the_alt_text_describes(run):
    to_optimum, to_truth = run["to_optimum"], run["to_truth"]
    assert to_optimum[0] == pytest.approx(1.4, abs=0.05) and to_truth[0] == pytest.approx(1.4, abs=0.05)
    flat_from = int(np.argmax(to_optimum <= to_optimum[-1] * 1.001))
    assert 60 <= flat_from <= 80 and 2e-7 < to_optimum[-1] < 1e-6  # ~70 epochs, about half a millionth
    gap = np.hypot(run["w_star"] - tb.TRUE_w, run["b_star"] - tb.TRUE_b)
    assert to_truth[40] < 1.05 * gap and round(gap, 3) == 0.012


# --- The floor --------------------------------------------------------------------------------------


def test_noisy_data__the_floor__expected_mse_is_sigma2_plus_the_squared_parameter_errors():
    assert CHAPTER.says("\\mathbb{E}\\big[(y - (wx + b))^2\\big] = \\sigma^2 + (w - 3)^2 + (b - 2)^2.")
    rng = np.random.default_rng(RNG_SEED)
    x = rng.standard_normal(2_000_000)
    y = tb.TRUE_w * x + tb.TRUE_b + SIGMA * rng.standard_normal(x.size)
    for w, b in [(3.0, 2.0), (2.8, 2.1), (3.3, 1.6)]:
        assert np.mean((y - (w * x + b)) ** 2) == pytest.approx(tb.expected_test_mse(w, b, SIGMA), rel=3e-3)


def test_noisy_data__the_floor__no_line_below_sigma2_only_the_true_line_reaches_it():
    assert CHAPTER.says("So the expected test MSE of any line is at least $\\sigma^2$, and only the true "
                        "line reaches it")
    ws, bs = np.linspace(2.0, 4.0, 41), np.linspace(1.0, 3.0, 41)
    grid = np.array([[tb.expected_test_mse(w, b, SIGMA) for w in ws] for b in bs])
    assert grid.min() == SIGMA**2
    (i,), (j,) = np.nonzero(grid == SIGMA**2)
    assert (ws[j], bs[i]) == (tb.TRUE_w, tb.TRUE_b)


def test_noisy_data__the_floor__above_it_by_the_square_of_its_distance_from_the_true_line(run):
    assert CHAPTER.says("{glue:text}`noisy-excess:.2e`, the square of its distance from the true line.")
    h = run["history"]
    excess = tb.expected_test_mse(h.final_w, h.final_b, SIGMA) - SIGMA**2
    assert excess == pytest.approx(np.hypot(h.final_w - tb.TRUE_w, h.final_b - tb.TRUE_b) ** 2)


def test_noisy_data__measured_on_test_sets__the_true_lines_test_mse_is_about_sigma2(run):
    assert CHAPTER.says("On the book's test set the true line's MSE is {glue:text}`noisy-test-true-mse:.4f`, "
                        "about $\\sigma^2$")
    test = run["test"]
    mse = tb.evaluate(tb.Model(w=tb.TRUE_w, b=tb.TRUE_b), test.x, test.y).test_mse
    assert abs(mse - SIGMA**2) < 2 * SIGMA**2 * np.sqrt(2 / test.x.shape[0])  # within two standard errors


def test_noisy_data__measured_on_test_sets__by_a_hair_the_trained_model_does_better_there(run):
    assert CHAPTER.says("by a hair, it does *better* than the true line there.")
    test = run["test"]
    true_mse = tb.evaluate(tb.Model(w=tb.TRUE_w, b=tb.TRUE_b), test.x, test.y).test_mse
    trained_mse = tb.evaluate(run["model"], test.x, test.y).test_mse
    assert -1e-3 < trained_mse - true_mse < 0


def test_noisy_data__measured_on_test_sets__that_is_chance_either_line_may_come_out_ahead(run):
    """On test sets of 1000 the trained model often beats the true line; on sets of 100,000, never."""
    assert CHAPTER.says("That is chance.")
    assert CHAPTER.says("on a test set of this size either line may come out ahead.")
    h = run["history"]
    for n, low, high in [(1_000, 0.1, 0.5), (100_000, 0.0, 0.01)]:
        x, y = _sets(200, n)
        true_mse = np.mean((y - (tb.TRUE_w * x + tb.TRUE_b)) ** 2, axis=1)
        trained_mse = np.mean((y - (h.final_w * x + h.final_b)) ** 2, axis=1)
        assert low <= np.mean(trained_mse < true_mse) <= high, n


def test_noisy_data__measured_on_test_sets__the_difference_and_its_chance_term(run):
    assert CHAPTER.says("the difference of their MSEs is $\\overline{d^2} + 2\\,\\overline{\\varepsilon d}$")
    assert CHAPTER.says("with standard deviation $2\\sigma\\,\\mathrm{rms}(d)/\\sqrt{N}$")
    h, test = run["history"], run["test"]
    x, y = test.x.numpy().astype(np.float64), test.y.numpy().astype(np.float64)
    d = (tb.TRUE_w - h.final_w) * x + (tb.TRUE_b - h.final_b)
    eps = y - (tb.TRUE_w * x + tb.TRUE_b)
    difference = np.mean((y - (h.final_w * x + h.final_b)) ** 2) - np.mean(eps**2)
    assert difference == pytest.approx(np.mean(d**2) + 2 * np.mean(eps * d), abs=1e-12)
    rng = np.random.default_rng(RNG_SEED)  # the same inputs, 4000 fresh draws of the noise
    chance_terms = 2 * np.mean(SIGMA * rng.standard_normal((4000, x.size)) * d, axis=1)
    predicted = 2 * SIGMA * np.sqrt(np.mean(d**2) / x.size)
    assert chance_terms.std() == pytest.approx(predicted, rel=0.05)
    assert predicted > np.mean(d**2)  # "larger than the excess"
    assert CHAPTER.says("The first term is close to the expected excess, the average of $d^2$ "
                        "over new inputs")
    expected = tb.expected_test_mse(h.final_w, h.final_b, SIGMA) - SIGMA**2
    assert np.mean(d**2) == pytest.approx(expected, rel=0.1) and np.mean(d**2) != expected


def test_noisy_data__measured_on_test_sets__on_a_million_the_expected_order(run):
    assert CHAPTER.says("and the order is the expected one")
    assert CHAPTER.says("No model beats the true line on new data; on a small sample one can, by chance.")
    h, big = run["history"], run["big_test"]
    true_mse = tb.evaluate(tb.Model(w=tb.TRUE_w, b=tb.TRUE_b), big.x, big.y).test_mse
    trained_mse = tb.evaluate(run["model"], big.x, big.y).test_mse
    excess = tb.expected_test_mse(h.final_w, h.final_b, SIGMA) - SIGMA**2
    x = big.x.numpy().astype(np.float64)
    chance = 2 * SIGMA * np.sqrt(np.mean(((tb.TRUE_w - h.final_w) * x + tb.TRUE_b - h.final_b) ** 2) / x.size)
    assert chance < excess / 5
    assert trained_mse - true_mse == pytest.approx(excess, abs=3 * chance + 1e-6)  # float32 sums: 1e-6
    assert abs(true_mse - SIGMA**2) < 1e-3  # "close to σ²"


def test_noisy_data__measured_on_test_sets__on_training_data_the_optimum_always_beats_the_truth(run):
    """Review M3: 'on its own training data it always does' holds for the optimum, not for the table's
    models after 5 or 15 epochs, whose training MSE is above the true line's."""
    assert not CHAPTER.says("on its own training data it always does.")
    assert CHAPTER.says("On its own training data the order is reversed, and for the optimum always:")
    assert CHAPTER.says("on its own training data the optimum always does (a model stopped after a few "
                        "epochs "
                        "need not).")
    for n in [1_000, 10_000]:  # the table's draws: stopped after 5 or 15 epochs, above the true line
        data = tb.synthesize(num_examples=n, noise_std=SIGMA)
        h = tb.train(tb.Model(), data.x, data.y, epochs=15, learning_rate=0.1)
        true_line = float(tb.l2_loss(data.y, 3.0 * data.x + 2.0))
        for k in (5, 14):  # the loss before step k: after k epochs
            assert h.loss[k] > true_line, (n, k)
    x, y = _sets(500, 50)
    w, b = tb.normal_equations(x, y)
    optimum_mse = np.mean((y - (w[:, None] * x + b[:, None])) ** 2, axis=1)
    true_mse = np.mean((y - (tb.TRUE_w * x + tb.TRUE_b)) ** 2, axis=1)
    assert (optimum_mse <= true_mse).all()
    train = run["model"]
    assert float(tb.l2_loss(run["y"], train(run["x"]))) < float(tb.l2_loss(run["y"], 3.0 * run["x"] + 2.0))


# --- Residuals --------------------------------------------------------------------------------------


def test_noisy_data__residuals__the_band_is_flat_and_equally_wide_across_x(run):
    assert CHAPTER.says("the band of residuals is flat and equally wide across all $x$")
    x = run["x64"]
    r = run["y64"] - run["model"](run["x"]).numpy()
    parts = [r[x < -1], r[np.abs(x) <= 1], r[x > 1]]
    assert all(abs(part.mean()) < 3 * SIGMA / np.sqrt(part.size) for part in parts)
    stds = [part.std() for part in parts]
    assert max(stds) / min(stds) < 1.2


def test_noisy_data__residuals__the_histogram_follows_the_noises_density(run):
    assert CHAPTER.says("their histogram follows the noise's density")
    r = run["y64"] - run["model"](run["x"]).numpy()
    levels = np.linspace(0.05, 0.95, 19)
    normal = np.array([NormalDist(0, SIGMA).inv_cdf(p) for p in levels])
    assert np.abs(np.quantile(r, levels) - normal).max() < 0.05


def test_noisy_data__residuals__about_the_68_percent_of_a_normal_distribution(run):
    assert CHAPTER.says("lies within $\\pm\\sigma$, about the 68 % of a normal distribution.")
    r = run["y64"] - run["model"](run["x"]).numpy()
    normal = NormalDist().cdf(1) - NormalDist().cdf(-1)
    assert round(normal, 2) == 0.68 and abs(np.mean(np.abs(r) <= SIGMA) - normal) < 0.03


def test_noisy_data__residuals__exactly_zero_mean_and_uncorrelated_with_x(run):
    assert CHAPTER.says("the residuals of the optimum average to zero, and $\\partial L / \\partial w = 0$ "
                        "says they are uncorrelated with $x$")
    x, y = run["x64"], run["y64"]
    r = y - (run["w_star"] * x + run["b_star"])
    assert abs(r.mean()) < 1e-14 and abs(np.mean(x * r)) < 1e-14


# --- How far the optimum is from the truth ----------------------------------------------------------


def test_noisy_data__how_far__given_the_inputs_the_slope_error_has_sd_sigma_over_root_sxx(run):
    assert CHAPTER.says("with standard deviation $\\sigma / \\sqrt{\\sum_i (x_i - \\bar x)^2}$")
    x = run["x64"]
    eps = SIGMA * np.random.default_rng(RNG_SEED).standard_normal((4000, x.size))
    w, _ = tb.normal_equations(np.broadcast_to(x, eps.shape), tb.TRUE_w * x + tb.TRUE_b + eps)
    sxx = np.sum((x - x.mean()) ** 2)
    assert (w - tb.TRUE_w).std() == pytest.approx(SIGMA / np.sqrt(sxx), rel=0.05)


def test_noisy_data__how_far__the_sum_in_the_root_is_about_n(run):
    assert CHAPTER.says("The sum in the root is about $N$ for inputs of unit variance")
    x = run["x64"]
    assert np.sum((x - x.mean()) ** 2) / x.size == pytest.approx(1.0, abs=0.1)


def test_noisy_data__how_far__thousands_of_training_runs_so_solved_with_no_loop_over_seeds(study):
    assert CHAPTER.says("Training each of them would mean thousands of runs of the training loop")
    assert CHAPTER.says("with no Python loop over seeds")
    sizes, errors, _ = study
    assert errors.size >= 2000
    assert "for n in sizes:" in tb.show_source(tb.optimum_errors).data
    assert "for " not in tb.show_source(tb.normal_equations).data.split('"""')[-1]


def test_noisy_data__how_far__slope_minus_one_half(study):
    assert CHAPTER.says("the slope −1/2 of {eq}`eq:noisy-sqrt-n`")
    sizes, _, rms = study
    assert np.polyfit(np.log(sizes), np.log(rms), 1)[0] == pytest.approx(-0.5, abs=0.05)
    assert np.polyfit(np.log(sizes[2:]), np.log(rms[2:]), 1)[0] == pytest.approx(-0.5, abs=0.02)


def test_noisy_data__how_far__ten_times_the_data_about_root_ten_closer(study):
    assert CHAPTER.says("Ten times more data bring the optimum only about $\\sqrt{10} \\approx 3.2$ times "
                        "closer to the truth.")
    sizes, _, rms = study
    by_decade = rms[:-2] / rms[2:]  # 10 -> 100, 30 -> 300, ...
    assert np.all((2.7 < by_decade) & (by_decade < 3.7)), by_decade
    assert round(np.sqrt(10), 1) == 3.2


def test_noisy_data__how_far__the_largest_departures_are_at_n_10_and_30_and_both_are_predicted(study):
    """Review M2: 'the one visible departure is at N = 10' - N = 30 is 1.090 times sigma/sqrt(N) too."""
    assert not CHAPTER.says("The one visible departure is at $N = 10$")
    assert CHAPTER.says("The largest departures from $\\sigma/\\sqrt{N}$ are at the two smallest sizes, "
                        "where "
                        "the measured error is {glue:text}`noisy-ratio-10:.2f` times $\\sigma/\\sqrt{N}$ at "
                        "$N = 10$ and {glue:text}`noisy-ratio-30:.2f` times at $N = 30$, and both are "
                        "predicted: "
                        "the exact $\\sigma/\\sqrt{N - 3}$ is {glue:text}`noisy-exact-10:.3f` and "
                        "{glue:text}`noisy-exact-30:.3f` times $\\sigma/\\sqrt{N}$ there. At every $N$ the "
                        "measured value lies within {glue:text}`noisy-largest-departure:.1f` standard "
                        "errors of "
                        "the exact one, a standard error being about {glue:text}`noisy-standard-error:.0%` "
                        "of "
                        "the value for {glue:text}`noisy-num-seeds` training sets.")
    assert CHAPTER.says("except at N = 10 and N = 30, where it is slightly above, near the dotted exact "
                        "curve")
    sizes, errors, rms = study
    ratio = rms / (SIGMA / np.sqrt(sizes))
    assert set(np.argsort(-np.abs(ratio - 1))[:2]) == {0, 1} and np.all(ratio[:2] > 1.05)
    assert np.all(np.abs(ratio[2:] - 1) < 0.05)
    exact = SIGMA / np.sqrt(sizes - 3)
    assert np.all(np.abs(rms[:2] - exact[:2]) < np.abs(rms[:2] - SIGMA / np.sqrt(sizes[:2])) + 0.01 * rms[:2])
    standard_error = np.std(errors**2, axis=1) / np.sqrt(errors.shape[1]) / (2 * rms)  # of each RMS
    departure = np.abs(rms - exact) / standard_error
    assert round(departure.max(), 1) == 1.6 and departure.max() < 2
    assert round(float(np.median(standard_error / rms)), 2) == 0.03


def test_noisy_data__how_far__the_equation_is_the_rms_and_the_exact_rms_is_sigma_over_root_n_minus_3():
    """Issue 16, item 11: sigma/sqrt(N) is the RMS; for normal inputs the exact RMS is sigma/sqrt(N - 3),
    1.195x
    at N = 10, so the departure at N = 10 is predictable."""
    assert CHAPTER.says("\\sqrt{\\mathbb{E}\\big[(w^* - 3)^2\\big]} \\approx \\frac{\\sigma}{\\sqrt{N}}.")
    assert CHAPTER.says("so the root mean square is $\\sigma/\\sqrt{N - 3}$, a little more than "
                        "$\\sigma/\\sqrt{N}$ for small $N$")
    assert CHAPTER.says("the mean of whose reciprocal is $1/(N - 3)$")
    assert not CHAPTER.says("|w^* - 3| \\approx \\frac{\\sigma}{\\sqrt{N}}.")
    x, _ = _sets(200_000, 10)
    sxx = np.sum((x - x.mean(axis=1, keepdims=True)) ** 2, axis=1)
    assert np.mean(1 / sxx) == pytest.approx(1 / 7, rel=0.01)  # E[1/chi2_9] = 1/(N - 3)
    errors = tb.optimum_errors([10, 30], num_seeds=200_000, noise_std=SIGMA, seed=RNG_SEED)
    rms = np.sqrt(np.mean(errors**2, axis=1))
    for n, r in zip([10, 30], rms, strict=True):
        assert r == pytest.approx(SIGMA / np.sqrt(n - 3), rel=0.01), n  # not sigma/sqrt(N): 19.5 % off at 10
    assert round(np.sqrt(10 / 7), 3) == 1.195


def test_noisy_data__how_far__the_measured_departure_at_10_is_the_predicted_one(study):
    sizes, errors, rms = study
    squares = errors[0] ** 2
    standard_error = squares.std() / np.sqrt(squares.size) / (2 * rms[0])  # of the RMS, by the delta method
    assert abs(rms[0] - SIGMA / np.sqrt(7)) < 2 * standard_error
    assert abs(rms[0] - SIGMA / np.sqrt(10)) > 2 * standard_error  # sigma/sqrt(N) itself is further off


def test_noisy_data__how_far__a_single_error_averages_about_0_8_sigma_over_root_n():
    """Issue 16, item 11: the mean |w* - 3| is about 0.8 sigma/sqrt(N), sqrt(2/pi), not sigma/sqrt(N)."""
    assert CHAPTER.says("so for $N$ of a hundred or more $|w^* - 3|$ averages about "
                        "{glue:text}`noisy-half-normal:.2f` $\\sigma/\\sqrt{N}$")
    assert not CHAPTER.says("$\\sigma/\\sqrt{N}$ (the last column of the table below)")
    assert round(np.sqrt(2 / np.pi), 2) == 0.80
    errors = tb.optimum_errors([100, 1000], num_seeds=20_000, noise_std=SIGMA, seed=RNG_SEED)
    for n, mean in zip([100, 1000], errors.mean(axis=1), strict=True):
        assert mean / (SIGMA / np.sqrt(n)) == pytest.approx(0.80, abs=0.012), n


def test_noisy_data__how_far__the_last_column_scatters_around_0_8_by_its_standard_error(study):
    """Post-fix review, item 4: the text sent the reader to the last column for 'about 0.80', but with 500
    sets it reads 0.754 to 0.826 for N >= 100, a standard error of about 0.027 away."""
    assert CHAPTER.says("The last column of the table below measures it, but from only "
                        "{glue:text}`noisy-num-seeds` training sets of each size, so it scatters around "
                        "{glue:text}`noisy-half-normal:.2f` by about its standard error, "
                        "{glue:text}`noisy-mean-abs-se:.3f`.")
    sizes, errors, _ = study
    unit = SIGMA / np.sqrt(sizes)
    column = errors.mean(axis=1) / unit
    se = errors.std(axis=1) / np.sqrt(errors.shape[1]) / unit
    large = sizes >= 100
    assert round(np.median(se), 2) == 0.03 and np.all(np.abs(se - np.median(se)) < 0.005)
    deviation = (column[large] - np.sqrt(2 / np.pi)) / se[large]
    assert np.all(np.abs(deviation) < 2.5)  # around 0.80 within its standard errors
    assert 0.5 < np.sqrt(np.mean(deviation**2)) < 2  # and by about one of them, not far less
    assert np.abs(column[large] - 0.80).max() > 0.012  # the old test's tolerance does not hold for the column


def test_noisy_data__how_far__the_figure_draws_the_exact_curve_dotted(study):
    assert CHAPTER.says("and the exact root mean square for inputs drawn from N(0, 1), σ/√(N − 3) (dotted).")
    assert CHAPTER.says("near the dotted exact curve, which bends up there and otherwise lies on the dashed "
                        "line.")
    sizes, errors, rms = study
    ax = tb.plots.plot_optimum_errors(sizes, errors, SIGMA).axes[0]
    (dotted,) = [line for line in ax.lines if line.get_linestyle() == ":"]
    np.testing.assert_allclose(dotted.get_ydata(), SIGMA / np.sqrt(sizes - 3))
    exact, theory = SIGMA / np.sqrt(sizes - 3), SIGMA / np.sqrt(sizes)
    assert abs(rms[0] - exact[0]) < abs(rms[0] - theory[0])  # near the dotted curve at N = 10
    assert np.all(exact[2:] / theory[2:] < 1.02)  # on the dashed line from N = 100


def test_noisy_data__how_far__with_few_inputs_the_spread_is_noisy_and_often_below_n():
    assert CHAPTER.says("$\\sum_i (x_i - \\bar x)^2$ is itself noisy and often smaller than $N$")
    x, _ = _sets(20_000, 10)
    sxx = np.sum((x - x.mean(axis=1, keepdims=True)) ** 2, axis=1)
    assert np.mean(sxx < 10) > 0.5
    assert np.mean(10 / sxx) == pytest.approx(10 / 7, rel=0.05)  # E[1/χ²₉] = 1/7: RMS σ/√(N − 3)


def test_noisy_data__how_far__one_training_set_far_closer_or_several_times_further_with_no_limit(study):
    """Review M1: 'up to three or four times further' holds for this draw of sets; other, larger draws of
    sets reach five to nine times."""
    assert not CHAPTER.says("or up to three or four times further")
    assert CHAPTER.says("can land far closer to the truth than the line, by luck, or several times further: "
                        "of "
                        "the {glue:text}`noisy-num-sets` drawn here, the farthest is "
                        "{glue:text}`noisy-farthest:.1f` times the root mean square of its size. More sets "
                        "would "
                        "find some further still, since given the inputs $w^* - 3$ is normal, and a normal "
                        "variable has no largest value.")
    sizes, errors, rms = study
    theory = SIGMA / np.sqrt(sizes)
    assert np.all(errors.min(axis=1) / theory < 0.01)
    farthest = (errors / rms[:, None]).max()
    assert round(farthest, 1) == 3.9
    for seed in range(RNG_SEED, RNG_SEED + 8):  # more sets (20,000 of a few small sizes): further every time
        more = tb.optimum_errors([10, 30, 100], num_seeds=20_000, noise_std=SIGMA, seed=seed)
        assert (more / np.sqrt(np.mean(more**2, axis=1, keepdims=True))).max() > farthest, seed


def test_noisy_data__how_far__the_figure_draws_the_first_hundred_of_each_size(study):
    assert CHAPTER.says("one grey dot per training set, for the first hundred training sets of each N; "
                        "the root mean square over all of them for each N (blue)")
    assert CHAPTER.says("which draws the first hundred of each size as dots")
    sizes, errors, rms = study
    fig = tb.plots.plot_optimum_errors(sizes, errors, SIGMA)
    (dots,) = fig.axes[0].collections
    np.testing.assert_array_equal(dots.get_offsets()[:, 1], errors[:, :100].ravel())
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), rms)


def test_noisy_data__how_far__what_the_alt_text_describes(study):
    sizes, errors, rms = study
    decades = np.log10(errors[:, :100].max(axis=1) / errors[:, :100].min(axis=1))
    assert np.all((1.5 < decades) & (decades < 3.2))  # "two to three orders of magnitude"
    assert rms[0] == pytest.approx(0.18, abs=0.01) and rms[-1] == pytest.approx(0.005, abs=0.0005)


# --- More data or more epochs -----------------------------------------------------------------------


def test_noisy_data__more_data_or_more_epochs__the_data_sets_are_nested(run):
    assert CHAPTER.says("They are nested: `tb.synthesize` draws the first {glue:text}`noisy-n` examples of "
                        "a larger set exactly as it draws the book's set")
    for n in [10_000, 100_000]:
        larger = tb.synthesize(num_examples=n, noise_std=SIGMA)
        assert np.array_equal(larger.x.numpy()[:1000], run["x"].numpy())
        assert np.array_equal(larger.y.numpy()[:1000], run["y"].numpy())


def test_noisy_data__more_data_or_more_epochs__together_about_sigma_root_2_over_n():
    assert CHAPTER.says("$w^*$ and $b^*$ each have a root mean square error of about $\\sigma/\\sqrt{N}$, so "
                        "together about $\\sigma\\sqrt{2/N}$.")
    for n in [100, 1000]:
        x, y = _sets(2000, n)
        w, b = tb.normal_equations(x, y)
        rms = np.sqrt(np.mean((w - tb.TRUE_w) ** 2 + (b - tb.TRUE_b) ** 2))
        assert rms == pytest.approx(SIGMA * np.sqrt(2 / n), rel=0.05)


def test_noisy_data__more_data_or_more_epochs__the_same_factor_whatever_n(table):
    assert CHAPTER.says("each one shrinks the distance to the optimum by about the same factor whatever $N$, "
                        "because the loss is a mean and its curvature does not grow with the data.")
    distance, factors = table
    for n, rho in factors.items():
        np.testing.assert_allclose(rho, 0.8, atol=0.02)
        measured = (distance[n, 15, "to optimum"] / distance[n, 5, "to optimum"]) ** (1 / 10)
        assert measured == pytest.approx(0.8, abs=0.02), n


def test_noisy_data__more_data_or_more_epochs__after_50_epochs_every_row_has_arrived(table):
    """Review W1: 'falls only until it reaches the optimum's' holds for these draws, not for every one."""
    assert not CHAPTER.says("But the distance to the truth falls only until it reaches the optimum's")
    assert CHAPTER.says("But the distance to the truth ends at the optimum's: in these three draws it falls "
                        "straight to it, after {glue:text}`noisy-table-epochs-max` epochs every row has "
                        "arrived, and further epochs buy nothing. (In a draw whose path passes closer to the "
                        "truth on the way, as in the previous section, further epochs even take it back out "
                        "to "
                        "the optimum's distance.)")
    distance, _ = table
    for n in [1_000, 10_000, 100_000]:
        assert distance[n, 50] == pytest.approx(distance[n, "optimum"], abs=5e-5)  # equal to 4 decimals
        data = tb.synthesize(num_examples=n, noise_std=SIGMA)
        path = tb.sweep(data.x, data.y, [0.1], epochs=100)
        to_truth = np.hypot(path.w[0] - tb.TRUE_w, path.b[0] - tb.TRUE_b).astype(np.float64)
        assert np.all(np.diff(to_truth[:60]) <= 1e-7), n  # straight down to it, never below
        assert to_truth.min() > 0.999 * distance[n, "optimum"], n
    other = _draws([3, 4])  # draws whose path dips: later epochs take them back out
    assert np.all(other[:, 2] < 0.5) and np.all(np.abs(other[:, 3] - 1) < 1e-3)


def test_noisy_data__more_data_or_more_epochs__a_better_optimum_near_the_typical_distance(table):
    assert CHAPTER.says("each within a factor of two of the root mean square $\\sigma\\sqrt{2/N}$ of its "
                        "size.")
    distance, _ = table
    optimum = [distance[n, "optimum"] for n in [1_000, 10_000, 100_000]]
    assert optimum[0] > optimum[1] > optimum[2]  # "falls"
    for n, d in zip([1_000, 10_000, 100_000], optimum, strict=True):
        assert 0.5 < d / (SIGMA * np.sqrt(2 / n)) < 2, n


def test_noisy_data__more_data_or_more_epochs__part_of_the_drop_is_faster_optimisation(table):
    """Issue 16, item 11: 'a hundred times the data bring the model from 0.0673 only to 0.0520' - part of that
    drop is faster optimisation (lambda_min 1.911 -> 1.991), not a better optimum."""
    assert CHAPTER.says("And not all of that little is the better optimum. The optimisation error, the "
                        "distance from "
                        "the optimum, falls too")
    assert CHAPTER.says("faster optimisation, not a better optimum. After 5 epochs it is most of the drop, "
                        "after 15 "
                        "about half.")
    distance, factors = table
    small, large = 1_000, 100_000
    lam = {n: np.linalg.eigvalsh(tb.hessian(tb.synthesize(num_examples=n, noise_std=SIGMA).x))[0]
           for n in (small, large)}
    assert round(lam[small], 3) == 1.911 and round(lam[large], 3) == 1.991
    share = {}
    for k in (5, 15):
        drop = distance[small, k] - distance[large, k]
        share[k] = (distance[small, k, "to optimum"] - distance[large, k, "to optimum"]) / drop
    assert share[5] > 0.6 and 0.35 < share[15] < 0.6
    # the faster optimisation, measured where the optimum is the truth: clean outputs on the same inputs
    for k in (5, 15):
        clean = [tb.train(tb.Model(), d.x, tb.TRUE_w * d.x + tb.TRUE_b, epochs=k, learning_rate=0.1)
                 for d in (tb.synthesize(num_examples=n, noise_std=SIGMA) for n in (small, large))]
        error = [np.hypot(h.final_w - tb.TRUE_w, h.final_b - tb.TRUE_b) for h in clean]
        assert error[0] - error[1] == pytest.approx(
            distance[small, k, "to optimum"] - distance[large, k, "to optimum"], rel=0.15), k


def test_noisy_data__more_data_or_more_epochs__data_help_only_a_model_trained_long_enough(table):
    assert CHAPTER.says("after 15 epochs a hundred times the data bring the model from")
    assert CHAPTER.says("While the optimisation error is the larger, the optimum's position hardly matters.")
    distance, _ = table
    small, large = 1_000, 100_000
    assert large == 100 * small
    for k in [5, 15]:
        assert distance[small, k] / distance[large, k] < 1.5  # hardly closer
        assert distance[small, k, "to optimum"] > 2 * distance[small, "optimum"]  # optimisation the larger
    assert distance[small, "optimum"] / distance[large, "optimum"] > 5  # while the optimum moves a lot


# --- Exercises --------------------------------------------------------------------------------------


def test_noisy_data__exercises__the_intercepts_error_shrinks_like_sigma_over_root_n_too():
    """Review W2: 'b* is close to ybar, whose error is the mean of N noises' - ybar - 2 = 3 xbar + eps_bar,
    whose RMS is about 6 sigma/sqrt(N); b* - 2 = eps_bar - (w* - 3) xbar, the second part sqrt(N) times
    smaller."""
    assert not CHAPTER.says("is close to $\\bar y$, whose error is the mean of $N$ noises")
    assert CHAPTER.says("The intercept's error shrinks like $\\sigma/\\sqrt{N}$ too.")
    assert CHAPTER.says("b^* - 2 = \\bar\\varepsilon - (w^* - 3)\\,\\bar x.")
    assert CHAPTER.says("The second is the product of $w^* - 3$, about $\\sigma/\\sqrt{N}$ in size, and "
                        "$\\bar x$, about $1/\\sqrt{N}$, so it is about $\\sqrt{N}$ times smaller than the "
                        "first, as the last two numbers printed show.")
    for n in [100, 10_000]:
        x, y = _sets(200, n)
        w, b = tb.normal_equations(x, y)
        assert np.sqrt(np.mean((b - tb.TRUE_b) ** 2)) == pytest.approx(SIGMA / np.sqrt(n), rel=0.12)
        eps_mean = (y - tb.TRUE_w * x - tb.TRUE_b).mean(axis=1)
        tilt = (w - tb.TRUE_w) * x.mean(axis=1)
        np.testing.assert_allclose(b - tb.TRUE_b, eps_mean - tilt, atol=1e-12)  # the identity
        ratio = np.sqrt(np.mean(eps_mean**2)) / np.sqrt(np.mean(tilt**2))
        assert 0.5 * np.sqrt(n) < ratio < 2 * np.sqrt(n), (n, ratio)
        y_bar_error = np.sqrt(np.mean((y.mean(axis=1) - tb.TRUE_b) ** 2))
        assert y_bar_error > 2 * SIGMA / np.sqrt(n)  # ybar itself is not within sigma/sqrt(N) of 2


def test_noisy_data__exercises__twice_the_noise_four_times_the_floor_twice_the_error():
    assert CHAPTER.says("The floor grows with $\\sigma^2$, four times; the optimum's error with $\\sigma$, "
                        "twice.")
    assert CHAPTER.says("with twice the noise takes four times the data")
    assert tb.expected_test_mse(3.0, 2.0, 1.0) == 4 * tb.expected_test_mse(3.0, 2.0, 0.5)
    one, two = (tb.optimum_errors([1000], noise_std=s) for s in (0.5, 1.0))
    np.testing.assert_allclose(two, 2 * one, rtol=1e-9)
    rms = lambda e: np.sqrt(np.mean(e**2))  # noqa: E731
    assert rms(tb.optimum_errors([4000], noise_std=1.0)) == pytest.approx(rms(one), rel=0.1)


def test_noisy_data__exercises__the_ratios_are_exact_because_the_draws_are_reused():
    """Issue 16, item 11: the exercise's ratio is exactly 2.000 because the same seeded draws are reused."""
    assert CHAPTER.says("Both ratios come out exact to the digits printed, not merely close, because each "
                        "$\\sigma$ "
                        "reuses the same seeded draws")
    assert CHAPTER.says("fresh draws for each $\\sigma$ would give ratios only near four and two.")
    floors = []
    for sigma in (0.5, 1.0):
        new = tb.synthesize(num_examples=1_000_000, noise_std=sigma, seed=tb.TEST_SEED)
        floors.append(float(tb.l2_loss(new.y, tb.TRUE_w * new.x + tb.TRUE_b)))
    assert floors[1] / floors[0] == pytest.approx(4, abs=5e-5)
    same = [np.sqrt(np.mean(tb.optimum_errors([1000], noise_std=s) ** 2)) for s in (0.5, 1.0)]
    assert same[1] / same[0] == pytest.approx(2, abs=1e-12)
    fresh = [np.sqrt(np.mean(tb.optimum_errors([1000], noise_std=s, seed=seed) ** 2))
             for s, seed in ((0.5, RNG_SEED), (1.0, RNG_SEED + 1))]
    assert 1.7 < fresh[1] / fresh[0] < 2.3 and abs(fresh[1] / fresh[0] - 2) > 5e-4  # near two, not exactly


def test_noisy_data__exercises__a_single_set_is_within_the_rms_about_two_times_in_three():
    """Issue 16, item 11: "typically within 0.005" holds in about 70 % of data sets of 10,000."""
    assert not CHAPTER.says("to be typically within $0.005$")
    assert CHAPTER.says("Even at ten thousand, a single training set is within $0.005$ only about two times "
                        "in three")
    share = np.mean(tb.optimum_errors([10_000], num_seeds=4000, noise_std=SIGMA, seed=RNG_SEED) <= 0.005)
    assert 0.64 < share < 0.72  # 68 % of a normal distribution within one standard deviation
    solution = np.mean(tb.optimum_errors([2_500, 10_000], num_seeds=200)[1] <= 0.005)
    assert 0.6 < solution < 0.75


def test_noisy_data__exercises__two_decimals_take_ten_thousand_examples(study):
    assert CHAPTER.says("$\\sigma/\\sqrt{N} = 0.005$ gives $N = (0.5/0.005)^2 = 10\\,000$.")
    assert CHAPTER.says("a quarter of that leaves the slope twice as uncertain.")
    assert CHAPTER.says("lies within one standard deviation of its mean. Each further decimal costs a "
                        "hundred times "
                        "the data.")
    assert round((0.5 / 0.005) ** 2) == 10_000
    sizes = [2_500, 10_000]
    errors = tb.optimum_errors(sizes, num_seeds=200)
    rms = dict(zip(sizes, np.sqrt(np.mean(errors**2, axis=1)), strict=True))
    assert rms[10_000] == pytest.approx(0.005, rel=0.15)
    assert rms[2_500] / rms[10_000] == pytest.approx(2, rel=0.15)
    by_size = dict(zip(study[0], study[2], strict=True))  # a decimal more for 100 times the data:
    assert by_size[100] / by_size[10_000] == pytest.approx(10, rel=0.1)


# --- The page as a whole ----------------------------------------------------------------------------


def test_noisy_data__references_have_their_own_words_and_the_noise_section_is_linked():
    assert re.findall(r"\{ref\}`[^`<]*`", CHAPTER.source) == []
    assert "{ref}`The data chapter <fig-data-noisy>`" in CHAPTER.source
    assert "name: fig-data-noisy" in Chapter("data").source


def test_noisy_data__every_figure_has_a_caption_name_and_alt_text():
    figure_cells = [options for options, _ in CHAPTER.code_cells() if "figure:" in options]
    assert len(figure_cells) == 3
    for options in figure_cells:
        assert re.search(r"name: fig-noisy-", options) and "caption:" in options and "alt:" in options
