"""training_basics.distributed: the lab's loop under tf.distribute gives the lab's numbers.

Three key tests: MirroredStrategy on two logical CPU devices reproduces the single-device
history; two MultiWorkerMirroredStrategy workers end where one process ends; a worker
SIGKILLed mid-training, all restarted from the last checkpoint, end where an uninterrupted
run ends, with every step once in the history. Worker processes are bounded by run_workers'
timeout and killed in its finally block; the tests check that none is left behind.
"""

import json
import subprocess
import sys
import time

import numpy as np
import psutil
import pytest
import tensorflow as tf

import training_basics as tb

pytestmark = pytest.mark.slow  # starts worker processes, and strategies in subprocesses

EPOCHS, LR = 15, 0.1
TOLERANCE = dict(rtol=1e-6, atol=1e-6)  # float32: sums split across replicas round differently

# MirroredStrategy needs two logical CPU devices, which TensorFlow fixes when it first runs an
# operation: in this test process it has long since run one, so the comparison runs in a fresh one.
MIRRORED = """
import json, training_basics as tb, tensorflow as tf
devices = tb.split_cpu(2)
strategy = tf.distribute.MirroredStrategy(devices)
x, y = tb.synthesize()
h, ref = tb.train_distributed(strategy, x, y, epochs=15, learning_rate=0.1), tb.train(tb.Model(), x, y)
# the mistake the chapter warns of: each replica takes its own mean (tf.reduce_mean in replica_step)
global_mean = tf.nn.compute_average_loss
tf.nn.compute_average_loss = lambda per_example, global_batch_size: tf.reduce_mean(per_example)
own = tb.train_distributed(strategy, x, y, epochs=15, learning_rate=0.1)
tf.nn.compute_average_loss = global_mean
twice = tb.train(tb.Model(), x, y, epochs=15, learning_rate=0.2)
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "devices": devices,
                  "run": [h.w.tolist(), h.b.tolist(), h.loss.tolist(), h.final_w, h.final_b],
                  "ref": [ref.w.tolist(), ref.b.tolist(), ref.loss.tolist(), ref.final_w, ref.final_b],
                  "own": [own.w.tolist(), own.b.tolist(), own.loss.tolist(), own.final_w, own.final_b],
                  "twice": [twice.w.tolist(), twice.b.tolist(), twice.loss.tolist(), twice.final_w,
                            twice.final_b]}))
"""


@pytest.fixture(scope="module")
def lab():
    x, y = tb.synthesize()
    return tb.train(tb.Model(), x, y, epochs=EPOCHS, learning_rate=LR)


@pytest.fixture(scope="module")
def two_workers():
    return tb.run_workers(2, epochs=EPOCHS, learning_rate=LR, timeout=150)


def assert_same_history(run, ref, **tolerance):
    for name in ("w", "b", "loss"):
        np.testing.assert_allclose(getattr(run, name), getattr(ref, name), err_msg=name, **tolerance)
    np.testing.assert_allclose([run.final_w, run.final_b], [ref.final_w, ref.final_b], **tolerance)


def no_children_left():
    time.sleep(0.2)
    return [p.cmdline() for p in psutil.Process().children(recursive=True) if p.is_running()
            and p.status() != psutil.STATUS_ZOMBIE]


@pytest.fixture(scope="module")
def mirrored():
    out = subprocess.run([sys.executable, "-c", MIRRORED], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.splitlines()[-1])


def test_mirrored_on_two_logical_cpus_reproduces_the_single_device_history(mirrored):
    result = mirrored
    assert result["replicas"] == 2 and len(result["devices"]) == 2
    for got, want in zip(result["run"], result["ref"], strict=True):
        np.testing.assert_allclose(got, want, **TOLERANCE)


def test_mirrored_with_each_replica_taking_its_own_mean_trains_at_twice_the_learning_rate(mirrored):
    """The mistake book/distribute.md says the tests make: tf.reduce_mean in replica_step, on two devices,
    gives the lab's run at learning rate 0.2 (w, b at every step), and reports twice its loss."""
    result = mirrored
    (w, b, loss, final_w, final_b), (tw, tb_, tloss, tfinal_w, tfinal_b) = result["own"], result["twice"]
    np.testing.assert_allclose([*w, final_w], [*tw, tfinal_w], **TOLERANCE)
    np.testing.assert_allclose([*b, final_b], [*tb_, tfinal_b], **TOLERANCE)
    np.testing.assert_allclose(loss, 2 * np.array(tloss), rtol=1e-5)
    assert abs(final_w - result["ref"][3]) > 1e-3  # and not the lab's run at 0.1


def test_two_workers_end_where_one_process_ends(two_workers, lab):
    assert_same_history(two_workers["history"], lab, **TOLERANCE)
    assert len(set(two_workers["final"])) == 1  # both workers hold the same w and b
    assert two_workers["history"].epoch.tolist() == list(range(EPOCHS))
    assert no_children_left() == []


def test_killed_worker_resumed_from_checkpoint_ends_as_uninterrupted(tmp_path, two_workers):
    run = tb.run_workers(2, epochs=EPOCHS, learning_rate=LR, checkpoint_dir=tmp_path, every=5, kill_at_step=7,
                         timeout=200)
    events = run["events"]
    assert "launcher: SIGKILL to worker 1 after step 7" in events
    # left alone, the chief does not wait forever: TensorFlow aborts its step, and it exits by itself
    ended = ("worker 0: ended by itself, exit code 1: Collective ops is aborted ... The following tasks are "
             "unhealthy (stopped sending heartbeats): /job:worker/replica:0/task:1")
    assert events.index("launcher: SIGKILL to worker 1 after step 7") + 1 == events.index(ended)
    assert events[events.index(ended) - 2] == ("worker 0: step  7  w = 2.769319  b = 1.780895  "
                                               "loss = 0.097099")  # the kill after the chief's step 7, always
    assert "worker 0: resumed from ckpt-5 (5 steps done)" in events
    # the kill fell between two saves: only finished checkpoints, and the state file names the last
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".worker-1", "checkpoint", "ckpt-10.data-00000-of-00001", "ckpt-10.index",
        "ckpt-15.data-00000-of-00001",
        "ckpt-15.index"]
    history = run["history"]
    assert history.epoch.tolist() == list(range(EPOCHS))  # no step lost, none repeated
    assert_same_history(history, two_workers["history"], rtol=0, atol=0)
    assert len(set(run["final"])) == 1
    assert no_children_left() == []


def test_a_worker_that_fails_to_start_is_a_clear_error_not_a_hang(monkeypatch):
    import inspect

    assert "fail" not in str(inspect.signature(tb.run_workers))  # the test hook is no argument
    monkeypatch.setenv("TRAINING_BASICS_FAIL_WORKER", "1")
    start = time.monotonic()
    expected = r"worker 1 exited with code 1 before training finished(.|\n)*TRAINING_BASICS_FAIL_WORKER"
    with pytest.raises(tb.WorkerError, match=expected):
        tb.run_workers(2, timeout=90)
    assert time.monotonic() - start < 60
    assert no_children_left() == []


# A launcher that starts one worker, relays its output, and is then SIGKILLed (no finally block runs). The
# worker waits after step 0 (--wait-after-step), writing nothing, with an alarm far away: only its watch of
# the launcher can end it.
LAUNCHER = """
import json, os, subprocess, sys
import training_basics as tb
port, = tb.distributed._free_ports(1)
env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": {"worker": [f"127.0.0.1:{port}"]},
                                             "task": {"type": "worker", "index": 0}}))
worker = subprocess.Popen([sys.executable, "-m", "training_basics.distributed", "--worker", "--epochs", "5",
                           "--wait-after-step", "0", "--deadline", "300"], stdout=subprocess.PIPE, text=True,
                          env=env, stdin=subprocess.DEVNULL, start_new_session=True)
print(worker.pid, flush=True)
for line in worker.stdout:
    print(line, end="", flush=True)
"""


def test_workers_end_when_their_launcher_is_gone():
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER], stdout=subprocess.PIPE, text=True)
    worker = None
    try:
        worker = psutil.Process(int(launcher.stdout.readline()))
        for line in launcher.stdout:
            if line.startswith('{"waiting"'):
                break
        assert worker.is_running()
        launcher.kill()
        launcher.wait(timeout=30)
        worker.wait(timeout=20)  # raises psutil.TimeoutExpired if the worker outlives its launcher
    finally:
        if launcher.poll() is None:
            launcher.kill()
        if worker is not None and worker.is_running():
            worker.kill()
        launcher.stdout.close()


def test_workers_are_bounded_in_time_and_killed():
    with pytest.raises(tb.WorkerError, match=r"did not finish within 1 s"):
        tb.run_workers(2, timeout=1)
    assert no_children_left() == []


def test_the_command_line_checks_its_arguments_before_starting_workers(tmp_path, capsys):
    from training_basics.distributed.__main__ import main

    tb.train_distributed(tf.distribute.get_strategy(), *tb.synthesize(), epochs=2,
                         checkpoint_dir=tmp_path / "used")
    cases = [
        (["--every", "0"], "error: every must be >= 1, got 0"),
        (["--epochs", "0"], "error: epochs must be >= 1, got 0"),
        (["--workers", "0"], "error: workers must be >= 1, got 0"),
        (["--learning-rate", "-1"], "error: learning_rate must be > 0, got -1.0"),
        (["--timeout", "0"], "error: timeout must be > 0 seconds, got 0"),
        (["--kill-at-step", "-1", "--checkpoint-dir", str(tmp_path / "new")], "error: kill_at_step must be "
                                                                              ">= 0"),
        (["--checkpoint-dir", str(tmp_path / "used")], f"error: {tmp_path / 'used'} already holds checkpoint "
         f"{tmp_path / 'used' / 'ckpt-2'}: pass resume=True (--resume on the command line) to continue from "
         f"it"),
        (["--resume", "--checkpoint-dir", str(tmp_path / "empty")],
         f"error: no checkpoint to resume from: {tmp_path / 'empty' / 'checkpoint'} is missing"),
        (["--resume"], "error: resume=True (--resume) needs a checkpoint_dir (--checkpoint-dir)"),
    ]
    for options, message in cases:
        start = time.monotonic()
        assert main(options) == 1, options
        out = capsys.readouterr()
        assert out.out == "" and out.err.startswith(message), (options, out)
        assert len(out.err.splitlines()) == 1, (options, out)
        assert time.monotonic() - start < 5 and no_children_left() == []  # no worker started
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--resume continue from the latest checkpoint in" in help_text
    assert "--wait-after-step" not in help_text and "--deadline" not in help_text
    # and from a shell: one line, no traceback
    out = subprocess.run([sys.executable, "-m", "training_basics.distributed", "--every", "0"],
                         capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout, out.stderr) == (1, "", "error: every must be >= 1, got 0\n")


def test_run_workers_resumes_only_when_asked_and_a_finished_run_stays_finished(tmp_path, lab):
    first = tb.run_workers(2, epochs=4, checkpoint_dir=tmp_path, every=2, timeout=150)
    assert first["history"].epoch.tolist() == list(range(4))
    with pytest.raises(FileExistsError, match="--resume on the command line"):
        tb.run_workers(2, epochs=4, checkpoint_dir=tmp_path, timeout=150)
    again = tb.run_workers(2, epochs=4, checkpoint_dir=tmp_path, every=2, resume=True, timeout=150)
    assert "worker 0: resumed from ckpt-4 (4 steps done)" in again["events"]
    assert_same_history(again["history"], first["history"], rtol=0, atol=0)


def test_the_command_line_runs_two_workers():
    command = [sys.executable, "-m", "training_basics.distributed", "--workers", "2", "--epochs", "3"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=150)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stderr == ""
    assert out.stdout.splitlines()[-1] == "all 2 workers hold the same w and b: True"


def test_resume_in_one_process_continues_at_the_saved_step(tmp_path, lab):
    x, y = tb.synthesize()
    strategy = tf.distribute.get_strategy()
    stop = tmp_path / "stopped"

    def stop_after_7(step, w, b, loss):
        if step == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tb.train_distributed(strategy, x, y, epochs=EPOCHS, checkpoint_dir=stop, every=5, log=stop_after_7)
    resumed = tb.train_distributed(strategy, x, y, epochs=EPOCHS, checkpoint_dir=stop, every=5, resume=True)
    assert resumed.epoch.tolist() == list(range(EPOCHS))
    assert_same_history(resumed, lab, **TOLERANCE)
    assert sorted(p.name for p in stop.glob("*.index")) == ["ckpt-10.index", "ckpt-15.index"]  # max_to_keep=2


def test_checkpoint_errors_name_the_file(tmp_path):
    x, y = tb.synthesize()
    strategy = tf.distribute.get_strategy()
    with pytest.raises(FileNotFoundError, match=f"{tmp_path}/checkpoint is missing"):
        tb.train_distributed(strategy, x, y, epochs=4, checkpoint_dir=tmp_path, resume=True)
    tb.train_distributed(strategy, x, y, epochs=4, checkpoint_dir=tmp_path, every=2)
    with pytest.raises(FileExistsError, match=f"{tmp_path} already holds checkpoint {tmp_path}/ckpt-4"):
        tb.train_distributed(strategy, x, y, epochs=4, checkpoint_dir=tmp_path)
    data = tmp_path / "ckpt-4.data-00000-of-00001"
    corrupt = bytearray(data.read_bytes())
    corrupt[-8:] = bytes(8)
    data.write_bytes(bytes(corrupt))
    damaged = f"checkpoint {tmp_path}/ckpt-4 .*Checksum does not match"
    with pytest.raises(tb.CheckpointError, match=damaged) as err:
        tb.train_distributed(strategy, x, y, epochs=4, checkpoint_dir=tmp_path, resume=True)
    assert type(err.value.__cause__) is tf.errors.OpError  # caught by its type, the message kept whole
    data.write_bytes(bytes(corrupt[:20]))
    with pytest.raises(tb.CheckpointError, match=f"checkpoint {tmp_path}/ckpt-4 .*cannot be read: Read less "
                                                 "bytes than requested") as err:
        tb.train_distributed(strategy, x, y, epochs=4, checkpoint_dir=tmp_path, resume=True)
    assert type(err.value.__cause__) is IndexError
    data.unlink()
    with pytest.raises(FileNotFoundError, match=f"{data} is missing"):
        tb.train_distributed(strategy, x, y, epochs=4, checkpoint_dir=tmp_path, resume=True)
    other = tmp_path / "other"
    tb.train_distributed(strategy, x, y, epochs=4, checkpoint_dir=other, every=2)
    with pytest.raises(tb.CheckpointError, match=f"checkpoint {other}/ckpt-4 .*cannot be read: Received "
                                                 "incompatible tensor with shape \\(4, 4\\)") as err:
        tb.train_distributed(strategy, x, y, epochs=5, checkpoint_dir=other, resume=True)  # another run's
    assert type(err.value.__cause__) is ValueError
    import inspect

    assert ".split(" not in inspect.getsource(tb.distributed.Checkpoints)  # no parsing of TensorFlow's text


def test_bad_input_is_named():
    x, y = tb.synthesize(10)
    with pytest.raises(TypeError, match="strategy must be a tf.distribute.Strategy, got str"):
        tb.train_distributed("mirrored", x, y)
    with pytest.raises(ValueError, match="kill_at_step=3 needs workers >= 2, a checkpoint_dir"):
        tb.run_workers(2, kill_at_step=3)
    with pytest.raises(ValueError, match="workers must be >= 1, got 0"):
        tb.run_workers(0)
    with pytest.raises(ValueError, match="every must be >= 1, got 0"):
        tb.train_distributed(tf.distribute.get_strategy(), x, y, checkpoint_dir="/tmp/unused-dist", every=0)


def test_split_cpu_too_late_says_so():
    tf.constant(1.0) + 1  # TensorFlow has initialized its devices
    wanted = len(tf.config.list_logical_devices("CPU")) + 1
    expected = f"TensorFlow has already initialized .* split_cpu\\({wanted}\\) before"
    with pytest.raises(RuntimeError, match=expected):
        tb.split_cpu(wanted)


def test_step_times_times_every_step_after_the_first(monkeypatch):
    import types

    x, y = tb.synthesize(20)
    strategy = tf.distribute.get_strategy()
    times = tb.distributed.step_times(strategy, x, y, steps=4, repeats=2)
    assert times.shape == (2, 4) and np.all(times > 0)
    for bad, message in ((dict(steps=0), "steps must be >= 1, got 0"), (dict(repeats=0),
                                                                        "repeats must be >= 1, got 0")):
        with pytest.raises(ValueError, match=message):
            tb.distributed.step_times(strategy, x, y, **bad)
    # which gaps it keeps: a fake clock whose k-th reading is k² (gaps 2k + 1), and a fake run that only logs
    readings = iter(np.arange(100.0) ** 2)
    monkeypatch.setattr(tb.distributed, "time", types.SimpleNamespace(perf_counter=lambda: next(readings)))
    runs = []

    def fake_train(strategy, inputs, outputs, epochs, log):
        runs.append(epochs)
        for step in range(epochs):
            log(step, 0.0, 0.0, 0.0)

    monkeypatch.setattr(tb.distributed, "train_distributed", fake_train)
    times = tb.distributed.step_times(strategy, x, y, steps=3, repeats=2)
    assert runs == [4, 4]  # 1 + steps each; the clock reads 0, 1, 4, 9, then 16, 25, 36, 49
    np.testing.assert_array_equal(times, [[1, 3, 5], [9, 11, 13]])
