"""Claims of book/keras.md: every quantitative statement its prose makes, computed from the package.

Each test is named after the chapter, its section and the claim, and asserts that the chapter still
says the sentence it proves, so that an author who changes the sentence sees which test depends on it.
"""

import inspect
import re
import warnings
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf
from chapter import Chapter

import training_basics as tb

CHAPTER = Chapter("keras")
N, EPOCHS, LR = 1000, 15, 0.1
# Keras's own saving code calls np.array on a variable (NumPy 2 deprecation, inside Keras): not ours.
KERAS_SAVE_WARNING = "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"


@pytest.fixture(scope="module")
def lab():
    x, y = tb.synthesize()
    return dict(x=x, y=y, history=tb.train(tb.Model(), x, y, epochs=EPOCHS, learning_rate=LR))


def compiled(model_class=tb.KerasModel, **optimizer_kwargs):
    model = model_class()
    loss = {"loss": "mse"} if model_class is tb.KerasModel else {}
    model.compile(optimizer=keras.optimizers.SGD(LR, **optimizer_kwargs), **loss)
    return model


class CountBatches(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches, self.epochs = 0, 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs += 1


def cell(marker):
    (code,) = [code for _, code in CHAPTER.code_cells() if marker in code]
    return code


# --- Setup ------------------------------------------------------------------------------------------


def test_keras__setup__training_basics_imported_before_keras_and_tensorflow_and_no_tf_keras():
    assert CHAPTER.says("`training_basics` is imported first: it quiets TensorFlow's start-up log lines")
    lines = CHAPTER.setup_code().splitlines()
    assert lines[0] == "import training_basics as tb"
    assert lines.index("import keras") < lines.index("import tensorflow as tf")
    assert "keras.utils.set_random_seed(tb.SEED)" in CHAPTER.setup_code()
    assert "tf.keras." not in "".join(code for _, code in CHAPTER.code_cells())


# --- The model as a Keras model ---------------------------------------------------------------------


def test_keras__the_model__scalar_float32_weights_at_the_labs_start_predicting_as_tb_model(lab):
    assert CHAPTER.says("`w` and `b` are scalars, `shape=()`, float32, started at the lab's values by a "
                        "constant initializer.")
    assert CHAPTER.says("The model has the two trainable weights `fit` will update, and predicts what the "
                        "lab's model predicts")
    model = tb.KerasModel()
    assert model.trainable_weights == [model.w, model.b]
    assert all(v.shape == () and v.dtype == "float32" for v in model.trainable_weights)
    assert (float(model.w.numpy()), float(model.b.numpy())) == (2.0, 1.0) == (lab["history"].w[0],
                                                                             lab["history"].b[0])
    np.testing.assert_array_equal(model(lab["x"]).numpy(), tb.Model()(lab["x"]).numpy())


# --- compile and fit: the lab's history -------------------------------------------------------------


def test_keras__compile_and_fit__one_epoch_is_one_step_on_all_examples(lab):
    assert CHAPTER.says("one epoch is one step on all {glue:text}`keras-n` examples")
    assert CHAPTER.says("`batch_size=n` puts all examples in one batch, so each epoch is one step")
    counter = CountBatches()
    compiled().fit(lab["x"], lab["y"], batch_size=N, epochs=3, shuffle=False, verbose=0, callbacks=[counter])
    assert (counter.epochs, counter.batches) == (3, 3)


def test_keras__compile_and_fit__sgd_is_assign_sub_and_mse_is_l2_loss(lab):
    assert CHAPTER.says("Keras's `mse` and the lab's `l2_loss` are the same mean of squared errors, and "
                        "`SGD` without momentum subtracts the learning rate times the gradient")
    model = tb.Model()
    predictions = model(lab["x"])
    mse = keras.losses.MeanSquaredError()(lab["y"], predictions)
    assert float(mse) == float(tb.l2_loss(lab["y"], predictions))
    w = keras.Variable(2.0)
    keras.optimizers.SGD(LR).apply([tf.constant(0.5)], [w])
    assert float(w.numpy()) == float(tf.Variable(2.0).assign_sub(LR * tf.constant(0.5)).numpy())


def test_keras__compile_and_fit__the_two_runs_held_together_to_float32_precision(lab):
    assert CHAPTER.says("The tests hold the two runs together to float32 precision.")
    record = tb.WeightHistory()
    fitted = compiled().fit(lab["x"], lab["y"], batch_size=N, epochs=EPOCHS, shuffle=False, verbose=0,
                            callbacks=[record])
    for field in ("w", "b", "loss"):
        np.testing.assert_allclose(getattr(record.history, field), getattr(lab["history"], field), rtol=1e-6)
    np.testing.assert_allclose(fitted.history["loss"], lab["history"].loss, rtol=1e-6)
    assert record.history.final_w == pytest.approx(lab["history"].final_w, abs=1e-6)


# --- What Keras logs ---------------------------------------------------------------------------------


def test_keras__what_keras_logs__one_loss_per_epoch_and_nothing_else(lab):
    assert CHAPTER.says("`fit`'s `History` holds one loss per epoch and nothing else.")
    history = compiled().fit(lab["x"], lab["y"], batch_size=N, epochs=4, shuffle=False, verbose=0).history
    assert list(history) == ["loss"] and len(history["loss"]) == 4


def test_keras__what_keras_logs__the_mean_of_the_batch_losses_weighted_by_batch_size(lab):
    assert CHAPTER.says("the logged value is the mean of those batch losses over the epoch (weighted by "
                        "batch size)")
    logged = compiled().fit(lab["x"], lab["y"], batch_size=300, epochs=1, shuffle=False,
                            verbose=0).history["loss"][0]
    model, losses, sizes = tb.Model(), [], []
    for start in range(0, N, 300):  # 300, 300, 300, 100
        xb, yb = lab["x"][start:start + 300], lab["y"][start:start + 300]
        losses.append(float(tb.train_step(model, xb, yb, LR)))
        sizes.append(int(xb.shape[0]))
    assert sizes == [300, 300, 300, 100]
    assert logged == pytest.approx(np.average(losses, weights=sizes), rel=1e-6)
    assert logged != pytest.approx(np.mean(losses), rel=1e-3)


def test_keras__what_keras_logs__last_logged_loss_is_before_the_last_step_evaluate_after(lab):
    assert CHAPTER.says("So `fitted.history[\"loss\"][-1]` is the loss *before* the last step. The loss of "
                        "the trained model, after it, is what `evaluate` returns")
    model = compiled()
    logged = model.fit(lab["x"], lab["y"], batch_size=N, epochs=EPOCHS, shuffle=False,
                       verbose=0).history["loss"]
    assert logged[-1] == pytest.approx(lab["history"].loss[-1], rel=1e-6)
    after = tb.l2_loss(lab["y"], tb.Model(w=lab["history"].final_w, b=lab["history"].final_b)(lab["x"]))
    evaluated = model.evaluate(lab["x"], lab["y"], batch_size=N, verbose=0)
    assert evaluated == pytest.approx(float(after), rel=1e-5)
    assert float(after) < logged[-1]


def test_keras__what_keras_logs__four_batches_of_250_falling_and_the_loss_of_no_single_model(lab):
    assert CHAPTER.says("Four batches of 250, one epoch, from the lab's start")
    assert CHAPTER.says("the mean of four losses that fell from")
    assert "batch_size=250" in cell("quarters = tb.KerasModel()") and N // 250 == 4 and N % 250 == 0
    model, losses, weights = tb.Model(), [], []
    for start in range(0, N, 250):
        weights.append((model.w.numpy(), model.b.numpy()))
        xb, yb = lab["x"][start:start + 250], lab["y"][start:start + 250]
        losses.append(float(tb.train_step(model, xb, yb, LR)))
    assert all(a > b for a, b in zip(losses, losses[1:], strict=False))
    weights.append((model.w.numpy(), model.b.numpy()))
    full_losses = [float(tb.l2_loss(lab["y"], tb.Model(w=w, b=b)(lab["x"]))) for w, b in weights]
    assert all(abs(np.mean(losses) - loss) > 0.01 for loss in full_losses)  # the loss of no model it passed


# --- The trap ----------------------------------------------------------------------------------------


def test_keras__the_trap__fit_runs_logs_the_same_loss_and_changes_nothing_with_one_warning(lab):
    assert CHAPTER.says("`fit` raised nothing: it ran {glue:text}`keras-epochs` epochs, logged the same loss")
    # the old text: "warns once"; the warning comes with each trace of the step, not once per model
    assert "warns once" not in CHAPTER.prose
    assert CHAPTER.says("Its one word is a Python warning that does not say why, given when `fit` traces "
                        "its training step: once here, and not at all in a second `fit` of the same model, "
                        "which reuses the traced step (with `run_eagerly=True`, which traces nothing, at "
                        "every batch).")
    assert CHAPTER.says("`fit` runs, warns when it traces its step, and trains nothing.")
    trap = tb.RawVariableModel()
    trap.compile(optimizer=keras.optimizers.SGD(LR), loss="mse")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted = trap.fit(lab["x"], lab["y"], batch_size=N, epochs=EPOCHS, shuffle=False, verbose=0)
    losses = fitted.history["loss"]
    assert len(losses) == EPOCHS and len(set(losses)) == 1
    assert losses[0] == pytest.approx(lab["history"].loss[0], rel=1e-6)
    assert (trap.w.numpy(), trap.b.numpy()) == (2.0, 1.0)
    assert [str(w.message) for w in caught] == ["The model does not have any trainable weights."]
    assert "tf.Variable" not in str(caught[0].message) and "add_weight" not in str(caught[0].message)
    traced_once = trap.train_function
    with warnings.catch_warnings(record=True) as again:  # a second fit reuses the traced step: no warning
        warnings.simplefilter("always")
        trap.fit(lab["x"], lab["y"], batch_size=N, epochs=2, shuffle=False, verbose=0)
    assert again == [] and trap.train_function is traced_once
    eager = tb.RawVariableModel()
    eager.compile(optimizer=keras.optimizers.SGD(LR), loss="mse", run_eagerly=True)
    with warnings.catch_warnings(record=True) as every_batch:
        warnings.simplefilter("always")
        eager.fit(lab["x"], lab["y"], batch_size=250, epochs=2, shuffle=False, verbose=0)
    assert [str(w.message) for w in every_batch] == ["The model does not have any trainable weights."] * 8


def test_keras__the_trap__no_claim_about_keras_2_that_the_locked_version_cannot_show():
    # the locked environment has Keras 3 only: what Keras 2 tracked is not shown by running anything here
    assert "Keras 2" not in CHAPTER.prose


def test_keras__the_trap__a_tf_variable_is_in_none_of_the_weight_lists_but_tf_module_finds_it():
    assert CHAPTER.says("so it is in none of `weights`, `trainable_weights` or `trainable_variables`")
    assert CHAPTER.says("`tf.Module` is not affected: it finds every `tf.Variable` among its attributes")
    trap = tb.RawVariableModel()
    assert trap.weights == trap.trainable_weights == trap.trainable_variables == []
    assert not isinstance(trap.w, keras.Variable) and isinstance(tb.KerasModel().w, keras.Variable)
    assert len(tb.Model().trainable_variables) == 2


def test_keras__the_trap__weight_history_stops_fit_naming_the_variables_and_the_fix(lab):
    assert CHAPTER.says("stops with an error that names the variables and the fix")
    trap = tb.RawVariableModel()
    trap.compile(optimizer=keras.optimizers.SGD(LR), loss="mse")
    with pytest.raises(TypeError, match=r"model\.b, model\.w .*self\.add_weight"):
        trap.fit(lab["x"], lab["y"], batch_size=N, epochs=1, verbose=0, callbacks=[tb.WeightHistory()])


def test_keras__summary__untracked_variables_looks_into_layers_and_weight_history_refuses_even_beside_weights(
        lab):
    """Review of issue 17: untracked_variables skipped _layers, where a Sequential keeps its layers, and found
    nothing in Sequential([Input, Dense, RawLayer]); WeightHistory then did not refuse it. Now both hold,
    and fit on such a model trains the Dense weights and leaves the raw variable, without a warning."""
    assert CHAPTER.says("The package detects the cause by looking for raw `tf.Variable`s among the "
                        "attributes of a model and of its layers: the layers held as attributes, and those "
                        "in `model.layers`, where a `Sequential` or functional model lists its own:")
    assert CHAPTER.says("so a `fit` that would leave such a variable untrained stops with an error that "
                        "names the variables and the fix")
    assert CHAPTER.says("A `keras.Model` whose only variables are raw `tf.Variable` attributes has no "
                        "trainable weights in Keras 3: `fit` runs, warns when it traces its step, and "
                        "trains nothing. Beside tracked weights, `fit` trains those and leaves the raw ones, "
                        "with no warning. `tb.untracked_variables` finds the raw `tf.Variable` attributes of "
                        "the model and of its layers (those held as attributes and those in "
                        "`model.layers`), and `tb.WeightHistory` refuses to train a model in which it finds "
                        "one, even when its other weights are trainable.")

    class RawLayer(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.scale = tf.Variable(2.0)

        def call(self, x):
            return self.scale * x

    def with_dense():
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1), RawLayer()])
        model.compile(optimizer=keras.optimizers.SGD(LR), loss="mse")
        return model

    inputs = keras.Input((1,))
    functional = keras.Model(inputs, RawLayer()(inputs))
    assert tb.untracked_variables(functional) == ["model.layers[1].scale"]
    assert tb.untracked_variables(tb.RawVariableModel()) == ["model.b", "model.w"]
    quiet = with_dense()
    assert tb.untracked_variables(quiet) == ["model.layers[1].scale"] and len(quiet.trainable_weights) == 2
    x, y = lab["x"][:, None], lab["y"][:, None]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet.fit(x, y, batch_size=N, epochs=2, verbose=0)
    assert caught == [] and float(quiet.layers[1].scale.numpy()) == 2.0  # untrained, and no warning
    for model in (with_dense(), tb.RawVariableModel()):
        model.compile(optimizer=keras.optimizers.SGD(LR), loss="mse")
        with pytest.raises(TypeError, match=r"raw tf\.Variables?, which Keras 3 does not track"):
            model.fit(x, y, batch_size=N, epochs=1, verbose=0, callbacks=[tb.WeightHistory()])


# --- A custom train_step -----------------------------------------------------------------------------


def test_keras__a_custom_train_step__same_numbers_and_the_callback_works(lab):
    assert CHAPTER.says("and the `WeightHistory` callback worked with the custom step as with the built-in "
                        "one")
    record = tb.WeightHistory()
    compiled(tb.CustomStepModel).fit(lab["x"], lab["y"], batch_size=N, epochs=EPOCHS, shuffle=False,
                                     verbose=0, callbacks=[record])
    for field in ("w", "b", "loss"):
        np.testing.assert_allclose(getattr(record.history, field), getattr(lab["history"], field), rtol=1e-6)


def test_keras__a_custom_train_step__listed_metrics_reset_every_epoch_without_compiles_loss_tracker(lab):
    assert CHAPTER.says("`fit` resets every listed metric at the start of every epoch, and the list leaves "
                        "out the loss tracker that `compile` adds, which this step never updates.")
    model = compiled(tb.CustomStepModel)
    assert model.metrics == [model.loss_tracker, model.mae]
    keras_default = keras.Model.metrics.fget(model)  # what the list would be without the property
    assert [m.name for m in keras_default] == ["loss", "loss", "mae"]
    assert keras_default[0] is not model.loss_tracker
    model.fit(lab["x"], lab["y"], batch_size=N, epochs=3, shuffle=False, verbose=0)
    assert float(model.loss_tracker.count.numpy()) == N  # one epoch's examples, not three
    assert float(keras_default[0].count.numpy()) == 0


def test_keras__a_custom_train_step__optimizer_apply_subtracts_learning_rate_times_gradient():
    assert CHAPTER.says("`self.optimizer.apply(gradients, variables)` is Keras 3's update; for `SGD` it "
                        "subtracts the learning rate times each gradient.")
    w, b = keras.Variable(2.0), keras.Variable(1.0)
    keras.optimizers.SGD(LR).apply([tf.constant(0.5), tf.constant(-2.0)], [w, b])
    assert (float(w.numpy()), float(b.numpy())) == pytest.approx((2.0 - LR * 0.5, 1.0 + LR * 2.0), abs=1e-7)


# --- What fit still offers ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def split(lab):
    record = tb.WeightHistory()
    history = compiled(tb.CustomStepModel).fit(lab["x"], lab["y"], batch_size=N, epochs=5, shuffle=False,
                                               verbose=0, validation_split=0.2, callbacks=[record]).history
    return history, record.history


def test_keras__what_fit_still_offers__the_last_fifth_before_shuffling_and_val_entries(lab, split):
    assert CHAPTER.says("`validation_split=0.2` holds out the *last* fifth of the examples, before any "
                        "shuffling")
    assert CHAPTER.says("The History gains a `val_` entry for every metric. Five epochs are enough to see it")
    assert "epochs=5" in cell("validation_split=0.2")
    history, run = split
    assert sorted(history) == ["loss", "mae", "val_loss", "val_mae"] and len(history["loss"]) == 5
    start = float(tb.l2_loss(lab["y"][:800], tb.Model()(lab["x"][:800])))
    assert history["loss"][0] == pytest.approx(start, rel=1e-6)


def test_keras__what_fit_still_offers__loss_before_the_step_val_loss_after_and_below_it(lab, split):
    assert CHAPTER.says("`loss` was taken on the first {glue:text}`keras-train-part` examples *before* the "
                        "epoch's step; `val_loss` on the last {glue:text}`keras-val-part` *after* it.")
    assert CHAPTER.says("In this run `val_loss` is below `loss` in every epoch")
    history, run = split
    w_after, b_after = np.append(run.w[1:], run.final_w), np.append(run.b[1:], run.final_b)
    for epoch in range(5):
        val_after = tb.l2_loss(lab["y"][800:], tb.Model(w=w_after[epoch], b=b_after[epoch])(lab["x"][800:]))
        val_before = tb.l2_loss(lab["y"][800:], tb.Model(w=run.w[epoch], b=run.b[epoch])(lab["x"][800:]))
        assert history["val_loss"][epoch] == pytest.approx(float(val_after), rel=1e-6)
        assert history["val_loss"][epoch] != pytest.approx(float(val_before), rel=1e-3)
    assert all(v < t for v, t in zip(history["val_loss"], history["loss"], strict=True))


# --- The shape of y under tf.distribute ---------------------------------------------------------------

# Two replicas need two logical CPU devices, which only a fresh process can make.
TWO_REPLICAS = """
import json, inspect, warnings, keras, tensorflow as tf, training_basics as tb
devices = tb.split_cpu(2)
x, y = tb.synthesize()
strategy = tf.distribute.MirroredStrategy(devices)


class KerasOwnLoss(tb.KerasModel):
    compute_loss = keras.Model.compute_loss


out = {}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for cls in (tb.KerasModel, tb.CustomStepModel, KerasOwnLoss):
        with strategy.scope():
            model = cls()
            loss = None if cls is tb.CustomStepModel else "mse"
            model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
        logged = model.fit(x, y, batch_size=1000, epochs=3, shuffle=False, verbose=0).history["loss"]
        out[cls.__name__] = [float(model.w.numpy()), float(model.b.numpy()), logged]
out["warnings"] = [str(w.message) for w in caught]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def two_replicas():
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", TWO_REPLICAS], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_keras__distribute__keras_divides_each_replicas_mean_by_the_number_of_replicas():
    assert CHAPTER.says("Keras divides each replica's loss, the mean of its per-example losses, by the "
                        "number of replicas, which gives the mean over the batch when the shares are equal "
                        "in size.")
    from keras.src.losses import loss as keras_loss

    reduce_source = inspect.getsource(keras_loss.reduce_values)
    assert "loss = scale_loss_for_distribution(loss)" in reduce_source
    scale = inspect.getsource(keras_loss.scale_loss_for_distribution)
    assert "num_replicas = tf.distribute.get_strategy().num_replicas_in_sync" in scale
    assert "1.0 / num_replicas" in scale
    # the mean of R equal shares' means, each divided by R, is the mean of all; unequal shares differ
    values = np.arange(12.0)
    assert np.mean(values[:6]) / 2 + np.mean(values[6:]) / 2 == np.mean(values)
    assert np.mean(values[:4]) / 2 + np.mean(values[4:]) / 2 != np.mean(values)


def test_keras__distribute__mse_on_n_is_one_number_which_keras_leaves_as_it_is(lab):
    assert CHAPTER.says("On shape (N,), `mse` returns the mean over the whole batch, one number, and Keras "
                        "divides only a loss of per-example values by the number of replicas: a single "
                        "number it leaves as it is (`reduce_values` in `keras/src/losses/loss.py`).")
    from keras.src.losses import loss as keras_loss

    predictions = tb.Model()(lab["x"])
    whole = keras.losses.mean_squared_error(lab["y"], predictions)
    assert tuple(whole.shape) == ()
    assert float(whole) == pytest.approx(float(tb.l2_loss(lab["y"], predictions)))
    assert tuple(keras.losses.mean_squared_error(lab["y"][:, None], predictions[:, None]).shape) == (N,)
    source = inspect.getsource(keras_loss.reduce_values)
    assert 'or tuple(values.shape) == ()' in source and "return values" in source
    assert source.index("return values") < source.index("scale_loss_for_distribution")


def test_keras__distribute__twice_the_rate_silently_the_fixed_models_as_one_device(lab, two_replicas):
    assert CHAPTER.says("On two replicas the optimizer would add two full gradients, and `fit` would train "
                        "at twice the learning rate, without an error or a warning; only the logged loss, "
                        "twice the model's loss, would show it.")
    assert CHAPTER.says("With either, `fit` on two devices trains as on one")
    one = tb.train(tb.Model(), lab["x"], lab["y"], epochs=3, learning_rate=LR)
    twice = tb.train(tb.Model(), lab["x"], lab["y"], epochs=3, learning_rate=2 * LR)
    w, b, logged = two_replicas["KerasOwnLoss"]
    assert (w, b) == pytest.approx((twice.final_w, twice.final_b), abs=1e-6)
    np.testing.assert_allclose(logged, 2 * twice.loss, rtol=1e-5)
    assert two_replicas["warnings"] == []
    for name in ("KerasModel", "CustomStepModel"):
        w, b, logged = two_replicas[name]
        assert (w, b) == pytest.approx((one.final_w, one.final_b), abs=1e-6)
        np.testing.assert_allclose(logged, one.loss, rtol=1e-5)


def test_keras__distribute__the_models_add_the_axis_and_divide_the_gradients():
    assert CHAPTER.says("So `KerasModel.compute_loss` gives `y` and the predictions an axis of one, shape "
                        "(N, 1), before Keras's own `compute_loss` runs, and `CustomStepModel.train_step`, "
                        "which computes its loss itself, divides its gradients by the number of replicas, "
                        "`tf.distribute.get_strategy().num_replicas_in_sync`, which is 1 without a strategy.")
    assert CHAPTER.says("the tests check both models' $w$ and $b$, epoch by epoch, against one device's.")
    compute = inspect.getsource(tb.KerasModel.compute_loss)
    assert "y[:, None], y_pred[:, None]" in compute and "super().compute_loss(" in compute
    step = inspect.getsource(tb.CustomStepModel.train_step)
    assert "tf.distribute.get_strategy().num_replicas_in_sync" in step and "g / replicas" in step
    assert tf.distribute.get_strategy().num_replicas_in_sync == 1
    assert CHAPTER.says("`compute_loss` gives `y` and the predictions an axis of one before Keras computes "
                        "the loss. On one device that changes nothing")
    x, y = tb.synthesize()
    model = compiled()
    expected = float(tb.l2_loss(y, model(x)))
    assert float(model.compute_loss(x, y, model(x))) == pytest.approx(expected, rel=1e-6)
    # proved epoch by epoch, w and b, in tests/test_keras_model.py::test_fit_on_two_devices_trains_as_on_one


# --- Save and reload ---------------------------------------------------------------------------------


@pytest.mark.filterwarnings(KERAS_SAVE_WARNING)
def test_keras__save_and_reload__a_keras_file_holds_config_weights_and_optimizer(lab, tmp_path):
    assert CHAPTER.says("A `.keras` file is a zip of the model's configuration (its registered class and "
                        "`get_config`), its weights and its optimizer's state")
    assert CHAPTER.says("which remembers its {glue:text}`keras-reloaded-steps` steps, so `fit` can go on "
                        "where it stopped")
    model = compiled(tb.CustomStepModel)
    model.fit(lab["x"], lab["y"], batch_size=N, epochs=EPOCHS, shuffle=False, verbose=0)
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        assert {"config.json", "model.weights.h5"} <= set(archive.namelist())
        assert '"registered_name": "training_basics>CustomStepModel"' in archive.read("config.json").decode()
    reloaded = keras.models.load_model(tmp_path / "m.keras")
    assert int(reloaded.optimizer.iterations.numpy()) == EPOCHS
    reloaded.fit(lab["x"], lab["y"], batch_size=N, epochs=EPOCHS, shuffle=False, verbose=0)
    straight = tb.train(tb.Model(), lab["x"], lab["y"], epochs=2 * EPOCHS, learning_rate=LR)
    assert float(reloaded.w.numpy()) == pytest.approx(straight.final_w, abs=1e-6)


@pytest.mark.filterwarnings(KERAS_SAVE_WARNING)
def test_keras__save_and_reload__an_unregistered_class_cannot_be_rebuilt_its_weights_still_load(tmp_path):
    assert CHAPTER.says("a model class that is not registered, or not importable where the file is loaded, "
                        "cannot be rebuilt from a `.keras` file, while its weights still load from "
                        "`.weights.h5`")

    class Unregistered(tb.KerasModel):
        pass

    model = Unregistered(w=2.5)
    model.save(tmp_path / "u.keras")
    model.save_weights(tmp_path / "u.weights.h5")
    with pytest.raises(TypeError, match="Could not locate class 'Unregistered'"):
        keras.models.load_model(tmp_path / "u.keras")
    fresh = Unregistered()
    fresh.load_weights(tmp_path / "u.weights.h5")
    assert float(fresh.w.numpy()) == 2.5


@pytest.mark.filterwarnings(KERAS_SAVE_WARNING)
def test_keras__save_and_reload__weights_only_load_into_a_built_model(lab, tmp_path):
    assert CHAPTER.says("A `.weights.h5` file holds the weights only: it loads into a model that the code "
                        "has already built.")
    model = compiled()
    model.fit(lab["x"], lab["y"], batch_size=N, epochs=2, shuffle=False, verbose=0)
    model.save_weights(tmp_path / "m.weights.h5")
    fresh = tb.KerasModel()
    fresh.load_weights(tmp_path / "m.weights.h5")
    assert getattr(fresh, "optimizer", None) is None and float(fresh.w.numpy()) == float(model.w.numpy())


# --- How fast is each way -----------------------------------------------------------------------------


def test_keras__how_fast__steps_per_execution_runs_all_steps_in_one_call(lab):
    assert CHAPTER.says("with `steps_per_execution=`{glue:text}`keras-epochs` all of them run inside one "
                        "call.")
    repeated = tf.data.Dataset.from_tensors((lab["x"], lab["y"])).repeat()
    for steps_per_execution, calls in ((1, EPOCHS), (EPOCHS, 1)):
        model = tb.KerasModel()
        model.compile(keras.optimizers.SGD(LR), "mse", steps_per_execution=steps_per_execution)
        counter = CountBatches()
        model.fit(repeated, steps_per_epoch=EPOCHS, epochs=1, shuffle=False, verbose=0, callbacks=[counter])
        assert counter.batches == calls  # the callbacks run once per call of the compiled function
        assert int(model.optimizer.iterations.numpy()) == EPOCHS


def test_keras__how_fast__fit_from_arrays_has_one_keras_epoch_per_lab_epoch(lab):
    assert CHAPTER.says("`fit(x, y)` is the call used above: one Keras epoch per lab epoch.")
    counter = CountBatches()
    compiled().fit(lab["x"], lab["y"], batch_size=N, epochs=EPOCHS, shuffle=False, verbose=0,
                   callbacks=[counter])
    assert counter.epochs == counter.batches == EPOCHS


def test_keras__how_fast__fit_from_arrays_starts_two_passes_over_its_own_pipeline_each_epoch(lab):
    # the old text put the epoch's callbacks beside the pipeline as the cost of fit(x, y); the split shows it
    assert CHAPTER.says("From the arrays `x` and `y`, `fit` builds a `tf.data` pipeline of its own, and "
                        "every Keras epoch starts a new pass over it (a new iterator; the locked Keras "
                        "makes a second one as the epoch ends, which the next epoch does not use) and calls "
                        "the epoch's callbacks, around a single step.")
    assert CHAPTER.says("The two lines differ only in the input pipeline, so the gap between them, before "
                        "and after the step, is what the passes over the pipeline built from the arrays "
                        "cost; the callbacks run alike in both.")
    from keras.src.backend.tensorflow.trainer import TFEpochIterator

    made = TFEpochIterator(x=lab["x"], y=lab["y"], batch_size=N, shuffle=False,
                           distribute_strategy=tf.distribute.get_strategy())
    assert isinstance(made.data_adapter.get_tf_dataset(), tf.data.Dataset)  # a tf.data pipeline of its own
    passes, used = [], []
    original = TFEpochIterator._get_iterator

    def counted(self):
        passes.append(len(used))
        return original(self)

    class Steps(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            used.append(batch)

    TFEpochIterator._get_iterator = counted
    try:
        for data in (dict(x=lab["x"], y=lab["y"], batch_size=N), dict(x=tf.data.Dataset.from_tensors(
                (lab["x"], lab["y"])))):
            passes.clear(), used.clear()
            compiled().fit(**data, epochs=3, shuffle=False, verbose=0, callbacks=[Steps()])
            assert passes == [0, 1, 1, 2, 2, 3]  # one before each epoch's step, one after it, never used
    finally:
        TFEpochIterator._get_iterator = original
    (code,) = [code for options, code in CHAPTER.code_cells() if "class EpochClock" in code]
    assert 'dict(x=x, y=y, batch_size=n)' in code and "dict(x=tf.data.Dataset.from_tensors((x, y)))" in code
    assert code.count("fit(**data, epochs=") == 2 and code.count("shuffle=False") == 2
    assert "callbacks=[clock]" in code  # the same callbacks, and the same model and step, for both inputs


def test_keras__how_fast__jit_compile_auto_turns_xla_on_only_with_an_accelerator():
    assert CHAPTER.says("The default, `jit_compile=\"auto\"`, turns XLA on only when TensorFlow sees a GPU "
                        "or another accelerator.")
    model = tb.KerasModel()
    model.compile(keras.optimizers.SGD(LR), "mse")
    accelerators = [d for d in tf.config.list_physical_devices() if d.device_type != "CPU"]
    assert model.jit_compile is False or accelerators  # "only when": on a CPU-only machine, never


def test_keras__how_fast__no_timing_is_glued_or_printed_outside_measured_cells():
    assert CHAPTER.says("no number of this table appears elsewhere on the page")
    for options, code in CHAPTER.code_cells():
        if "time_per_epoch(" in code or "perf_counter" in code:
            assert "measured" in options, code
        if "measured" in options:
            assert "glue(" not in code
    assert not re.search(r"glue\([^)]*(second|time|speed)", CHAPTER.source)


def test_keras__how_fast__the_table_has_every_way_the_brief_names_and_each_ends_where_train_ends(lab):
    """The ways are the chapter's own cell (issue 17: no timing harness in the package): run it after the
    set-up, then every way once, as the chapter does, and compare with tb.train."""
    assert not hasattr(tb, "ways_to_train") and not hasattr(tb, "time_per_epoch")
    assert CHAPTER.says("Each way trains the same run, and ends where `tb.train` ended:")
    namespace = {}
    exec(CHAPTER.setup_code(), namespace)
    exec(cell("ways = {"), namespace)
    names = list(namespace["ways"])
    assert names[:3] == ["eager loop (train_step)", "tf.function step", f"fit(x, y), {EPOCHS} epochs"]
    assert {f"fit, repeated batch, steps_per_execution={spe}{jit}"
            for spe in (1, EPOCHS) for jit in ("", ", jit_compile")} <= set(names)
    assert names[-1] == "in-graph loop + XLA (compile_loop)" and len(names) == 8
    for name, (model, train_epochs) in namespace["ways"].items():
        assert (float(model.w.numpy()), float(model.b.numpy())) == (2.0, 1.0), name  # the lab's start
        train_epochs(model)
        end = (float(model.w.numpy()), float(model.b.numpy()))
        assert end == pytest.approx((lab["history"].final_w, lab["history"].final_b), abs=1e-6), name
    assert len(namespace["xla_loops"]) == 1


def test_keras__how_fast__each_way_trains_the_model_it_is_given():
    """Review of issue 17: in_graph_loop(model) ignored its argument ("model is xla_model, which xla_loop
    trains"). Each function of the ways cell now uses every argument it takes, and the compiled loop trains
    the model it is given, whichever it is."""
    import ast

    code = cell("ways = {")
    for function in (node for node in ast.walk(ast.parse(code)) if isinstance(node, ast.FunctionDef)):
        used = {node.id for node in ast.walk(function) if isinstance(node, ast.Name)}
        assert {arg.arg for arg in function.args.args} <= used, function.name
    namespace = {}
    exec(CHAPTER.setup_code(), namespace)
    exec(code, namespace)
    models = [tb.Model(), tb.Model(w=0.0, b=0.0)]
    for model in models:
        namespace["in_graph_loop"](model)
    reference = [tb.train(tb.Model(w=w, b=b), namespace["x"], namespace["y"], EPOCHS, LR) for w, b in
                 ((2.0, 1.0), (0.0, 0.0))]
    for model, run in zip(models, reference, strict=True):
        assert (float(model.w), float(model.b)) == pytest.approx((run.final_w, run.final_b), abs=1e-6)


# --- Exercises ---------------------------------------------------------------------------------------


def momentum_rate(eta, beta, eigenvalues):
    """Heavy-ball momentum's factor per step on a quadratic: the largest |root| of z² − (1 + β − ηλ)z + β."""
    return max(np.abs(np.roots([1, -(1 + beta - eta * lam), beta])).max() for lam in eigenvalues)


def tuned_rates(eigenvalues):
    """(plain descent at η* = 2/(λmin + λmax), momentum at its tuned η and β): factors per step."""
    lam_min, lam_max = eigenvalues
    root_kappa = np.sqrt(lam_max / lam_min)
    eta, beta = 4 / (np.sqrt(lam_min) + np.sqrt(lam_max)) ** 2, ((root_kappa - 1) / (root_kappa + 1)) ** 2
    plain = np.abs(1 - 2 / (lam_min + lam_max) * np.asarray(eigenvalues)).max()
    return plain, momentum_rate(eta, beta, eigenvalues), beta


def test_keras__exercises__momentum_09_ends_higher_at_eta_01_its_roots_complex_and_slower(lab):
    # the old text said "momentum does not help here": what hurts is beta = 0.9 with eta = 0.1
    assert "momentum does not help here" not in CHAPTER.prose
    assert CHAPTER.says("momentum 0.9 does not help at the lab's learning rate: the loss ends higher with "
                        "it.")
    assert CHAPTER.says("the roots of the momentum recurrence, complex here, shrink each swing more slowly "
                        "than plain descent shrinks the error.")
    with_momentum = compiled(momentum=0.9).fit(lab["x"], lab["y"], batch_size=N, epochs=EPOCHS, shuffle=False,
                                               verbose=0).history["loss"]
    assert with_momentum[-1] > lab["history"].loss[-1]
    eigenvalues = np.linalg.eigvalsh(tb.hessian(lab["x"]))
    for lam in eigenvalues:
        roots = np.roots([1, -(1 + 0.9 - LR * lam), 0.9])
        assert np.iscomplexobj(roots) and np.abs(roots).max() > abs(1 - LR * lam)


def test_keras__exercises__momentum_03_ends_far_lower_at_eta_01_from_every_start(lab):
    # the old solution: "momentum does not help here ... Momentum pays off on long, narrow bowls"; only
    # beta = 0.9 fails at eta = 0.1, a smaller beta helps on this round bowl too
    assert CHAPTER.says("A smaller momentum helps even at $\\eta = 0.1$: with $\\beta = 0.3$ the velocity "
                        "carries less of each step into the next, the factor per step is below plain "
                        "descent's, and the loss ends far lower than without momentum, from the lab's start "
                        "as from every other start the tests try.")
    (code,) = CHAPTER.solutions()["ex-keras-momentum"]
    assert "keras.optimizers.SGD(learning_rate, momentum=0.3)" in code
    x, y = lab["x"], lab["y"]
    eigenvalues = np.linalg.eigvalsh(tb.hessian(x))
    assert momentum_rate(LR, 0.3, eigenvalues) < 0.85 * np.abs(1 - LR * eigenvalues).max()
    model = tb.KerasModel()  # the lab's start, with Keras's optimizer, as in the solution
    model.compile(optimizer=keras.optimizers.SGD(LR, momentum=0.3), loss="mse")
    logged = model.fit(x, y, batch_size=N, epochs=EPOCHS, shuffle=False, verbose=0).history["loss"]
    assert logged[-1] < lab["history"].loss[-1] / 50  # far lower: fifty times at least
    hessian, optimum = tb.hessian(x), np.array([3.0, 2.0])

    def loss_before_last_step(start, beta):  # Keras's SGD: v <- beta v - eta grad; w <- w + v (float64)
        error, velocity = np.array(start) - optimum, np.zeros(2)
        for _ in range(EPOCHS - 1):
            velocity = beta * velocity - LR * hessian @ error
            error = error + velocity
        return error @ hessian @ error / 2

    assert loss_before_last_step((2.0, 1.0), 0.3) == pytest.approx(logged[-1], rel=1e-3)
    starts = [(w, b) for w in (0.0, 1.0, 4.0, 5.0, 6.0) for b in (-1.0, 3.0, 5.0)]
    assert len(starts) == 15
    for start in starts:  # 15 more starts, around the optimum (3, 2) on every side
        assert loss_before_last_step(start, 0.3) < loss_before_last_step(start, 0.0) / 50, start


def test_keras__exercises__tuned_momentum_halves_the_factor_of_the_best_plain_descent(lab):
    assert CHAPTER.says("Tuned together with the learning rate, momentum multiplies the error per step by "
                        "about half the factor of plain descent at its own best learning rate. On this "
                        "nearly round bowl the tuned momentum is tiny; the gain grows as the eigenvalues of "
                        "$H$ differ more")
    eigenvalues = np.linalg.eigvalsh(tb.hessian(lab["x"]))
    plain, momentum, beta = tuned_rates(eigenvalues)
    assert momentum / plain == pytest.approx(0.5, abs=0.02) and beta < 1e-3
    # no other (eta, beta) on a grid does better: the tuned values are the best ones
    grid = [momentum_rate(eta, b, eigenvalues)
            for eta in np.linspace(0.3, 0.7, 41) for b in (0, 1e-4, 1e-3, 0.01)]
    assert min(grid) >= momentum - 1e-3
    # the gain, in steps to shrink the error by a given factor, grows with the spread of the eigenvalues
    gains = [np.log(p) / np.log(m) for p, m, _ in (tuned_rates([1.0, kappa]) for kappa in (1.06, 10, 100))]
    assert np.all(np.diff([1 / g for g in gains]) > 0)


def test_keras__exercises__dense_kernel_is_one_by_one_bias_length_one_same_run(lab):
    # the old text asked for y[:, None] "to match the output's shape": targets of shape (N,) work
    assert "and `y[:, None]` to match the output's shape" not in CHAPTER.prose
    assert CHAPTER.says("Its output has shape (N, 1), one output per example, and `y` can stay as it is: "
                        "`mse` gives a target of shape (N,) the output's axis of one before it averages "
                        "over that axis, so the losses are per example")
    assert CHAPTER.says("The kernel is $w$ as a 1 × 1 matrix, the bias $b$ as a vector of length 1")
    assert CHAPTER.says("The same run, to float32 rounding")
    (code,) = CHAPTER.solutions()["ex-keras-dense"]
    assert "dense.fit(x[:, None], y," in code
    dense = keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant(2.0),
                               bias_initializer=keras.initializers.Constant(1.0))
    model = keras.Sequential([keras.Input(shape=(1,)), dense])
    model.compile(optimizer=keras.optimizers.SGD(LR), loss="mse")
    losses = model.fit(lab["x"][:, None], lab["y"], batch_size=N, epochs=EPOCHS, shuffle=False,
                       verbose=0).history["loss"]
    assert tuple(dense.kernel.shape) == (1, 1) and tuple(dense.bias.shape) == (1,)
    np.testing.assert_allclose(losses, lab["history"].loss, rtol=1e-5)
    # mse expands the (N,) target to the prediction's (N, 1), and the loss is per example
    per_example = keras.losses.mean_squared_error(lab["y"], model(lab["x"][:, None]))
    assert tuple(per_example.shape) == (N,)
