"""The compiled loop (the epoch loop inside one graph, optionally XLA) computes what the eager loop does."""

import numpy as np
import pytest

import training_basics as tb
from training_basics.compiled import train_compiled


@pytest.fixture(scope="module")
def data():
    return tb.synthesize(noise_std=0.2)


@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
def test_compiled_history_equals_the_eager_one_to_float32_precision(data, jit_compile):
    eager = tb.train(tb.Model(), data.x, data.y, epochs=40, learning_rate=0.1)
    compiled = train_compiled(tb.Model(), data.x, data.y, epochs=40, learning_rate=0.1,
                              jit_compile=jit_compile)
    for field in ("w", "b", "loss"):
        np.testing.assert_allclose(getattr(compiled, field), getattr(eager, field), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(compiled.epoch, eager.epoch)
    assert compiled.final_w == pytest.approx(eager.final_w, abs=1e-6)
    assert compiled.final_b == pytest.approx(eager.final_b, abs=1e-6)


def test_compiled_training_reaches_the_closed_form(data):
    history = train_compiled(tb.Model(), data.x, data.y, epochs=300, learning_rate=0.1, jit_compile=True)
    w_star, b_star = tb.closed_form(data.x, data.y)
    assert (history.final_w, history.final_b) == pytest.approx((w_star, b_star), abs=1e-4)


def test_compiled_training_checks_its_input_and_divergence(data):
    with pytest.raises(ValueError, match="learning_rate must be > 0, got -1.0"):
        train_compiled(tb.Model(), data.x, data.y, learning_rate=-1)
    with pytest.raises(ValueError, match="epochs must be >= 0, got -3"):
        train_compiled(tb.Model(), data.x, data.y, epochs=-3)
    with pytest.raises(tb.TrainingDivergedError, match=r"at epoch \d+ with learning_rate=10.0"):
        train_compiled(tb.Model(), data.x, data.y, epochs=200, learning_rate=10.0)
