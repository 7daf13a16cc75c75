"""Interactive figures that run in the page with no kernel: Vega-Lite specs written with Altair.

The page loads vega, vega-lite and vega-embed from the site itself (one bundle, written into the
site's ``_static`` by tools/sphinx_ext/vega_bundle.py), never from a CDN. Every id in the HTML is
given, none drawn at random, so two builds write the same page.
"""

import html
import json

import altair as alt
import numpy as np

from .reference import closed_form, loss_grid

RED = "#c0392b"
# Vega-Lite has no star among its point shapes, but a shape may be an SVG path, drawn in [-1, 1]²: a
# five-pointed star, one point up, inner radius 0.382 as matplotlib's "*" marker.
STAR = ("M0,-1L0.225,-0.309L0.951,-0.309L0.363,0.118L0.588,0.809L0,0.382"
        "L-0.588,0.809L-0.363,0.118L-0.951,-0.309L-0.225,-0.309Z")


def _rounded(values, digits=5):
    return [float(f"{v:.{digits}g}") for v in np.asarray(values, dtype=np.float64)]


def learning_rate_explorer(x, y, sweep, levels=12):
    """A Vega-Lite chart: a slider over ``sweep``'s learning rates; the path on L(w, b) and the loss.

    Left, contour lines of L(w, b) (computed here with contourpy, as Vega-Lite draws no contours)
    and the chosen run's path from its start, marked as in the book's other figures: the start a
    black diamond, the optimum a gold star; right, its loss against the step on a log scale.
    The slider is a parameter ``eta`` bound to a range input; both panels keep only the rows of
    that η. Returns the spec as a dict (``chart.to_dict()``).

    Taught in: book/learning-rate.md
    """
    import contourpy

    optimum = closed_form(x, y)
    rates = np.asarray(sweep.learning_rates, dtype=np.float64)
    steps = np.diff(rates)
    if len(rates) < 2 or not np.allclose(steps, steps[0]):
        raise ValueError(f"the sweep's learning rates must be evenly spaced for a slider, got {rates}")
    ws = np.linspace(optimum[0] - 2.2, optimum[0] + 2.2, 61)
    bs = np.linspace(optimum[1] - 2.2, optimum[1] + 2.2, 61)
    grid = loss_grid(x, y, ws, bs)
    generator = contourpy.contour_generator(ws, bs, grid)
    contours = []
    heights = np.linspace(np.sqrt(grid.min()), np.sqrt(grid.max()), levels + 2)[1:-1] ** 2
    for level, height in enumerate(heights):
        for line, points in enumerate(generator.lines(height)):
            pairs = zip(_rounded(points[:, 0]), _rounded(points[:, 1]), strict=True)
            contours += [{"line": f"{level}-{line}", "order": i, "w": w, "b": b}
                         for i, (w, b) in enumerate(pairs)]
    runs = [{"eta": round(float(eta), 6), "step": k, "w": w, "b": b, "loss": loss}
            for eta, w_run, b_run, loss_run in zip(rates, sweep.w, sweep.b, sweep.loss, strict=True)
            for k, (w, b, loss) in enumerate(zip(*map(_rounded, (w_run, b_run, loss_run)), strict=True))]

    eta = alt.param(name="eta", value=round(float(rates[len(rates) // 2]), 6),
                    bind=alt.binding_range(min=float(rates[0]), max=float(rates[-1]), step=float(steps[0]),
                                           name="learning rate η "))
    chosen = f"abs(datum.eta - eta) < {steps[0] / 4}"
    w_scale = alt.Scale(domain=[float(ws[0]), float(ws[-1])], nice=False)
    b_scale = alt.Scale(domain=[float(bs[0]), float(bs[-1])], nice=False)
    lines = alt.Chart(alt.NamedData("contours")).mark_line(color="#9fb7c9", strokeWidth=1, clip=True).encode(
        x=alt.X("w:Q", scale=w_scale), y=alt.Y("b:Q", scale=b_scale), detail="line:N", order="order:Q")
    dots = alt.OverlayMarkDef(color=RED)
    path = alt.Chart(alt.NamedData("runs")).transform_filter(chosen).mark_line(
        color=RED, point=dots, clip=True).encode(
        x=alt.X("w:Q", scale=w_scale, title="w"), y=alt.Y("b:Q", scale=b_scale, title="b"),
        order="step:Q", tooltip=["step:Q", "w:Q", "b:Q", "loss:Q"])
    start = alt.Chart(alt.Data(values=[{"w": float(sweep.w[0, 0]), "b": float(sweep.b[0, 0])}])).mark_point(
        shape="diamond", color="black", filled=True, size=90).encode(x="w:Q", y="b:Q")
    best = alt.Chart(alt.Data(values=[{"w": optimum[0], "b": optimum[1]}])).mark_point(
        shape=STAR, fill="gold", stroke="black", strokeWidth=0.8, filled=True, opacity=1, size=200).encode(
        x="w:Q", y="b:Q")
    surface = alt.layer(lines, path, start, best).properties(
        width=250, height=250, title="Path on the loss surface", name="surface")
    # a loss of exactly 0 (reached in float32 near η*) has no place on a log axis: left out
    loss = alt.Chart(alt.NamedData("runs")).transform_filter(chosen).transform_filter(
        "datum.loss > 0").mark_line(color=RED, point=dots, clip=True).encode(
        x=alt.X("step:Q", title="step k"),
        y=alt.Y("loss:Q", scale=alt.Scale(type="log", domain=[1e-14, 1e3]), title="L2 loss (log scale)"),
        tooltip=["step:Q", "loss:Q"],
    ).properties(width=250, height=250, title="Loss against step", name="loss")
    chart = alt.hconcat(surface, loss).add_params(eta).properties(
        description=("Interactive figure: a slider chooses the learning rate η; the left panel draws the "
                     "path of gradient descent from the lab's start (black diamond) on the contours of the "
                     "loss L(w, b) around the optimum (gold star), the right panel its loss against the step "
                     "on a log scale."))
    spec = chart.to_dict()
    spec["datasets"] = {"contours": contours, "runs": runs}  # each table once, by name
    return spec


def embed_html(spec, element_id, bundle_url, text):
    """HTML that draws ``spec`` into ``<div id=element_id>`` with vega-embed, loaded from ``bundle_url``.

    ``bundle_url`` is relative to the page (e.g. ``../_static/vega/vega-bundle.js``), so the figure
    needs nothing off the site. ``text`` is the figure's visible text alternative, shown under it.
    The spec's JSON is written with sorted keys: the same spec gives the same bytes.

    Taught in: book/learning-rate.md
    """
    if not element_id.replace("-", "").isalnum():
        raise ValueError(f"element_id must be letters, digits and '-', got {element_id!r}")
    from IPython.display import HTML

    spec_json = json.dumps(spec, sort_keys=True, separators=(",", ":")).replace("</", "<\\/")
    options = json.dumps({"actions": False, "renderer": "svg"}, sort_keys=True)
    return HTML(
        f'<div class="vega-figure" role="group" aria-describedby="{element_id}-text">\n'
        f'<div id="{element_id}" class="vega-embed-target"></div>\n'
        f'<p id="{element_id}-text">{html.escape(text)}</p>\n'
        f"</div>\n"
        f'<script type="module" src="{html.escape(bundle_url)}"></script>\n'
        f'<script type="module">\n'
        f'window.vegaEmbed("#{element_id}", {spec_json}, {options});\n'
        f"</script>\n"
    )
