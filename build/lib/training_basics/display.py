"""Show the package's own source in a notebook: the code the reader reads is the code that runs."""

import inspect
from pathlib import Path


def show_source(obj):
    """The source of a function, class or module as a Markdown code block, headed by its file and lines.

    A decorated function shows its own source, decorator line included.
    Markdown output renders as a highlighted code block both on the built site
    (myst-nb parses it) and in JupyterLab.

    Taught in: book/intro.md (and used in every chapter)
    """
    from IPython.display import Markdown

    obj = inspect.unwrap(obj)
    lines, first = inspect.getsourcelines(obj)
    package_root = Path(__file__).resolve().parent.parent
    where = Path(inspect.getsourcefile(obj)).resolve().relative_to(package_root).as_posix()
    span = f"lines {max(first, 1)}–{max(first, 1) + len(lines) - 1}"
    fence = "````" if any(line.lstrip().startswith("```") for line in lines) else "```"
    return Markdown(f"{fence}python\n# code/{where}, {span}\n{''.join(lines).rstrip()}\n{fence}")
