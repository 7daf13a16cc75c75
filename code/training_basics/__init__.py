"""training_basics: train y = w·x + b from first principles in TensorFlow.

One module per idea, in the order the book teaches them:

==================  ==============================================
``model``           the linear model ``Model`` (a ``tf.Module``)
``loss``            the L2 loss ``l2_loss``
``data``            synthesized data: ``synthesize``, ``TRUE_w``, ``TRUE_b``
``training``        ``train_step`` and the full-batch loop ``train`` -> ``History``
``minibatch``       ``minibatches`` (tf.data), ``train_minibatches``, ``examples_seen``, ``loss_along``,
                    ``seconds_per_epoch``
``evaluation``      ``evaluate`` -> ``Evaluation``
``reference``       analytic gradients, closed form, contraction theory, ``crossing``
``compiled``        the same loop inside one graph (``tf.function``, XLA)
``learning_rate``   ``sweep`` (many learning rates at once), ``factor_bounds``, ``standardize``
``optimizers``      ``train_with_optimizer`` (a Keras optimizer), ``train_from_starts``, ``momentum_factor``
``interactive``     Vega-Lite figures with no kernel (imported on use: it loads Altair)
``distributed``     the same loop on ``tf.distribute``: ``train_distributed``, ``split_cpu``, ``run_workers``
``keras_model``     ``KerasModel`` (``add_weight``), ``CustomStepModel``, ``WeightHistory``
``noise``           noisy data: ``normal_equations``, ``expected_test_mse``, ``optimum_errors``
``plots``           figures (each function returns a ``Figure``)
``checks``          input checks with messages that name the value: ``check_same_shape``
``display``         ``show_source``: the package's own code, shown in a chapter
==================  ==============================================

Importing this package quiets TensorFlow's C++ log lines before TensorFlow
itself is imported, so import it before ``tensorflow`` in a notebook.
"""

import os

# TensorFlow reads these once, when it is first imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# oneDNN may reorder floating-point sums; off, two runs give identical bits.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import importlib.util  # noqa: E402

if importlib.util.find_spec("tensorflow") is None:  # not a dependency: see pyproject.toml
    raise ModuleNotFoundError(
        "training_basics needs TensorFlow (2.20 or newer), which is not installed: "
        "pip install tensorflow-cpu (or tensorflow, for a GPU)"
    )

from . import compiled, distributed, keras_model, plots  # noqa: E402
from .checks import TrainingDivergedError  # noqa: E402
from .data import NUM_EXAMPLES, SEED, TEST_SEED, Dataset, TRUE_b, TRUE_w, synthesize  # noqa: E402
from .display import show_source  # noqa: E402
from .distributed import (  # noqa: E402
    CheckpointError,
    WorkerError,
    run_workers,
    split_cpu,
    train_distributed,
)
from .evaluation import Evaluation, evaluate  # noqa: E402
from .keras_model import (  # noqa: E402
    CustomStepModel,
    KerasModel,
    RawVariableModel,
    WeightHistory,
    untracked_variables,
)
from .learning_rate import (  # noqa: E402
    Sweep,
    factor_bounds,
    measured_factor,
    standardize,
    sweep,
    unstandardize,
)
from .loss import l2_loss  # noqa: E402
from .minibatch import (  # noqa: E402
    examples_seen,
    loss_along,
    minibatches,
    seconds_per_epoch,
    train_minibatches,
)
from .model import Model  # noqa: E402
from .noise import NOISE_STD, expected_test_mse, normal_equations, optimum_errors  # noqa: E402
from .optimizers import (  # noqa: E402
    StartRuns,
    momentum_factor,
    optimizer_step,
    train_from_starts,
    train_with_optimizer,
)
from .reference import (  # noqa: E402
    analytic_gradients,
    closed_form,
    contraction_factors,
    crossing,
    hessian,
    loss_grid,
)
from .training import History, train, train_step  # noqa: E402

__all__ = [
    "CheckpointError",
    "CustomStepModel",
    "Dataset",
    "Evaluation",
    "History",
    "KerasModel",
    "Model",
    "NOISE_STD",
    "NUM_EXAMPLES",
    "RawVariableModel",
    "SEED",
    "StartRuns",
    "Sweep",
    "TEST_SEED",
    "TRUE_b",
    "TRUE_w",
    "TrainingDivergedError",
    "WeightHistory",
    "WorkerError",
    "analytic_gradients",
    "closed_form",
    "compiled",
    "contraction_factors",
    "crossing",
    "distributed",
    "evaluate",
    "examples_seen",
    "expected_test_mse",
    "factor_bounds",
    "hessian",
    "keras_model",
    "l2_loss",
    "loss_along",
    "loss_grid",
    "measured_factor",
    "minibatches",
    "momentum_factor",
    "normal_equations",
    "optimizer_step",
    "optimum_errors",
    "plots",
    "run_workers",
    "seconds_per_epoch",
    "show_source",
    "split_cpu",
    "standardize",
    "sweep",
    "synthesize",
    "train",
    "train_distributed",
    "train_from_starts",
    "train_minibatches",
    "train_step",
    "train_with_optimizer",
    "unstandardize",
    "untracked_variables",
]
