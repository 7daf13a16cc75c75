"""The same model the Keras 3 way: weights made by ``add_weight``, trained by ``fit``.

``KerasModel`` is ŷ = w·x + b as a ``keras.Model``; ``CustomStepModel`` writes its
``train_step`` out (the tape, ``self.optimizer.apply``, metrics); ``WeightHistory`` is a
callback that records what the lab records; ``RawVariableModel`` is the Keras 3 trap, kept
to be detected by ``untracked_variables``. ``ways_to_train`` and ``time_per_epoch`` time
one epoch of every way the book trains, for the chapter and for ``make bench``.
"""

import time

import keras
import numpy as np
import tensorflow as tf

from . import loss
from .checks import check_count, check_learning_rate, check_number, check_xy
from .compiled import compile_loop
from .model import Model
from .training import History, train_step

# The custom step calls the loss's plain body, as ``train_step`` does (shapes are checked by fit's caller).
l2_loss = loss.l2_loss.unchecked


@keras.saving.register_keras_serializable(package="training_basics")
class KerasModel(keras.Model):
    """ŷ = w·x + b as a Keras 3 model: ``w`` and ``b`` are scalar float32 weights made by ``add_weight``.

    ``add_weight`` creates a ``keras.Variable`` and registers it, so ``trainable_weights``
    is ``[w, b]`` and ``fit`` trains both. ``x`` of shape (N,) gives ŷ of shape (N,). The
    defaults are the lab's start, w = 2.0 and b = 1.0.

    Taught in: book/keras.md
    """

    def __init__(self, w=2.0, b=1.0, **kwargs):
        super().__init__(**kwargs)
        self.start = (check_number("w", w), check_number("b", b))
        self.w = self.add_weight(shape=(), initializer=keras.initializers.Constant(self.start[0]), name="w")
        self.b = self.add_weight(shape=(), initializer=keras.initializers.Constant(self.start[1]), name="b")
        self.built = True  # the weights exist now: nothing is left to build before loading or training

    def call(self, x):
        return self.w * x + self.b

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        # Keras's losses average over the last axis, the outputs of one example. On (N,) that axis is
        # the batch: the loss would be one number per batch, which Keras does not divide by the number
        # of replicas, and under tf.distribute the optimizer would add up the replicas' full gradients.
        # One output per example, shape (N, 1), gives the per-example losses Keras expects.
        if y is not None and len(y_pred.shape) == 1:
            y, y_pred = y[:, None], y_pred[:, None]
        return super().compute_loss(x, y, y_pred, sample_weight, training=training)

    def get_config(self):  # what .keras files store to rebuild the model (then the weights are loaded)
        return {**super().get_config(), "w": self.start[0], "b": self.start[1]}


@keras.saving.register_keras_serializable(package="training_basics")
class CustomStepModel(KerasModel):
    """``KerasModel`` with its training step written out; ``fit`` still drives it.

    Per batch (x, y): under the tape L = l2_loss(y, ŷ); then ``self.optimizer.apply``
    with ∂L/∂w, ∂L/∂b; then the metrics: ``loss`` (L, averaged over the epoch's examples)
    and ``mae`` (mean |y − ŷ|). ``test_step`` measures the same without a step, for
    ``validation_split`` and ``evaluate``. Compile it with an optimizer only.

    Taught in: book/keras.md
    """

    def __init__(self, w=2.0, b=1.0, **kwargs):
        super().__init__(w, b, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae = keras.metrics.MeanAbsoluteError(name="mae")

    @property
    def metrics(self):  # fit resets these at the start of every epoch, and evaluate before it runs
        return [self.loss_tracker, self.mae]

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            current_loss = l2_loss(y, y_pred)
        # Under tf.distribute each replica has a share of the batch, and the optimizer adds up their
        # gradients: each replica's is divided by their number (1 without a strategy).
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        gradients = [g / replicas for g in tape.gradient(current_loss, self.trainable_variables)]
        self.optimizer.apply(gradients, self.trainable_variables)
        return self._update_metrics(y, y_pred, current_loss)

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        return self._update_metrics(y, y_pred, l2_loss(y, y_pred))

    def _update_metrics(self, y, y_pred, current_loss):
        self.loss_tracker.update_state(current_loss, sample_weight=tf.shape(y)[0])  # weighted by batch size
        self.mae.update_state(y, y_pred)
        return {metric.name: metric.result() for metric in self.metrics}


class RawVariableModel(keras.Model):
    """The Keras 3 trap, kept to be detected: ``w`` and ``b`` are raw ``tf.Variable`` attributes.

    It computes ŷ = w·x + b like ``KerasModel``, but Keras 3 tracks only its own
    ``keras.Variable``s, so ``trainable_weights`` is ``[]`` and ``fit`` changes nothing
    (Keras 3.15 says only "The model does not have any trainable weights.", a warning).
    ``untracked_variables`` finds the cause. Do not train it.

    Taught in: book/keras.md
    """

    def __init__(self, w=2.0, b=1.0, **kwargs):
        super().__init__(**kwargs)
        self.w = tf.Variable(check_number("w", w), dtype=tf.float32, name="w")
        self.b = tf.Variable(check_number("b", b), dtype=tf.float32, name="b")

    def call(self, x):
        return self.w * x + self.b


def untracked_variables(model):
    """Names of the attributes of ``model`` and its layers that hold a raw ``tf.Variable``.

    Keras 3 trains only ``keras.Variable``s (``add_weight``); a ``tf.Variable`` attribute is
    in none of ``weights``, ``trainable_weights`` or ``trainable_variables``, so ``fit``
    never updates it. Returns e.g. ``["model.b", "model.w"]``; ``[]`` when there is none.

    Taught in: book/keras.md
    """
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"model must be a keras.Model or keras.layers.Layer, got {type(model).__name__}")
    found = []
    for prefix, layer in [("model", model)] + [(f"model.{sub.name}", sub) for sub in model._flatten_layers(
            include_self=False)]:
        found += [f"{prefix}.{name}" for name, value in vars(layer).items() if isinstance(value, tf.Variable)]
    return sorted(found)


def check_keras_trainable(model):
    """Raise ``TypeError`` naming every raw ``tf.Variable`` attribute, or if nothing is trainable.

    Taught in: book/keras.md
    """
    raw = untracked_variables(model)
    if raw:
        raise TypeError(
            f"{', '.join(raw)} {'is a' if len(raw) == 1 else 'are'} raw tf.Variable, which Keras 3 does not "
            "track: model.trainable_weights is [] and fit would train nothing. "
            "Create weights with self.add_weight(...) instead"
        )
    if not model.trainable_weights:
        raise TypeError(f"{type(model).__name__} has no trainable weights: fit would train nothing")


class WeightHistory(keras.callbacks.Callback):
    """A callback that records what the lab records; ``.history`` is a ``History`` like ``train``'s.

    At the start of each epoch it stores ``model.w`` and ``model.b``; at its end, the
    ``loss`` that ``fit`` logs for it. With one batch per epoch (``batch_size=N``) that
    loss was computed before the epoch's only step, at the stored w and b: the lab's
    "loss before the step". Before training it refuses a model whose variables Keras
    does not track (``check_keras_trainable``).

    Taught in: book/keras.md
    """

    def __init__(self):
        super().__init__()
        self.w, self.b, self.loss = [], [], []

    def on_train_begin(self, logs=None):
        check_keras_trainable(self.model)

    def on_epoch_begin(self, epoch, logs=None):
        self.w.append(self.model.w.numpy())
        self.b.append(self.model.b.numpy())

    def on_epoch_end(self, epoch, logs=None):
        self.loss.append(logs["loss"])

    @property
    def history(self):
        epochs = len(self.loss)
        return History(
            w=np.array(self.w[:epochs], dtype=np.float32),
            b=np.array(self.b[:epochs], dtype=np.float32),
            loss=np.array(self.loss, dtype=np.float32),
            epoch=np.arange(epochs, dtype=np.int64),
            final_w=float(self.model.w.numpy()),
            final_b=float(self.model.b.numpy()),
            learning_rate=float(self.model.optimizer.learning_rate.numpy()),
        )


def ways_to_train(inputs, outputs, epochs=15, learning_rate=0.1):
    """{name: run}: each ``run()`` trains ``epochs`` full-batch epochs of the lab one way, returns (w, b).

    An epoch is one step on all N examples. The ways: the eager loop of ``train_step``;
    the same step under ``tf.function``; ``fit(x, y, batch_size=N, epochs=epochs)``; and
    ``fit`` on the full batch repeated (a ``tf.data`` dataset of one element), one Keras
    epoch of ``epochs`` steps, with ``steps_per_execution`` 1 or ``epochs`` (all steps in
    one graph call) and ``jit_compile`` off or on (XLA); last, ``compile_loop`` with XLA,
    the whole loop in one graph. Every model starts at the lab's start and goes on
    training from call to call (timing needs no reset).

    Taught in: book/keras.md
    """
    x, y = check_xy(inputs, outputs, "inputs", "outputs")
    epochs = check_count("epochs", epochs, minimum=1)
    learning_rate = check_learning_rate(learning_rate)
    n = int(x.shape[0])

    def eager():
        model = Model()

        def train_epochs():
            for _ in range(epochs):
                train_step(model, x, y, learning_rate)

        return model, train_epochs

    def graph_step():
        model, step = Model(), tf.function(train_step)

        def train_epochs():
            for _ in range(epochs):
                step(model, x, y, learning_rate)

        return model, train_epochs

    def fit_arrays():
        model = KerasModel()
        model.compile(keras.optimizers.SGD(learning_rate), "mse", jit_compile=False)
        return model, lambda: model.fit(x, y, batch_size=n, epochs=epochs, shuffle=False, verbose=0)

    def fit_repeated(steps_per_execution, jit_compile):
        model = KerasModel()
        model.compile(keras.optimizers.SGD(learning_rate), "mse", jit_compile=jit_compile,
                      steps_per_execution=steps_per_execution)
        repeated = tf.data.Dataset.from_tensors((x, y)).repeat()  # every element: all N examples
        return model, lambda: model.fit(repeated, steps_per_epoch=epochs, epochs=1, shuffle=False, verbose=0)

    def xla_loop():
        model, steps = Model(), tf.constant(epochs)
        loop = compile_loop(model, learning_rate, jit_compile=True)
        return model, lambda: loop(x, y, steps)

    ways = {"eager loop (train_step)": eager(), "tf.function step": graph_step(),
            f"fit(x, y), {epochs} epochs": fit_arrays()}
    for spe in (1, epochs):
        for jit_compile, xla in ((False, ""), (True, ", jit_compile")):
            ways[f"fit, repeated batch, steps_per_execution={spe}{xla}"] = fit_repeated(spe, jit_compile)
    ways["in-graph loop + XLA (compile_loop)"] = xla_loop()
    return {name: _returning_weights(model, train_epochs) for name, (model, train_epochs) in ways.items()}


def _returning_weights(model, train_epochs):
    def run():
        train_epochs()
        return float(model.w.numpy()), float(model.b.numpy())

    return run


def time_per_epoch(run, epochs, repeat=3):
    """Seconds per epoch: the fastest of ``repeat`` timed calls of ``run()``, divided by ``epochs``.

    Call ``run()`` once before, untimed: the first call traces and compiles. The
    fastest call is the one least disturbed by other work on the machine.

    Taught in: book/keras.md
    """
    repeat = check_count("repeat", repeat, minimum=1)
    epochs = check_count("epochs", epochs, minimum=1)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return min(samples) / epochs
