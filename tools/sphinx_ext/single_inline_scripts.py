"""Sphinx extension: every script written once per page.

Sphinx 7.4 writes an inline script added with ``app.add_js_file(None, body=...)`` twice, sphinx-thebe's
among them (a SyntaxError, "redeclaration of const THEBE_JS_URL", in the console of every page): the
builder's copy is named None, the registry's '', so its de-duplication misses them. Fixed upstream in
Sphinx 8.2 (sphinx-doc/sphinx#13402); jupyter-book 1.x requires sphinx~=7.0, so this file goes when
jupyter-book allows Sphinx 8.2. It only filters the page's public ``script_files`` list.
"""


def _key(script):
    return (getattr(script, "filename", script) or "", sorted(getattr(script, "attributes", {}).items()))


def drop_repeated_scripts(app, pagename, templatename, context, doctree):
    unique = []
    for script in context.get("script_files", []):
        if _key(script) not in map(_key, unique):
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", drop_repeated_scripts)
    return {"version": "1.1", "parallel_read_safe": True, "parallel_write_safe": True}
