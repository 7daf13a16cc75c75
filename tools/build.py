"""Build the book: fresh cache when the package changes, chapters executed in parallel, then Sphinx.

    python tools/build.py [--output DIR]

The site lands in DIR/_build/html (DIR defaults to the repository root). Exits
non-zero on any cell error or Sphinx warning. A JSON report of what was executed
and how long each phase took is written to DIR/_build/build-report.json.

Why a wrapper around ``jupyter-book build``:

* jupyter-cache hashes only a notebook's code cells and kernelspec, so an edit
  in ``code/`` would leave every page showing stale outputs. The package, the
  locked environment and the execution settings are fingerprinted; when the
  fingerprint changes the cache is emptied and Sphinx re-reads every page.
* jupyter-book executes chapters one at a time. Chapters are independent, so
  the stale ones are executed in parallel into the cache (jupyter-cache's
  worker, in a pool of processes). Sphinx starts at the same time; its
  extension tools/sphinx_ext/wait_for_execution.py makes it read each page as
  soon as that page is in the cache, so Sphinx never executes a page itself and
  its start-up and reading overlap the execution. ``--serial`` executes the
  pages one at a time and only then starts Sphinx: each page's time is then its
  own (``make bench`` uses it).
"""

import argparse
import hashlib
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# How this script tells Sphinx which pages are executed (tools/sphinx_ext/wait_for_execution.py):
# the folder named by this variable holds order.json, <docname>.ready per page, and all.ready.
READY_DIR_ENV = "BOOK_READY_DIR"
FINGERPRINT_FILE = "package-fingerprint.txt"
# myst-nb's own reader for MyST Markdown notebooks, so the cached notebook hashes
# exactly as the one Sphinx reads.
READ_DATA = {"name": "myst_nb_md", "type": "plugin"}
# A page's run is mostly one busy core plus waits (kernel start-up, messages): one worker
# more than the cores keeps both cores busy.
DEFAULT_WORKERS = (os.cpu_count() or 1) + 1


def pages(root=ROOT):
    """Every page's source, in _toc.yml order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [toc["root"]] + [entry["file"] for entry in _entries(toc)]
    return [root / f"{f}.md" for f in files]


def chapters(root=ROOT):
    """The teaching chapters: the root and the first part of _toc.yml (later parts are appendices)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    first = toc["parts"][0] if "parts" in toc else toc
    return [root / f"{toc['root']}.md"] + [root / f"{entry['file']}.md" for entry in _entries(first)]


def _entries(node):
    for key in ("chapters", "parts", "sections"):
        for entry in node.get(key, []):
            if "file" in entry:
                yield entry
            yield from _entries(entry)


def fingerprint(root=ROOT):
    """A hash of everything outside the chapters' code cells that can change their outputs."""
    digest = hashlib.sha256()
    config = yaml.safe_load((root / "_config.yml").read_text())
    inputs = sorted((root / "code").rglob("*.py")) + [root / "pyproject.toml", root / "constraints.txt"]
    for path in inputs:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    digest.update(json.dumps(config.get("execute", {}), sort_keys=True).encode())
    digest.update(sys.version.encode())
    return digest.hexdigest()


def inputs_fingerprint(root=ROOT):
    """A hash of every file the site is made from: when it matches the last build's, nothing is to do."""
    digest = hashlib.sha256(fingerprint(root).encode())
    files = [root / "_config.yml", root / "_toc.yml"]
    files += sorted(p for folder in ("book", "tools") for p in (root / folder).rglob("*") if p.is_file())
    for path in files:
        if "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def prepare_cache(cache_dir, doctrees, root=ROOT):
    """Empty the cache and Sphinx's saved pages if the fingerprint changed; True if it did."""
    stamp = cache_dir / FINGERPRINT_FILE
    current = fingerprint(root)
    if stamp.exists() and stamp.read_text() == current:
        return False
    for path in (cache_dir, doctrees):
        if path.exists():
            shutil.rmtree(path)
    cache_dir.mkdir(parents=True)
    stamp.write_text(current)
    return True


def execution_order(sources):
    """The longest pages (by source size) first, so that none is left running alone at the end."""
    return sorted(sources, key=lambda path: path.stat().st_size, reverse=True)


def docname(source, root=ROOT):
    return source.relative_to(root).with_suffix("").as_posix()


def execute_stale(cache_dir, sources, timeout, workers, reports_dir=None, ready_dir=None):
    """Execute the pages whose code has no entry in the cache, ``workers`` at a time, in ``sources``' order.

    Returns {page name: its execution time in seconds} for the pages executed. If
    ``ready_dir`` is given, a page's marker is written there as soon as its outputs are
    in the cache (at once for a page already cached), and ``all.ready`` at the end.
    A page that fails stops the build; its traceback is printed and written to
    ``reports_dir/<page>.log``.
    """
    from jupyter_cache import get_cache
    from jupyter_cache.executors.basic import ProcessData
    from jupyter_cache.readers import get_reader
    from page_worker import PageWorker  # tools/page_worker.py, beside this script

    def ready(outcome):
        status, uri = outcome
        if status == 0 and ready_dir is not None:
            page = ready_dir / f"{docname(Path(uri))}.ready"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.touch()

    get_reader(READ_DATA)  # imports myst-nb's reader here, once, before the workers are forked
    cache = get_cache(str(cache_dir))
    worker = PageWorker()
    # Each page starts as soon as it is read, while the next ones are still being read.
    log = cache_dir / "kernels.log"
    with multiprocessing.Pool(workers, initializer=_stderr_to, initargs=(str(log),)) as pool:
        running = []
        for source in sources:
            record = cache.add_nb_to_project(str(source), read_data=READ_DATA)
            if cache.get_cached_project_nb(record.pk) is None:
                job = ProcessData(record.pk, record.uri, cache, timeout, False)
                running.append(pool.apply_async(worker, (job,), callback=ready))
            else:
                ready((0, record.uri))
        outcomes = [job.get() for job in running]
    failed = [uri for status, uri in outcomes if status != 0]
    for uri in failed:
        record = cache.get_project_record(uri)
        print(f"\nExecuting {Path(uri).name} failed:\n{record.traceback}", file=sys.stderr)
        if reports_dir is not None:
            reports_dir.mkdir(parents=True, exist_ok=True)
            (reports_dir / f"{Path(uri).stem}.log").write_text(str(record.traceback))
    if failed:
        raise SystemExit(f"{len(failed)} page(s) failed to execute")
    if ready_dir is not None:
        (ready_dir / "all.ready").touch()
    seconds = {}
    for _, uri in outcomes:
        record = cache.get_cached_project_nb(uri)  # None if the file changed since it was executed
        seconds[Path(uri).stem] = round(record.data.get("execution_seconds", 0.0), 3) if record else None
    return seconds


def _stderr_to(path):
    """In a worker: send its stderr, and so its kernels' own log lines, to a file, not the terminal.

    What a cell writes to stderr is not affected: that travels in the kernel's messages.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(fd, 2)
    os.close(fd)


def export_executed_notebooks(cache_dir, folder, sources):
    """Write each page's executed notebook (outputs included) to ``folder``/<page path>.ipynb.

    The theme's ".ipynb" download links to _sources/<page>.ipynb, which Sphinx writes
    without outputs; the cache holds the executed one, copied there after Sphinx.
    """
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.readers import get_reader

    cache = get_cache(str(cache_dir))
    read = get_reader(READ_DATA)
    for source in sources:
        _, notebook = cache.merge_match_into_notebook(read(str(source)))
        notebook.metadata.pop("source_map", None)
        target = folder / source.relative_to(ROOT).with_suffix(".ipynb")
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, str(target))


def cache_state(cache_dir):
    """{record id: creation time} of every executed notebook in the cache."""
    from jupyter_cache import get_cache

    return {r.pk: r.created.isoformat() for r in get_cache(str(cache_dir)).list_cache_records()}


def start_sphinx(output, full, ready_dir=None):
    """Start ``jupyter-book build`` (strict: -W, nitpicky, keep going); returns the process.

    With ``ready_dir``, Sphinx reads each page only once its marker is there (see
    tools/sphinx_ext/wait_for_execution.py).
    """
    command = [
        sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", str(ROOT),
        "--path-output", str(output), "--warningiserror", "--nitpick", "--keep-going",
    ]
    if full:
        command.append("--all")
    env = dict(os.environ)
    env.pop(READY_DIR_ENV, None)
    if ready_dir is not None:
        env[READY_DIR_ENV] = str(ready_dir)
    return subprocess.Popen(command, env=env)


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, default=ROOT, help="folder that gets _build/ (default: repository root)")
    parser.add_argument(
        "--workers", type=int, default=DEFAULT_WORKERS, help=f"pages executed at once (default {DEFAULT_WORKERS})",
    )
    parser.add_argument(
        "--serial", action="store_true",
        help="execute one page at a time, then start Sphinx: each page's execution time is its own",
    )
    args = parser.parse_args(argv)
    if args.serial:
        args.workers = 1
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    output = args.output.resolve()
    build = output / "_build"
    cache_dir = build / ".jupyter_cache"
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    timeout = config.get("execute", {}).get("timeout", 300)

    t0 = time.perf_counter()
    inputs, stamp = inputs_fingerprint(), build / "inputs-fingerprint.txt"
    if stamp.exists() and stamp.read_text() == inputs and (build / "html" / "index.html").exists():
        report = {"cache_invalidated": False, "executed": [], "chapter_seconds": {}, "executed_by_sphinx": 0,
                  "up_to_date": True, "seconds": {"total": round(time.perf_counter() - t0, 3)}}
        (build / "build-report.json").write_text(json.dumps(report, indent=2) + "\n")
        print(f"Nothing changed since the last build: the site in {build / 'html'} is up to date.")
        return
    stamp.unlink(missing_ok=True)
    shutil.rmtree(build / "reports", ignore_errors=True)
    invalidated = prepare_cache(cache_dir, build / ".doctrees")
    order = execution_order(pages())
    ready_dir = None if args.serial else build / ".ready"
    if ready_dir is not None:
        shutil.rmtree(ready_dir, ignore_errors=True)
        ready_dir.mkdir(parents=True)
        (ready_dir / "order.json").write_text(json.dumps([docname(p) for p in order]))
    t1 = time.perf_counter()
    sphinx = None if args.serial else start_sphinx(output, full=invalidated, ready_dir=ready_dir)
    try:
        before = cache_state(cache_dir)  # before any page runs: whatever changes after is this build's
        executed = execute_stale(cache_dir, order, timeout, args.workers, build / "reports", ready_dir)
    except BaseException:
        if sphinx is not None:
            stop(sphinx)
        raise
    t2 = time.perf_counter()
    if sphinx is None:
        sphinx = start_sphinx(output, full=invalidated)
    staged = build / "executed"  # prepared on this core while Sphinx works on the other
    shutil.rmtree(staged, ignore_errors=True)
    export_executed_notebooks(cache_dir, staged, order)
    if sphinx.wait():
        raise SystemExit(f"jupyter-book build failed (exit status {sphinx.returncode})")
    if ready_dir is not None and not (ready_dir / "sphinx.started").exists():
        raise SystemExit("Sphinx did not load tools/sphinx_ext/wait_for_execution.py (see _config.yml): "
                         "it may have executed pages itself, at the same time as this build")
    shutil.copytree(staged, build / "html" / "_sources", dirs_exist_ok=True)
    t3 = time.perf_counter()
    # Every cache entry made since the build began is a page the pool executed; any other would be
    # one that Sphinx executed itself (which wait_for_execution.py forbids).
    after = cache_state(cache_dir)
    changed = [pk for pk, created in after.items() if before.get(pk) != created]
    sphinx_executed = max(0, len(changed) - len(executed))

    report = {
        "cache_invalidated": invalidated,
        "executed": sorted(executed),
        "chapter_seconds": executed,
        "executed_by_sphinx": sphinx_executed,
        "up_to_date": False,
        "seconds": {"execute": round(t2 - t1, 3), "sphinx": round(t3 - t2, 3), "total": round(t3 - t0, 3)},
        "workers": args.workers,
        "serial": args.serial,
    }
    (build / "build-report.json").write_text(json.dumps(report, indent=2) + "\n")
    stamp.write_text(inputs)
    site = build / "html" / "index.html"
    print(f"\nExecuted {len(executed)} page(s) in {t2 - t1:.1f} s; built in {t3 - t0:.1f} s.")
    print(f"The site is in {site.parent}; open {site} or run `make serve`.")


if __name__ == "__main__":
    main()
