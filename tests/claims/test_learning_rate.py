"""Claims of book/learning-rate.md: every quantitative statement its prose makes that is not a glued
number, computed from the package. One test per claim, named chapter__section__claim."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from chapter import Chapter

import training_basics as tb

CHAPTER = Chapter("learning-rate")
RATES = np.round(np.arange(1, 23) * 0.05, 2)


@pytest.fixture(scope="module")
def lab():
    x, y = tb.synthesize()
    runs = tb.sweep(x, y, RATES, epochs=15)
    optimum = tb.closed_form(x, y)
    lam_min, lam_max = np.linalg.eigvalsh(tb.hessian(x))
    shifted_x = x + 5.0
    shifted_y = tb.TRUE_w * shifted_x + tb.TRUE_b
    return dict(x=x, y=y, runs=runs, optimum=optimum, lam_min=lam_min, lam_max=lam_max,
                measured=tb.measured_factor(runs.w, runs.b, optimum), bounds=tb.factor_bounds(x, RATES),
                best=2 / (lam_min + lam_max), largest=2 / lam_max, shifted_x=shifted_x, shifted_y=shifted_y)


@pytest.fixture(scope="module")
def optimizers(lab):
    shifted_best = 2 / np.linalg.eigvalsh(tb.hessian(lab["shifted_x"])).sum()
    results = {}
    for bowl, (x, y, eta) in {"round": (lab["x"], lab["y"], 0.1),
                              "shifted": (lab["shifted_x"], lab["shifted_y"], shifted_best)}.items():
        opts = {"sgd": keras.optimizers.SGD(eta), "momentum": keras.optimizers.SGD(eta, momentum=0.9),
                "adam": keras.optimizers.Adam(0.1)}
        results[bowl] = {k: tb.train_with_optimizer(tb.Model(), x, y, o, epochs=100, compiled=True)
                         for k, o in opts.items()}
    return results


# --- A sweep of learning rates ----------------------------------------------------------------------


def test_learning_rate__sweep__the_loop_of_the_sweep_is_shown(lab):
    assert CHAPTER.says("Its loop, `_descend`, is the training loop's with $K$ models in place of one")
    assert "tb.show_source(tb.learning_rate._descend)" in CHAPTER.source
    assert "tb.show_source(tb.learning_rate._losses)" in CHAPTER.source
    shown = tb.show_source(tb.learning_rate._descend).data
    assert "tf.GradientTape()" in shown and "ws.assign_sub(lrs * dw)" in shown and "TensorArray" in shown


def test_learning_rate__sweep__the_measured_factor_is_the_kth_root_above_a_thousandth(lab):
    assert CHAPTER.says("the factor is $(e_k/e_0)^{1/k}$, taken at the last epoch whose error is still above "
                        "a thousandth of $e_0$")
    w, b = lab["runs"].w.astype(np.float64), lab["runs"].b.astype(np.float64)
    error = np.hypot(w - lab["optimum"][0], b - lab["optimum"][1])
    for k, row in enumerate(error):
        last = max([i for i in range(len(row)) if row[i] >= 1e-3 * row[0]] + [1])
        assert lab["measured"][k] == pytest.approx((row[last] / row[0]) ** (1 / last), rel=1e-12)


def test_learning_rate__sweep__what_the_alt_text_says_of_the_band(lab):
    assert CHAPTER.says("narrow on the left, pinched to a point at the bottom of the V, and widening to the "
                        "right, widest at 1.1")
    low, high = lab["bounds"]
    width = high - low
    eta = np.linspace(0.01, 1.1, 500)
    fine = np.abs(1 - eta[:, None] * np.array([lab["lam_min"], lab["lam_max"]]))
    fine_width = fine.max(axis=1) - fine.min(axis=1)
    assert fine_width[np.argmin(np.abs(eta - lab["best"]))] < 2e-3  # pinched at eta*
    assert np.argmax(width) == len(RATES) - 1 and width[:3].max() < 0.25 * width[-1]
    assert np.all(np.diff(width[RATES > 0.55]) > 0)


def test_learning_rate__sweep__every_run_lies_where_the_theory_puts_it(lab):
    assert CHAPTER.says("Every run in {numref}`fig-lr-sweep` lies where the theory puts it.")
    low, high = lab["bounds"]
    assert np.all(lab["measured"] >= low - 1e-3) and np.all(lab["measured"] <= high + 1e-3)


def test_learning_rate__sweep__the_factor_falls_up_to_eta_star_then_rises_above_1(lab):
    assert CHAPTER.says("The factor falls as $\\eta$ grows, up to $\\eta^* =$")
    assert CHAPTER.says("the theory's factor exceeds 1: the error grows, in the sweep's runs from 1.05 on.")
    m, below = lab["measured"], RATES < lab["best"]
    assert np.all(np.diff(m[below]) < 0) and np.all(np.diff(m[~below]) > 0)
    low, high = lab["bounds"]
    assert np.all((high > 1) == (RATES > lab["largest"]))
    assert np.all((m > 1) == (RATES >= 1.05))


def test_learning_rate__sweep__on_the_top_edge_left_of_eta_star_inside_right_of_it(lab):
    assert CHAPTER.says("Left of $\\eta^*$ the runs lie on the top edge of the band; "
                        "right of it they lie inside")
    low, high = lab["bounds"]
    left = RATES < lab["best"]
    assert np.all(high[left] - lab["measured"][left] < 0.03 * (high[left] - low[left]) + 2e-3)
    assert np.all(lab["measured"][~left] < high[~left] - 0.2 * (high[~left] - low[~left]))


def test_learning_rate__sweep__the_lab_start_lies_mostly_along_the_flat_direction(lab):
    assert CHAPTER.says("the lab's start lies mostly along the flat direction of the bowl")
    _, vectors = np.linalg.eigh(tb.hessian(lab["x"]))
    flat, steep = np.abs(vectors.T @ np.array([2.0 - lab["optimum"][0], 1.0 - lab["optimum"][1]]))
    assert flat > 2 * steep


def test_learning_rate__sweep__the_sweeps_run_equals_train_to_the_last_bit(lab):
    assert CHAPTER.says("the check above found its $w$ equal to `tb.train`'s to the last bit")
    h = tb.train(tb.Model(), lab["x"], lab["y"], epochs=15, learning_rate=RATES[1])
    np.testing.assert_array_equal(lab["runs"].w[1, :-1], h.w)


# --- Overshooting and divergence --------------------------------------------------------------------


def test_learning_rate__overshooting__signs_of_the_factors_between_1_and_2_over_lambda_max(lab):
    assert CHAPTER.says("For $\\eta < 1/\\lambda_\\text{max}$ both factors $1 - \\eta\\lambda$ are positive")
    for eta in np.linspace(0.01, 0.99 / lab["lam_max"], 20):
        assert np.all(tb.contraction_factors(lab["x"], eta) > 0)
    for eta in np.linspace(1.01 / lab["lam_max"], 1.99 / lab["lam_max"], 20):
        factors = tb.contraction_factors(lab["x"], eta)
        assert factors[0] < 0 and np.abs(factors).max() < 1


def test_learning_rate__overshooting__at_0_9_the_error_in_w_changes_sign_every_step(lab):
    assert CHAPTER.says("both factors are negative: the error in $w$ changes sign at each of the steps shown "
                        "while it shrinks, where at the lab's {glue:text}`lr-lab-lr:.1f` it keeps its sign")
    assert CHAPTER.says("above both $1/\\lambda_\\text{max} =$ {glue:text}`lr-half-largest:.3f` and "
                        "$1/\\lambda_\\text{min} =$ {glue:text}`lr-half-smallest:.3f`, "
                        "both factors are negative")
    assert 0.9 > 1 / lab["lam_min"] > 1 / lab["lam_max"]  # above 1/lambda_max alone, only one is negative
    assert np.sum(tb.contraction_factors(lab["x"], 0.51) < 0) == 1
    assert np.all(tb.contraction_factors(lab["x"], 0.9) < 0)
    over = tb.train(tb.Model(), lab["x"], lab["y"], epochs=15, learning_rate=0.9)
    error = over.w[:6] - lab["optimum"][0]  # the steps the chapter prints
    assert np.all(np.sign(error[1:]) == -np.sign(error[:-1])) and np.all(np.diff(np.abs(error)) < 0)
    steady = tb.train(tb.Model(), lab["x"], lab["y"], epochs=15, learning_rate=0.1)
    assert np.all(steady.w - lab["optimum"][0] < 0)


def test_learning_rate__overshooting__from_the_labs_start_0_9_is_a_little_faster(lab):
    assert CHAPTER.says("from the lab's start it is even a little faster than the lab's rate")
    m = dict(zip(RATES, lab["measured"], strict=True))
    assert m[0.9] < m[0.1] < m[0.9] + 0.1


def test_learning_rate__overshooting__at_1_05_the_loss_grows_a_few_percent_then_diverges_after_dozens(lab):
    assert CHAPTER.says("the loss grows by a few per cent per step, and it takes dozens of steps to grow a "
                        "millionfold")
    early = tb.sweep(lab["x"], lab["y"], [1.05], epochs=4).loss[0]
    assert np.all((early[1:] / early[:-1] > 1.01) & (early[1:] / early[:-1] < 1.1))
    growth = tb.sweep(lab["x"], lab["y"], [1.05], epochs=120).loss[0]
    first = int(np.argmax(growth > 1e6 * growth[0]))
    assert 24 <= first < 100


# --- The lab's loss written as a sum ----------------------------------------------------------------


def test_learning_rate__the_loss_as_a_sum__about_200_times_farther_and_diverges_at_once(lab):
    assert CHAPTER.says("about 200 times farther away")
    assert CHAPTER.says("training diverges at once")
    factors = tb.contraction_factors(lab["x"], 0.1 * 1000)
    assert np.all((np.abs(factors) > 180) & (np.abs(factors) < 220))
    w, b = tf.Variable(2.0), tf.Variable(1.0)
    with tf.GradientTape() as tape:
        first = tf.reduce_sum(tf.square(lab["y"] - (w * lab["x"] + b)))
    dw, db = tape.gradient(first, [w, b])
    w.assign_sub(0.1 * dw)
    b.assign_sub(0.1 * db)
    second = tf.reduce_sum(tf.square(lab["y"] - (w * lab["x"] + b)))
    assert float(second) > 1e4 * float(first)
    assert CHAPTER.says("the loss grows {glue:text}`lr-sum-growth:,.0f`-fold in the first step alone")
    smallest, largest = np.sort(np.abs(factors))  # the loss grows by a factor squared, between the two
    assert smallest**2 < float(second) / float(first) < largest**2


# --- Conditioning -----------------------------------------------------------------------------------


def test_learning_rate__conditioning__0_1_diverges_on_shifted_and_on_scaled_inputs(lab):
    assert CHAPTER.says("The lab's 0.1 is far above $2/\\lambda_\\text{max}$ and diverges")
    assert CHAPTER.says("but still makes 0.1 diverge")
    for inputs in [lab["shifted_x"], 4.0 * lab["x"]]:
        assert np.abs(tb.contraction_factors(inputs, 0.1)).max() > 2
    assert 0.1 > 2 * 2 / np.linalg.eigvalsh(tb.hessian(lab["shifted_x"])).max()


def test_learning_rate__conditioning__standardized_h_is_2i_to_rounding(lab):
    assert CHAPTER.says("Then $H = 2I$ exactly, to rounding, whatever the inputs were")
    for inputs in [lab["shifted_x"], 4.0 * lab["x"], 7.0 * lab["x"] - 3.0]:
        z, _, _ = tb.standardize(inputs)
        np.testing.assert_allclose(tb.hessian(z), 2 * np.eye(2), atol=1e-6)


def test_learning_rate__conditioning__one_step_to_the_valley_then_crawl_and_one_step_to_the_centre(lab):
    assert CHAPTER.says("the first step falls into the valley and the rest crawl along it")
    assert CHAPTER.says("first step lands on the centre")
    x, y = lab["shifted_x"], lab["shifted_y"]
    lam, vectors = np.linalg.eigh(tb.hessian(x))
    run = tb.train(tb.Model(), x, y, epochs=15, learning_rate=1 / lam.max())
    errors = vectors.T @ np.stack([np.append(run.w, run.final_w) - 3.0, np.append(run.b, run.final_b) - 2.0])
    flat, steep = np.abs(errors)
    assert steep[0] > 0.5 and np.all(steep[1:] < 1e-3 * steep[0])
    assert flat[-1] > 0.95 * flat[0]
    z, mean, std = tb.standardize(x)
    run_z = tb.train(tb.Model(w=2.0 * std, b=1.0 + 2.0 * mean), z, y, epochs=1, learning_rate=0.5)
    w_z, b_z = tb.closed_form(z, y)
    assert np.hypot(run_z.final_w - w_z, run_z.final_b - b_z) < 1e-5


# --- From assign_sub to an optimizer ----------------------------------------------------------------


def test_learning_rate__optimizer__sgd_is_the_assign_sub_loop_bit_for_bit(lab):
    assert CHAPTER.says("The history is the same, bit for bit.")
    steady = tb.train(tb.Model(), lab["x"], lab["y"], epochs=15, learning_rate=0.1)
    run = tb.train_with_optimizer(tb.Model(), lab["x"], lab["y"], keras.optimizers.SGD(0.1), epochs=15)
    for name in ["w", "b", "loss"]:
        np.testing.assert_array_equal(getattr(run, name), getattr(steady, name))


def test_learning_rate__optimizer__compiled_changes_no_number(lab):
    assert CHAPTER.says("Each step is compiled (`compiled=True`), which changes no number")
    runs = [tb.train_with_optimizer(tb.Model(), lab["x"], lab["y"], keras.optimizers.Adam(0.1), epochs=20,
                                    compiled=c) for c in (False, True)]
    np.testing.assert_array_equal(runs[0].w, runs[1].w)
    np.testing.assert_array_equal(runs[0].loss, runs[1].loss)


def test_learning_rate__optimizer__plain_sgd_at_0_1_on_the_round_bowl_not_its_best_rate(lab, optimizers):
    assert CHAPTER.says("plain SGD at the lab's 0.1 on the round bowl and at the shifted bowl's best rate "
                        "$\\eta^*$ on the shifted one, momentum 0.9 at the same rate as plain SGD")
    assert CHAPTER.says("it reaches float32 rounding well within the 100 steps (at $\\eta^*$ it would take a "
                        "handful)")
    assert abs(lab["best"] - 0.1) > 0.3  # 0.1 is not the round bowl's best rate
    loss = optimizers["round"]["sgd"].loss
    assert loss[70] < 1e-11 * loss[0] and np.ptp(loss[75:]) < 1e-12  # flat at rounding from about step 70
    best = tb.train(tb.Model(), lab["x"], lab["y"], epochs=6, learning_rate=lab["best"])
    assert np.hypot(best.final_w - lab["optimum"][0], best.final_b - lab["optimum"][1]) < 1e-5


def test_learning_rate__optimizer__on_the_round_bowl_both_swing_through_along_the_starting_line(optimizers):
    assert CHAPTER.says("it overshoots the minimum and swings back and forth through it, along the line it "
                        "started on")
    assert CHAPTER.says("so it too overshoots and swings through the minimum")
    for name in ["momentum", "adam"]:
        run = optimizers["round"][name]
        e = np.stack([run.w - 3.0, run.b - 2.0])  # the start (2, 1) lies on the diagonal w - 3 = b - 2
        along, across = (e[0] + e[1]) / np.sqrt(2), (e[0] - e[1]) / np.sqrt(2)
        assert np.abs(across).max() < 0.05 * np.abs(along).max(), name
        assert np.sum(np.diff(np.sign(along[along != 0])) != 0) >= 3, name  # back and forth


def test_learning_rate__optimizer__on_the_round_bowl_momentum_and_adam_end_above_plain_sgd(optimizers):
    assert CHAPTER.says("Momentum 0.9 makes it worse")
    assert CHAPTER.says("Adam at a constant rate never settles")
    r = optimizers["round"]
    assert CHAPTER.says("its loss ends bumping up and down far above plain descent's")
    assert r["momentum"].loss[-1] > 1e3 * r["sgd"].loss[-1] and r["adam"].loss[-1] > 1e3 * r["sgd"].loss[-1]
    assert np.any(np.diff(r["adam"].loss[20:]) > 0)  # it goes up again: jitter


def test_learning_rate__optimizer__momentum_rate_is_sqrt_beta_in_every_direction(lab):
    assert CHAPTER.says("Momentum's factor is the same $\\sqrt{\\beta} =$")
    shifted_best = 2 / np.linalg.eigvalsh(tb.hessian(lab["shifted_x"])).sum()
    for x, eta in [(lab["x"], 0.1), (lab["shifted_x"], shifted_best)]:
        assert tb.momentum_factor(x, eta, 0.9) == pytest.approx(np.sqrt(0.9))
    assert CHAPTER.says("between $(1 - \\sqrt{\\beta})^2$ and $(1 + \\sqrt{\\beta})^2$: "
                        "here the flat one only just does")
    low, high = (1 - np.sqrt(0.9)) ** 2, (1 + np.sqrt(0.9)) ** 2
    flat, steep = shifted_best * np.linalg.eigvalsh(tb.hessian(lab["shifted_x"]))
    assert low < flat < 1.1 * low and steep < high
    assert tb.momentum_factor(lab["shifted_x"], 0.9 * shifted_best, 0.9) > np.sqrt(0.9) + 1e-3  # outside


def test_learning_rate__optimizer__on_the_shifted_bowl_sgd_barely_moves_momentum_faster_adam_best(optimizers):
    assert CHAPTER.says("barely moves in {glue:text}`lr-steps` steps")
    assert CHAPTER.says("copes with the different scales of the two parameters' gradients best of all here")
    s = optimizers["shifted"]
    assert s["sgd"].loss[-1] > 0.5 * s["sgd"].loss[0]
    assert s["momentum"].loss[-1] < 1e-3 * s["sgd"].loss[-1]
    assert s["adam"].loss[-1] < s["momentum"].loss[-1]


def test_learning_rate__optimizer__the_alt_text_sgd_zigzags_across_the_shifted_valley(lab, optimizers):
    assert CHAPTER.says("the red SGD path zigzags across the valley, from wall to wall between "
                        "the black diamond at w = 2, b = 1 and w = 4, its jumps barely shrinking, "
                        "and ends far from the star")
    run = optimizers["shifted"]["sgd"]
    _, vectors = np.linalg.eigh(tb.hessian(lab["shifted_x"]))
    steep = vectors[:, 1] @ np.stack([run.w - 3.0, run.b - 2.0])
    assert np.all(np.sign(steep[1:]) == -np.sign(steep[:-1]))  # across the valley at every step
    assert abs(steep[-1]) > 0.7 * abs(steep[0])  # barely shrinking
    assert 3.8 < run.w.max() < 4.5 and np.hypot(run.final_w - 3.0, run.final_b - 2.0) > 0.5


# --- Exercises --------------------------------------------------------------------------------------


def test_learning_rate__exercises__the_sum_at_eta_over_n_agrees_to_rounding_not_to_the_last_bit(lab):
    assert CHAPTER.says("The two agree to float32 rounding")
    assert CHAPTER.says("so not to the last bit")
    x, y = lab["x"], lab["y"]
    w, b = tf.Variable(2.0), tf.Variable(1.0)
    for _ in range(15):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(y - (w * x + b)))
        dw, db = tape.gradient(loss, [w, b])
        w.assign_sub(0.1 / 1000 * dw)
        b.assign_sub(0.1 / 1000 * db)
    lab_run = tb.train(tb.Model(), x, y, epochs=15, learning_rate=0.1)
    assert (float(w.numpy()), float(b.numpy())) != (lab_run.final_w, lab_run.final_b)
    assert float(w.numpy()) == pytest.approx(lab_run.final_w, abs=1e-5)
    assert float(b.numpy()) == pytest.approx(lab_run.final_b, abs=1e-5)


def test_learning_rate__exercises__on_4x_its_best_rate_takes_dozens_of_epochs_and_0_5_diverges(lab):
    assert CHAPTER.says("One epoch suffices. On the original $4x$ it takes far more: there the same rate 0.5 "
                        "diverges")
    scaled = 4.0 * lab["x"]
    low, high = np.linalg.eigvalsh(tb.hessian(scaled))
    assert np.abs(tb.contraction_factors(scaled, 0.5)).max() > 1
    epochs = np.ceil(np.log(1e-4 / np.sqrt(2)) / np.log((high - low) / (high + low)))
    assert 50 < epochs < 100
    run = tb.train(tb.Model(), scaled, tb.TRUE_w * scaled + tb.TRUE_b, epochs=int(epochs) + 1,
                   learning_rate=2 / (low + high))
    assert np.hypot(run.final_w - 3.0, run.final_b - 2.0) < 1e-4


def test_learning_rate__exercises__solutions_run_alone():
    assert CHAPTER.run_solutions_alone() == ["ex-lr-standardized", "ex-lr-sum"]


def test_learning_rate__the_chapter__no_hidden_computation_and_no_bare_reference():
    assert CHAPTER.hidden_computations() == []
    assert CHAPTER.bare_references() == []
