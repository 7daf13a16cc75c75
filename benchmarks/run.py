"""Benchmarks: figures, not pass/fail. `make bench` runs this; it prints a table and writes _build/bench.json.

    python benchmarks/run.py [--repeat N] [--skip-build]

Build: in a temporary copy of the repository (so the checkout's own _build is not
touched), each page executed alone (BOOK_EXECUTOR=local-serial, for the pages' own times),
a cold `make book` (parallel), a no-op one, a prose-only edit and a package edit; then the
peak memory of the build's processes during one more cold build, untimed (sampling costs CPU).
Then a fresh clone of HEAD to a built site: `make venv` (uv, its cache empty) and `make book`.

Keras and tf.distribute: time per epoch of each way book/keras.md trains; step times under
tf.distribute strategies, checkpoint restore and a killed-and-restarted two-worker run.

Training: the lab's eager step, the same step under tf.function, the in-graph
loop (tf.range inside one tf.function), the same with XLA, numpy's least-squares
solve, and one compiled (XLA) training run, from the lab's start, of the number of
steps that brings the loss to within 1e-6 of the closed-form optimum's.
"""

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- helpers
def summary(samples):
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "n": len(samples),
    }


class PeakMemory:
    """Peak resident memory of a process's descendants (the build, its kernels), sampled every 50 ms."""

    def __init__(self, pid):
        self.proc, self.peak, self._stop = psutil.Process(pid), 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                procs = self.proc.children(recursive=True)
                total = 0
                for p in procs:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
                self.peak = max(self.peak, total)
            except psutil.Error:
                pass
            time.sleep(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def load_bookbuild():
    """tools/bookbuild.py, shared with the tests, loaded from its file (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location("bookbuild", ROOT / "tools" / "bookbuild.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bookbuild = load_bookbuild()


def timed_build(repo, **kwargs):
    """(wall seconds, pages executed, report) of one build of the copy; a failed build stops the bench."""
    process, report, wall = bookbuild.build(repo, **kwargs)
    if process.returncode:
        raise SystemExit(f"build failed:\n{process.stdout[-3000:]}\n{process.stderr[-3000:]}")
    executed = len(report["executed"]) + report["executed_by_myst_nb"] if report else 0
    return wall, executed, report


# ---------------------------------------------------------------- the build
def bench_build(repeat):
    cold, noop, prose, package, serial_totals, peaks = [], [], [], [], [], []
    chapter_alone = {}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            repo = bookbuild.copy_repo(Path(tmp))
            # Each page alone: one page at a time (jupyter-cache's serial executor), its own time.
            _, _, report = timed_build(repo, command="plain", executor="local-serial")
            for name, secs in report["executed"].items():
                chapter_alone.setdefault(name, []).append(secs)
            serial_totals.append(sum(report["executed"].values()))
            shutil.rmtree(repo / "_build")
            cold.append(timed_build(repo)[0])  # `make book`, as a reader runs it
            noop.append(timed_build(repo)[:2])
            chapter = repo / "book" / "loss.md"
            text = chapter.read_text().replace("\n## Summary", "\nA new sentence.\n\n## Summary", 1)
            chapter.write_text(text)
            prose.append(timed_build(repo)[:2])
            model_py = repo / "code" / "training_basics" / "model.py"
            model_py.write_text(model_py.read_text() + "\n# an edit\n")
            package.append(timed_build(repo)[:2])
            # Peak memory of a cold build, on a build of its own (sampling takes CPU from the build).
            shutil.rmtree(repo / "_build")
            with PeakMemory(os.getpid()) as mem:
                timed_build(repo)
            peaks.append(mem.peak)
    sum_alone = statistics.median(serial_totals)
    return {
        "cold_build_s": summary(cold),
        "sum_of_chapter_execution_s": summary(serial_totals),
        "chapter_execution_s": {k: summary(v) for k, v in sorted(chapter_alone.items())},
        "noop_rebuild_s": summary([w for w, _ in noop]),
        "noop_rebuild_chapters_executed": max(n for _, n in noop),
        "prose_edit_rebuild_s": summary([w for w, _ in prose]),
        "prose_edit_chapters_executed": max(n for _, n in prose),
        "package_edit_rebuild_s": summary([w for w, _ in package]),
        "package_edit_chapters_executed": min(n for _, n in package),
        "pages": len(bookbuild.pages()),
        "peak_memory_mib": summary([p / 2**20 for p in peaks]),
        "ratios": {
            "cold_over_sum_of_chapters": statistics.median(cold) / sum_alone,
            "noop_over_cold": statistics.median([w for w, _ in noop]) / statistics.median(cold),
        },
    }


def bench_fresh_clone(repeat):
    """A fresh clone of HEAD to a built site: `make book` creating .venv (uv's cache empty) and building."""
    walls, setups = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            clone = Path(tmp) / "clone"
            subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
            env = dict(os.environ, UV_CACHE_DIR=str(Path(tmp) / "uv-cache"))
            env.pop("VIRTUAL_ENV", None)
            t = time.perf_counter()
            subprocess.run(["make", "--no-print-directory", "venv"], cwd=clone, env=env, check=True,
                           stdout=subprocess.DEVNULL)
            setup = time.perf_counter() - t
            subprocess.run(["make", "--no-print-directory", "book"], cwd=clone, env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            walls.append(time.perf_counter() - t)
            setups.append(setup)
    return {"fresh_clone_to_site_s": summary(walls), "environment_s": summary(setups)}


# ---------------------------------------------------------------- training
def bench_training(repeat):
    import numpy as np
    import tensorflow as tf

    import training_basics as tb
    from training_basics.compiled import compile_loop

    data = tb.synthesize()
    x, y = data.x, data.y

    def lab_train(model, inputs, outputs, learning_rate):  # the lab's eager step, as written there
        with tf.GradientTape() as t:
            current_loss = tb.l2_loss(outputs, model(inputs))
        dw, db = t.gradient(current_loss, [model.w, model.b])
        model.w.assign_sub(learning_rate * dw)
        model.b.assign_sub(learning_rate * db)

    def per_step(run, steps):
        samples = []
        for _ in range(repeat):
            t = time.perf_counter()
            run(steps)
            samples.append((time.perf_counter() - t) / steps * 1e6)
        return summary(samples)

    results = {}
    model = tb.Model()
    lab_train(model, x, y, 0.1)
    results["eager_step_us"] = per_step(lambda n: [lab_train(model, x, y, 0.1) for _ in range(n)], 300)
    step = tf.function(tb.train_step)
    step(model, x, y, 0.1)
    results["tf_function_step_us"] = per_step(lambda n: [step(model, x, y, 0.1) for _ in range(n)], 2000)
    for key, jit in (("in_graph_step_us", False), ("xla_step_us", True)):
        loop = compile_loop(tb.Model(), 0.1, jit_compile=jit)
        epochs = tf.constant(20000)
        loop(x, y, epochs)  # trace and compile once
        results[key] = per_step(lambda n, loop=loop, epochs=epochs: loop(x, y, epochs), 20000)

    x64, y64 = x.numpy().astype(np.float64), y.numpy().astype(np.float64)

    def lstsq():
        design = np.stack([x64, np.ones_like(x64)], axis=1)
        return np.linalg.lstsq(design, y64, rcond=None)[0]

    results["closed_form_us"] = per_call(lstsq, repeat, 2000)

    # Train to within 1e-6 of the closed-form loss: lr = 0.5 (the inverse of the Hessian's
    # eigenvalues, ≈ 2 for x ~ N(0, 1)), with XLA, from w = 2, b = 1 each time. Resetting the
    # variables is part of the compiled call, so one call is one training run. The number of
    # steps is found first; the timed run has it traced in (a Python loop, unrolled into the
    # graph), since a tf.while_loop around three steps costs more than the steps themselves.
    # No history is recorded here: only the trained w and b are wanted.
    w_star, b_star = tb.closed_form(x, y)
    best = float(tb.l2_loss(y, tb.Model(w=w_star, b=b_star)(x)))
    model = tb.Model()

    def train_from_start(steps):
        @tf.function(jit_compile=True)
        def run():
            model.w.assign(2.0)
            model.b.assign(1.0)
            for _ in range(steps):
                tb.train_step(model, x, y, 0.5)
            return model.w.read_value(), model.b.read_value()

        return run

    for steps in range(1, 50):
        run = train_from_start(steps)
        run()
        if float(tb.l2_loss(y, model(x))) - best <= 1e-6:
            break
    # Called through its concrete function: the compiled graph itself, without tf.function's
    # per-call argument matching (also measured, as the plain call).
    concrete = run.get_concrete_function()

    results["train_to_1e-6_steps"] = steps
    results["train_to_1e-6_us"] = per_call(concrete, repeat, 2000)
    results["train_to_1e-6_plain_call_us"] = per_call(run, repeat, 2000)
    eager = results["eager_step_us"]["median"]
    results["ratios"] = {
        "eager_over_tf_function": eager / results["tf_function_step_us"]["median"],
        "eager_over_in_graph": eager / results["in_graph_step_us"]["median"],
        "eager_over_xla": eager / results["xla_step_us"]["median"],
        "train_to_1e-6_over_lstsq":
            results["train_to_1e-6_us"]["median"] / results["closed_form_us"]["median"],
    }
    return results


def ways_to_train(x, y, epochs, learning_rate=0.1):
    """{name: run}: each run() trains `epochs` full-batch epochs of the lab one way, from the lab's start,
    going on from call to call. The ways book/keras.md times: the eager loop of train_step; the same step
    under tf.function; fit(x, y, batch_size=N); fit on the full batch repeated (a one-element tf.data
    dataset), one Keras epoch of `epochs` steps, with steps_per_execution 1 or `epochs` and jit_compile off
    or on; and compile_loop with XLA, the whole loop in one graph."""
    import keras
    import tensorflow as tf

    import training_basics as tb

    def keras_model(**options):
        model = tb.KerasModel()
        model.compile(keras.optimizers.SGD(learning_rate), "mse", **options)
        return model

    eager, graph, graph_step = tb.Model(), tb.Model(), tf.function(tb.train_step)
    xla_loop = tb.compiled.compile_loop(tb.Model(), learning_rate, jit_compile=True)
    arrays = keras_model(jit_compile=False)
    ways = {
        "eager loop (train_step)": lambda: [tb.train_step(eager, x, y, learning_rate) for _ in range(epochs)],
        "tf.function step": lambda: [graph_step(graph, x, y, learning_rate) for _ in range(epochs)],
        f"fit(x, y), {epochs} epochs": lambda: arrays.fit(x, y, batch_size=int(x.shape[0]), epochs=epochs,
                                                          shuffle=False, verbose=0),
    }
    repeated = tf.data.Dataset.from_tensors((x, y)).repeat()  # every element: all N examples
    for spe in (1, epochs):
        for jit_compile, xla in ((False, ""), (True, ", jit_compile")):
            model = keras_model(jit_compile=jit_compile, steps_per_execution=spe)
            ways[f"fit, repeated batch, steps_per_execution={spe}{xla}"] = lambda model=model: model.fit(
                repeated, steps_per_epoch=epochs, epochs=1, shuffle=False, verbose=0)
    ways["in-graph loop + XLA (compile_loop)"] = lambda: xla_loop(x, y, tf.constant(epochs))
    return ways


def bench_keras(repeat):
    """Time per epoch of every way book/keras.md times, the lab's 15 full-batch epochs per call:
    the runs of ways_to_train, each called once to trace and compile, then timed `repeat` times."""
    import training_basics as tb

    data, epochs = tb.synthesize(), 15
    samples = {}
    for name, run in ways_to_train(data.x, data.y, epochs).items():
        run()  # the first call traces and compiles
        samples[name] = []
        for _ in range(repeat):
            t = time.perf_counter()
            run()
            samples[name].append((time.perf_counter() - t) / epochs * 1e6)
    return {"epochs_per_call": epochs, "per_epoch_us": {name: summary(s) for name, s in samples.items()}}


def bench_distributed(repeat):
    """book/distribute.md: seconds per step on one device and under MirroredStrategy on two logical CPUs
    (in a fresh process: logical devices must be set before TensorFlow's first operation), the time to
    restore a checkpoint in-process, and two-worker runs on 127.0.0.1, plain and with a SIGKILL and a
    restart from the last checkpoint (their difference: what the restart costs)."""
    import sys

    import training_basics as tb

    script = (
        "import json, tempfile, time, numpy as np, training_basics as tb, tensorflow as tf\n"
        "devices = tb.split_cpu(2)\n"
        "x, y = tb.synthesize()\n"
        "mirrored, one = tf.distribute.MirroredStrategy(devices), tf.distribute.get_strategy()\n"
        "out = {'one_device_step_us': [], 'mirrored_2_step_us': [], 'restore_s': []}\n"
        f"for _ in range({repeat}):\n"
        "    out['one_device_step_us'].append(np.median(tb.distributed.step_times(one, x, y)) * 1e6)\n"
        "    out['mirrored_2_step_us'].append(np.median(tb.distributed.step_times(mirrored, x, y)) * 1e6)\n"
        "    folder = tempfile.mkdtemp()\n"
        "    tb.train_distributed(one, x, y, checkpoint_dir=folder)\n"
        "    t = time.perf_counter()\n"
        "    tb.train_distributed(one, x, y, checkpoint_dir=folder, resume=True)\n"  # 15 of 15 done: restore
        "    out['restore_s'].append(time.perf_counter() - t)\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                          check=True)
    samples = json.loads(done.stdout.splitlines()[-1])
    runs = max(1, min(repeat, 3))  # each run starts TensorFlow in 2 or 4 processes
    plain, killed = [], []
    for _ in range(runs):
        t = time.perf_counter()
        tb.run_workers(2, timeout=300)
        plain.append(time.perf_counter() - t)
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            tb.run_workers(2, checkpoint_dir=tmp, every=5, kill_at_step=7, timeout=300)
            killed.append(time.perf_counter() - t)
    results = {name: summary(values) for name, values in samples.items()}
    results["two_workers_s"] = summary(plain)
    results["two_workers_killed_and_resumed_s"] = summary(killed)
    results["restart_cost_s"] = statistics.median(killed) - statistics.median(plain)
    return results


def per_call(fn, repeat, calls):
    fn()
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - t) / calls * 1e6)
    return summary(samples)


# ---------------------------------------------------------------- report
def table(results):
    rows = []

    def add(name, stats, unit, target=""):
        if isinstance(stats, dict):
            spread = f"{stats['min']:.3g}–{stats['max']:.3g}"
            rows.append((name, f"{stats['median']:.3g} {unit}", spread, target))
        else:
            rows.append((name, f"{stats:.3g}{unit}", "", target))

    b = results.get("build")
    if b:
        add("cold build", b["cold_build_s"], "s")
        add("sum of chapters, each alone", b["sum_of_chapter_execution_s"], "s")
        for name, stats in b["chapter_execution_s"].items():
            add(f"  {name}", stats, "s")
        add("no-op rebuild", b["noop_rebuild_s"], "s")
        add("prose-edit rebuild", b["prose_edit_rebuild_s"], "s")
        add("package-edit rebuild", b["package_edit_rebuild_s"], "s")
        add("peak memory of the build", b["peak_memory_mib"], "MiB")
        r = b["ratios"]
        add("cold / sum of chapters", r["cold_over_sum_of_chapters"], "×", "≤ 0.7")
        add("no-op / cold", r["noop_over_cold"], "×", "≤ 0.05")
        add("pages executed, prose edit", b["prose_edit_chapters_executed"], "", "0")
        add("pages executed, package edit", b["package_edit_chapters_executed"], "", f"{b['pages']} (all)")
    f = results.get("fresh_clone")
    if f:
        add("fresh clone: environment (uv, empty cache)", f["environment_s"], "s")
        add("fresh clone to built site", f["fresh_clone_to_site_s"], "s", "≤ 40")
    t = results.get("training")
    if t:
        add("eager step (lab)", t["eager_step_us"], "µs")
        add("tf.function step", t["tf_function_step_us"], "µs")
        add("in-graph loop (no XLA), per step", t["in_graph_step_us"], "µs")
        add("in-graph loop + XLA, per step", t["xla_step_us"], "µs")
        add("numpy lstsq (closed form)", t["closed_form_us"], "µs")
        add(f"train to 1e-6 of optimum ({t['train_to_1e-6_steps']} XLA steps)", t["train_to_1e-6_us"], "µs")
        add("  the same, plain tf.function call", t["train_to_1e-6_plain_call_us"], "µs")
        r = t["ratios"]
        add("eager / tf.function step", r["eager_over_tf_function"], "×")
        add("eager / in-graph step (no XLA)", r["eager_over_in_graph"], "×")
        add("eager / in-graph step with XLA", r["eager_over_xla"], "×", "≥ 300")
        add("train to 1e-6 / lstsq", r["train_to_1e-6_over_lstsq"], "×", "≤ 3")
    k = results.get("keras")
    if k:
        per_epoch = k["per_epoch_us"]
        for name, stats in per_epoch.items():
            add(f"keras: {name}, per epoch", stats, "µs")
        eager = per_epoch["eager loop (train_step)"]["median"]
        for name, stats in list(per_epoch.items())[1:]:
            add(f"keras: eager / {name}", eager / stats["median"], "×")
    d = results.get("distributed")
    if d:
        add("distribute: one device, per step", d["one_device_step_us"], "µs")
        add("distribute: MirroredStrategy on 2 logical CPUs, per step", d["mirrored_2_step_us"], "µs")
        add("distribute: restore a checkpoint (one process)", d["restore_s"], "s")
        add("distribute: 2 workers on 127.0.0.1, 15 steps", d["two_workers_s"], "s")
        add("distribute: the same, SIGKILL at step 7 and restart", d["two_workers_killed_and_resumed_s"], "s")
        add("distribute: restart from the checkpoint, extra time", d["restart_cost_s"], "s")
    width = max(len(r[0]) for r in rows)
    lines = [f"{'measure':<{width}}  {'median':>12}  {'min–max':>17}  target", "-" * (width + 44)]
    lines += [f"{n:<{width}}  {m:>12}  {s:>17}  {tg}" for n, m, s, tg in rows]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description="Run the benchmarks.")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement (default 3)")
    parser.add_argument("--skip-build", action="store_true", help="only the training benchmarks")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    results = {
        "machine": {
            "cores": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "repeat": args.repeat,
    }
    if not args.skip_build:
        results["build"] = bench_build(args.repeat)
        results["fresh_clone"] = bench_fresh_clone(args.repeat)
    results["training"] = bench_training(max(args.repeat, 5))
    results["keras"] = bench_keras(max(args.repeat, 5))
    results["distributed"] = bench_distributed(args.repeat)
    import tensorflow as tf

    results["machine"]["tensorflow"] = tf.__version__
    out = ROOT / "_build" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{results['machine']['cores']} cores, {results['machine']['memory_gib']} GiB, "
          f"Python {results['machine']['python']}, TensorFlow {tf.__version__}; {args.repeat} runs each\n")
    print(table(results))
    print(f"\nWritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
