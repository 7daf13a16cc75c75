"""Sphinx extension: a plain ``jupyter-book build`` reads only the book's pages, executes the stale
ones in parallel, and never shows an output older than the code that made it.

* Fresh (correctness): jupyter-cache hashes only a page's code cells and kernelspec, so an edit in
  ``code/`` or the lock would leave every page with old outputs. A fingerprint of the package, the
  lock, the execution settings and Python is kept in the execution cache; when it differs, the
  cache and Sphinx's saved pages are emptied before Sphinx loads them.
* Parallel (speed, see benchmarks/README.md): myst-nb executes pages one at a time while Sphinx
  reads them. Before Sphinx reads, the pages it is about to read whose code has no cache entry are
  executed by jupyter-cache's parallel executor (``jcache project execute --executor
  local-parallel``); myst-nb then finds every page in the cache.
* Only what _toc.yml names is read (``include_patterns``): an allow-list, so a stray virtual
  environment in a hidden folder cannot put its READMEs into the book.
* Downloads: the .ipynb offered on each page is the executed notebook (myst-nb's copy has no
  outputs), its cell ids made from their position (nbformat draws random ones): two builds, one file.

``BOOK_EXECUTOR=local-serial`` executes one page at a time, so that each page's time is its own
(``make bench``). ``_build/execution.json`` says what this build executed, and how long each page took.
"""

import hashlib
import json
import logging as stdlib_logging
import os
import shutil
import sys
import time
from pathlib import Path

from jupyter_cache import get_cache
from jupyter_cache.executors.basic import (
    ExecutionWorkerLocalMProc,
    ExecutionWorkerLocalSerial,
    JupyterExecutorLocalMproc,
    JupyterExecutorLocalSerial,
)
from jupyter_cache.executors.utils import single_nb_execution
from myst_nb.ext import execution_tables
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)
FINGERPRINT = "book-fingerprint.txt"
REPORT = "execution.json"
# myst-nb's reader of MyST Markdown notebooks: the cached notebook then hashes as the one Sphinx reads.
READ_DATA = {"name": "myst_nb_md", "type": "plugin"}


def merge_streams(outputs):
    """Consecutive outputs of one stream joined, text exactly as written. The kernel flushes a print
    on a timer, sometimes between the text and its newline, and myst-nb's own merge then adds a blank
    line: merged here first, two builds give the same page whatever the machine's load."""
    merged = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if output.output_type == "stream" and previous and previous.get("name") == output.name:
            previous.text += output.text
        else:
            merged.append(output)
    return merged


def _execute(project_nb, data):
    # Once the last cell has run, the kernel is stopped at once: a graceful shutdown spends about
    # 1.3 s of CPU per page finalizing TensorFlow, after every output has arrived.
    result = single_nb_execution(project_nb.nb, cwd=str(Path(project_nb.uri).parent), timeout=data.timeout,
                                 allow_errors=data.allow_errors, shutdown_kernel="immediate")
    for cell in project_nb.nb.cells:
        if cell.cell_type == "code":
            cell.outputs = merge_streams(cell.outputs)
    return result


class ParallelWorker(ExecutionWorkerLocalMProc):
    execute = staticmethod(_execute)


class SerialWorker(ExecutionWorkerLocalSerial):
    execute = staticmethod(_execute)


class ParallelExecutor(JupyterExecutorLocalMproc):
    _EXECUTION_WORKER = ParallelWorker


class SerialExecutor(JupyterExecutorLocalSerial):
    _EXECUTION_WORKER = SerialWorker


EXECUTORS = {"local-parallel": ParallelExecutor, "local-serial": SerialExecutor}


def fingerprint(root, config):
    """A hash of everything outside the pages' code cells that can change their outputs."""
    digest = hashlib.sha256(sys.version.encode())
    files = sorted((root / "code").rglob("*.py")) + [root / "pyproject.toml", root / "requirements.lock"]
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
    settings = {k: repr(config[k]) for k in sorted(config.values) if k.startswith("nb_execution")}
    digest.update(json.dumps(settings).encode())
    return digest.hexdigest()


def _cache_path(app):
    return Path(app.config.nb_execution_cache_path or Path(app.outdir).parent / ".jupyter_cache")


def config_inited(app, config):
    site_map = config.external_site_map  # _toc.yml, parsed by sphinx-external-toc
    config.include_patterns = [f"{doc}{suffix}" for doc in site_map for suffix in config.source_suffix]
    cache = _cache_path(app)
    stamp = cache / FINGERPRINT
    current = fingerprint(Path(app.srcdir), config)
    app.book_started, app.book_cache_emptied = time.time(), False
    if not (stamp.exists() and stamp.read_text() == current):
        for stale in (cache, Path(app.doctreedir)):  # Sphinx loads its saved pages after this event
            shutil.rmtree(stale, ignore_errors=True)
        cache.mkdir(parents=True)
        stamp.write_text(current)
        app.book_cache_emptied = True


def execute_stale(app, env, docnames):
    t0 = time.perf_counter()
    cache = get_cache(str(_cache_path(app)))
    stale = []
    # The longest pages first, so that none is left running alone at the end.
    for path in sorted((Path(env.doc2path(d)) for d in docnames), key=lambda p: -p.stat().st_size):
        record = cache.add_nb_to_project(str(path), read_data=READ_DATA)
        if cache.get_cached_project_nb(record.pk) is None:
            stale.append(record.pk)
    name = os.environ.get("BOOK_EXECUTOR", "local-parallel")
    if name not in EXECUTORS:
        raise ExtensionError(f"BOOK_EXECUTOR={name!r}: expected one of {sorted(EXECUTORS)}")
    seconds = {}
    if stale:
        logger.info(f"executing {len(stale)} page(s) with {name}")
        quiet = stdlib_logging.getLogger("book.execution")
        quiet.setLevel(stdlib_logging.WARNING)
        result = EXECUTORS[name](cache, logger=quiet).run_and_cache(
            filter_pks=stale, timeout=app.config.nb_execution_timeout, allow_errors=False)
        failed = result.excepted + result.errored
        reports = Path(app.outdir).parent / "reports"
        for uri in failed:
            reports.mkdir(exist_ok=True)
            traceback = cache.get_project_record(uri).traceback or "(no traceback: see the log above)"
            (reports / f"{Path(uri).stem}.log").write_text(traceback)
            logger.error(f"executing {Path(uri).name} failed:\n{traceback}")
        if failed:
            raise ExtensionError(f"{len(failed)} page(s) failed to execute; tracebacks in {reports}")
        for uri in result.succeeded:
            record = cache.get_cached_project_nb(uri)  # None if the page was edited meanwhile
            seconds[env.path2doc(uri)] = record.data.get("execution_seconds") if record else None
    seconds_in_all = round(time.perf_counter() - t0, 3)
    app.book_execution = {"executor": name, "executed": seconds, "seconds": seconds_in_all}


def write_report(app, exception):
    """What this build executed; ``executed_by_myst_nb`` counts pages that myst-nb executed itself (0)."""
    report = getattr(app, "book_execution", {"executed": {}})
    records = get_cache(str(_cache_path(app))).list_cache_records()
    made = [r for r in records if r.created.timestamp() > app.book_started]
    report["executed_by_myst_nb"] = len(made) - len(report["executed"])
    report["cache_emptied"] = app.book_cache_emptied
    (Path(app.outdir).parent / REPORT).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


def export_executed_notebooks(app, exception):
    """The .ipynb downloads hold the outputs (myst-nb's copies have none), ids made from position,
    streams merged: two builds give the same files."""
    if exception is not None:
        return
    import nbformat
    from jupyter_cache.readers import get_reader

    cache, read = get_cache(str(_cache_path(app))), get_reader(READ_DATA)
    for target in (Path(app.outdir) / "_sources").rglob("*.ipynb"):
        docname = target.relative_to(Path(app.outdir) / "_sources").with_suffix("").as_posix()
        try:
            _, notebook = cache.merge_match_into_notebook(read(app.env.doc2path(docname)))
        except KeyError:
            logger.warning(f"{docname}: its code changed during the build; no executed notebook to offer")
            continue
        notebook.metadata.pop("source_map", None)
        for i, cell in enumerate(notebook.cells):
            cell.id = f"cell-{i}"
            if cell.cell_type == "code":  # merged already, unless myst-nb executed the page itself
                cell.outputs = merge_streams(cell.outputs)
        nbformat.write(notebook, str(target))


def setup(app):
    # The status page's execution table: no "Modified" column, the one thing that differed between
    # two builds of one commit besides the run times it exists to show.
    execution_tables._key2header.pop("mtime", None)
    app.connect("config-inited", config_inited, priority=900)  # after sphinx-external-toc's
    app.connect("env-before-read-docs", execute_stale)
    app.connect("build-finished", export_executed_notebooks)
    app.connect("build-finished", write_report)
    return {"parallel_read_safe": False, "parallel_write_safe": True}
