"""The site as a browser meets it: headless Chromium against the built book served on 127.0.0.1.

Every request that does not go to the local server fails (no host name resolves) and is recorded:
the site must work with no network (MathJax is served by the site: tools/sphinx_ext/local_mathjax.py).
Each page is visited once, in a fresh browser context, as a first-time reader arrives (nothing
cached; the browser asks for the page's icon, or for /favicon.ico if none is declared); the
tests then check what was recorded (console errors, failed or external requests, any 4xx/5xx the
server sent, images, math, accessibility) and write a screenshot of every page to
_build/screenshots/. Other tests click through the site: next/previous, search, the phone menus,
and the download menu, whose links must save the chapter's .md and its executed .ipynb.

Needs Chromium (`apt-get install chromium`, at /usr/bin/chromium or $CHROMIUM) and axe-core
(`npm ci` in the repository root). Without them the tests skip, saying so; in CI they fail.
"""

import json
import time
from urllib.parse import parse_qs, urljoin, urlsplit

import lab_driver
import pytest
import yaml

from conftest import ROOT, bookbuild

pytestmark = pytest.mark.browser

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "_build" / "screenshots"
VIEWPORT = {"width": 1280, "height": 900}

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
CHAPTERS = [bookbuild.docname(p) for p in bookbuild.pages()]  # "book/intro", ...
READER_CHAPTERS = [bookbuild.docname(p) for p in bookbuild.chapters()]  # with notebooks to run elsewhere
# index.html only redirects to the first chapter; it is visited for its redirect.
PAGES = ["index.html"] + [f"{c}.html" for c in CHAPTERS] + ["search.html", "genindex.html"]

# What each page records, in the browser, once it has loaded and MathJax has finished.
INSPECT = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await document.fonts.ready;
  const images = await Promise.all([...document.images].map(async (img) => {
    img.loading = "eager";
    let decoded = true;
    try { await img.decode(); } catch (e) { decoded = false; }
    return {src: img.getAttribute("src"), alt: (img.getAttribute("alt") || "").trim(),
            decoded, width: img.naturalWidth};
  }));
  const article = document.querySelector("article") || document.body;
  const prose = article.cloneNode(true);
  prose.querySelectorAll("pre, code, script, style, mjx-container, .highlight").forEach((e) => e.remove());
  const math = [...document.querySelectorAll("span.math, div.math")];
  const link = (sel) => { const a = document.querySelector(sel); return a ? a.href : null; };
  return {
    url: location.href,
    images,
    mathjax: !!window.MathJax,
    math: math.length,
    math_untypeset: math.filter((m) => !m.querySelector("mjx-container"))
      .map((m) => m.textContent.slice(0, 80)),
    mjx: document.querySelectorAll("mjx-container").length,
    mjx_errors: [...document.querySelectorAll("mjx-merror")]
      .map((e) => e.getAttribute("data-mjx-error") || e.textContent),
    prose: prose.textContent,
    buttons: {
      binder: link("a.dropdown-item[href*='/v2/gh/']"),
      thebe: !!document.querySelector("button.btn-launch-thebe"),
      source: link("a.btn-download-source-button"),
      notebook: link("a.btn-download-notebook-button"),
      thebe_config: (document.querySelector("script[type='text/x-thebe-config']") || {}).textContent || "",
    },
    // Search fields a reader can see (the theme once showed a second one in a stray top bar).
    search_fields: [...document.querySelectorAll(".search-button__button")]
      .filter((b) => b.checkVisibility({visibilityProperty: true})).length,
  };
}"""

# axe-core on the page as it is (light mode), then colour contrast again in dark mode, which
# readers whose system prefers dark get by default.
AXE_RUN = """async (rules) => {
  const options = {resultTypes: ["violations"]};
  if (rules) options.runOnly = rules;
  const result = await axe.run(document, options);
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => n.target.join(" ") + (n.any[0] && n.any[0].data && n.any[0].data.contrastRatio
      ? ` (${n.any[0].data.fgColor} on ${n.any[0].data.bgColor}: ${n.any[0].data.contrastRatio})` : "")),
  }));
}"""
SET_THEME = """async (theme) => {
  // At once, as on a page loaded in that mode: no colour caught half-way through a transition.
  const still = document.createElement("style");
  still.textContent = "*, *::before, *::after { transition: none !important; }";
  document.head.append(still);
  document.documentElement.dataset.theme = theme;
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
}"""


@pytest.fixture(scope="module", autouse=True)
def _browser_tools():
    """Skip (before building anything) where the browser or axe-core is missing."""
    lab_driver.skip_without_chromium()
    if not AXE.is_file():
        pytest.skip(f"axe-core not found at {AXE.relative_to(ROOT)}: run `npm ci` in the repository root")


class Tab:
    """A page in a browser context of its own (a first visit: nothing cached), whose every console
    error, failed request and off-site request is recorded."""

    def __init__(self, browser, base):
        self.base = base
        self.context = browser.new_context(viewport=VIEWPORT, color_scheme="light", service_workers="block")
        # Requests are watched, not routed: with request interception on, Chromium asks for no icon,
        # and a missing favicon would pass unseen. Off-site requests fail by themselves (OFFLINE).
        self.context.on("request", self._request)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self._problem(f"uncaught exception: {error}"))
        self.page.on("requestfailed", self._failed)
        self.page.on("response", self._response)
        self._problems = {}

    @property
    def problems(self):
        """What went wrong since the last goto, each once, in order."""
        return list(self._problems)

    def _problem(self, text):
        self._problems.setdefault(text)

    def _off_site(self, url):
        return not url.startswith((self.base, "data:", "blob:"))

    def _request(self, request):
        if self._off_site(request.url):
            self._problem(f"request off the site: {request.resource_type} {request.url}")

    def _console(self, message):
        # An off-site request's own console line says no more than _request has said.
        if message.type == "error" and "ERR_NAME_NOT_RESOLVED" not in message.text:
            self._problem(f"console error: {message.text}")

    def _failed(self, request):
        if not self._off_site(request.url):
            self._problem(f"request failed: {request.url} ({request.failure})")

    def _response(self, response):
        if response.status >= 400:
            self._problem(f"HTTP {response.status}: {response.url}")

    def goto(self, path):
        self._problems = {}
        self.page.goto(self.base + path, wait_until="load")
        self.page.wait_for_load_state("networkidle")

    def path(self):
        return self.page.url.removeprefix(self.base).split("#")[0]

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def visits(served, browser):
    """Each page visited once, as a first visit: what it recorded, its checks, axe-core's violations,
    the errors the server sent meanwhile; plus a screenshot."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    results = {}
    started = time.perf_counter()
    for path in PAGES:
        tab = Tab(browser, served.url)
        errors_before = len(served.errors)
        try:
            tab.goto(path)
            record = tab.page.evaluate(INSPECT)
            name = path.removesuffix(".html").replace("/", "-")
            # What a first-time reader sees first (a full-page shot cost up to 3 s a page).
            tab.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
            tab.page.add_script_tag(path=str(AXE))
            record["axe"] = tab.page.evaluate(AXE_RUN, None)
            tab.page.evaluate(SET_THEME, "dark")
            record["axe"] += [
                {**v, "id": f"{v['id']} (dark mode)"} for v in tab.page.evaluate(AXE_RUN, ["color-contrast"])
            ]
        except Exception as error:  # one broken page must not hide the others
            record = {"crash": f"{type(error).__name__}: {error}"}
        tab.close()
        record["problems"] = tab.problems + [f"server sent {e}" for e in served.errors[errors_before:]]
        results[path] = record
    # Every axe-core violation, with its impact and where it is, for people to read.
    axe = {path: record.get("axe", []) for path, record in results.items()}
    (SCREENSHOTS / "axe-violations.json").write_text(json.dumps(axe, indent=1) + "\n")
    print(f"\nvisited {len(PAGES)} pages in {time.perf_counter() - started:.1f} s; screenshots and "
          f"axe-violations.json in {SCREENSHOTS.relative_to(ROOT)}/")
    return results


def failures(visits, check):
    """{page: [what is wrong]} over every page, so one failure names every bad page at once."""
    found = {}
    for path, record in visits.items():
        if "crash" in record:
            found[path] = [record["crash"]]
        elif wrong := check(path, record):
            found[path] = wrong
    return found


def report(found):
    return "\n" + "\n".join(f"{page}:\n  " + "\n  ".join(wrong) for page, wrong in found.items())


def test_every_page_loads_with_no_console_error_and_no_failed_or_offsite_request(visits, served):
    """A first visit to each page: no console error, no failed or off-site request, no 4xx or 5xx
    from the server (such as /favicon.ico, asked for when a page declares no icon)."""
    found = failures(visits, lambda path, r: r["problems"])
    assert not found, report(found)
    assert not served.errors, f"the server sent errors during the visits: {served.errors}"
    assert visits["index.html"]["url"].endswith(f"{CHAPTERS[0]}.html"), \
        "index.html does not lead to the first chapter"


def test_every_image_decodes_and_has_alt_text(visits):
    def check(path, r):
        wrong = []
        for img in r["images"]:
            if not (img["decoded"] and img["width"] > 0):
                wrong.append(f"image {img['src']}: does not decode")
            elif not img["alt"]:
                wrong.append(f"image {img['src']}: no alt text")
        return wrong

    found = failures(visits, check)
    assert not found, report(found)


def test_math_is_typeset_by_the_sites_own_mathjax(visits):
    def check(path, r):
        wrong = []
        if r["math"] and not r["mathjax"]:
            wrong.append(f"{r['math']} math elements but no MathJax")
        if r["math_untypeset"]:
            wrong.append(f"math not typeset: {r['math_untypeset'][:5]}")
        if r["math"] and r["mjx"] < r["math"]:
            wrong.append(f"{r['mjx']} mjx-container for {r['math']} math elements")
        if r["mjx_errors"]:
            wrong.append(f"MathJax errors: {r['mjx_errors'][:5]}")
        for raw in ("$$", "\\[", "\\(", "\\begin{"):
            if raw in r["prose"]:
                at = r["prose"].index(raw)
                wrong.append(f"raw TeX {raw!r} in the text: {r['prose'][max(0, at - 40):at + 60]!r}")
        return wrong

    found = failures(visits, check)
    assert not found, report(found)
    assert any(r.get("mjx") for r in visits.values()), "no page has any math: is MyST's dollarmath on?"


def test_no_accessibility_violation_of_any_impact(visits):
    """axe-core finds nothing, in light mode and (colour contrast) in dark mode: not only nothing
    serious or critical, which is the bar, but nothing moderate or minor either."""
    def check(path, r):
        return [
            f"[{v['impact']}] {v['id']}: {v['help']} at {v['nodes'][:3]}"
            + (f" and {len(v['nodes']) - 3} more" if len(v["nodes"]) > 3 else "")
            for v in r["axe"]
        ]

    found = failures(visits, check)
    assert not found, report(found)


def test_launch_and_download_buttons_on_every_chapter(visits, site, built_book):
    repository = urlsplit(CONFIG["repository"]["url"]).path.strip("/")  # owner/name
    branch = CONFIG["repository"].get("branch", "master")
    binderhub = CONFIG["launch_buttons"]["binderhub_url"].rstrip("/")
    assert branch == "main", f"_config.yml's repository.branch is {branch!r}, the repository's branch is main"

    def check(path, r):
        chapter = path.removesuffix(".html")
        b, wrong = r["buttons"], []
        if not b["binder"]:
            wrong.append("no Binder button")
        else:
            url = urlsplit(b["binder"])
            expected = f"{binderhub}/v2/gh/{repository}/{branch}"
            if f"{url.scheme}://{url.netloc}{url.path}" != expected:
                wrong.append(f"Binder URL {b['binder']} is not under {expected}")
            if not parse_qs(url.query).get("urlpath", [""])[0].endswith(f"tree/{chapter}.md"):
                wrong.append(f"Binder URL {b['binder']} does not open {chapter}.md")
        if not b["thebe"]:
            wrong.append("no Thebe (live code) button")
        for setting in (f'repo: "{repository}"', f'ref: "{branch}"'):
            if setting not in b["thebe_config"]:
                wrong.append(f"Thebe's Binder settings lack {setting}")
        for kind, suffix in (("source", ".md"), ("notebook", ".ipynb")):
            expected = f"{site}_sources/{chapter}{suffix}"
            file = built_book / "html" / "_sources" / f"{chapter}{suffix}"
            if b[kind] != expected:
                wrong.append(f"{suffix} download link is {b[kind]}, not {expected}")
            elif not (file.is_file() and file.stat().st_size):
                wrong.append(f"_sources/{chapter}{suffix} is missing or empty")
        return wrong

    chapters = {p: r for p, r in visits.items() if p.removesuffix(".html") in CHAPTERS}
    assert len(chapters) == len(CHAPTERS)
    found = failures(chapters, check)
    assert not found, report(found)


def walk(built_book, first, link):
    """The pages that following ``link`` (a CSS selector) leads through from ``first``, read from the
    built pages' own hrefs: what a click follows."""
    from bs4 import BeautifulSoup

    walked = [first]
    while len(walked) <= len(CHAPTERS):
        html = (built_book / "html" / walked[-1]).read_text()
        found = BeautifulSoup(html, "html.parser").select_one(link)
        if found is None:
            return walked
        walked.append(urlsplit(urljoin(walked[-1], found["href"])).path)
    raise AssertionError(f"{link} keeps going: {walked}")


def test_next_and_previous_walk_the_whole_book_in_toc_order(browser, site, built_book):
    """Every page's next and previous links, followed from the first and the last page, give _toc.yml's
    order; in the browser, one click each way goes where the link says."""
    expected = [f"{c}.html" for c in CHAPTERS]
    assert walk(built_book, expected[0], "a.right-next") == expected, "next does not follow _toc.yml"
    assert walk(built_book, expected[-1], "a.left-prev") == expected[::-1], "previous does not go back"
    assert walk(built_book, expected[0], "a.left-prev") == expected[:1], "the first page has a previous link"
    tab = Tab(browser, site)
    try:
        tab.goto(expected[0])
        with tab.page.expect_navigation(wait_until="domcontentloaded"):
            tab.page.locator("a.right-next").click()
        forward = tab.path()
        with tab.page.expect_navigation(wait_until="domcontentloaded"):
            tab.page.locator("a.left-prev").click()
        back = tab.path()
        problems = tab.problems
    finally:
        tab.close()
    assert (forward, back) == (expected[1], expected[0])
    assert not problems, problems


def test_every_page_shows_one_search_field(visits):
    def check(path, r):
        return [] if r["search_fields"] == 1 else [f"{r['search_fields']} search fields"]

    found = failures(visits, check)
    assert not found, report(found)


def open_phone_panel(tab, toggle, panel):
    """On a phone, click the article header's ``toggle`` button; returns its open ``panel`` dialog."""
    tab.page.set_viewport_size({"width": 390, "height": 844})
    tab.goto(f"{CHAPTERS[1]}.html")
    buttons = tab.page.locator(f".bd-header-article button.{toggle}")
    assert buttons.count() == 1 and buttons.is_visible(), f"no visible {toggle} button on a phone"
    buttons.click()
    dialog = tab.page.locator(f"dialog#{panel}[open]")
    dialog.wait_for(state="visible", timeout=5_000)
    return dialog


def test_on_a_phone_the_chapter_menu_opens_and_leads_to_every_chapter(browser, site):
    """On a narrow screen the sidebars fold away behind two buttons in the article header (with the
    theme's stray top bar, its hidden copies took the clicks). The first opens the book's chapters."""
    tab = Tab(browser, site)
    try:
        dialog = open_phone_panel(tab, "primary-toggle", "pst-primary-sidebar-modal")
        links = dialog.locator("a").evaluate_all("as => as.map(a => a.href)")
        target = dialog.locator(f"a[href$='{CHAPTERS[-1].rsplit('/', 1)[-1]}.html']").first
        with tab.page.expect_navigation(wait_until="domcontentloaded"):
            target.click()
        arrived = tab.path()
        problems = tab.problems
    finally:
        tab.close()
    pages = {urlsplit(link).path.lstrip("/") for link in links}
    assert {f"{c}.html" for c in CHAPTERS} <= pages, f"the phone menu leads to {sorted(pages)}"
    assert arrived == f"{CHAPTERS[-1]}.html"
    assert not problems, problems


def test_on_a_phone_the_contents_menu_opens_and_jumps_to_its_sections(browser, site):
    """The second button opens this page's contents: links to the page's own sections, which go there."""
    tab = Tab(browser, site)
    try:
        dialog = open_phone_panel(tab, "secondary-toggle", "pst-secondary-sidebar-modal")
        anchors = dialog.locator("a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
        missing = tab.page.evaluate(
            "hs => hs.filter(h => !(h.startsWith('#') && document.getElementById(h.slice(1))))", anchors)
        last = dialog.locator("a").last
        last.click()
        tab.page.wait_for_function("h => location.hash === h", arg=anchors[-1], timeout=5_000)
        in_view = tab.page.locator(f"[id='{anchors[-1][1:]}']").evaluate(
            "e => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight; }")
        problems = tab.problems
    finally:
        tab.close()
    assert len(anchors) >= 2, f"the contents menu has {anchors}"
    assert not missing, f"contents links to no section of the page: {missing}"
    assert in_view, f"after a click on {anchors[-1]} its section is not in view"
    assert not problems, problems


def click_download(tab, kind):
    """Open the page's download menu and click its ``kind`` link; the download that gave."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    tab.page.locator(".dropdown-download-buttons button.dropdown-toggle").click()
    try:
        with tab.page.expect_download(timeout=10_000) as download:
            tab.page.locator(f"a.btn-download-{kind}-button").click()
    except PlaywrightTimeout:
        pytest.fail(f"the {kind} link downloaded nothing within 10 s (opened {tab.context.pages[-1].url})")
    return download.value


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.rsplit("/", 1)[-1] for c in CHAPTERS])
def test_the_download_menu_saves_the_source_and_the_executed_notebook(browser, site, built_book, chapter):
    """Static hosts show an .ipynb link as raw JSON in a tab; the menu's links must save the file."""
    name = chapter.rsplit("/", 1)[-1]
    tab = Tab(browser, site)
    try:
        tab.goto(f"{chapter}.html")
        saved = {}
        for kind, suffix in (("source", ".md"), ("notebook", ".ipynb")):
            download = click_download(tab, kind)
            saved[suffix] = (download.suggested_filename, download.path().read_bytes())
        # The notebooks to run and to fill in (tools/sphinx_ext/notebooks.py), under names of their own.
        others = {}
        if chapter in READER_CHAPTERS:
            for kind in ("blank-notebook", "exercises-notebook"):
                download = click_download(tab, kind)
                others[kind] = (download.suggested_filename, download.path().read_bytes())
        tabs = len(tab.context.pages)
        problems = tab.problems
    finally:
        tab.close()
    names = [saved[".md"][0], saved[".ipynb"][0]]
    assert names == [f"{name}.md", f"{name}.ipynb"], f"the downloads are named {names}"
    for suffix, (_, data) in saved.items():
        assert data == (built_book / "html" / "_sources" / f"{chapter}{suffix}").read_bytes(), suffix
    # The executed notebook: every code cell run once, in order, no error, each figure cell's figure.
    code = [c for c in json.loads(saved[".ipynb"][1])["cells"] if c["cell_type"] == "code"]
    counts = [c["execution_count"] for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{name}.ipynb: not executed ({counts})"
    assert not [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    figures = [c for c in code if "figure" in c["metadata"].get("mystnb", {})]
    assert all(any(k.startswith("image/") for o in c["outputs"] for k in o.get("data", {})) for c in figures)
    if chapter in READER_CHAPTERS:
        notebooks = built_book / "html" / "_notebooks"
        assert others == {
            "blank-notebook": (f"{name}-no-outputs.ipynb", (notebooks / f"{chapter}.ipynb").read_bytes()),
            "exercises-notebook": (f"{name}-exercises.ipynb",
                                   (notebooks / f"{chapter}-exercises.ipynb").read_bytes()),
        }
    assert tabs == 1, "a download opened another tab"
    assert not problems, problems


def test_search_for_gradienttape_finds_the_gradienttape_chapter(browser, site):
    tab = Tab(browser, site)
    try:
        tab.goto("search.html?q=GradientTape")
        tab.page.wait_for_selector("#search-results .search-summary", timeout=15_000)
        hits = tab.page.eval_on_selector_all("#search-results ul.search li a", "as => as.map(a => a.href)")
        problems = tab.problems
    finally:
        tab.close()
    pages = [urlsplit(h).path.lstrip("/") for h in hits]
    assert "book/gradients.html" in pages, f"search for GradientTape found {pages}"
    assert not problems, problems


def test_mathjax_fetches_what_a_reader_can_ask_for_from_the_site(browser, site):
    """TeX extensions load on first use, and the menu's accessibility explorer (semantic
    enrichment, speech rules in English) can be switched on, all from _static/mathjax/."""
    page_with_math = next(f"{c}.html" for c in CHAPTERS if "$" in (ROOT / f"{c}.md").read_text())
    tab = Tab(browser, site)
    try:
        tab.goto(page_with_math)
        typeset = tab.page.evaluate("""async () => {
          await MathJax.startup.promise;
          const tex = "\\\\boldsymbol{w} + \\\\cancel{b} + \\\\color{red}{x}";
          const node = await MathJax.tex2chtmlPromise(tex);
          return node.querySelectorAll("mjx-merror").length === 0;
        }""")
        tab.page.evaluate("() => MathJax.startup.document.menu.menu.pool.lookup('explorer').setValue(true)")
        tab.page.wait_for_function("() => MathJax._.a11y && MathJax._.a11y.explorer", timeout=15_000)
        tab.page.wait_for_load_state("networkidle")
        problems = tab.problems
    finally:
        tab.close()
    assert typeset, "\\boldsymbol, \\cancel or \\color did not typeset"
    assert not problems, problems
