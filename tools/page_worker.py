"""The process that executes one page for tools/build.py.

It is jupyter-cache's own worker (it runs the page in the page's folder and caches the
executed notebook), with one change: once the page's last cell has run, the kernel is
stopped at once (nbclient's ``shutdown_kernel="immediate"``) instead of being asked to shut
down. Every output is in by then, since each cell waits for the kernel's reply and its idle
status; a graceful shutdown would only make the kernel spend more than a second of CPU
finalizing TensorFlow and Python, a fifth of what a whole page costs.
"""

from pathlib import Path

from jupyter_cache.executors.basic import ExecutionWorkerLocalMProc
from jupyter_cache.executors.utils import single_nb_execution


class PageWorker(ExecutionWorkerLocalMProc):
    @staticmethod
    def execute(project_nb, data):
        return single_nb_execution(
            project_nb.nb,
            cwd=str(Path(project_nb.uri).parent),
            timeout=data.timeout,
            allow_errors=data.allow_errors,
            shutdown_kernel="immediate",
        )
