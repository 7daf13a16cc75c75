"""The linear model y = w·x + b."""

import tensorflow as tf

from .checks import _check_count, _check_parameter


class Model(tf.Module):
    """ŷ = w·x + b, with ``w`` and ``b`` scalar float32 ``tf.Variable``s.

    ``tf.Module`` tracks the variables, so ``model.trainable_variables`` is
    ``(b, w)`` (sorted by attribute name). The defaults are the lab's fixed
    start, w = 2.0 and b = 1.0; ``Model.random(seed=...)`` gives a seeded random one.

    Taught in: book/model.md
    """

    def __init__(self, w=2.0, b=1.0, **kwargs):
        w, b = _check_parameter("w", w), _check_parameter("b", b)  # numbers a float32 holds, as Python floats
        super().__init__(**kwargs)
        self.w = tf.Variable(w, name="w")
        self.b = tf.Variable(b, name="b")

    @classmethod
    def random(cls, seed, scale=1.0):
        """A model with w, b ~ N(0, scale²), drawn independently.

        ``seed`` is an integer >= 0; the same seed gives the same model,
        whatever ran before (a stateless draw). ``scale`` is a finite number
        > 0: the standard deviation of both parameters.

        Taught in: book/model.md
        """
        seed = _check_count("seed", seed)
        scale = _check_parameter("scale", scale)
        if scale <= 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        w, b = tf.random.stateless_normal([2], seed=[seed, 0], stddev=scale).numpy()
        return cls(w=float(w), b=float(b))

    def __call__(self, x):
        """ŷ = w·x + b, elementwise: ŷ has the shape of ``x``."""
        return self.w * x + self.b
