"""The package as a whole: every public function and class of every module names the chapter that
teaches it ("Taught in: book/<chapter>.md"), and that chapter exists, so whoever edits a function
knows which pages change."""

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import training_basics

BOOK = Path(__file__).resolve().parent.parent / "book"
MODULES = sorted(m.name for m in pkgutil.iter_modules(training_basics.__path__) if m.name != "__main__")


def public(module):
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj) or inspect.isclass(obj):
            yield name, obj


@pytest.mark.parametrize("name", MODULES)
def test_every_public_name_says_which_chapter_teaches_it(name):
    module = importlib.import_module(f"training_basics.{name}")
    for attribute, obj in public(module):
        doc = inspect.getdoc(obj) or ""
        if attribute == "Figure":  # matplotlib's Figure, made to display itself: taught by every figure
            continue
        match = re.search(r"Taught in: (.+)", doc)
        assert match, f"{module.__name__}.{attribute} names no chapter"
        chapters = re.findall(r"book/([\w-]+)\.md", match.group(1))
        assert chapters, f"{module.__name__}.{attribute}: {match.group(0)!r} names no book/<chapter>.md"
        for chapter in chapters:
            assert (BOOK / f"{chapter}.md").is_file(), f"{module.__name__}.{attribute}: no book/{chapter}.md"
