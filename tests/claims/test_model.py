"""Claims in book/model.md, one test per claim, named after the chapter and section."""

import re

import numpy as np
import tensorflow as tf
from chapter import Chapter

import training_basics as tb

CHAPTER = Chapter("model")


def test_model__parameters_are_variables__the_labs_start_is_fixed_though_its_text_says_random():
    assert CHAPTER.says("The lab's text calls these initial values random; they are not: its code sets "
                        "exactly these two numbers, the same on every run.")
    starts = {(float(m.w), float(m.b)) for m in (tb.Model(), tb.Model(), tb.Model())}
    assert starts == {(2.0, 1.0)}


PART_I = ["intro", "model", "loss", "data", "gradients", "updates", "training-loop", "evaluation"]


def test_model__parameters_are_variables__the_lab_calls_its_start_random_said_once_in_part_i():
    """The old Part I pointed out four times that the lab's "random" start is fixed; once is enough."""
    said = [(name, sentence) for name in PART_I for sentence in re.split(r"(?<=\.)\s", Chapter(name).prose)
            if "random" in sentence and re.search(r"lab's text|its text|promise", sentence)]
    assert said == [("model", "The lab's text calls these initial values random; they are not: its code sets "
                               "exactly these two numbers, the same on every run.")], said


def test_model__parameters_are_variables__an_integer_variable_gets_no_gradient():
    assert CHAPTER.says("an integer variable would get a gradient of `None`")
    w = tf.Variable(2)
    with tf.GradientTape() as tape:
        loss = tf.cast(w, tf.float32) * 3.0
    assert tape.gradient(loss, w) is None
    assert tb.Model(w=3, b=2).w.dtype == tf.float32


def test_model__a_random_start__normal_with_mean_0_and_standard_deviation_scale():
    assert CHAPTER.says("draws $w$ and $b$ independently from a normal distribution with mean 0 and standard "
                        "deviation `scale` (1 unless told otherwise)")
    for scale in (1.0, 3.0):
        draws = np.array([[float(m.w), float(m.b)] for m in (tb.Model.random(s, scale) for s in range(2000))])
        assert np.abs(draws.mean(axis=0)).max() < 0.1 * scale
        assert np.abs(draws.std(axis=0) / scale - 1).max() < 0.05
        assert abs(np.corrcoef(draws.T)[0, 1]) < 0.1  # independent
    assert tb.Model.random(0).w.numpy() == tb.Model.random(0, scale=1.0).w.numpy()


def test_model__a_random_start__the_same_seed_gives_the_same_model_whatever_ran_before():
    assert CHAPTER.says("The same seed gives the same model, whatever ran before; another seed gives "
                        "another one")
    first = tb.Model.random(seed=0)
    tf.random.normal([10])
    again, other = tb.Model.random(seed=0), tb.Model.random(seed=1)
    assert (float(first.w), float(first.b)) == (float(again.w), float(again.b))
    assert (float(first.w), float(first.b)) != (float(other.w), float(other.b))


def test_model__a_random_start__the_training_loop_trains_from_one_as_well():
    assert CHAPTER.says("{ref}`The training loop <chapter-training-loop>` trains from such a start as well "
                        "as from the lab's.")
    assert "tb.Model.random(" in Chapter("training-loop").source
    x, y = tb.synthesize()
    for seed in range(3):
        model = tb.Model.random(seed=seed)
        history = tb.train(model, x, y, epochs=50, learning_rate=0.1)
        assert float(tb.l2_loss(y, model(x))) < 1e-3 * history.loss[0]


def test_model__exercises__the_model_has_two_scalar_parameters():
    assert CHAPTER.says("One scalar each for $b$ and $w$: two in all.")
    assert sum(int(tf.size(v)) for v in tb.Model().trainable_variables) == 2


def test_model__exercises__each_solution_runs_alone_after_the_set_up_cell():
    assert CHAPTER.run_solutions_alone() == ["ex-model-count", "ex-model-integers"]


def test_model__cross_references_read_as_sentences():
    assert CHAPTER.bare_references() == []


def test_model__hidden_cells_only_glue_values_computed_in_visible_cells():
    assert CHAPTER.hidden_computations() == []
