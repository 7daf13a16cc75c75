"""The package's minibatches (tf.data), the helpers around them, and train_minibatches built on them."""

import numpy as np
import pytest

import training_basics as tb


@pytest.fixture(scope="module")
def data():
    return tb.synthesize()


def epoch(dataset):
    return [(xb.numpy(), yb.numpy()) for xb, yb in dataset]


def test_full_batch_is_one_element_the_data_in_its_order(data):
    for batch_size in (None, 1000, 5000):
        (xb, yb), = epoch(tb.minibatches(data.x, data.y, batch_size))
        np.testing.assert_array_equal(xb, data.x.numpy())
        np.testing.assert_array_equal(yb, data.y.numpy())


@pytest.mark.parametrize("batch_size", [1, 3, 64, 100, 999])
def test_an_epoch_uses_every_pair_once_in_ceil_n_over_b_batches(data, batch_size):
    batches = epoch(tb.minibatches(data.x, data.y, batch_size, seed=4))
    assert len(batches) == -(-1000 // batch_size)
    assert [len(xb) for xb, _ in batches[:-1]] == [batch_size] * (len(batches) - 1)
    assert len(batches[-1][0]) == 1000 - (len(batches) - 1) * batch_size
    xs = np.concatenate([xb for xb, _ in batches])
    ys = np.concatenate([yb for _, yb in batches])
    np.testing.assert_array_equal(np.sort(xs), np.sort(data.x.numpy()))
    lookup = dict(zip(data.x.numpy().tolist(), data.y.numpy().tolist(), strict=True))
    assert all(lookup[a] == b for a, b in zip(xs.tolist(), ys.tolist(), strict=True))  # pairs stay pairs


def test_drop_remainder_drops_the_short_batch(data):
    batches = epoch(tb.minibatches(data.x, data.y, 64, drop_remainder=True))
    assert [len(xb) for xb, _ in batches] == [64] * 15


def test_a_new_order_each_epoch_the_same_sequence_for_the_same_seed(data):
    one = tb.minibatches(data.x, data.y, 100, seed=3)
    first, second = epoch(one), epoch(one)
    assert not np.array_equal(first[0][0], second[0][0])
    again = tb.minibatches(data.x, data.y, 100, seed=3)
    for a, b in zip(first + second, epoch(again) + epoch(again), strict=True):
        np.testing.assert_array_equal(a[0], b[0])
    other = epoch(tb.minibatches(data.x, data.y, 100, seed=4))
    assert not np.array_equal(first[0][0], other[0][0])


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    (dict(batch_size=0), ValueError, r"batch_size must be >= 1, got 0"),
    (dict(batch_size=2.5), TypeError, r"batch_size must be an integer, got 2.5"),
    (dict(batch_size=10, seed=-1), ValueError, r"seed must be >= 0, got -1"),
])
def test_bad_arguments_are_named(data, kwargs, error, message):
    with pytest.raises(error, match=message):
        tb.minibatches(data.x, data.y, **kwargs)


def test_bad_data_are_named():
    with pytest.raises(ValueError, match=r"inputs and outputs must have the same shape"):
        tb.minibatches(np.zeros(3), np.zeros(4), 2)


def test_train_minibatches_takes_its_batches_from_minibatches_bit_for_bit(data):
    """train_minibatches = train_step on each batch of minibatches(x, y, B, seed), one pass per epoch."""
    history = tb.train_minibatches(tb.Model(), data.x, data.y, batch_size=300, epochs=2, seed=5)
    model, losses = tb.Model(), []
    dataset = tb.minibatches(data.x, data.y, 300, seed=5)
    for _ in range(2):
        for xb, yb in dataset:
            losses.append(float(tb.train_step(model, xb, yb, 0.1)))
    np.testing.assert_array_equal(history.loss, np.float32(losses))
    assert (history.final_w, history.final_b) == (float(model.w.numpy()), float(model.b.numpy()))


@pytest.mark.parametrize("batch_size", [None, 1000, 5000])
def test_train_and_train_minibatches_on_the_full_batch_are_the_plain_step_bit_for_bit(data, batch_size):
    model = tb.Model()
    losses = [float(tb.train_step(model, data.x, data.y, 0.1)) for _ in range(5)]
    logs = []
    for train in (tb.train, lambda *a, **k: tb.train_minibatches(*a, batch_size, **k)):
        logs.append([])
        history = train(tb.Model(), data.x, data.y, epochs=5, log=lambda *a, log=logs[-1]: log.append(a))
        np.testing.assert_array_equal(history.loss, np.float32(losses))
        assert (history.final_w, history.final_b) == (float(model.w.numpy()), float(model.b.numpy()))
        assert history.epoch.tolist() == list(range(5))
    assert logs[0] == logs[1] and len(logs[0]) == 5  # the same log lines


def test_train_minibatches_refuses_a_bad_seed(data):
    with pytest.raises(ValueError, match=r"seed must be >= 0, got -2"):
        tb.train_minibatches(tb.Model(), data.x, data.y, batch_size=10, seed=-2)


def test_examples_seen_counts_a_short_batch_by_its_own_examples(data):
    history = tb.train_minibatches(tb.Model(), data.x, data.y, batch_size=300, epochs=2)
    assert tb.examples_seen(history, 1000, 300).tolist() == [0, 300, 600, 900, 1000, 1300, 1600, 1900, 2000]
    full = tb.train(tb.Model(), data.x, data.y, epochs=3)
    assert tb.examples_seen(full, 1000).tolist() == [0, 1000, 2000, 3000]
    assert tb.examples_seen(tb.train(tb.Model(), data.x, data.y, epochs=0), 1000).tolist() == [0]


def test_loss_along_is_the_full_loss_at_each_recorded_point(data):
    history = tb.train_minibatches(tb.Model(), data.x, data.y, batch_size=250, epochs=1)
    along = tb.loss_along(history, data.x, data.y)
    assert along.shape == (len(history) + 1,)
    for i, (w, b) in enumerate(zip(history.w, history.b, strict=True)):
        assert along[i] == pytest.approx(float(tb.l2_loss(data.y, tb.Model(w=w, b=b)(data.x))), rel=1e-5)
    final = tb.Model(w=history.final_w, b=history.final_b)
    assert along[-1] == pytest.approx(float(tb.l2_loss(data.y, final(data.x))), rel=1e-5)


def test_seconds_per_epoch_calls_the_step_once_per_batch_after_a_warm_up(data):
    calls = []
    seconds = tb.seconds_per_epoch(tb.minibatches(data.x, data.y, 250), lambda *args: calls.append(args),
                                   model="m", learning_rate=0.5, repeats=2)
    assert isinstance(seconds, np.ndarray) and seconds.shape == (2,) and np.all(seconds > 0)  # each pass
    assert len(calls) == 3 * 4 and all(c[0] == "m" and c[3] == 0.5 for c in calls)
    assert tb.seconds_per_epoch(tb.minibatches(data.x, data.y, 250)).shape == (3,)
    with pytest.raises(ValueError, match="repeats must be >= 1, got 0"):
        tb.seconds_per_epoch(tb.minibatches(data.x, data.y, 250), repeats=0)


def test_minibatch_plots_are_reproducible_figures(data):
    runs = {"B = 100": tb.train_minibatches(tb.Model(), data.x, data.y, batch_size=100, epochs=1),
            "full": tb.train(tb.Model(), data.x, data.y, epochs=10)}
    curves = {label: (tb.examples_seen(run, 1000, 100 if label == "B = 100" else None),
                      tb.loss_along(run, data.x, data.y)) for label, run in runs.items()}
    makers = [lambda: tb.plots.plot_minibatch_paths(data.x, data.y, runs, optimum=(3.0, 2.0)),
              lambda: tb.plots.plot_loss_by_steps_and_examples(curves)]
    for make in makers:
        fig = make()
        assert isinstance(fig, tb.plots.Figure)
        assert fig.to_svg() == make().to_svg()
        labels = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
        assert "B = 100" in labels and "full" in labels
    paths = tb.plots.plot_minibatch_paths(data.x, data.y, runs)
    assert "training path" not in [line.get_label() for line in paths.axes[0].lines]


@pytest.mark.slow  # fresh interpreters, one per seed setting
def test_the_order_depends_on_the_global_seed_only_when_it_is_set():
    """What the docstring says: seed alone fixes the order, in any process, until tf.random.set_seed or
    keras.utils.set_random_seed (which calls it) sets the global seed; then the order is another, as fixed."""
    import subprocess
    import sys

    code = (
        "import training_basics as tb, tensorflow as tf, keras\n"
        "x, y = tb.synthesize()\n"
        "first = lambda: next(iter(tb.minibatches(x, y, 5, seed=1)))[0].numpy().tolist()\n"
        "print(first())\n"
        "tf.random.set_seed(7)\n"
        "print(first())\n"
        "keras.utils.set_random_seed(tb.SEED)\n"
        "print(first())\n"
        "tf.random.set_seed(tb.SEED)\n"
        "print(first())\n"
        "tf.random.set_seed(87654321)\n"
        "print(first())\n"
    )
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            .stdout.splitlines() for _ in range(2)]
    assert runs[0] == runs[1]  # every order fixed, in any process
    unset, after_set_seed, after_keras_seed, after_same_tf_seed, after_default_seed = runs[0]
    assert len({unset, after_set_seed, after_keras_seed}) == 3
    assert after_keras_seed == after_same_tf_seed  # keras.utils.set_random_seed sets TensorFlow's global seed
    assert after_default_seed == unset  # unset, TensorFlow uses its default global seed, 87654321
    from tensorflow.python.framework import random_seed

    assert random_seed.DEFAULT_GRAPH_SEED == 87654321



def test_train_minibatches_checks_its_data_once_per_call(data, monkeypatch):
    """Review of issue 17: train_minibatches checked x and y in _check_training, then minibatches checked them
    again; the data are now checked once, by minibatches, while minibatches alone still checks them."""
    from training_basics import checks

    checked = []
    as_float_array = checks._as_float_array
    monkeypatch.setattr(checks, "_as_float_array", lambda name, value: (checked.append(name),
                                                                          as_float_array(name, value))[1])
    tb.train_minibatches(tb.Model(), data.x, data.y, batch_size=100, epochs=2)
    assert checked == ["inputs", "outputs"]
    checked.clear()
    tb.minibatches(data.x, data.y, 100)
    assert checked == ["inputs", "outputs"]
    with pytest.raises(ValueError, match=r"outputs must hold only finite numbers, but outputs\[3\] is nan"):
        tb.train_minibatches(tb.Model(), data.x[:4], np.r_[data.y[:3], np.nan], batch_size=2)
