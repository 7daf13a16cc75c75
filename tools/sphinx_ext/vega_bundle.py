"""Sphinx extension: vega, vega-lite and vega-embed served by the site itself, for figures with no kernel.

Loaded from _config.yml (``sphinx: local_extensions: {vega_bundle: tools/sphinx_ext}``). It writes
``vl_convert.javascript_bundle()`` (the pinned PyPI package vl-convert-python: one self-contained
script of about 0.9 MB that sets ``window.vegaEmbed``, ``window.vega`` and ``window.vegaLite``)
into the site's ``_static/vega/vega-bundle.js`` when the build starts, so no page needs npm or a
CDN. A chapter's cell output loads it by a path relative to the page, as a module (its top-level
names then stay out of the page's global scope), and embeds its spec (training_basics.interactive).

The bundle is the same bytes on every build; it is written only when it differs, so an unchanged
site keeps its file times. The libraries' licences (BSD-3-Clause) go with it.

Why not Altair's own inline HTML (``chart.to_html(inline=True)``): it writes the same bundle into every
chart's output, 898,596 bytes in the page and again in its executed notebook (Altair 6.3, measured),
where this serves one file that the browser caches for the whole site.
"""

from pathlib import Path

TARGET = "vega"  # under the site's _static/
BUNDLE = "vega-bundle.js"
NOTICE = """vega-bundle.js: Vega {vega}, Vega-Lite {vega_lite}, vega-embed {embed},
bundled by vl-convert-python {vlc}.

Vega, Vega-Lite and vega-embed: Copyright (c) the University of Washington Interactive Data Lab,
released under the BSD 3-Clause License: https://github.com/vega/vega/blob/main/LICENSE
"""


def bundle():
    """The bundle's text and its notice, from the installed vl-convert-python."""
    import vl_convert

    notice = NOTICE.format(
        vega=vl_convert.get_vega_version(), vega_lite=vl_convert.get_vegalite_versions()[-1],
        embed=vl_convert.get_vega_embed_version(), vlc=vl_convert.__version__,
    )
    return vl_convert.javascript_bundle(), notice


def _write(path, text):
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def write_bundle(app):
    if app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / TARGET
    target.mkdir(parents=True, exist_ok=True)
    script, notice = bundle()
    _write(target / BUNDLE, script)
    _write(target / "NOTICE.txt", notice)


def setup(app):
    app.connect("builder-inited", write_bundle)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
