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


def test_the_tests_make_the_mistake_and_see_the_lab_at_twice_the_learning_rate():
    # the old text: "The tests make the mistake on purpose ... and see the mirrored history part from the
    # lab's", and no test did (the one above is on one device)
    assert CHAPTER.says("The tests make the mistake on purpose, with `tf.reduce_mean` in `replica_step`: on "
                        "the two devices, `train_distributed` then follows the lab's run at twice the "
                        "learning rate, step for step, and reports twice that run's loss.")
    test_file = (HERE.parent / "test_distributed.py").read_text()
    mistake = "lambda per_example, global_batch_size: tf.reduce_mean(per_example)"
    assert f"tf.nn.compute_average_loss = {mistake}" in test_file
    assert "def test_mirrored_with_each_replica_taking_its_own_mean_trains_at_twice" in test_file
    w, b, loss, final_w, final_b = keras_fit_result()["own_mean"]
    x, y = tb.synthesize()
    twice = tb.train(tb.Model(), x, y, epochs=3, learning_rate=0.2)
    np.testing.assert_allclose([*w, final_w, *b, final_b],
                               [*twice.w, twice.final_w, *twice.b, twice.final_b], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(loss, 2 * twice.loss, rtol=1e-5)


def test_plain_sgd_is_assign_sub():
    assert CHAPTER.says("Plain SGD computes exactly `assign_sub`'s update.")
    x, y = tb.synthesize()
    lab, model, sgd = tb.train(tb.Model(), x, y), tb.Model(), keras.optimizers.SGD(0.1)
    for _ in range(15):
        with tf.GradientTape() as tape:
            loss = tb.l2_loss(y, model(x))
        sgd.apply_gradients(zip(tape.gradient(loss, [model.w, model.b]), [model.w, model.b], strict=True))
    assert (model.w.numpy(), model.b.numpy()) == (np.float32(lab.final_w), np.float32(lab.final_b))


def test_the_solutions_assert_what_the_chapter_says():
    """The solutions assert these (shares of 51 and 50; ckpt-14 and ckpt-15 left); test_every_chapter.py
    runs them, in a fresh process."""
    assert CHAPTER.says("The shares are 51 and 50 examples.")
    assert CHAPTER.says("The manager keeps only the last two checkpoints (`max_to_keep=2`), `ckpt-14` and "
                        "`ckpt-15`, deleting older ones as it writes new ones.")
    solutions = "\n".join(code for cells in CHAPTER.solutions().values() for code in cells)
    assert "== [51, 50]" in solutions and '["ckpt-14.index", "ckpt-15.index"]' in solutions


# --- Keras's fit under a strategy -----------------------------------------------------------------------

KERAS_FIT = """
import json, keras, logging, tensorflow as tf, training_basics as tb
devices = tb.split_cpu(2)
records = []


class Record(logging.Handler):
    def emit(self, record):
        records.append((record.levelname, record.getMessage()))


tf.get_logger().setLevel("INFO")
tf.get_logger().addHandler(Record())
x, y = tb.synthesize()
strategy = tf.distribute.MirroredStrategy(devices)
info = {"strategy": list(records)}
for epochs in (2, 6):  # a step traced once, run 2 or 6 times
    records.clear()
    tb.train_distributed(strategy, x, y, epochs=epochs)
    info[epochs] = list(records)
tf.get_logger().setLevel("ERROR")
global_mean = tf.nn.compute_average_loss  # the mistake: each replica takes its own mean
tf.nn.compute_average_loss = lambda per_example, global_batch_size: tf.reduce_mean(per_example)
own = tb.train_distributed(strategy, x, y, epochs=3)
tf.nn.compute_average_loss = global_mean


class KerasOwnLoss(tb.KerasModel):
    compute_loss = keras.Model.compute_loss


out = {}
for cls in (tb.KerasModel, KerasOwnLoss):
    with strategy.scope():
        model = cls()
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    logged = model.fit(x, y, batch_size=1000, epochs=3, shuffle=False, verbose=0).history["loss"]
    out[cls.__name__] = [float(model.w.numpy()), logged]
out["info"] = info
out["own_mean"] = [own.w.tolist(), own.b.tolist(), own.loss.tolist(), own.final_w, own.final_b]
print(json.dumps(out))
"""


def keras_fit_run():
    out = subprocess.run([sys.executable, "-c", KERAS_FIT], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    import json

    return json.loads(out.stdout.splitlines()[-1])


RESULT = {}


def keras_fit_result():  # the subprocess runs once for every test that reads it
    if not RESULT:
        RESULT.update(keras_fit_run())
    return RESULT


def test_keras_fit__keras_own_compute_loss_trains_at_twice_the_rate_and_logs_twice_the_loss():
    assert CHAPTER.says("`tb.KerasModel` ends where the lab's run ends. With Keras's own `compute_loss` the "
                        "same model ends where the lab's run at twice the learning rate ends, without an "
                        "error or a warning; only its logged loss gives it away, twice the loss the model "
                        "has.")
    assert CHAPTER.says("so each replica's `mse` is already one number, and Keras leaves a single number as "
                        "it is: the optimizer adds two full gradients.")
    (code,) = [code for _, code in CHAPTER.code_cells() if "class KerasOwnLoss" in code]
    assert "compute_loss = keras.Model.compute_loss" in code and "epochs=3" in code
    result = keras_fit_result()
    x, y = tb.synthesize()
    one, twice = (tb.train(tb.Model(), x, y, epochs=3, learning_rate=eta) for eta in (0.1, 0.2))
    assert abs(result["KerasModel"][0] - one.final_w) < 1e-6
    np.testing.assert_allclose(result["KerasModel"][1], one.loss, rtol=1e-5)
    assert abs(result["KerasOwnLoss"][0] - twice.final_w) < 1e-6
    np.testing.assert_allclose(result["KerasOwnLoss"][1], 2 * twice.loss, rtol=1e-5)  # logged: twice the loss


# --- Two worker processes ---------------------------------------------------------------------------------


def test_workers__each_worker_watches_its_launcher_and_has_an_alarm():
    # the old text: "an alarm that ends it if the launcher itself is gone"; a fixed alarm fires either way
    assert "an alarm that ends it if the launcher" not in CHAPTER.prose
    assert CHAPTER.says("a thread checks every second whether its parent process is still the launcher, and "
                        "ends the worker when the launcher is gone, and an alarm (`signal.alarm`) ends it "
                        "in any case shortly after the launcher's deadline.")
    import inspect

    from training_basics import distributed

    main = inspect.getsource(distributed.worker_main)
    assert "threading.Thread(target=_end_when_orphaned, args=(os.getppid(),), daemon=True).start()" in main
    assert "signal.alarm(args.deadline)" in main
    watch = inspect.getsource(distributed._end_when_orphaned)
    assert "while os.getppid() == launcher:" in watch and "time.sleep(1)" in watch
    launcher = inspect.getsource(distributed._run_cluster)
    assert '"--deadline", str(max(1, int(deadline - time.monotonic()) + 5))' in launcher
    # that the watch works is tested in tests/test_distributed.py (the launcher killed, its workers end)


def test_workers__the_chief_left_alone_ends_by_itself_through_the_coordination_service():
    # the old text: "The chief then waits forever for its partner's gradients, so the launcher ends it too"
    assert "waits forever" not in CHAPTER.prose and "the launcher ends it too" not in CHAPTER.prose
    assert CHAPTER.says("It does not wait forever: the workers of `MultiWorkerMirroredStrategy` report to "
                        "TensorFlow's coordination service with heartbeats, and once worker 1's stop, "
                        "TensorFlow aborts the chief's collective operations, its step fails, and the chief "
                        "exits with an error.")
    assert CHAPTER.says("left alone, ended by itself with exit code 1: TensorFlow's error, shortened by the "
                        "launcher, names worker 1 (`task:1`) as the task that stopped sending heartbeats.")
    import inspect

    from tensorflow.python.distribute import collective_all_reduce_strategy as mwms

    source = inspect.getsource(mwms)  # the locked TensorFlow: the strategy sets up the coordination service
    configured = 'context.context().configure_coordination_service(\n              service_type="standalone"'
    assert configured in source
    assert "use its internal heartbeat to detect\n      # peer failures" in source
    # the run itself (exit code 1, the heartbeat error naming task 1) is asserted in
    # tests/test_distributed.py::test_killed_worker_resumed_from_checkpoint_ends_as_uninterrupted


def test_workers__the_kill_falls_between_two_steps_while_no_checkpoint_is_written():
    assert CHAPTER.says("So that the kill falls at the same point in every run, worker 1 waits after that "
                        "step until the chief has logged it too, and is killed there, between two steps, "
                        "while no checkpoint is being written.")
    (code,) = [code for _, code in CHAPTER.code_cells() if "--kill-at-step" in code]
    every, kill_at = 5, 7
    assert f"every, kill_at = {every}, {kill_at}" in code
    # the chief can be at most in step kill_at + 1 (its all-reduce needs worker 1); the steps done then,
    # kill_at + 1, are no multiple of every: no save follows step kill_at
    assert (kill_at + 1) % every != 0


# --- Checkpoints ----------------------------------------------------------------------------------------


def test_checkpoints__the_code_numbers_them_by_the_steps_done():
    # the old text: "CheckpointManager numbers the files by that count"
    assert "numbers the files by that count" not in CHAPTER.prose
    assert CHAPTER.says("`after_step` passes the number of steps done to `tf.train.CheckpointManager.save` "
                        "as `checkpoint_number`, so `ckpt-K` is the checkpoint taken after K steps")
    import inspect

    after_step = inspect.getsource(tb.distributed.Checkpoints.after_step)
    assert "self.manager.save(checkpoint_number=done)" in after_step


def test_checkpoints__a_killed_save_leaves_a_temp_folder_that_a_resume_never_reads(tmp_path):
    assert CHAPTER.says("TensorFlow writes a checkpoint's parts into a folder `ckpt-K_temp`, then merges "
                        "them into `ckpt-K.index` and `ckpt-K.data-…` and deletes the folder; the manager "
                        "rewrites the file `checkpoint` only after that, once the save has finished.")
    assert CHAPTER.says("A resume reads that file, so it never looks at what a killed save left.")
    import inspect

    from tensorflow.python.checkpoint import checkpoint, checkpoint_management, functional_saver

    saver = inspect.getsource(functional_saver)
    assert 'constant_op.constant("_temp/part"))' in saver
    assert "merge_v2_checkpoints(\n              saved_prefixes, file_prefix, delete_old_dirs=True)" in saver
    manager = inspect.getsource(checkpoint_management.CheckpointManager.save)
    assert "experimental_write_callbacks=[_record_and_sweep_state]" in manager
    write = inspect.getsource(checkpoint.Checkpoint._write)
    assert write.index("output = self._saver.save(") < write.index(
        "_execute_callbacks(options.experimental_write_callbacks, output)")
    # a stray _temp folder of a later number changes nothing for the package's resume
    x, y = tb.synthesize()
    strategy = tf.distribute.get_strategy()

    def stop_after_step_4(step, w, b, loss):
        if step == 4:
            raise KeyboardInterrupt

    try:
        tb.train_distributed(strategy, x, y, epochs=8, checkpoint_dir=tmp_path, every=2,
                             log=stop_after_step_4)
    except KeyboardInterrupt:
        pass
    (tmp_path / "ckpt-6_temp").mkdir()  # the next save, cut off
    (tmp_path / "ckpt-6_temp" / "part-00000-of-00001.index").write_bytes(b"half written")
    assert tf.train.latest_checkpoint(tmp_path).endswith("ckpt-4")
    resumed = tb.train_distributed(strategy, x, y, epochs=8, checkpoint_dir=tmp_path, every=2, resume=True)
    assert resumed.epoch.tolist() == list(range(8))
    np.testing.assert_allclose(resumed.w, tb.train(tb.Model(), x, y, epochs=8).w, rtol=1e-6)
    assert CHAPTER.source.count('"ckpt-20_temp"') == 2


def test_checkpoints__every_worker_saves_as_the_strategys_documentation_asks():
    # the old text: "because saving a mirrored variable is a collective operation"
    assert "saving a mirrored variable is a collective operation" not in CHAPTER.prose
    assert CHAPTER.says("Every worker saves, as the documentation of `MultiWorkerMirroredStrategy` asks: "
                        "variables synchronized on read are aggregated across the workers when they are "
                        "saved")
    import inspect

    doc = " ".join(inspect.getdoc(tf.distribute.MultiWorkerMirroredStrategy).split())
    assert "You need to save and checkpoint on all workers instead of just one." in doc
    assert "variables whose synchronization=ON_READ triggers aggregation during saving" in doc


def test_checkpoints__every_worker_restores_the_chiefs_checkpoint_from_the_chiefs_folder():
    assert CHAPTER.says("Every worker restores the chief's checkpoint, from the chief's folder.")
    assert CHAPTER.says("every worker restores the chief's checkpoint from the chief's folder, so that "
                        "folder must be on a file system that all the machines share.")
    import inspect

    init = inspect.getsource(tb.distributed.Checkpoints.__init__)
    assert "latest = self.check_directory(self.directory, resume)" in init  # self.directory: the chief's
    assert 'writes_to = self.directory if worker == 0 else self.directory / f".worker-{worker}"' in init


def test_checkpoints__a_tf_data_iterator_can_be_checkpointed(tmp_path):
    assert CHAPTER.says("`tf.data` iterators can be checkpointed too")
    iterator = iter(tf.data.Dataset.range(10).shuffle(10, seed=1))
    next(iterator), next(iterator)
    saved = tf.train.Checkpoint(iterator=iterator).save(str(tmp_path / "it"))
    expected = [int(next(iterator)) for _ in range(3)]
    tf.train.Checkpoint(iterator=iterator).restore(saved)
    assert [int(next(iterator)) for _ in range(3)] == expected


# --- Timing, and other devices -------------------------------------------------------------------------


def test_timing__medians_of_three_runs_and_no_direction_stated():
    # the old cell: one short run minus one long run, once, which put two devices below one in 4 of 9
    # reruns; the old text drew a direction from it ("only add overhead", "mostly that fixed overhead")
    for gone in ("only add overhead", "a step's time is mostly that fixed overhead",
                 "times a short and a long run and takes the difference"):
        assert gone not in CHAPTER.prose
    assert CHAPTER.says("`tb.distributed.step_times` times every step of three runs of 50, set-up and "
                        "tracing left out;")
    assert CHAPTER.says("the table gives the median of the 150 step times and, in brackets, the middle half "
                        "of them (the quartiles):")
    assert CHAPTER.says("Where the two rows' brackets do not overlap, their difference is what the extra "
                        "work costs on the machine that built the page;")
    (code,) = [code for options, code in CHAPTER.code_cells()
               if "step_times(" in code and "measured" in options]
    assert "step_times(timed, x, y, steps=50, repeats=3)" in code
    assert "np.percentile(micro, [25, 50, 75])" in code
    for options, code in CHAPTER.code_cells():
        if "step_times(" in code and "show_source" not in code:
            assert "measured" in options and "glue(" not in code


def test_timing__splitting_adds_an_all_reduce_of_the_gradients_and_a_reduction_of_the_loss():
    assert CHAPTER.says("Splitting the batch adds work instead: a copy of each share, a step per device, an "
                        "all-reduce of the gradients and a reduction of the loss (the INFO lines quieted in "
                        "the set-up name the last two).")
    messages = [message for _, message in keras_fit_result()["info"]["2"]]
    assert any(m.startswith("Collective all_reduce tensors: 2 all_reduces, num_devices = 2")
               for m in messages)
    assert any(m.startswith("Reduce to /job:localhost/replica:0/task:0/device:CPU:0 then broadcast to")
               for m in messages)


def test_other_devices__gpus_find_themselves_nccl_by_default_a_tpu_needs_more():
    # the old text: "Only the line that makes the strategy changes" for GPUs and a TPU alike
    assert "with one replica per core" not in CHAPTER.prose
    assert CHAPTER.says("`MirroredStrategy()` finds them itself, and only the line that makes the strategy "
                        "changes")
    assert CHAPTER.says("A TPU needs more than that line: `tf.distribute.TPUStrategy` takes a cluster "
                        "resolver that finds the TPU, and the TPU system must be connected to and "
                        "initialized first, as the strategy's documentation shows:")
    import inspect

    mirrored = " ".join(inspect.getdoc(tf.distribute.MirroredStrategy).split())
    assert "If `None`, all available GPUs are used." in mirrored
    assert "If this is not set, `NcclAllReduce()` will be used by default." in mirrored
    tpu = inspect.getdoc(tf.distribute.TPUStrategy)
    shown = ['resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu="")',
             "tf.config.experimental_connect_to_cluster(resolver)",
             "tf.tpu.experimental.initialize_tpu_system(resolver)",
             "strategy = tf.distribute.TPUStrategy(resolver)"]
    for line in shown:
        assert line in CHAPTER.source and line.replace('"', "'") in tpu


def test_setup__tf_distribute_logs_at_info_when_it_sets_up_and_traces_not_per_step():
    # the old text: "reports every reduction"; the locked TensorFlow logs a few lines when it traces a step
    assert "every reduction" not in CHAPTER.prose and "logs its reductions" not in CHAPTER.source
    assert CHAPTER.says("to which `tf.distribute` reports at level INFO: a line when a strategy is made, "
                        "and a few when a step is traced, saying how its reductions will run; none for each "
                        "step that runs.)")
    assert "# tf.distribute logs at level INFO as it sets up and traces" in CHAPTER.setup_code()
    logged = keras_fit_result()["info"]
    assert [level for level, _ in logged["strategy"]] == ["INFO"]
    assert logged["strategy"][0][1].startswith("Using MirroredStrategy with devices")
    assert logged["2"] == logged["6"] and 1 <= len(logged["2"]) <= 3  # a few, the same for 2 steps or 6
    assert all(level == "INFO" for level, _ in logged["2"])
    import inspect

    from tensorflow.python.distribute import cross_device_ops

    source = inspect.getsource(cross_device_ops)
    assert '"Reduce to %s then broadcast to %r." % (reduce_to_device, devices), 10)' in source
