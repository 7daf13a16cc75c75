import numpy as np
import pytest
import tensorflow as tf

import training_basics as tb


@pytest.fixture(scope="module")
def data():
    return tb.synthesize()


@pytest.fixture(scope="module")
def lab_history(data):
    return tb.train(tb.Model(), data.x, data.y, epochs=15, learning_rate=0.1)


def test_train_step_moves_downhill_by_lr_times_the_gradient(data):
    model = tb.Model()
    dw, db = tb.analytic_gradients(data.x, data.y, 2.0, 1.0)
    loss = tb.train_step(model, data.x, data.y, 0.1)
    assert float(model.w) == pytest.approx(2.0 - 0.1 * dw, abs=1e-6)
    assert float(model.b) == pytest.approx(1.0 - 0.1 * db, abs=1e-6)
    assert float(loss) == pytest.approx(float(tb.l2_loss(data.y, tb.Model()(data.x))))


def test_history_records_values_before_each_update_as_plain_arrays(lab_history):
    h = lab_history
    assert len(h) == 15
    for field in (h.w, h.b, h.loss, h.epoch):
        assert isinstance(field, np.ndarray)
    assert (h.w[0], h.b[0]) == (2.0, 1.0)
    assert list(h.epoch) == list(range(15))
    assert np.all(np.diff(h.loss) < 0)
    assert isinstance(h.final_w, float) and h.final_w != h.w[-1]


def test_lab_run_decays_geometrically_at_one_minus_two_lr(data, lab_history):
    """After 15 epochs, w − 3 and b − 2 ≈ (1 − 2·lr)^15 times the start (−1 each).

    (1 − 2·lr) is the contraction for E[x²] = 1, E[x] = 0; this sample's moments
    differ by a few per cent, so the 15th power matches within 35 %. The exact
    contraction (the eigenvalues of I − lr·H) bounds the error's norm, to 2 %.
    """
    predicted = (1 - 2 * 0.1) ** 15 * -1.0
    assert lab_history.final_w - 3.0 == pytest.approx(predicted, rel=0.35)
    assert lab_history.final_b - 2.0 == pytest.approx(predicted, rel=0.35)
    lo, hi = tb.contraction_factors(data.x, 0.1)
    start = np.hypot(2.0 - 3.0, 1.0 - 2.0)
    end = np.hypot(lab_history.final_w - 3.0, lab_history.final_b - 2.0)
    assert lo**15 * start * 0.98 <= end <= hi**15 * start * 1.02


def test_the_error_follows_the_linear_recursion_exactly(data, lab_history):
    x = data.x.numpy().astype(np.float64)
    hessian = 2 * np.array([[np.mean(x * x), np.mean(x)], [np.mean(x), 1.0]])
    error = np.array([2.0 - 3.0, 1.0 - 2.0])
    for w, b in zip(lab_history.w, lab_history.b, strict=True):
        np.testing.assert_allclose([w - 3.0, b - 2.0], error, atol=2e-5)
        error = error - 0.1 * hessian @ error


def test_enough_epochs_reach_the_closed_form_solution():
    data = tb.synthesize(noise_std=0.5, seed=5)
    w_star, b_star = tb.closed_form(data.x, data.y)
    history = tb.train(tb.Model(), data.x, data.y, epochs=200, learning_rate=0.1)
    assert history.final_w == pytest.approx(w_star, abs=1e-4)
    assert history.final_b == pytest.approx(b_star, abs=1e-4)


def test_same_seed_same_history():
    runs = []
    for _ in range(2):
        data = tb.synthesize(noise_std=0.3)
        runs.append(tb.train_minibatches(tb.Model.random(3), data.x, data.y, batch_size=64, epochs=5, seed=9))
    for field in ("w", "b", "loss", "epoch"):
        np.testing.assert_array_equal(getattr(runs[0], field), getattr(runs[1], field))


def test_mini_batches_make_ceil_n_over_batch_size_steps_per_epoch(data):
    history = tb.train_minibatches(tb.Model(), data.x, data.y, batch_size=300, epochs=3)
    assert len(history) == 3 * 4
    assert list(np.bincount(history.epoch)) == [4, 4, 4]


def test_zero_epochs_change_nothing(data):
    model = tb.Model()
    history = tb.train(model, data.x, data.y, epochs=0)
    assert len(history) == 0 and (history.final_w, history.final_b) == (2.0, 1.0)


def test_log_is_called_once_per_epoch(data):
    lines = []
    tb.train(tb.Model(), data.x, data.y, epochs=4, log=lambda *args: lines.append(args))
    assert [epoch for epoch, *_ in lines] == [0, 1, 2, 3]


@pytest.mark.parametrize("batch_size", [None, 250])
def test_log_pairs_w_b_and_the_loss_of_one_model_as_the_lab_prints_them(data, batch_size):
    """All three values are taken before the epoch's first update: the loss is the loss of that w and b."""
    lines = []
    train = tb.train if batch_size is None else lambda *a, **k: tb.train_minibatches(*a, batch_size, **k)
    history = train(tb.Model(), data.x, data.y, epochs=3, log=lambda *args: lines.append(args))
    for epoch, w, b, loss in lines:
        first = int(np.argmax(history.epoch == epoch))
        assert (w, b, loss) == (history.w[first], history.b[first], history.loss[first])
        if batch_size is None:
            assert loss == pytest.approx(float(tb.l2_loss(data.y, tb.Model(w=w, b=b)(data.x))), rel=1e-6)


def test_train_step_is_the_labs_step_with_no_checks_inside():
    """What the chapters show of train_step: the tape, the gradient and the two assign_sub lines."""
    import inspect

    source = inspect.getsource(tb.train_step)
    body = source.split('"""')[2].strip().splitlines()
    assert [line.strip() for line in body] == [
        "with tf.GradientTape() as tape:",
        "current_loss = l2_loss(outputs, model(inputs))",
        "dw, db = tape.gradient(current_loss, [model.w, model.b])",
        "model.w.assign_sub(learning_rate * dw)",
        "model.b.assign_sub(learning_rate * db)",
        "return current_loss",
    ]


def test_train_checks_its_arguments_once_per_call_and_the_loss_its_shapes_once_per_step(data, monkeypatch):
    from training_basics import loss, training

    calls = []
    for module, name in ((training, "_check_training"), (loss, "check_same_shape")):
        original = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _f=original, _n=name: (calls.append(_n), _f(*a))[1])
    tb.train(tb.Model(), data.x, data.y, epochs=20)
    assert calls == ["_check_training"] + ["check_same_shape"] * 20


def test_train_is_the_labs_loop_with_one_check_of_its_arguments_first():
    """What book/training-loop.md shows of train: one call that checks the arguments, then the lab's loop
    with its record and log, one divergence check per epoch, and one after the last."""
    import inspect

    body = [line.strip() for line in inspect.getsource(tb.train).split('"""')[2].strip().splitlines()]
    assert body == [
        "x, y, epochs, learning_rate = _check_training(model, inputs, outputs, epochs, learning_rate)",
        "",
        "ws, bs, losses = [], [], []",
        "for epoch in range(epochs):",
        "ws.append(model.w.numpy())",
        "bs.append(model.b.numpy())",
        "losses.append(float(train_step(model, x, y, learning_rate)))",
        "_check_not_diverging(losses, epoch, learning_rate)",
        "if log is not None:",
        "log(epoch, float(ws[-1]), float(bs[-1]), losses[-1])",
        "",
        "_check_finite_parameters(model, epochs - 1, learning_rate)",
        "return History.from_steps(ws, bs, losses, model.w.numpy(), model.b.numpy(), learning_rate)",
    ]
    assert list(inspect.signature(tb.train).parameters) == ["model", "inputs", "outputs", "epochs",
                                                            "learning_rate", "log"]


def test_history_has_one_constructor_used_everywhere_a_history_is_made():
    """Issue 17: the History record was built field by field in six places."""
    import pathlib
    import re

    package = pathlib.Path(tb.__file__).parent
    made = {path.relative_to(package).as_posix(): len(re.findall(r"History\.from_steps\(", path.read_text()))
            for path in package.rglob("*.py")}
    assert {path: count for path, count in made.items() if count} == {
        "training.py": 1, "minibatch.py": 1, "compiled.py": 1, "optimizers.py": 1, "keras_model.py": 1,
        "distributed/__init__.py": 2}
    for path in package.rglob("*.py"):
        assert not re.search(r"History\((w|\n)", path.read_text()), path  # no History(w=..., ...) by hand
    h = tb.History.from_steps([2.0, 2.5], [1.0, 1.5], [1.9, 0.5], np.float32(2.8), 1.7, 0.1)
    assert (h.w.dtype, h.b.dtype, h.loss.dtype, h.epoch.dtype) == (np.float32,) * 3 + (np.int64,)
    assert h.epoch.tolist() == [0, 1] and (h.final_w, h.final_b, h.learning_rate) == (
        pytest.approx(2.8), 1.7, 0.1)
    assert tb.History.from_steps([], [], [], 2.0, 1.0, 0.1, epoch=[]).epoch.dtype == np.int64


def test_train_refuses_a_model_whose_output_has_another_shape(data):
    class Column(tb.Model):
        def __call__(self, x):
            return tf.reshape(self.w * x + self.b, (-1, 1))

    with pytest.raises(ValueError, match=r"must have the same shape, got target_y.shape=\(1000,\) "
                                         r"and predicted_y.shape=\(1000, 1\)"):
        tb.train(Column(), data.x, data.y)


def test_evaluate_reports_errors_against_the_truth(data, lab_history):
    model = tb.Model(w=lab_history.final_w, b=lab_history.final_b)
    test = tb.synthesize(seed=tb.TEST_SEED)
    ev = tb.evaluate(model, test.x, test.y)
    assert ev.w_error == pytest.approx(abs(lab_history.final_w - 3.0))
    assert ev.b_error == pytest.approx(abs(lab_history.final_b - 2.0))
    assert ev.predictions.shape == (1000,)
    expected = np.mean((test.y.numpy() - ev.predictions) ** 2)
    assert ev.test_mse == pytest.approx(float(expected), rel=1e-5)
