"""One training step, and the loop that repeats it."""

import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from .checks import (
    TrainingDivergedError,
    check_count,
    check_learning_rate,
    check_trainable,
    check_xy,
)
from .loss import l2_loss


def train_step(model, inputs, outputs, learning_rate):
    """One step of gradient descent on the L2 loss; returns the loss before the step.

    Under the tape, L = l2_loss(outputs, model(inputs)); then
    w ← w − lr·∂L/∂w and b ← b − lr·∂L/∂b, in place.
    """
    learning_rate = check_learning_rate(learning_rate)
    check_trainable(model)
    with tf.GradientTape() as tape:
        current_loss = l2_loss(outputs, model(inputs))
    dw, db = tape.gradient(current_loss, [model.w, model.b])
    model.w.assign_sub(learning_rate * dw)
    model.b.assign_sub(learning_rate * db)
    return current_loss


@dataclass(frozen=True)
class History:
    """What ``train`` recorded, one entry per step (NumPy arrays, not tensors).

    ``w[i]``, ``b[i]`` are the values *before* step i, ``loss[i]`` the loss at
    those values, ``epoch[i]`` the epoch step i belongs to. ``final_w`` and
    ``final_b`` are the values after the last step.
    """

    w: np.ndarray
    b: np.ndarray
    loss: np.ndarray
    epoch: np.ndarray
    final_w: float
    final_b: float
    learning_rate: float

    def __len__(self):
        return len(self.loss)


def train(model, inputs, outputs, epochs=15, learning_rate=0.1, batch_size=None, seed=0, log=None):
    """Run ``epochs`` epochs of ``train_step``; returns a ``History``.

    An epoch is one pass over the N examples: one full-batch step when
    ``batch_size`` is None (the lab), else ⌈N / batch_size⌉ steps on batches of
    a permutation drawn from ``seed``. ``log(epoch, w, b, loss)`` is called
    after each epoch if given. Raises ``TrainingDivergedError`` if the loss
    becomes inf or NaN.
    """
    x, y = check_xy(inputs, outputs, "inputs", "outputs")
    epochs = check_count("epochs", epochs)
    learning_rate = check_learning_rate(learning_rate)
    check_trainable(model)
    n = int(x.shape[0]) if x.shape.rank else 1
    if batch_size is not None:
        batch_size = check_count("batch_size", batch_size, minimum=1)
    rng = np.random.default_rng(seed)

    ws, bs, losses, epoch_of = [], [], [], []
    for epoch in range(epochs):
        for xb, yb in _batches(x, y, n, batch_size, rng):
            ws.append(model.w.numpy())
            bs.append(model.b.numpy())
            loss = float(train_step(model, xb, yb, learning_rate))
            if not math.isfinite(loss):
                raise TrainingDivergedError(
                    f"the loss became {loss} at epoch {epoch} with learning_rate={learning_rate}: "
                    f"training diverged; try a smaller learning rate, such as {learning_rate / 10:g}"
                )
            losses.append(loss)
            epoch_of.append(epoch)
        if log is not None:
            log(epoch, float(model.w.numpy()), float(model.b.numpy()), losses[-1])

    final_w, final_b = float(model.w.numpy()), float(model.b.numpy())
    if not (math.isfinite(final_w) and math.isfinite(final_b)):
        raise TrainingDivergedError(
            f"w={final_w}, b={final_b} after epoch {epochs - 1} with learning_rate={learning_rate}: "
            f"training diverged; try a smaller learning rate, such as {learning_rate / 10:g}"
        )
    return History(
        w=np.array(ws, dtype=np.float32),
        b=np.array(bs, dtype=np.float32),
        loss=np.array(losses, dtype=np.float32),
        epoch=np.array(epoch_of, dtype=np.int64),
        final_w=final_w,
        final_b=final_b,
        learning_rate=learning_rate,
    )


def _batches(x, y, n, batch_size, rng):
    if batch_size is None or batch_size >= n:
        yield x, y
        return
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        yield tf.gather(x, idx), tf.gather(y, idx)
