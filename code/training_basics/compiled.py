"""The same training, compiled: the whole epoch loop runs inside one TensorFlow graph.

Eagerly, every step costs several round trips from Python into TensorFlow. Under
``tf.function`` the loop is traced once into a graph (``tf.range`` becomes a
``tf.while_loop``), and with ``jit_compile=True`` XLA fuses it into one kernel.
The step inside is ``train_step`` itself, so the compiled loop computes exactly
what the eager one does.
"""

import tensorflow as tf

from .checks import (
    _check_finite_parameters,
    _check_learning_rate,
    _check_not_diverging,
    _check_trainable,
    _check_training,
    check_same_shape,
)
from .training import History, train_step


def compile_loop(model, learning_rate, jit_compile=False):
    """A function ``loop(x, y, epochs) -> (w, b, loss)``, one graph call; each a tensor of shape (epochs,).

    ``w[i]``, ``b[i]`` are the values before step i (full batch), ``loss[i]`` the loss there.
    Trace it once, call it many times. The model and the learning rate are checked here,
    once. Every call of ``loop`` checks that ``y`` has the shape of the model's output
    before the graph runs: the check inside ``train_step`` runs only when the step is
    traced, and a trace relaxed to inputs of any length, shape (None,), cannot see that
    5 targets and 1 prediction differ, which would then broadcast into a wrong loss.

    Taught in: book/training-loop.md
    """
    learning_rate = _check_learning_rate(learning_rate)
    _check_trainable(model)

    @tf.function(jit_compile=jit_compile, reduce_retracing=True)
    def graph_loop(x, y, epochs):
        ws = tf.TensorArray(tf.float32, size=epochs)
        bs = tf.TensorArray(tf.float32, size=epochs)
        losses = tf.TensorArray(tf.float32, size=epochs)
        for i in tf.range(epochs):
            ws = ws.write(i, model.w.read_value())
            bs = bs.write(i, model.b.read_value())
            losses = losses.write(i, train_step(model, x, y, learning_rate))
        return ws.stack(), bs.stack(), losses.stack()

    def loop(x, y, epochs):
        check_same_shape(y, model(x))  # on every call, with the shapes of this call
        return graph_loop(x, y, epochs)

    return loop


def train_compiled(model, inputs, outputs, epochs=15, learning_rate=0.1, jit_compile=False):
    """``train`` with the whole loop in one graph (full batch); returns the same ``History``.

    Taught in: book/training-loop.md
    """
    x, y, epochs, learning_rate = _check_training(model, inputs, outputs, epochs, learning_rate)
    loop = compile_loop(model, learning_rate, jit_compile)
    w, b, loss = (t.numpy() for t in loop(x, y, tf.constant(epochs)))
    for epoch in range(epochs):  # the same check as the eager loop, after the fact
        _check_not_diverging(loss[: epoch + 1], epoch, learning_rate)
    _check_finite_parameters(model, epochs - 1, learning_rate)
    return History.from_steps(w, b, loss, model.w.numpy(), model.b.numpy(), learning_rate)
