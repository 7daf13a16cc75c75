"""training_basics.learning_rate: the sweep trains what train trains, and the theory bounds every run."""

import numpy as np
import pytest

import training_basics as tb

RATES = np.round(np.arange(1, 23) * 0.05, 2)


@pytest.fixture(scope="module")
def data():
    return tb.synthesize()


@pytest.fixture(scope="module")
def runs(data):
    return tb.sweep(*data, RATES, epochs=15)


def test_sweep_gives_each_learning_rate_the_history_of_train(data, runs):
    assert runs.w.shape == runs.b.shape == runs.loss.shape == (len(RATES), 16)
    for k in [0, 1, 9, 17]:
        h = tb.train(tb.Model(), *data, epochs=15, learning_rate=RATES[k])
        np.testing.assert_allclose(runs.w[k, :-1], h.w, rtol=1e-6)
        np.testing.assert_allclose(runs.b[k, :-1], h.b, rtol=1e-6)
        np.testing.assert_allclose(runs.loss[k, :-1], h.loss, rtol=1e-5)
        assert runs.w[k, -1] == pytest.approx(h.final_w, rel=1e-6)


def test_sweeps_of_different_sizes_one_after_another_each_train_their_own_rates(data):
    """A third K used to reuse the graph traced for the second and fail (InvalidArgumentError)."""
    rates = [0.3, 0.1, 0.05, 0.2]
    for size in (3, 1, 2, 4, 1):
        runs = tb.sweep(*data, rates[:size], epochs=5)
        assert runs.w.shape == (size, 6)
        for k in range(size):
            one = tb.sweep(*data, [rates[k]], epochs=5)
            np.testing.assert_array_equal(runs.w[k], one.w[0])


def test_sweep_records_a_diverging_run_instead_of_stopping(data):
    runs = tb.sweep(*data, [1.1], epochs=15)
    assert runs.loss[0, -1] > runs.loss[0, 0]


def test_factor_bounds_are_the_extreme_sizes_of_the_contraction_factors(data):
    low, high = tb.factor_bounds(data.x, RATES)
    for eta, lo, hi in zip(RATES, low, high, strict=True):
        sizes = np.abs(tb.contraction_factors(data.x, eta))
        assert (lo, hi) == pytest.approx((sizes.min(), sizes.max()))


def test_every_measured_factor_lies_between_the_bounds(data, runs):
    measured = tb.measured_factor(runs.w, runs.b, tb.closed_form(*data))
    low, high = tb.factor_bounds(data.x, RATES)
    assert np.all(measured >= low - 1e-3) and np.all(measured <= high + 1e-3)


def test_measured_factor_of_a_pure_geometric_path_is_its_ratio():
    k = np.arange(10)
    w, b = 3.0 + 0.5**k, 2.0 - 0.5**k
    assert tb.measured_factor(w, b, (3.0, 2.0), floor=1e-9)[0] == pytest.approx(0.5)


def test_standardized_inputs_have_hessian_2i_and_map_back_exactly():
    x = tb.synthesize().x * 4.0 + 5.0
    z, mean, std = tb.standardize(x)
    np.testing.assert_allclose(tb.hessian(z), 2 * np.eye(2), atol=1e-6)
    w, b = tb.unstandardize(3.0 * std, 3.0 * mean + 2.0, mean, std)
    assert (w, b) == pytest.approx((3.0, 2.0))


@pytest.mark.parametrize("call, message", [
    (lambda: tb.sweep([1.0, 2.0], [1.0, 2.0], [0.1, -0.5]), "learning_rate must be > 0, got -0.5"),
    (lambda: tb.sweep([1.0, 2.0], [1.0, 2.0], []), "learning_rates is empty"),
    (lambda: tb.sweep([1.0, 2.0], [1.0, 2.0], [0.1], epochs=-1), "epochs must be >= 0, got -1"),
    (lambda: tb.standardize([2.0, 2.0]), "x is constant (every value is 2.0)"),
    (lambda: tb.unstandardize(1.0, 1.0, 0.0, -1.0), "std must be > 0, got -1.0"),
])
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()
