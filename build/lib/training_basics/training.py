"""One training step, and the loop that repeats it."""

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from . import loss
from .checks import (
    check_count,
    check_finite_parameters,
    check_learning_rate,
    check_not_diverging,
    check_same_shape,
    check_trainable,
    check_xy,
)
from .minibatch import minibatches

# The step calls the loss's plain body: ``train`` checks the shapes once, before the first step.
l2_loss = loss.l2_loss.unchecked


def train_step(model, inputs, outputs, learning_rate):
    """One step of gradient descent on the L2 loss; returns the loss before the step.

    Under the tape, L = l2_loss(outputs, model(inputs)); then, in place,
    w ← w − learning_rate·∂L/∂w and b ← b − learning_rate·∂L/∂b. ``inputs`` and
    ``outputs`` are float32 tensors of shape (N,). No checks here, as in the lab:
    ``train`` checks its arguments once, before the first step.

    Taught in: book/updates.md
    """
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

    Taught in: book/training-loop.md
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

    An epoch is one pass over ``minibatches(x, y, batch_size, seed)``: one
    full-batch step when ``batch_size`` is None (the lab), else ⌈N / batch_size⌉
    steps on the batches of a new shuffled order, the last one short when
    batch_size does not divide N. ``log(epoch, w, b, loss)``, if given, is
    called once per epoch with the values the lab prints: w and b before the
    epoch's first step and the loss at those values. The arguments are checked
    once, before the first step. Raises ``TrainingDivergedError`` if the loss
    becomes inf or NaN or grows a millionfold.

    Taught in: book/training-loop.md, book/minibatches.md
    """
    x, y = check_xy(inputs, outputs, "inputs", "outputs")
    epochs = check_count("epochs", epochs)
    learning_rate = check_learning_rate(learning_rate)
    check_trainable(model)
    check_same_shape(y, model(x))  # the model's output must match the outputs: no silent broadcasting
    dataset = minibatches(x, y, batch_size, seed)

    ws, bs, losses, epoch_of = [], [], [], []
    for epoch in range(epochs):
        first = len(losses)
        for xb, yb in dataset:
            ws.append(model.w.numpy())
            bs.append(model.b.numpy())
            step_loss = float(train_step(model, xb, yb, learning_rate))
            check_not_diverging(step_loss, losses[0] if losses else step_loss, epoch, learning_rate)
            losses.append(step_loss)
            epoch_of.append(epoch)
        if log is not None:
            log(epoch, float(ws[first]), float(bs[first]), losses[first])

    check_finite_parameters(model, epochs - 1, learning_rate)
    return History(
        w=np.array(ws, dtype=np.float32),
        b=np.array(bs, dtype=np.float32),
        loss=np.array(losses, dtype=np.float32),
        epoch=np.array(epoch_of, dtype=np.int64),
        final_w=float(model.w.numpy()),
        final_b=float(model.b.numpy()),
        learning_rate=learning_rate,
    )
