"""Claims of book/training-loop.md: every quantitative statement its prose makes, computed from the package.

Each test is named after the chapter, its section and the claim. Where a test guards a sentence that
was once wrong, it also asserts that the chapter says the (short) sentence it proves, so that an author
who rewrites the sentence or changes a number sees which test depends on it.
"""

import re

import numpy as np
import pytest
from chapter import Chapter

import training_basics as tb

CHAPTER = Chapter("training-loop")


@pytest.fixture(scope="module")
def lab():
    x, y = tb.synthesize()
    history = tb.train(tb.Model(), x, y, epochs=15, learning_rate=0.1)
    w_path = np.append(history.w, history.final_w).astype(np.float64)
    b_path = np.append(history.b, history.final_b).astype(np.float64)
    rho_w = (w_path[1:] - tb.TRUE_w) / (w_path[:-1] - tb.TRUE_w)
    rho_b = (b_path[1:] - tb.TRUE_b) / (b_path[:-1] - tb.TRUE_b)
    eigenvalues, eigenvectors = np.linalg.eigh(tb.hessian(x))
    fast, slow = tb.contraction_factors(x, 0.1)
    return dict(x=x, y=y, history=history, w_path=w_path, b_path=b_path, rho_w=rho_w, rho_b=rho_b,
                eigenvalues=eigenvalues, eigenvectors=eigenvectors, fast=fast, slow=slow)


def rate(x, eta):
    return np.abs(tb.contraction_factors(x, eta)).max()


# --- The whole algorithm on one screen -------------------------------------------------------------


def one_screen_cell():
    (code,) = [code for _, code in CHAPTER.code_cells() if "by_hand = []" in code]
    return code


def test_training_loop__the_whole_algorithm_on_one_screen__about_15_lines_of_tensorflow_alone():
    code = one_screen_cell()
    lines = [line for line in code.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(lines) <= 18, lines
    assert "tb." not in code and "training_basics" not in code
    assert code.count(".assign_sub(") == 2 and "tf.GradientTape()" in code and "tape.gradient" in code


def test_training_loop__the_whole_algorithm_on_one_screen__same_data_and_same_history_as_tb_train():
    namespace = {}
    exec(compile(one_screen_cell(), "training-loop.md", "exec"), namespace)  # noqa: S102
    data = tb.synthesize()
    np.testing.assert_array_equal(namespace["x"].numpy(), data.x.numpy())
    np.testing.assert_array_equal(namespace["y"].numpy(), data.y.numpy())
    by_hand = np.array(namespace["by_hand"])
    history = tb.train(tb.Model(), data.x, data.y, epochs=15, learning_rate=0.1)
    for column, values in enumerate([history.w, history.b, history.loss]):
        np.testing.assert_array_equal(by_hand[:, column], values)
    assert float(namespace["w"].numpy()) == history.final_w
    assert float(namespace["b"].numpy()) == history.final_b


# --- Training the lab's model -----------------------------------------------------------------------


def test_training_loop__training_the_labs_model__the_log_pairs_w_b_and_loss_all_before_the_update(lab):
    assert CHAPTER.says("the epoch, and $w$, $b$ and the loss all taken before that epoch's update")
    assert "w after" not in CHAPTER.source and "b after" not in CHAPTER.source
    lines = []
    history = tb.train(tb.Model(), lab["x"], lab["y"], epochs=15, learning_rate=0.1,
                       log=lambda *args: lines.append(args))
    for epoch, w, b, loss in lines:
        assert (w, b, loss) == (history.w[epoch], history.b[epoch], history.loss[epoch])
        model_loss = float(tb.l2_loss(lab["y"], tb.Model(w=w, b=b)(lab["x"])))
        assert loss == pytest.approx(model_loss, rel=1e-6)


def test_training_loop__training_the_labs_model__close_to_the_true_line_but_not_on_it_yet(lab):
    h = lab["history"]
    assert 0 < abs(h.final_w - tb.TRUE_w) < 0.05 and 0 < abs(h.final_b - tb.TRUE_b) < 0.05


# --- How fast: a constant factor per epoch ----------------------------------------------------------


def test_training_loop__how_fast__the_factor_hardly_changes_from_epoch_to_epoch(lab):
    assert np.ptp(lab["rho_w"]) < 1e-3 and np.ptp(lab["rho_b"]) < 1e-3


def test_training_loop__how_fast__the_loss_factor_is_close_to_the_square_of_the_parameters_factor(lab):
    loss_factor = np.mean(lab["history"].loss[1:] / lab["history"].loss[:-1])
    assert loss_factor == pytest.approx(lab["rho_w"].mean() ** 2, abs=0.01)
    assert loss_factor == pytest.approx(lab["rho_b"].mean() ** 2, abs=0.01)


# --- Why: the loss is a quadratic bowl --------------------------------------------------------------


def test_training_loop__why_the_loss_is_a_quadratic_bowl__h_is_near_2i_but_not_equal(lab):
    h = tb.hessian(lab["x"])
    assert 0 < np.abs(h - 2 * np.eye(2)).max() < 0.1


def test_training_loop__why_the_loss_is_a_quadratic_bowl__the_error_follows_i_minus_eta_h_to_float32(lab):
    assert CHAPTER.says("is float32 rounding")
    step = np.eye(2) - 0.1 * tb.hessian(lab["x"])
    errors = np.stack([lab["w_path"] - tb.TRUE_w, lab["b_path"] - tb.TRUE_b])
    assert np.abs(step @ errors[:, :-1] - errors[:, 1:]).max() < 5 * np.finfo(np.float32).eps * tb.TRUE_w


# --- Why w's factor is outside that range ----------------------------------------------------------


def test_training_loop__why_ws_factor_is_outside_that_range__w_above_both_eigen_rates_b_between(lab):
    assert CHAPTER.says("That is why $w$'s factor is above both eigen-rates.")
    assert CHAPTER.says("$b$'s factor is a blend of the two rates, between them")
    assert lab["rho_w"].min() > lab["slow"] > lab["fast"]
    assert lab["fast"] < lab["rho_b"].min() and lab["rho_b"].max() < lab["slow"]


def test_training_loop__why_ws_factor_is_outside_that_range__parts_of_opposite_sign_in_w_same_in_b(lab):
    assert CHAPTER.says("The two parts have opposite signs")
    vectors = lab["eigenvectors"]
    start = np.array([lab["w_path"][0] - tb.TRUE_w, lab["b_path"][0] - tb.TRUE_b])
    slow_part = (vectors[:, 0] @ start) * vectors[:, 0]
    fast_part = (vectors[:, 1] @ start) * vectors[:, 1]
    assert slow_part[0] * fast_part[0] < 0  # w: opposite signs
    assert slow_part[1] * fast_part[1] > 0  # b: the same sign
    # and the parts, each shrinking at its own rate, are the observed errors
    k = np.arange(16)
    w_error = slow_part[0] * lab["slow"] ** k + fast_part[0] * lab["fast"] ** k
    np.testing.assert_allclose(w_error, lab["w_path"] - tb.TRUE_w, atol=1e-6)


def test_training_loop__why_ws_factor_is_outside_that_range__slow_direction_along_w_as_mean_x2_below_1(lab):
    assert CHAPTER.says("it points mostly along $w$")
    assert CHAPTER.says("this sample's $\\overline{x^2}$ is below 1, so the bowl is flatter along $w$")
    x = lab["x"].numpy().astype(np.float64)
    assert np.mean(x * x) < 1
    slow = lab["eigenvectors"][:, 0]  # eigh: ascending, so the smaller eigenvalue, the factor nearer 1
    assert 1 - 0.1 * lab["eigenvalues"][0] == pytest.approx(lab["slow"])
    assert abs(slow[0]) > abs(slow[1])


def test_training_loop__why_ws_factor_is_outside_that_range__drift_to_the_slow_rate_w_above_b_below(lab):
    assert np.all(np.diff(lab["rho_w"]) < 0) and np.all(lab["rho_w"] > lab["slow"])
    assert np.all(np.diff(lab["rho_b"]) > 0) and np.all(lab["rho_b"] < lab["slow"])


# --- Which learning rate is fastest (the false "a larger η shrinks the error faster") --------------


def test_training_loop__which_learning_rate_is_fastest__the_false_larger_is_faster_sentence_is_gone():
    assert "a larger $\\eta$ shrinks the error faster" not in CHAPTER.prose
    assert CHAPTER.says("A larger $\\eta$ is not always faster.")


def test_training_loop__which_learning_rate_is_fastest__eta_09_slower_than_01(lab):
    """Per step, for the worst start (along the steep direction): the false sentence said larger is faster."""
    assert "high_lr = 0.9" in CHAPTER.source and "learning_rate = 0.1" in CHAPTER.setup_code()
    assert CHAPTER.says("so training at {glue:text}`loop-high-lr:.1f` is slower than at the lab's "
                        "{glue:text}`loop-lr:.1f`")
    assert rate(lab["x"], 0.9) > rate(lab["x"], 0.1)
    steep = lab["eigenvectors"][:, 1]
    start = dict(w=tb.TRUE_w + steep[0], b=tb.TRUE_b + steep[1])
    at_01 = tb.train(tb.Model(**start), lab["x"], lab["y"], epochs=15, learning_rate=0.1)
    at_09 = tb.train(tb.Model(**start), lab["x"], lab["y"], epochs=15, learning_rate=0.9)
    assert at_09.loss[-1] > 2 * at_01.loss[-1]


def test_training_loop__which_learning_rate_is_fastest__from_the_labs_start_09_happens_to_end_lower(lab):
    assert CHAPTER.says("it happens to end lower")
    at_09 = tb.train(tb.Model(), lab["x"], lab["y"], epochs=15, learning_rate=0.9)
    assert at_09.loss[-1] < lab["history"].loss[-1]


def test_training_loop__which_learning_rate_is_fastest__smallest_at_2_over_the_sum_and_growing_above(lab):
    lam_min, lam_max = lab["eigenvalues"]
    best = 2 / (lam_min + lam_max)
    etas = np.linspace(0.01, 0.98, 9701)
    rates = np.array([rate(lab["x"], eta) for eta in etas])
    assert etas[rates.argmin()] == pytest.approx(best, abs=1e-4)
    assert np.all(np.diff(rates[etas > best + 1e-4]) > 0)  # grows again above it
    assert rate(lab["x"], best) < 0.05  # "all but a few per cent", used in an exercise too


def test_training_loop__which_learning_rate_is_fastest__divergence_only_above_2_over_lambda_max(lab):
    limit = 2 / lab["eigenvalues"][1]
    assert rate(lab["x"], 0.999 * limit) < 1 < rate(lab["x"], 1.001 * limit)
    below = tb.train(tb.Model(), lab["x"], lab["y"], epochs=100, learning_rate=0.97 * limit)
    above = tb.train(tb.Model(), lab["x"], lab["y"], epochs=100, learning_rate=1.03 * limit)
    assert below.loss[-1] < below.loss[0] < above.loss[0] * 1.0001 < above.loss[-1]


# --- On a log scale, and from a random start --------------------------------------------------------


def _band(history, fast, slow):
    relative = history.loss.astype(np.float64) / history.loss[0]
    k = np.arange(len(history))
    return relative, fast ** (2 * k), slow ** (2 * k)


def test_training_loop__on_a_log_scale__the_lab_run_lies_between_the_two_rates_on_the_slow_one(lab):
    relative, low, high = _band(lab["history"], lab["fast"], lab["slow"])
    assert np.all(low * (1 - 1e-5) <= relative) and np.all(relative <= high * (1 + 1e-5))
    assert np.all(relative / high > 0.95)  # on the dashed line: nearly all of the error is slow


def test_training_loop__from_a_random_start__the_same_rate_between_the_two_lines_and_ending_further(lab):
    lab_factor = np.mean(lab["history"].loss[1:] / lab["history"].loss[:-1])
    lab_end = np.hypot(lab["history"].final_w - tb.TRUE_w, lab["history"].final_b - tb.TRUE_b)
    for seed in [1, 2, 3]:
        run = tb.train(tb.Model.random(seed=seed), lab["x"], lab["y"], epochs=15, learning_rate=0.1)
        relative, low, high = _band(run, lab["fast"], lab["slow"])
        assert np.all(low * (1 - 1e-5) <= relative) and np.all(relative <= high * (1 + 1e-5))
        assert np.mean(run.loss[1:] / run.loss[:-1]) == pytest.approx(lab_factor, abs=0.005)
        assert np.hypot(run.final_w - tb.TRUE_w, run.final_b - tb.TRUE_b) > lab_end


# --- The same loop, compiled ------------------------------------------------------------------------


def test_training_loop__the_same_loop_compiled__agrees_with_the_eager_history_to_float32_rounding(lab):
    compiled = tb.compiled.train_compiled(tb.Model(), lab["x"], lab["y"], epochs=15, learning_rate=0.1,
                                          jit_compile=True)
    for field in ("w", "b", "loss"):
        np.testing.assert_allclose(getattr(compiled, field), getattr(lab["history"], field), atol=1e-6)


# --- Exercises --------------------------------------------------------------------------------------


def test_training_loop__exercises__too_large_a_learning_rate__a_little_below_the_rough_1(lab):
    limit = 2 / lab["eigenvalues"][1]
    assert 0.95 < limit < 1


def test_training_loop__exercises__too_large_a_learning_rate__error_doubles_flips_loss_fourfold(lab):
    assert CHAPTER.says("each epoch the error doubles and changes sign, so the loss, its square, "
                        "grows about fourfold")
    factor = tb.contraction_factors(lab["x"], 1.5)[0]
    assert -2.1 < factor < -1.9
    run = tb.train(tb.Model(), lab["x"], lab["y"], epochs=6, learning_rate=1.5)
    growth = run.loss[1:] / run.loss[:-1]
    assert np.all((3.5 < growth[2:]) & (growth[2:] < 4.5))
    assert np.all(np.diff(np.sign(run.w - tb.TRUE_w))[2:] != 0)


def test_training_loop__exercises__the_best_learning_rate__equal_and_opposite_factors_a_few_per_cent(lab):
    best = 2 / lab["eigenvalues"].sum()
    fast, slow = tb.contraction_factors(lab["x"], best)
    assert fast == pytest.approx(-slow) and abs(slow) < 0.05
    assert rate(lab["x"], best) < rate(lab["x"], 0.5)


def test_training_loop__exercises__every_solution_runs_alone_after_the_set_up_cell():
    assert CHAPTER.run_solutions_alone() == ["ex-loop-best", "ex-loop-diverge", "ex-loop-epochs"]


# --- The page as a whole ----------------------------------------------------------------------------


def test_training_loop__references_have_their_own_words():
    assert CHAPTER.bare_references() == []
    assert re.findall(r"\{ref\}`[^`<]*`", CHAPTER.source) == []
    assert len(re.findall(r"\{ref\}`[^`<]+ <chapter-[a-z-]+>`", CHAPTER.source)) >= 3


def test_training_loop__hidden_cells_only_glue_values_computed_in_visible_cells():
    assert CHAPTER.hidden_computations() == []
