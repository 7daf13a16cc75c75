"""Sphinx extension: every inline script written once per page.

Sphinx 7.4 writes an inline script (``app.add_js_file(None, body=...)``) twice when an
extension adds it after the HTML builder has started: the builder keeps it with the file name
``None``, then ``prepare_writing`` adds it again from the registry with the file name ``''``,
and the two do not compare equal. sphinx-thebe adds its ``const THEBE_JS_URL = ...`` that way,
so every page declared the constants twice and the browser reported
``SyntaxError: Identifier 'THEBE_JS_URL' has already been declared`` on every page load.

Giving the builder's copy the name ``''`` before the pages are written lets Sphinx's own
de-duplication drop the second one. tests/test_browser.py fails on any console error.
"""

from sphinx.builders.html._assets import _JavaScript


def name_inline_scripts(app, env):
    js_files = getattr(app.builder, "_js_files", None)
    if js_files is None:
        return
    js_files[:] = [
        _JavaScript("", priority=js.priority, **js.attributes) if js.filename is None else js
        for js in js_files
    ]


def setup(app):
    # env-updated: after every extension's env-before-read-docs, before prepare_writing.
    app.connect("env-updated", name_inline_scripts)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
