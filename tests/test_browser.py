"""The site as a browser meets it: headless Chromium against the built book served on 127.0.0.1.

Every request that does not go to the local server is aborted and recorded: the site must work
with no network (MathJax is served by the site itself, see tools/local_mathjax.py). Each page is
visited once per session; the tests then check what was recorded (console errors, failed or
external requests, images, math, accessibility) and write a screenshot of every page to
_build/screenshots/.

Needs Chromium (`apt-get install chromium`, at /usr/bin/chromium or $CHROMIUM) and axe-core
(`npm ci` in the repository root). Without them the tests skip, saying so; in CI they fail.
"""

import functools
import http.server
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))  # the build script is a tool, not part of the package
import build  # noqa: E402

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "_build" / "screenshots"
VIEWPORT = {"width": 1280, "height": 900}

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
CHAPTERS = [p.relative_to(ROOT).with_suffix("").as_posix() for p in build.chapters()]  # "book/intro", ...
# index.html only redirects to the first chapter; it is visited for its redirect.
PAGES = ["index.html"] + [f"{c}.html" for c in CHAPTERS] + ["search.html", "genindex.html"]
SERIOUS = {"serious", "critical"}

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
    math_untypeset: math.filter((m) => !m.querySelector("mjx-container")).map((m) => m.textContent.slice(0, 80)),
    mjx: document.querySelectorAll("mjx-container").length,
    mjx_errors: [...document.querySelectorAll("mjx-merror")].map((e) => e.getAttribute("data-mjx-error") || e.textContent),
    prose: prose.textContent,
    buttons: {
      binder: link("a.dropdown-item[href*='/v2/gh/']"),
      thebe: !!document.querySelector("button.btn-launch-thebe"),
      source: link("a.btn-download-source-button"),
      notebook: link("a.btn-download-notebook-button"),
    },
  };
}"""

AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => n.target.join(" ")),
  }));
}"""


@pytest.fixture(scope="session", autouse=True)
def _browser_tools():
    """Skip (before building anything) where the browser or axe-core is missing."""
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"Chromium not found at {CHROMIUM}: install it with `apt-get install chromium` "
                    "(Debian/Ubuntu), or point $CHROMIUM at a Chromium binary")
    if not AXE.is_file():
        pytest.skip(f"axe-core not found at {AXE.relative_to(ROOT)}: run `npm ci` in the repository root")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("Playwright for Python is missing: pip install -r requirements-dev.txt -c constraints.txt")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def site(built_book):
    """The built site served over HTTP on a free port of 127.0.0.1; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(built_book / "html"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Tab:
    """A page whose every console error, failed request and off-site request is recorded."""

    def __init__(self, browser, base):
        self.base = base
        self.context = browser.new_context(viewport=VIEWPORT, service_workers="block")
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"uncaught exception: {error}"))
        self.page.on("requestfailed", self._failed)
        self.page.on("response", self._response)
        self.problems = []

    def _route(self, route):
        url = route.request.url
        if url.startswith(self.base) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.problems.append(f"request off the site (blocked): {route.request.resource_type} {url}")
            route.abort("blockedbyclient")

    def _console(self, message):
        if message.type == "error":
            self.problems.append(f"console error: {message.text}")

    def _failed(self, request):
        if request.failure != "net::ERR_BLOCKED_BY_CLIENT":  # recorded by _route already
            self.problems.append(f"request failed: {request.url} ({request.failure})")

    def _response(self, response):
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def goto(self, path):
        self.problems = []
        self.page.goto(self.base + path, wait_until="load")
        self.page.wait_for_load_state("networkidle")

    def path(self):
        return self.page.url.removeprefix(self.base).split("#")[0]

    def close(self):
        self.context.close()


@pytest.fixture(scope="session")
def visits(site, browser):
    """Each page visited once: what it recorded, its checks, axe-core's violations; plus a screenshot."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab = Tab(browser, site)
    results = {}
    started = time.perf_counter()
    for path in PAGES:
        try:
            tab.goto(path)
            record = tab.page.evaluate(INSPECT)
            tab.page.add_script_tag(path=str(AXE))
            record["axe"] = tab.page.evaluate(AXE_RUN)
            name = path.removesuffix(".html").replace("/", "-")
            tab.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
        except Exception as error:  # one broken page must not hide the others
            record = {"crash": f"{type(error).__name__}: {error}"}
        record["problems"] = list(tab.problems)
        results[path] = record
    tab.close()
    print(f"\nvisited {len(PAGES)} pages in {time.perf_counter() - started:.1f} s; "
          f"screenshots in {SCREENSHOTS.relative_to(ROOT)}/")
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


def test_every_page_loads_with_no_console_error_and_no_failed_or_offsite_request(visits):
    found = failures(visits, lambda path, r: r["problems"])
    assert not found, report(found)
    assert visits["index.html"]["url"].endswith(f"{CHAPTERS[0]}.html"), "index.html does not lead to the first chapter"


def test_every_image_decodes_and_has_alt_text(visits):
    def check(path, r):
        return [
            f"image {img['src']}: " + ("does not decode" if not (img["decoded"] and img["width"] > 0) else "no alt text")
            for img in r["images"]
            if not (img["decoded"] and img["width"] > 0 and img["alt"])
        ]

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
    with_math = [p for p, r in visits.items() if r.get("mjx")]
    assert len(with_math) >= len(CHAPTERS) // 2, f"math typeset on only {with_math}"


def test_no_serious_or_critical_accessibility_violation(visits):
    def check(path, r):
        return [
            f"[{v['impact']}] {v['id']}: {v['help']} at {v['nodes'][:3]}"
            + (f" and {len(v['nodes']) - 3} more" if len(v["nodes"]) > 3 else "")
            for v in r["axe"] if v["impact"] in SERIOUS
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
        for kind, suffix in (("source", ".md"), ("notebook", ".ipynb")):
            expected = f"{site}_sources/{chapter}{suffix}"
            if b[kind] != expected:
                wrong.append(f"{suffix} download link is {b[kind]}, not {expected}")
            elif not (built_book / "html" / "_sources" / f"{chapter}{suffix}").stat().st_size:
                wrong.append(f"_sources/{chapter}{suffix} is empty")
        return wrong

    chapters = {p: r for p, r in visits.items() if p.removesuffix(".html") in CHAPTERS}
    assert len(chapters) == len(CHAPTERS)
    found = failures(chapters, check)
    assert not found, report(found)


def test_next_and_previous_walk_the_whole_book_in_toc_order(browser, site):
    tab = Tab(browser, site)
    try:
        tab.goto(f"{CHAPTERS[0]}.html")
        assert tab.page.locator("a.left-prev").count() == 0, "the first page has a previous link"
        forward = [tab.path()]
        while tab.page.locator("a.right-next").count():
            with tab.page.expect_navigation():
                tab.page.locator("a.right-next").click()
            forward.append(tab.path())
            assert len(forward) <= len(CHAPTERS), f"next keeps going: {forward}"
        backward = [tab.path()]
        while tab.page.locator("a.left-prev").count():
            with tab.page.expect_navigation():
                tab.page.locator("a.left-prev").click()
            backward.append(tab.path())
            assert len(backward) <= len(CHAPTERS), f"previous keeps going: {backward}"
        assert not tab.problems, tab.problems
    finally:
        tab.close()
    expected = [f"{c}.html" for c in CHAPTERS]
    assert forward == expected
    assert backward == expected[::-1]


def test_search_for_gradienttape_finds_the_gradienttape_chapter(browser, site):
    tab = Tab(browser, site)
    try:
        tab.goto("search.html?q=GradientTape")
        tab.page.wait_for_selector("#search-results .search-summary", timeout=15_000)
        hits = tab.page.eval_on_selector_all("#search-results ul.search li a", "as => as.map(a => a.href)")
        problems = list(tab.problems)
    finally:
        tab.close()
    pages = [urlsplit(h).path.lstrip("/") for h in hits]
    assert "book/gradients.html" in pages, f"search for GradientTape found {pages}"
    assert not problems, problems


def test_axe_summary(visits):
    """Not a check: prints every violation axe-core found, any impact, for the record."""
    counts = {}
    for path, record in visits.items():
        for v in record.get("axe", []):
            counts.setdefault((v["impact"], v["id"]), []).append(f"{path} ({len(v['nodes'])})")
    print("\naxe-core violations by impact and rule:" + ("" if counts else " none"))
    for (impact, rule), where in sorted(counts.items()):
        print(f"  [{impact}] {rule}: {', '.join(where)}")
    print(json.dumps({p: len(r.get("axe", [])) for p, r in visits.items()}))
