"""Sphinx extension: every inline script written once per page.

Sphinx 7.4 wrote sphinx-thebe's inline script twice (a SyntaxError in the console on every page):
the builder's copy is named None, the registry's '', so its de-duplication missed them.
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
