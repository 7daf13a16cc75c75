"""Claims in book/intro.md, one test per claim, named after the chapter and section."""

import re
from pathlib import Path

import numpy as np
import tensorflow as tf
from chapter import Chapter

import training_basics as tb

ROOT = Path(__file__).resolve().parents[2]
CHAPTER = Chapter("intro")


def test_intro__running_the_chapters_yourself__make_lab_opens_the_chapters_as_notebooks():
    # The old sentence promised notebooks to anyone with jupytext installed; only Binder made it true.
    assert "with `jupytext` installed, the chapters' Markdown files open as notebooks" not in CHAPTER.prose
    assert CHAPTER.says("To work on the chapters as notebooks, run `make lab`.")
    assert CHAPTER.says("makes jupytext's notebook view JupyterLab's default for Markdown files in the "
                        "project's `.venv`")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^lab:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe, "the Makefile has no lab target"
    assert "postBuild" in recipe.group(1) and "jupyter lab" in recipe.group(1)
    overrides = (ROOT / "jupyterlab-settings" / "overrides.json").read_text(encoding="utf-8")
    assert '"markdown": "Jupytext Notebook"' in overrides
    assert "overrides.json" in (ROOT / "postBuild").read_text(encoding="utf-8")


def test_intro__what_you_will_build__the_l2_loss_is_the_mean_of_squared_errors():
    assert CHAPTER.says("the L2 loss, the mean of squared errors")
    y, y_hat = tf.constant([1.0, 2.0, 3.0]), tf.constant([1.0, 0.0, 6.0])
    assert float(tb.l2_loss(y, y_hat)) == np.mean(np.square(y.numpy() - y_hat.numpy()))


def test_intro__how_to_read_this_book__building_twice_gives_the_same_numbers():
    assert CHAPTER.says("Building twice, on the same machine and with the locked versions of the tools, "
                        "gives the same numbers, because all randomness is seeded.")
    tf.random.uniform([5])  # whatever ran before
    a, b = tb.synthesize(), tb.synthesize()
    assert np.array_equal(a.x.numpy(), b.x.numpy()) and np.array_equal(a.y.numpy(), b.y.numpy())
    first, second = tb.Model.random(seed=4), tb.Model.random(seed=4)
    assert (float(first.w), float(first.b)) == (float(second.w), float(second.b))


def toc_parts():
    """[(caption, [chapter names])] of _toc.yml, in reading order."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    return [(part["caption"], [Path(entry["file"]).name for entry in part["chapters"]])
            for part in toc["parts"]]


def test_intro__what_you_will_build__says_what_each_part_and_the_appendix_do():
    """The old intro listed Part I's chapters only, as if the book were Part I."""
    parts = dict(toc_parts())
    assert list(parts)[:3] == ["Custom training, step by step", "Beyond the lab", "Appendix"]
    assert CHAPTER.says("**Part I, *Custom training, step by step*,** follows the lab.")
    assert CHAPTER.says("**Part II, *Beyond the lab*,** asks what the lab leaves out.")
    assert CHAPTER.says("**The appendix** runs the loop with `tf.distribute`")
    for caption in ("Custom training, step by step", "Beyond the lab", "Appendix"):
        for name in parts[caption]:
            assert f"{{ref}}`chapter-{name}`" in CHAPTER.source, name


def test_intro__no_fit_and_no_optimizer_object_is_said_of_part_i_only():
    """The old first lines said "No `model.fit`, no optimizer object" of the whole book; Part II uses both."""
    assert "No `model.fit`,\nno optimizer object" not in CHAPTER.source
    assert CHAPTER.says("Its first part follows the original lab and trains with no `model.fit` and no "
                        "optimizer object")
    parts = dict(toc_parts())
    part_one, part_two = parts["Custom training, step by step"], parts["Beyond the lab"]
    for name in part_one:
        source = Chapter(name).source
        assert ".fit(" not in source and "train_with_optimizer" not in source, name
        # the one optimizer in Part I shows what it does with a gradient of None, and trains nothing
        assert source.count("keras.optimizers.") == (1 if name == "gradients" else 0), name
    part_two_sources = "".join(Chapter(name).source for name in part_two)
    assert "keras.optimizers.SGD(" in part_two_sources and ".fit(" in part_two_sources


def test_intro__how_to_read_this_book__timings_are_measured_afresh_and_never_quoted():
    """Building twice gives the same numbers except the timings of `measured` cells, which no glue quotes."""
    assert CHAPTER.says("The exceptions are timings: those that a few pages measure as they are built, and "
                        "the run times on {ref}`the build's status page <status>`; the text quotes none of "
                        "them.")
    status = Chapter("status")
    assert "```{nb-exec-table}" in status.source
    assert "*Run Time* is how long that execution took" in status.prose
    assert "glue(" not in status.source
    measured_anywhere = 0
    for path in sorted((ROOT / "book").glob("*.md")):
        for options, code in Chapter(path.stem).code_cells():
            if "measured" in options:
                measured_anywhere += 1
                assert "glue(" not in code, path.name
    assert measured_anywhere >= 3


def test_intro__how_to_read_this_book__the_same_numbers_only_with_the_locked_versions():
    """Review: "Building twice gives the same numbers" held only with the same TensorFlow: the stateless draws
    every seed goes through are documented, by the locked version itself, to change between versions."""
    assert not CHAPTER.says("Building twice gives the same numbers, because all randomness is seeded.")
    assert CHAPTER.says("Building twice, on the same machine and with the locked versions of the tools")
    doc = " ".join(tf.random.stateless_normal.__doc__.split())
    assert "may change between versions of TensorFlow or on non-CPU/GPU hardware" in doc
    # every seeded draw of the package is a stateless one: the data's and the random start's
    package = ROOT / "code" / "training_basics"
    for module in ("data.py", "model.py"):
        assert "tf.random.stateless_normal(" in (package / module).read_text(encoding="utf-8"), module


def test_intro__running_the_chapters_yourself__colab_keeps_its_own_tensorflow_whose_numbers_may_differ():
    """Review: the Colab notebooks have the numbers written in, but run Colab's TensorFlow, which need not be
    the locked one; the locked TensorFlow documents that its stateless random numbers may then change."""
    assert CHAPTER.says("Colab's own TensorFlow is kept. That may be another version than the one this site "
                        "was built with, and TensorFlow documents that its seeded random numbers may change "
                        "between versions, so in Colab the numbers a chapter computes may differ from the "
                        "ones written in the chapter.")
    doc = " ".join(tf.random.stateless_normal.__doc__.split())
    assert "may change between versions of TensorFlow" in doc
    colab = (ROOT / "tests" / "test_reader_paths.py").read_text(encoding="utf-8")
    colab_tf = re.search(r'COLAB_TENSORFLOW, COLAB_KERAS = "[^"]+", "tensorflow==([\d.]+)"', colab).group(1)
    assert colab_tf != tf.__version__  # the Colab the tests model runs another TensorFlow than the lock


def test_intro__how_to_read_this_book__summary_and_exercises_end_the_chapters_of_the_parts_only():
    """Review: "Each chapter ... ends with a short summary and exercises": the intro and the status page have
    neither; the chapters of Part I, Part II and the appendix all do."""
    assert "Each chapter runs top to bottom on its own and ends with a short summary" not in CHAPTER.prose
    assert CHAPTER.says("Each chapter of the two parts and the appendix ends with a short summary and "
                        "exercises")
    parts = dict(toc_parts())
    chapters = [name for caption in ("Custom training, step by step", "Beyond the lab", "Appendix")
                for name in parts[caption]]
    assert len(chapters) == 12
    for name in chapters:
        source = Chapter(name).source
        assert re.search(r"^## Summary$", source, re.M) and re.search(r"^## Exercises$", source, re.M), name
        assert Chapter(name).solutions(), name
    for name in ("intro", "status"):
        assert "## Summary" not in Chapter(name).source and "## Exercises" not in Chapter(name).source


def test_intro__what_you_will_build__the_rebinding_is_written_as_the_updates_chapter_writes_it():
    """Review: the intro promised "why `w = w - lr * g` breaks training"; the chapter shows
    `w = w - learning_rate * dw`."""
    assert "`w = w - lr * g`" not in CHAPTER.prose
    assert CHAPTER.says("see why `w = w - learning_rate * dw` breaks training ({ref}`chapter-updates`)")
    updates = Chapter("updates")
    assert updates.says("## Why not `w = w - learning_rate * dw`?")
    assert any(code.splitlines()[0] == "w = w - learning_rate * dw" for _, code in updates.code_cells())
