"""The same model the Keras 3 way: weights made by ``add_weight``, trained by ``fit``.

``KerasModel`` is ŷ = w·x + b as a ``keras.Model``; ``CustomStepModel`` writes its
``train_step`` out (the tape, ``self.optimizer.apply``, metrics); ``WeightHistory`` is a
callback that records what the lab records; ``RawVariableModel`` is the Keras 3 trap, kept
to be detected by ``untracked_variables``.
"""

import keras
import tensorflow as tf

from .checks import _check_parameter
from .loss import l2_loss
from .training import History


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
        self.start = (_check_parameter("w", w), _check_parameter("b", b))
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
        w, b = _check_parameter("w", w), _check_parameter("b", b)  # numbers a float32 holds, as Python floats
        super().__init__(**kwargs)
        self.w = tf.Variable(w, name="w")
        self.b = tf.Variable(b, name="b")

    def call(self, x):
        return self.w * x + self.b


def untracked_variables(model, path="model"):
    """Where ``model`` and its layers keep a raw ``tf.Variable``: a sorted list of paths.

    Keras 3 trains only ``keras.Variable``s (``add_weight``); a ``tf.Variable`` attribute is
    in none of ``weights``, ``trainable_weights`` or ``trainable_variables``, so ``fit``
    never updates it. Returns e.g. ``["model.b", "model.w"]``, ``["model.inner.scale"]``
    for one in a layer held as ``model.inner``, or ``["model.layers[1].scale"]`` for one in
    the second layer of a ``Sequential`` or functional model; ``[]`` when there is none.
    Variables are looked for among all attributes; layers among the public attributes,
    in lists held by them, and in a model's ``layers``.

    Taught in: book/keras.md
    """
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"model must be a keras.Model or keras.layers.Layer, got {type(model).__name__}")
    found, layers = [], {}  # layers: each layer it holds, by id, with the first path that reaches it
    for name, value in vars(model).items():
        if isinstance(value, tf.Variable):
            found.append(f"{path}.{name}")
        elif name.startswith("_"):  # Keras's own, such as _layers: a model's are walked below, by .layers
            continue
        elif isinstance(value, keras.layers.Layer):
            layers.setdefault(id(value), (f"{path}.{name}", value))
        elif isinstance(value, (list, tuple)):  # a list of layers
            for index, item in enumerate(value):
                if isinstance(item, keras.layers.Layer):
                    layers.setdefault(id(item), (f"{path}.{name}[{index}]", item))
    if isinstance(model, keras.Model):  # a Sequential or functional model has its layers only here
        for index, layer in enumerate(model.layers):
            layers.setdefault(id(layer), (f"{path}.layers[{index}]", layer))
    for layer_path, layer in layers.values():
        found += untracked_variables(layer, layer_path)
    return sorted(found)


def _check_keras_trainable(model):
    """Raise ``TypeError`` naming every raw ``tf.Variable`` attribute, or if nothing is trainable."""
    raw = untracked_variables(model)
    if raw:
        raise TypeError(
            f"{', '.join(raw)} {'is a raw tf.Variable' if len(raw) == 1 else 'are raw tf.Variables'}, which "
            "Keras 3 does not track: fit trains only what model.trainable_weights lists. "
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
    does not track (see ``untracked_variables``).

    Taught in: book/keras.md
    """

    def __init__(self):
        super().__init__()
        self.w, self.b, self.loss = [], [], []

    def on_train_begin(self, logs=None):
        _check_keras_trainable(self.model)

    def on_epoch_begin(self, epoch, logs=None):
        self.w.append(self.model.w.numpy())
        self.b.append(self.model.b.numpy())

    def on_epoch_end(self, epoch, logs=None):
        self.loss.append(logs["loss"])

    @property
    def history(self):
        epochs = len(self.loss)
        return History.from_steps(self.w[:epochs], self.b[:epochs], self.loss, self.model.w.numpy(),
                                  self.model.b.numpy(), self.model.optimizer.learning_rate.numpy())
