"""Claims of book/distribute.md: every quantitative statement its prose makes, computed from the package.

Each test asserts that the chapter still says the sentence it proves. The chapter's set-up cell
splits the CPU into two logical devices, which only a fresh process can do: the solutions run in one.
"""

import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from chapter import Chapter

import training_basics as tb

CHAPTER = Chapter("distribute")
HERE = Path(__file__).resolve().parent


def test_own_means_double_the_gradient_like_twice_the_learning_rate():
    assert CHAPTER.says("A replica that took its own mean would make the total twice too large on two "
                        "devices, and so the gradient: the same as training at twice the learning rate.")
    x, y = tb.synthesize()
    model = tb.Model()
    with tf.GradientTape() as tape:
        own_means = sum(tf.reduce_mean(tf.square(y[i:i + 500] - model(x[i:i + 500]))) for i in (0, 500))
    with tf.GradientTape() as mean_tape:
        mean = tb.l2_loss(y, model(x))
    np.testing.assert_allclose(tape.gradient(own_means, [model.w, model.b]),
                               2 * np.array(mean_tape.gradient(mean, [model.w, model.b])), rtol=1e-5)


def test_plain_sgd_is_assign_sub():
    assert CHAPTER.says("Plain SGD computes exactly `assign_sub`'s update.")
    x, y = tb.synthesize()
    lab, model, sgd = tb.train(tb.Model(), x, y), tb.Model(), keras.optimizers.SGD(0.1)
    for _ in range(15):
        with tf.GradientTape() as tape:
            loss = tb.l2_loss(y, model(x))
        sgd.apply_gradients(zip(tape.gradient(loss, [model.w, model.b]), [model.w, model.b], strict=True))
    assert (model.w.numpy(), model.b.numpy()) == (np.float32(lab.final_w), np.float32(lab.final_b))


def test_solutions_run_alone_in_a_fresh_process():
    # Asserted inside: shares of 51 and 50; ckpt-4 the latest after the crash; ckpt-14 and ckpt-15 left.
    assert CHAPTER.says("The shares are 51 and 50 examples.")
    assert CHAPTER.says("The manager keeps only the last two checkpoints (`max_to_keep=2`), `ckpt-14` and "
                        "`ckpt-15`, deleting older ones as it writes new ones.")
    code = "from chapter import Chapter; print(Chapter('distribute').run_solutions_alone())"
    out = subprocess.run([sys.executable, "-c", code], cwd=HERE, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.splitlines()[-1] == "['ex-distribute-every-step', 'ex-distribute-uneven']"


def test_removed_cells_only_glue():
    assert CHAPTER.hidden_computations() == []
