"""The learning-rate chapter's interactive figure: deterministic HTML that needs nothing off the site,
and, in headless Chromium against the built site, a chart that renders with no console error and no
off-site request, and redraws when its slider is moved with the keyboard.

The browser test uses the session's build of the book, served, and the offline Chromium (conftest.py):
an off-site request fails there, and is reported.
"""

import re

import numpy as np
import pytest

import training_basics as tb
import training_basics.interactive

pytestmark = pytest.mark.browser

PAGE = "book/learning-rate.html"
RATES = np.round(np.arange(1, 23) * 0.05, 2)


@pytest.fixture(scope="module")
def spec():
    x, y = tb.synthesize()
    return x, y, tb.interactive.learning_rate_explorer(x, y, tb.sweep(x, y, RATES))


def test_the_html_is_the_same_bytes_on_every_call_and_loads_nothing_off_the_site(spec):
    x, y, chart = spec
    again = tb.interactive.learning_rate_explorer(x, y, tb.sweep(x, y, RATES))
    html = tb.interactive.embed_html(chart, "lr-explorer", "../_static/vega/vega-bundle.js", "text").data
    bundle = "../_static/vega/vega-bundle.js"
    assert html == tb.interactive.embed_html(again, "lr-explorer", bundle, "text").data
    assert re.findall(r'src="([^"]+)"', html) == ["../_static/vega/vega-bundle.js"]
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert chart["description"] and chart["params"][0]["bind"]["name"].strip()


def test_the_slider_steps_through_exactly_the_sweeps_learning_rates(spec):
    _, _, chart = spec
    bind = chart["params"][0]["bind"]
    etas = sorted({row["eta"] for row in chart["datasets"]["runs"]})
    assert np.allclose(np.arange(bind["min"], bind["max"] + bind["step"] / 2, bind["step"]), etas)


def test_start_and_optimum_are_marked_as_in_the_chapters_other_figures(spec):
    """A black diamond at the start, a gold star at the optimum (it was a black diamond at the optimum)."""
    x, y, chart = spec
    marks = [(layer["mark"], layer["data"].get("values")) for layer in chart["hconcat"][0]["layer"]]
    points = {mark.get("shape"): (mark, values[0]) for mark, values in marks if mark["type"] == "point"}
    diamond, start = points["diamond"]
    assert diamond["color"] == "black" and diamond["filled"] and (start["w"], start["b"]) == (2.0, 1.0)
    star, optimum = points[tb.interactive.STAR]
    assert star["fill"] == "gold" and star["stroke"] == "black"
    assert (optimum["w"], optimum["b"]) == pytest.approx(tuple(tb.closed_form(x, y)))
    corners = np.array(re.findall(r"(-?[\d.]+),(-?[\d.]+)", star["shape"]), dtype=float)
    assert len(corners) == 10 and np.abs(corners).max() <= 1  # five points, drawn within [-1, 1]


def test_bad_element_id_is_named(spec):
    with pytest.raises(ValueError, match="element_id must be letters, digits and '-', got 'a b'"):
        tb.interactive.embed_html(spec[2], "a b", "x.js", "text")


def test_the_extension_writes_the_bundle_and_its_notice(tmp_path):
    from sphinx_ext import vega_bundle as ext

    class App:
        outdir = str(tmp_path)
        builder = type("Builder", (), {"format": "html"})()

    ext.write_bundle(App())
    bundle = tmp_path / "_static" / "vega" / "vega-bundle.js"
    assert bundle.stat().st_size > 500_000 and "window.vegaEmbed" in bundle.read_text()
    assert "BSD 3-Clause" in (bundle.parent / "NOTICE.txt").read_text()


# --- in the browser ---------------------------------------------------------------------------------


def test_the_built_page_holds_the_figure_with_no_random_id(built_book):
    html = built_book / "html"
    page = (html / PAGE).read_text()
    assert page.count('id="lr-explorer"') == 1 and "../_static/vega/vega-bundle.js" in page
    assert (html / "_static" / "vega" / "vega-bundle.js").is_file()
    assert "fig-lr-paths" in page  # the static figure, for print and readers without JavaScript


@pytest.mark.browser
def test_the_chart_renders_offline_and_the_keyboard_slider_redraws_it(browser, site):
    problems = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url}"))
        page.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text}"))
        page.on("pageerror", lambda e: problems.append(f"uncaught: {e}"))
        page.goto(site + PAGE, wait_until="load")
        page.wait_for_selector("#lr-explorer svg g.mark-line path", timeout=20_000)
        paths = ("() => [...document.querySelectorAll('#lr-explorer svg g.mark-line path')]"
                 ".map(p => p.getAttribute('d'))")
        before = page.evaluate(paths)
        slider = page.locator("#lr-explorer input[type=range]")
        assert slider.count() == 1
        label = slider.evaluate("s => (s.labels && s.labels.length ? s.labels[0].textContent : '')")
        assert "learning rate" in label
        assert "slider" in page.locator("#lr-explorer").get_attribute("aria-label")  # the spec's description
        value = slider.input_value()
        slider.focus()
        page.keyboard.press("ArrowRight")
        moved = f"() => document.querySelector('#lr-explorer input[type=range]').value !== '{value}'"
        page.wait_for_function(moved)
        page.wait_for_timeout(300)
        after = page.evaluate(paths)
        assert before != after, "moving the slider did not change what is drawn"
        assert page.locator("#lr-explorer-text").inner_text().startswith("Text alternative")
    finally:
        context.close()
    assert not problems, problems
