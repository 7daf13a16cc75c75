"""The lab's loop under ``tf.distribute``: several devices, several worker processes, checkpoints.

``train_distributed`` is the loop of book/training-loop.md written for any
``tf.distribute.Strategy``; ``split_cpu`` makes logical CPU devices for ``MirroredStrategy``;
``run_workers`` starts ``MultiWorkerMirroredStrategy`` workers on 127.0.0.1 and can kill one
mid-training and restart them all from the last checkpoint. From a shell::

    python -m training_basics.distributed --workers 2

A package rather than a module, so that ``python -m`` runs ``__main__.py`` without importing
this code twice. Taught in: book/distribute.md
"""

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from ..checks import _check_count, _check_learning_rate, _check_number, _check_xy
from ..data import synthesize
from ..model import Model
from ..training import History


class CheckpointError(RuntimeError):
    """A checkpoint exists but cannot be read (corrupt, truncated, or from another run).

    Taught in: book/distribute.md
    """


class WorkerError(RuntimeError):
    """A worker process failed, or did not finish in time; the message names it and shows its stderr.

    Taught in: book/distribute.md
    """


def split_cpu(devices=2):
    """Split the CPU into ``devices`` logical devices, for ``MirroredStrategy``; returns their names.

    TensorFlow fixes its devices when it first runs an operation: call this before any,
    in a notebook's first cell or in a fresh process. Calling it again with the same
    number is harmless; with another number, or too late, raises ``RuntimeError``.

    Taught in: book/distribute.md
    """
    devices = _check_count("devices", devices, minimum=1)
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is None or len(current) != devices:
        try:
            logical = [tf.config.LogicalDeviceConfiguration()] * devices
            tf.config.set_logical_device_configuration(cpu, logical)
        except RuntimeError as err:
            have = len(tf.config.list_logical_devices("CPU"))
            raise RuntimeError(
                f"cannot split the CPU into devices={devices} logical devices: TensorFlow has already "
                f"initialized its {have} CPU device(s). Call split_cpu({devices}) before any TensorFlow "
                "operation: first thing in a notebook's kernel, or in a fresh process"
            ) from err
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def train_distributed(strategy, inputs, outputs, epochs=15, learning_rate=0.1,
                      checkpoint_dir=None, every=5, resume=False, log=None):
    """The lab's full-batch loop under ``strategy``; returns a ``History`` like ``train``'s.

    The model and the optimizer are made in ``strategy.scope()``, so their variables are
    mirrored on every replica. Each step, ``strategy.run`` gives every replica its share of
    the global batch (all N examples); each averages its per-example losses over the
    *global* batch size (``tf.nn.compute_average_loss``), so that the optimizer, which sums
    the replicas' gradients, applies the gradient of the mean over all N. ``strategy.reduce``
    sums the replicas' losses into that mean. With ``checkpoint_dir``, a checkpoint (model,
    optimizer and its step count, the history so far) is written after every ``every``
    steps and the last; ``resume=True`` continues from the latest one. ``log(step, w, b,
    loss)`` is called after each step.

    Taught in: book/distribute.md
    """
    if not isinstance(strategy, tf.distribute.Strategy):
        raise TypeError(f"strategy must be a tf.distribute.Strategy, got {type(strategy).__name__}")
    x, y = _check_xy(inputs, outputs, "inputs", "outputs")
    epochs = _check_count("epochs", epochs)
    learning_rate = _check_learning_rate(learning_rate)
    global_batch_size = int(x.shape[0])  # the lab: every step sees all N examples

    with strategy.scope():
        model = Model()
        optimizer = keras.optimizers.SGD(learning_rate)
    batches = tf.data.Dataset.from_tensor_slices((x, y)).batch(global_batch_size).repeat()
    batches = iter(strategy.experimental_distribute_dataset(batches))

    def replica_step(xb, yb):  # on each replica, with its share of the global batch
        with tf.GradientTape() as tape:
            per_example = tf.square(yb - model(xb))
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)
        gradients = tape.gradient(loss, [model.w, model.b])
        optimizer.apply_gradients(zip(gradients, [model.w, model.b], strict=True))  # sums the replicas'
        return loss

    @tf.function
    def step(batch):
        per_replica_loss = strategy.run(replica_step, args=batch)
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica_loss, axis=None)

    saved = Checkpoints(strategy, checkpoint_dir, model, optimizer, epochs, every, resume) \
        if checkpoint_dir is not None else None
    rows = saved.rows if saved else []  # (step, w, b, loss) of the steps done so far
    for step_number in range(len(rows), epochs):
        w, b = model.w.numpy(), model.b.numpy()
        rows.append((step_number, w, b, float(step(next(batches)))))
        if saved:
            saved.after_step(rows)
        if log is not None:
            log(*rows[-1])

    step_numbers, ws, bs, losses = np.array(rows, dtype=np.float64).reshape(-1, 4).T
    return History.from_steps(ws, bs, losses, model.w.numpy(), model.b.numpy(), learning_rate, step_numbers)


def step_times(strategy, inputs, outputs, steps=50, repeats=3):
    """The wall time of each step of ``train_distributed`` under ``strategy``, in s: shape (repeats, steps).

    Each of ``repeats`` runs trains 1 + ``steps`` steps and notes the time at each call of
    its ``log``; a step's time runs from one call to the next (the step, and reading w, b and
    the loss back into Python). The first step, which traces the step function, and the
    set-up before it are left out. Timings vary from step to step and run to run: take the
    median, and look at the spread.

    Taught in: book/distribute.md
    """
    steps = _check_count("steps", steps, minimum=1)
    repeats = _check_count("repeats", repeats, minimum=1)
    times = np.empty((repeats, steps))
    for run in range(repeats):
        marks = []

        def mark(step, w, b, loss, marks=marks):  # called after each step
            marks.append(time.perf_counter())

        train_distributed(strategy, inputs, outputs, epochs=1 + steps, log=mark)
        times[run] = np.diff(marks)
    return times


class Checkpoints:
    """``tf.train.CheckpointManager`` for ``train_distributed``: save every ``every`` steps, resume.

    A checkpoint holds the model, the optimizer (whose ``iterations`` counts the steps done)
    and the history so far; ``ckpt-K`` is the one taken after K steps. Under
    ``MultiWorkerMirroredStrategy`` every worker saves (saving is collective), the chief
    into ``directory``, the others into ``directory/.worker-<i>``; all restore the chief's.

    Taught in: book/distribute.md
    """

    def __init__(self, strategy, directory, model, optimizer, epochs, every, resume):
        self.directory, self.epochs = Path(directory), epochs
        self.every = _check_count("every", every, minimum=1)
        optimizer.build([model.w, model.b])  # its variables exist before a restore fills them
        self.history = tf.Variable(tf.zeros([epochs, 4], tf.float64), name="history")
        self.iterations = optimizer.iterations
        self.checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, history=self.history)
        resolver = strategy.cluster_resolver
        worker = resolver.task_id if resolver is not None and resolver.task_type is not None else 0
        writes_to = self.directory if worker == 0 else self.directory / f".worker-{worker}"
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(writes_to), max_to_keep=2)
        latest = self.check_directory(self.directory, resume)
        self.rows = self.restore(latest) if resume else []

    @staticmethod
    def check_directory(directory, resume):
        """The state of ``directory``'s latest checkpoint; an error if there is one and ``resume`` is
        False, or none and it is True."""
        latest = tf.train.get_checkpoint_state(str(directory))
        if resume and latest is None:
            raise FileNotFoundError(f"no checkpoint to resume from: {Path(directory) / 'checkpoint'} is "
                                    f"missing")
        if not resume and latest is not None:
            raise FileExistsError(
                f"{directory} already holds checkpoint {latest.model_checkpoint_path}: pass resume=True "
                "(--resume on the command line) to continue from it, or give an empty checkpoint directory"
            )
        return latest

    def restore(self, state):
        """The rows of the history that the latest checkpoint holds, after restoring it."""
        prefix = state.model_checkpoint_path
        for suffix in (".index", ".data-00000-of-00001"):
            if not Path(prefix + suffix).is_file():
                raise FileNotFoundError(f"checkpoint {prefix} is incomplete: {prefix + suffix} is missing")
        try:  # read every tensor first (checksums included), so a bad file fails before anything changes
            reader = tf.train.load_checkpoint(prefix)
            for name in reader.get_variable_to_shape_map():
                reader.get_tensor(name)
            self.checkpoint.restore(prefix).assert_existing_objects_matched()
        except (tf.errors.OpError, IndexError, ValueError, AssertionError) as err:
            # OpError: a damaged file; IndexError: a truncated one; ValueError, AssertionError: another run's
            raise CheckpointError(f"checkpoint {prefix} (files {prefix}.index, {prefix}.data-00000-of-00001) "
                                  f"cannot be read: {err}") from err
        done = int(self.iterations.numpy())
        table = self.history.numpy()[:done]
        if done > self.epochs or not np.array_equal(table[:, 0], np.arange(done)):
            raise CheckpointError(f"checkpoint {prefix} holds {done} steps whose history does not match")
        self.resumed_from = (prefix, done)
        return [(int(s), np.float32(w), np.float32(b), float(loss)) for s, w, b, loss in table]

    def after_step(self, rows):
        done = len(rows)
        if done % self.every == 0 or done == self.epochs:
            self.history.assign(np.array(rows + [(0, 0, 0, 0)] * (self.epochs - done), dtype=np.float64))
            self.manager.save(checkpoint_number=done)


# ---------------------------------------------------------------- workers on 127.0.0.1
def _free_ports(count):
    """``count`` TCP ports on 127.0.0.1 that are free now (the system picks them).

    Taught in: book/distribute.md
    """
    sockets = [socket.socket() for _ in range(_check_count("count", count, minimum=1))]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def run_workers(workers=2, epochs=15, learning_rate=0.1, checkpoint_dir=None, every=5, resume=False,
                kill_at_step=None, timeout=120, echo=None):
    """Train with ``MultiWorkerMirroredStrategy`` in ``workers`` processes on 127.0.0.1; returns a dict.

    Each worker is ``python -m training_basics.distributed --worker`` with its ``TF_CONFIG``
    (the cluster's free ports, its own index); worker 0 is the chief. With ``checkpoint_dir``,
    a checkpoint every ``every`` steps; ``resume=True`` continues from the latest one there.
    With ``kill_at_step`` (needs ``checkpoint_dir``), the last worker waits after that step
    until the chief has logged it too, and is SIGKILLed there, so the kill falls at the same
    point in every run, with no checkpoint being written; the others are left alone until
    they end by themselves, and then all restart from the last checkpoint. The result:
    ``history`` (the chief's), ``final`` ((w, b) of every worker), ``events`` (the launcher's
    lines). A worker that exits with an error, or any run longer than ``timeout`` seconds,
    raises ``WorkerError`` naming the worker; no process is left behind. ``echo(line)``, if
    given, sees every line as it happens.

    Taught in: book/distribute.md
    """
    workers = _check_count("workers", workers, minimum=1)
    epochs = _check_count("epochs", epochs, minimum=1)
    learning_rate = _check_learning_rate(learning_rate)
    every = _check_count("every", every, minimum=1)
    timeout = _check_number("timeout", timeout)
    if timeout <= 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout:g}")
    if kill_at_step is not None:
        kill_at_step = _check_count("kill_at_step", kill_at_step)
        if checkpoint_dir is None or not 0 <= kill_at_step < epochs - 1 or workers < 2:
            raise ValueError(f"kill_at_step={kill_at_step} needs workers >= 2, a checkpoint_dir, and a step "
                             f"before the last of epochs={epochs}")
    if checkpoint_dir is not None:
        Checkpoints.check_directory(checkpoint_dir, resume)
    elif resume:
        raise ValueError("resume=True (--resume) needs a checkpoint_dir (--checkpoint-dir) to resume from")
    events = []

    def say(line):
        events.append(line)
        if echo is not None:
            echo(line)

    options = ["--epochs", str(epochs), "--learning-rate", str(learning_rate), "--every", str(every)]
    if checkpoint_dir is not None:
        options += ["--checkpoint-dir", str(checkpoint_dir)]
    deadline = time.monotonic() + timeout
    say(f"starting {workers} workers on 127.0.0.1, each on a free port (TF_CONFIG)")
    resuming = ["--resume"] if resume else []
    outcome = _run_cluster(workers, options + resuming, deadline, timeout, kill_at_step, say)
    if outcome == "killed":
        say("restarting all workers from the last checkpoint")
        outcome = _run_cluster(workers, options + ["--resume"], deadline, timeout, None, say)
    results = outcome
    chief = results[0]
    history = History.from_steps(chief["w"], chief["b"], chief["loss"], chief["final_w"], chief["final_b"],
                                 learning_rate, chief["step"])
    return {"history": history, "final": [(r["final_w"], r["final_b"]) for r in results], "events": events}


_FAIL_WORKER = "TRAINING_BASICS_FAIL_WORKER"  # set to a worker's index by the tests


def _run_cluster(workers, options, deadline, timeout, kill_at_step, say):
    """Start the workers, follow them to the end; the results of each, or "killed"."""
    ports = _free_ports(workers)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    lines, procs, readers, stderr = queue.Queue(), [], [], [[] for _ in range(workers)]
    err_readers, last = [], workers - 1
    try:
        for index in range(workers):
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0",
                       TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
            command = [sys.executable, "-m", "training_basics.distributed", "--worker", *options,
                       "--deadline", str(max(1, int(deadline - time.monotonic()) + 5))]
            if kill_at_step is not None and index == last:
                command += ["--wait-after-step", str(kill_at_step)]
            if os.environ.get(_FAIL_WORKER) == str(index):  # for the tests: this worker fails at start
                command = [sys.executable, "-c", f"raise SystemExit('{_FAIL_WORKER}: failing at start')"]
            procs.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                          env=env, stdin=subprocess.DEVNULL, start_new_session=True))
            readers.append(_start_reader(procs[-1].stdout, index, lines))
            err_readers.append(_start_reader(procs[-1].stderr, index, stderr[index]))
        results, chief_at_kill, last_waiting = {}, False, False
        while len(results) < workers:
            try:
                index, line = lines.get(timeout=0.1)
            except queue.Empty:
                _check_workers(procs, readers, lines, results, stderr, deadline, timeout)
                continue
            message = json.loads(line)
            if "result" in message:
                results[index] = message["result"]
            elif "waiting" in message and index == last:
                last_waiting = True
            elif "resumed" in message and index == 0:
                say(f"worker 0: resumed from {Path(message['resumed']).name} ({message['step']} steps done)")
            elif "step" in message and index == 0:
                say(f"worker 0: step {message['step']:2d}  w = {message['w']:.6f}  b = {message['b']:.6f}  "
                    f"loss = {message['loss']:.6f}")
                chief_at_kill = message["step"] == kill_at_step
            if chief_at_kill and last_waiting:  # both done with the step; the chief is in the next one
                procs[last].send_signal(signal.SIGKILL)
                say(f"launcher: SIGKILL to worker {last} after step {kill_at_step}")
                _left_alone(procs[:last], err_readers, stderr, deadline, timeout, say)
                return "killed"
        for index, result in sorted(results.items()):
            say(f"worker {index}: done, w = {result['final_w']:.6f}, b = {result['final_b']:.6f}")
        return [result for _, result in sorted(results.items())]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        for proc in procs:
            proc.wait(timeout=30)
            proc.stdout.close()
            proc.stderr.close()


def _left_alone(procs, err_readers, stderr, deadline, timeout, say):
    """Wait for the workers that lost their partner to end by themselves; say how each ended."""
    while any(proc.poll() is None for proc in procs):
        if time.monotonic() > deadline:
            late = [index for index, proc in enumerate(procs) if proc.poll() is None]
            raise WorkerError(f"worker(s) {late} did not end within {timeout:g} s after their partner was "
                              f"killed")
        time.sleep(0.1)
    heartbeats = "The following tasks are unhealthy (stopped sending heartbeats):"
    for index, proc in enumerate(procs):
        err_readers[index].join(timeout=5)
        lines = stderr[index]
        aborted = [i for i, line in enumerate(lines)
                   if "Collective ops is aborted by" in line and heartbeats in line]
        if aborted:  # TensorFlow's words, without the parts that change from run to run
            reason = f"Collective ops is aborted ... {heartbeats} {lines[aborted[0] + 1].strip()}"
        else:
            reason = f"its stderr ends:\n{_tail(lines)}"
        say(f"worker {index}: ended by itself, exit code {proc.returncode}: {reason}")


def _check_workers(procs, readers, lines, results, stderr, deadline, timeout):
    """Raise ``WorkerError`` if a worker ended without its result, or time is up."""
    for index, proc in enumerate(procs):
        ended = proc.poll() is not None and not readers[index].is_alive() and lines.empty()
        if proc.poll() not in (None, 0) or (ended and index not in results):
            time.sleep(0.2)  # let its last stderr lines arrive
            raise WorkerError(f"worker {index} exited with code {proc.returncode} before training finished; "
                              f"its stderr ends:\n{_tail(stderr[index])}")
    if time.monotonic() > deadline:
        late = [index for index, proc in enumerate(procs) if proc.poll() is None]
        raise WorkerError(f"worker(s) {late} did not finish within {timeout:g} s; the stderr of worker "
                          f"{late[0]} ends:\n{_tail(stderr[late[0]])}")


def _start_reader(stream, index, sink):
    thread = threading.Thread(target=_follow, args=(stream, index, sink), daemon=True)
    thread.start()
    return thread


def _follow(stream, index, sink):
    for line in stream:
        if isinstance(sink, list):
            sink.append(line.rstrip("\n"))
        elif line.startswith("{"):
            sink.put((index, line))


def _tail(lines, count=15):
    return "\n".join(lines[-count:]) or "(nothing)"


def worker_main(args):
    """One worker: ``MultiWorkerMirroredStrategy`` from ``TF_CONFIG``, the lab's data; JSON lines on stdout.

    Taught in: book/distribute.md
    """
    threading.Thread(target=_end_when_orphaned, args=(os.getppid(),), daemon=True).start()
    signal.alarm(args.deadline)  # and in any case at the launcher's deadline: SIGALRM ends it
    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # first: before any other TensorFlow operation
    x, y = synthesize()
    if args.resume and tf.train.latest_checkpoint(args.checkpoint_dir):
        latest = tf.train.latest_checkpoint(args.checkpoint_dir)
        print(json.dumps({"resumed": latest, "step": int(latest.rsplit("-", 1)[1])}), flush=True)

    def log(step, w, b, loss):
        print(json.dumps({"step": step, "w": float(w), "b": float(b), "loss": loss}), flush=True)
        if step == args.wait_after_step:  # for --kill-at-step: wait here to be killed
            print(json.dumps({"waiting": step}), flush=True)
            while True:
                time.sleep(60)

    history = train_distributed(strategy, x, y, epochs=args.epochs, learning_rate=args.learning_rate,
                                checkpoint_dir=args.checkpoint_dir, every=args.every, resume=args.resume,
                                log=log)
    result = {"step": history.epoch.tolist(), "w": history.w.tolist(), "b": history.b.tolist(),
              "loss": history.loss.tolist(), "final_w": history.final_w, "final_b": history.final_b}
    print(json.dumps({"result": result}), flush=True)


def _end_when_orphaned(launcher):
    """End this worker once its launcher is gone (the worker then has another parent process)."""
    while os.getppid() == launcher:
        time.sleep(1)
    os._exit(3)
