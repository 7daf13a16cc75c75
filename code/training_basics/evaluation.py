"""How good is the trained model?"""

from dataclasses import dataclass

import numpy as np

from .checks import _check_number, _check_xy
from .data import TRUE_b, TRUE_w
from .loss import l2_loss


@dataclass(frozen=True)
class Evaluation:
    """Test MSE, |w − true_w|, |b − true_b| and the predictions (shape (N,)).

    Taught in: book/evaluation.md
    """

    test_mse: float
    w_error: float
    b_error: float
    predictions: np.ndarray


def evaluate(model, x_test, y_test, true_w=TRUE_w, true_b=TRUE_b):
    """Evaluate ``model`` on a held-out set and against the true parameters.

    ``x_test`` and ``y_test`` have the same shape (N,); the arguments are checked
    once, here.

    Taught in: book/evaluation.md
    """
    x, y = _check_xy(x_test, y_test, "x_test", "y_test")
    true_w = _check_number("true_w", true_w)
    true_b = _check_number("true_b", true_b)
    predictions = model(x)
    return Evaluation(
        test_mse=float(l2_loss(y, predictions)),
        w_error=abs(float(model.w.numpy()) - true_w),
        b_error=abs(float(model.b.numpy()) - true_b),
        predictions=predictions.numpy(),
    )

