"""Plotly output that works in the built book (offline), in Jupyter and on Colab.

The book serves one copy of plotly.js from its own ``_static`` folder on every page (see
``book/_ext/offline_assets.py``). A figure is emitted as a ``<div>`` plus a small script that
draws it with the page's ``window.Plotly``; outside the book (Jupyter, Colab), where no
plotly.js is on the page, the script loads it from the plotly CDN once. This keeps each page
small, and the book readable with no network.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import Any

import plotly.io as pio
from plotly.io._base_renderers import MimetypeRenderer

__all__ = ["RENDERER_NAME", "configure_plotly", "figure_html", "scatter_3d", "scatter_3d_grid",
           "scatter_latent"]

RENDERER_NAME = "topolib"
_counter = itertools.count()

_LOADER = """<div id="{div_id}" class="plotly-graph-div" style="height:{height}px; width:100%;"></div>
<script type="text/javascript">
(function () {{
  var spec = {spec};
  function draw() {{ window.Plotly.newPlot("{div_id}", spec.data, spec.layout, spec.config); }}
  if (window.Plotly) {{ draw(); return; }}
  var url = "https://cdn.plot.ly/plotly-{js_version}.min";
  if (typeof window.requirejs === "function") {{
    window.requirejs.config({{paths: {{plotly: url}}}});
    window.requirejs(["plotly"], function (P) {{ window.Plotly = P; draw(); }});
    return;
  }}
  var tag = document.createElement("script");
  tag.src = url + ".js";
  tag.onload = draw;
  document.head.appendChild(tag);
}})();
</script>"""


def _plotly_js_version() -> str:
    from plotly.offline import get_plotlyjs_version

    return get_plotlyjs_version()


def figure_html(fig: Any, height: int | None = None) -> str:
    """HTML for one figure, drawn with the page's plotly.js (or the CDN's outside the book).

    Parameters
    ----------
    fig : a ``plotly.graph_objects.Figure`` or a figure dict.
    height : pixel height of the plot; default the layout's height or 520.
    """
    fig_dict = pio.to_json(fig, validate=True, remove_uids=True)
    spec = json.loads(fig_dict)
    spec.setdefault("layout", {})
    spec["config"] = {"responsive": True, "displaylogo": False}
    height = height or spec["layout"].get("height") or 520
    spec_json = json.dumps(spec, separators=(",", ":")).replace("</", "<\\/")
    # Deterministic ids keep rebuilt pages identical; the counter separates repeated figures.
    digest = hashlib.sha1(f"{next(_counter)}:{spec_json}".encode()).hexdigest()[:12]
    return _LOADER.format(
        div_id=f"plot-{digest}",
        height=int(height),
        spec=spec_json,
        js_version=_plotly_js_version(),
    )


class _TopolibRenderer(MimetypeRenderer):
    def to_mimebundle(self, fig_dict: dict) -> dict[str, str]:
        return {"text/html": figure_html(fig_dict)}


def configure_plotly() -> None:
    """Make ``fig.show()`` use the book-friendly renderer (idempotent)."""
    pio.renderers[RENDERER_NAME] = _TopolibRenderer()
    pio.renderers.default = RENDERER_NAME



def scatter_3d(
    points: Any,
    color: Any = None,
    color_label: str = "",
    title: str = "",
    marker_size: float = 2.5,
    hover_text: Any = None,
    colorscale: str = "Viridis",
) -> Any:
    """Interactive 3-D scatter plot, coloured by a per-point value.

    Parameters
    ----------
    points : array (n, 3) of coordinates (extra columns are ignored).
    color : array (n,) of values for the colour scale, or None.
    color_label : title of the colour bar.
    title : figure title (put the provenance stamp here).
    hover_text : optional (n,) strings shown on hover.
    colorscale : plotly colour scale; use a cyclic one (``"Twilight"``) for angles.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    import numpy as np
    import plotly.graph_objects as go

    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2 or pts.shape[1] < 3:
        raise ValueError(f"points must have shape (n, 3) or wider; got {pts.shape}")
    if color is not None and len(color) != len(pts):
        raise ValueError(f"color must have one value per point ({len(pts)}); got {len(color)}")
    marker = {"size": marker_size, "opacity": 0.85}
    if color is not None:
        marker.update(color=np.asarray(color, dtype=float), colorscale=colorscale,
                      colorbar={"title": {"text": color_label}})
    trace = go.Scatter3d(x=pts[:, 0], y=pts[:, 1], z=pts[:, 2], mode="markers", marker=marker,
                         text=hover_text, hoverinfo="text" if hover_text is not None else "x+y+z")
    fig = go.Figure(trace)
    fig.update_layout(title={"text": title, "font": {"size": 13}}, height=520,
                      margin={"l": 0, "r": 0, "t": 40, "b": 0},
                      scene={"aspectmode": "data"})
    return fig


def scatter_3d_grid(
    panels: dict[str, tuple[Any, Any]],
    title: str = "",
    columns: int = 2,
    marker_size: float = 1.8,
    colorscale: str = "Turbo",
) -> Any:
    """Several interactive 3-D scatter plots side by side, each with its own rotatable scene.

    Parameters
    ----------
    panels : ``{panel title: (points (n, 3), colour values (n,) or None)}``.
    title : figure title (put the provenance stamp here).
    columns : panels per row.
    marker_size, colorscale : as for :func:`scatter_3d` (no colour bars: say in the panel
        title what the colours mean).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    import numpy as np
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if not panels:
        raise ValueError("panels must hold at least one panel")
    columns = max(1, min(int(columns), len(panels)))
    rows = -(-len(panels) // columns)
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=list(panels),
                        specs=[[{"type": "scene"}] * columns for _ in range(rows)],
                        horizontal_spacing=0.01, vertical_spacing=0.04)
    for k, (name, (points, color)) in enumerate(panels.items()):
        pts = np.asarray(points, dtype=float)
        if pts.ndim != 2 or pts.shape[1] < 3:
            raise ValueError(f"panels[{name!r}] points must have shape (n, 3); got {pts.shape}")
        marker: dict[str, Any] = {"size": marker_size, "opacity": 0.8}
        if color is not None:
            if len(color) != len(pts):
                raise ValueError(f"panels[{name!r}] colour must have one value per point "
                                 f"({len(pts)}); got {len(color)}")
            marker.update(color=np.asarray(color, dtype=float), colorscale=colorscale)
        fig.add_trace(go.Scatter3d(x=pts[:, 0], y=pts[:, 1], z=pts[:, 2], mode="markers",
                                   marker=marker, name=name, hoverinfo="x+y+z"),
                      row=k // columns + 1, col=k % columns + 1)
    fig.update_scenes(aspectmode="data", xaxis_visible=False, yaxis_visible=False,
                      zaxis_visible=False)
    fig.update_layout(title={"text": title, "font": {"size": 13}}, height=430 * rows,
                      margin={"l": 0, "r": 0, "t": 60, "b": 0}, showlegend=False)
    return fig


def scatter_latent(
    z: Any,
    colors: dict[str, Any],
    title: str = "",
    off_manifold: Any = None,
    colorscale: str = "Twilight",
    marker_size: float = 4.0,
) -> Any:
    """Interactive scatter of latent codes, coloured by a manifold coordinate of choice.

    One latent dimension is drawn against the first colour (a 1-D latent space has no second
    axis to show), two or three as they are, more through their top three principal
    components. A drop-down menu switches between the colourings.

    Parameters
    ----------
    z : ``(n, latent_dim)`` latent codes.
    colors : ``{name: (n,) values}``, e.g. the coverage coordinates of each code's image.
    title : figure title (put the provenance stamp here).
    off_manifold : optional ``(n,)`` booleans; those codes are drawn as grey crosses.
    colorscale : plotly colour scale (the default is cyclic, for angles).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    import numpy as np
    import plotly.graph_objects as go

    from topolib.metrics.landmarks import pca_project

    codes = np.asarray(z, dtype=float)
    if codes.ndim != 2 or len(codes) == 0:
        raise ValueError(f"z must have shape (n, latent_dim) with n >= 1; got {codes.shape}")
    n, d = codes.shape
    if not colors:
        raise ValueError("colors must name at least one colouring, e.g. {'angle': values}")
    values = {name: np.asarray(v, dtype=float) for name, v in colors.items()}
    for name, v in values.items():
        if v.shape != (n,):
            raise ValueError(f"colors[{name!r}] must have shape ({n},); got {v.shape}")
    off = np.zeros(n, bool) if off_manifold is None else np.asarray(off_manifold, dtype=bool)
    if off.shape != (n,):
        raise ValueError(f"off_manifold must have shape ({n},); got {off.shape}")
    first = next(iter(values))
    if d == 1:
        xyz, axes = [codes[:, 0], values[first]], ["z", first]
    elif d == 2:
        xyz, axes = [codes[:, 0], codes[:, 1]], ["z1", "z2"]
    elif d == 3:
        xyz, axes = [codes[:, 0], codes[:, 1], codes[:, 2]], ["z1", "z2", "z3"]
    else:
        pcs = pca_project(codes, 3)
        xyz, axes = [pcs[:, 0], pcs[:, 1], pcs[:, 2]], ["PC1", "PC2", "PC3"]

    def trace(mask: np.ndarray, marker: dict, name: str) -> Any:
        coords = [c[mask] for c in xyz]
        if len(coords) == 3:
            return go.Scatter3d(x=coords[0], y=coords[1], z=coords[2], mode="markers",
                                marker={**marker, "size": marker_size * 0.6}, name=name)
        return go.Scattergl(x=coords[0], y=coords[1], mode="markers", marker=marker, name=name)

    on = ~off
    marker = {"size": marker_size, "color": values[first][on], "colorscale": colorscale,
              "colorbar": {"title": {"text": first}}, "opacity": 0.85}
    fig = go.Figure(trace(on, marker, "on the manifold"))
    if off.any():
        fig.add_trace(trace(off, {"size": marker_size, "color": "#888888", "symbol": "x",
                                  "opacity": 0.6}, "off the manifold"))
    if len(values) > 1:
        buttons = [
            {"label": name, "method": "restyle",
             "args": [{"marker.color": [v[on]], "marker.colorbar.title.text": name}, [0]]}
            for name, v in values.items()
        ]
        fig.update_layout(updatemenus=[{"buttons": buttons, "x": 0.0, "y": 1.12,
                                        "xanchor": "left", "showactive": True}])
    layout: dict[str, Any] = {"title": {"text": title, "font": {"size": 13}, "x": 0.3},
                              "height": 500, "margin": {"l": 40, "r": 10, "t": 70, "b": 40},
                              "legend": {"orientation": "h", "y": -0.12}}
    if len(xyz) == 3:
        layout["scene"] = {"xaxis_title": axes[0], "yaxis_title": axes[1],
                           "zaxis_title": axes[2]}
    else:
        layout.update(xaxis_title=axes[0], yaxis_title=axes[1])
        if d == 2:
            layout["yaxis"] = {"scaleanchor": "x", "title": axes[1]}
    fig.update_layout(**layout)
    return fig
