"""Minibatches with tf.data: the examples shuffled and cut into batches, trained on, and what they cost."""

import time

import numpy as np
import tensorflow as tf

from .checks import _check_count, _check_finite_parameters, _check_loop, _check_not_diverging, _check_xy
from .training import History, train_step


def minibatches(inputs, outputs, batch_size=None, seed=0, drop_remainder=False):
    """The examples as a ``tf.data.Dataset`` of (x, y) batches; one pass over it is one epoch.

    With ``batch_size`` None, or B >= N, its one element is the whole data set in its
    order: the lab's full batch. Otherwise the N pairs (x_i, y_i) are shuffled together,
    in a new order on every pass, and cut into ⌈N / B⌉ batches of B, the last one short
    (N mod B examples), or into ⌊N / B⌋ with ``drop_remainder``. Shapes: (N,) in, (B,) out.
    The sequence of orders depends on ``seed`` and on TensorFlow's global seed: while that
    is unset, TensorFlow uses its default, 87654321, and ``seed`` alone fixes it;
    ``tf.random.set_seed`` with another value, or ``keras.utils.set_random_seed`` which calls
    it (book/keras.md does), gives another sequence, just as fixed.

    Taught in: book/minibatches.md
    """
    x, y = _check_xy(inputs, outputs, "inputs", "outputs")
    seed = _check_count("seed", seed)
    n = int(x.shape[0]) if x.shape.rank else 1
    if batch_size is None or _check_count("batch_size", batch_size, minimum=1) >= n:
        return tf.data.Dataset.from_tensors((x, y))
    return (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(n, seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size, drop_remainder=drop_remainder)
    )


def train_minibatches(model, inputs, outputs, batch_size, epochs=15, learning_rate=0.1, seed=0, log=None):
    """``train`` on minibatches: each epoch is one pass over ``minibatches(x, y, batch_size, seed)``.

    An epoch takes ⌈N / batch_size⌉ steps of ``train_step``, on the batches of a new
    shuffled order, the last one short when batch_size does not divide N; with batch_size
    None or >= N it is one full-batch step, as in ``train``. The ``History`` has one entry
    per step, and ``epoch[i]`` is the epoch of step i. ``log(epoch, w, b, loss)``, if given,
    is called once per epoch with w and b before the epoch's first step and the loss of its
    first batch there. Checks and errors as ``train``'s; the data are checked once, by ``minibatches``.

    Taught in: book/minibatches.md
    """
    epochs, learning_rate = _check_loop(model, epochs, learning_rate)
    dataset = minibatches(inputs, outputs, batch_size, seed)  # which checks the data, batch_size and seed

    ws, bs, losses, epoch_of = [], [], [], []
    for epoch in range(epochs):
        first = len(losses)
        for xb, yb in dataset:
            ws.append(model.w.numpy())
            bs.append(model.b.numpy())
            losses.append(float(train_step(model, xb, yb, learning_rate)))
            epoch_of.append(epoch)
            _check_not_diverging(losses, epoch, learning_rate)
        if log is not None:
            log(epoch, float(ws[first]), float(bs[first]), losses[first])

    _check_finite_parameters(model, epochs - 1, learning_rate)
    return History.from_steps(ws, bs, losses, model.w.numpy(), model.b.numpy(), learning_rate, epoch_of)


def examples_seen(history, num_examples, batch_size=None):
    """How many examples training had used before each step, and after the last: shape (steps + 1,).

    Before step j of epoch e it is e·N + j·B (B = N for the full batch); a short last batch
    counts only its own examples, since the next epoch starts at (e + 1)·N. After the last
    step it is epochs·N.

    Taught in: book/minibatches.md
    """
    n = _check_count("num_examples", num_examples, minimum=1)
    b = n if batch_size is None else min(_check_count("batch_size", batch_size, minimum=1), n)
    epoch = np.asarray(history.epoch)
    position = np.arange(len(epoch)) - np.searchsorted(epoch, epoch)  # steps since its epoch began
    end = n * (int(epoch[-1]) + 1) if len(epoch) else 0
    return np.append(n * epoch + position * b, end)


def loss_along(history, inputs, outputs):
    """The full-data loss L(w, b) = mean((y − (w·x + b))²) at every (w, b) of ``history``, and after it.

    A minibatch step records the loss of its batch; this is the loss on all N examples
    at the same parameters, in float64: shape (steps + 1,).

    Taught in: book/minibatches.md
    """
    x, y = (np.asarray(t, dtype=np.float64).ravel()[None, :] for t in _check_xy(inputs, outputs))
    w = np.append(history.w, history.final_w).astype(np.float64)[:, None]
    b = np.append(history.b, history.final_b).astype(np.float64)[:, None]
    return np.mean((y - (w * x + b)) ** 2, axis=1)


def seconds_per_epoch(dataset, step=None, model=None, learning_rate=0.1, repeats=3):
    """The wall time of each of ``repeats`` passes over ``dataset``, in seconds: shape (repeats,).

    Each pass calls ``step(model, x, y, learning_rate)`` on every batch (or only reads the
    batches if ``step`` is None). One pass before them warms up (tracing a ``tf.function``,
    filling a ``cache``) and is not counted. Timings vary from run to run and machine to
    machine: take their median, and look at their spread.

    Taught in: book/minibatches.md
    """
    repeats = _check_count("repeats", repeats, minimum=1)
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        for xb, yb in dataset:
            if step is not None:
                step(model, xb, yb, learning_rate)
        times.append(time.perf_counter() - start)
    return np.array(times[1:])
