"""The package as a whole: its public API is ``training_basics.__all__`` and the functions the chapters
call as ``tb.<module>.<name>``. Each public name says which chapter teaches it ("Taught in:
book/<chapter>.md"), and that chapter exists, so whoever edits it knows which pages change; everything
else a module defines is a helper, named with a leading underscore."""

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import training_basics

BOOK = Path(__file__).resolve().parent.parent / "book"
MODULES = sorted(m.name for m in pkgutil.iter_modules(training_basics.__path__) if m.name != "__main__")
CHAPTER_CALLS = sorted(set(re.findall(r"\btb\.([a-z_]+)\.([A-Za-z]\w*)", "\n".join(
    path.read_text(encoding="utf-8") for path in BOOK.glob("*.md")))))


def defined_in(module):
    """The functions and classes ``module`` defines (not those it imports), by name."""
    return {name: obj for name, obj in vars(module).items()
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == module.__name__}


def public_api():
    """(qualified name, object) of every name of __all__ that is a function or class, and of every
    function or class of a module that a chapter calls as tb.<module>.<name>."""
    api = [(f"training_basics.{name}", getattr(training_basics, name)) for name in training_basics.__all__]
    for module, name in CHAPTER_CALLS:
        if module in MODULES:
            api.append((f"training_basics.{module}.{name}",
                        getattr(importlib.import_module(f"training_basics.{module}"), name)))
    return [(name, obj) for name, obj in api if inspect.isfunction(obj) or inspect.isclass(obj)]


def test_all_is_sorted_and_every_name_in_it_exists():
    assert training_basics.__all__ == sorted(training_basics.__all__)
    for name in training_basics.__all__:
        assert hasattr(training_basics, name), name


def test_every_chapter_call_of_a_module_function_exists():
    modules = [(module, name) for module, name in CHAPTER_CALLS if module in MODULES]
    assert len(modules) > 20  # plots, compiled, distributed, reference, ...
    for module, name in modules:
        assert hasattr(importlib.import_module(f"training_basics.{module}"), name), f"tb.{module}.{name}"


@pytest.mark.parametrize("name, obj", public_api(), ids=[name for name, _ in public_api()])
def test_every_public_name_says_which_chapter_teaches_it(name, obj):
    match = re.search(r"Taught in: (.+)", inspect.getdoc(obj) or "")
    assert match, f"{name} names no chapter"
    chapters = re.findall(r"book/([\w-]+)\.md", match.group(1))
    assert chapters, f"{name}: {match.group(0)!r} names no book/<chapter>.md"
    for chapter in chapters:
        assert (BOOK / f"{chapter}.md").is_file(), f"{name}: no book/{chapter}.md"


@pytest.mark.parametrize("module_name", MODULES)
def test_what_is_not_public_api_is_a_helper_with_a_leading_underscore(module_name):
    module = importlib.import_module(f"training_basics.{module_name}")
    public = {id(obj) for _, obj in public_api()}
    public.add(id(training_basics.plots.Figure))  # the type every plot function returns: every figure
    for name, obj in defined_in(module).items():
        if not name.startswith("_"):
            assert id(obj) in public, (f"{module.__name__}.{name} is in no chapter and not in __all__: a "
                                       f"helper, to be named _{name}")
