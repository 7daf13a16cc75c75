"""The whole book as one PDF (``make pdf``): the single-page build printed by Chromium.

Chromium, not LaTeX: the figures are SVG and the interactive one is drawn by JavaScript, both of
which a browser prints as the site shows them, and Debian's Chromium is already what the browser
tests use (no TeX Live). Served over 127.0.0.1, as MathJax's fonts do not load from file:// URLs.
Solutions, folded on the site, are unfolded for print.

Usage: python tools/pdf.py SINGLEHTML_DIR OUTPUT.pdf
"""

import functools
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bookbuild import CHROMIUM  # tools/, this script's folder
from playwright.sync_api import sync_playwright

PAGE = "book/intro.html"  # the single page, named after the root document (_toc.yml's root)


class Book(SimpleHTTPRequestHandler):
    """The single page at /: Sphinx writes it as book/intro.html with links relative to the root."""

    def translate_path(self, path):
        return super().translate_path(f"/{PAGE}" if path == "/" else path)

    def log_message(self, *args):
        pass


def main(site, output):
    if not Path(CHROMIUM).is_file():
        sys.exit("Chromium not found: apt-get install chromium (Debian/Ubuntu), or set CHROMIUM")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Book, directory=site))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{server.server_port}/", wait_until="load")
            page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
            page.evaluate("() => MathJax.startup.promise")  # every formula typeset
            page.evaluate("""() => document.querySelectorAll('.dropdown.admonition.toggle-hidden')
                .forEach(e => e.classList.remove('toggle-hidden'))""")
            # Links within the book become links within the PDF; links to the site's other files
            # (this PDF, the search page) would lead to 127.0.0.1: they keep their text only.
            page.evaluate(
                """page => document.querySelectorAll('a[href]').forEach(a => {
                const href = a.getAttribute('href');
                if (href.startsWith(page + '#')) a.setAttribute('href', href.slice(page.length));
                else if (!/^(https?:|#|mailto:)/.test(href)) a.removeAttribute('href');
            })""",
                PAGE,
            )
            # Long code lines wrap instead of running off the page; a figure stays with its caption.
            page.add_style_tag(content="pre { white-space: pre-wrap; } figure { break-inside: avoid; }")
            page.pdf(
                path=output,
                format="A4",
                print_background=True,
                outline=True,
                tagged=True,
                margin={"top": "18mm", "bottom": "18mm", "left": "16mm", "right": "16mm"},
            )
            browser.close()
    finally:
        server.shutdown()
    print(f"wrote {output} ({Path(output).stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main(*sys.argv[1:])
