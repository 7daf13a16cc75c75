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
    assert CHAPTER.says("Building twice gives the same numbers, because all randomness is seeded.")
    tf.random.uniform([5])  # whatever ran before
    a, b = tb.synthesize(), tb.synthesize()
    assert np.array_equal(a.x.numpy(), b.x.numpy()) and np.array_equal(a.y.numpy(), b.y.numpy())
    first, second = tb.Model.random(seed=4), tb.Model.random(seed=4)
    assert (float(first.w), float(first.b)) == (float(second.w), float(second.b))


def test_intro__has_no_exercises_so_no_solution_to_run():
    assert CHAPTER.run_solutions_alone() == []


def test_intro__cross_references_read_as_sentences():
    assert CHAPTER.bare_references() == []


def test_intro__hidden_cells_only_glue_values_computed_in_visible_cells():
    assert CHAPTER.hidden_computations() == []


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
    assert CHAPTER.says("The exceptions are the timings that a few pages measure as they are built; the text "
                        "quotes none of them.")
    measured_anywhere = 0
    for path in sorted((ROOT / "book").glob("*.md")):
        for options, code in Chapter(path.stem).code_cells():
            if "measured" in options:
                measured_anywhere += 1
                assert "glue(" not in code, path.name
    assert measured_anywhere >= 3
