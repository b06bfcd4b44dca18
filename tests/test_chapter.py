import json
import re
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from matplotlib.figure import Figure

import topolib
from topolib.plotting.interactive import RENDERER_NAME, figure_html


def test_start_chapter_reports_profile_seed_device(monkeypatch):
    monkeypatch.setenv("TOPOLIB_PROFILE", "fast")
    chapter = topolib.start_chapter(seed=7)
    assert chapter.profile.name == "fast" and chapter.seed == 7
    assert "profile=fast · seed=7 · device=cpu" in chapter.stamp
    assert "WARNING" in repr(chapter) and "mean nothing" in chapter._repr_html_()
    assert "WARNING" not in repr(topolib.start_chapter(profile="cpu"))


def test_chapter_streams_are_seeded():
    a, b = topolib.start_chapter(seed=1), topolib.start_chapter(seed=1)
    assert np.array_equal(a.rng("x").random(3), b.rng("x").random(3))
    assert not np.array_equal(a.rng("x").random(3), a.rng("y").random(3))


def test_chapter_rejects_bad_arguments():
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        topolib.start_chapter(seed=-2)
    with pytest.raises(ValueError, match="must be one of"):
        topolib.start_chapter(profile="huge")


def test_stamp_figure_writes_the_line():
    fig = Figure()
    topolib.stamp_figure(fig, "profile=cpu · seed=0")
    assert [t.get_text() for t in fig.texts] == ["profile=cpu · seed=0"]


def test_doctor_reports_versions_and_problems(monkeypatch, capsys):
    report = topolib.doctor()
    out = capsys.readouterr().out
    assert "torch" in out and "ripser" in out and "profile" in out
    assert report.versions["numpy"] == np.__version__
    monkeypatch.setenv("TOPOLIB_PROFILE", "gpux")
    bad = topolib.doctor(print_report=False)
    assert not bad.ok and any("TOPOLIB_PROFILE" in fix for _, fix in bad.problems)


def test_doctor_flags_a_cache_that_is_a_file(monkeypatch, tmp_path):
    target = tmp_path / "f"
    target.write_text("")
    monkeypatch.setenv("TOPOLIB_CACHE", str(target))
    report = topolib.doctor(print_report=False)
    assert any("TOPOLIB_CACHE" in fix for _, fix in report.problems)


def test_plotly_renderer_emits_self_contained_div():
    topolib.start_chapter()
    assert pio.renderers.default == RENDERER_NAME
    fig = go.Figure(go.Scatter3d(x=[0, 1], y=[1, 0], z=[0, 0], mode="markers"))
    bundle = pio.renderers[RENDERER_NAME].to_mimebundle(fig.to_dict())
    html = bundle["text/html"]
    assert "plotly.min.js" not in html  # the page (or the CDN outside the book) provides it
    spec = json.loads(re.search(r"var spec = (\{.*?\});\n", html).group(1))
    assert spec["data"][0]["type"] == "scatter3d"
    assert figure_html(fig) != figure_html(fig)  # repeated figures get distinct div ids


def test_plotly_html_cannot_close_its_script_early():
    fig = go.Figure(layout={"title": {"text": "</script><b>x</b>"}})
    html = figure_html(fig)
    assert html.count("</script>") == 1


@pytest.mark.parametrize("latent_dim, kind", [(1, "scattergl"), (2, "scattergl"),
                                              (3, "scatter3d"), (5, "scatter3d")])
def test_scatter_latent_draws_every_dimension(latent_dim, kind):
    from topolib.plotting import scatter_latent

    rng = np.random.default_rng(0)
    z = rng.normal(size=(40, latent_dim))
    off = np.arange(40) < 5
    fig = scatter_latent(z, {"a": rng.random(40), "b": rng.random(40)}, title="t",
                         off_manifold=off)
    assert [t.type for t in fig.data] == [kind, kind]
    assert len(fig.data[0].x) == 35 and len(fig.data[1].x) == 5
    assert [b.label for b in fig.layout.updatemenus[0].buttons] == ["a", "b"]
    with pytest.raises(ValueError, match=r"colors\['a'\]"):
        scatter_latent(z, {"a": np.zeros(3)})
    with pytest.raises(ValueError, match="colors must name"):
        scatter_latent(z, {})
    with pytest.raises(ValueError, match="off_manifold"):
        scatter_latent(z, {"a": np.zeros(40)}, off_manifold=np.zeros(3, bool))


def test_stamp_never_overlaps_axis_labels():
    # A short figure whose x labels hang below its bottom edge: the stamp goes under them.
    import io

    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(6, 1.6))
    for ax in axes:
        ax.plot([0, 1], [0, 1])
        ax.set_xlabel("a label")
    topolib.stamp_figure(fig, "profile=cpu · seed=0")
    topolib.stamp_figure(fig, "profile=cpu · seed=1")  # stamping again replaces the stamp
    fig.savefig(io.BytesIO(), format="png", bbox_inches="tight")
    renderer = fig.canvas.get_renderer()
    (footer,) = fig.texts
    assert footer.get_text() == "profile=cpu · seed=1"
    box = footer.get_window_extent(renderer)
    assert all(box.y1 <= ax.get_tightbbox(renderer).y0 for ax in axes)
    plt.close(fig)


def test_a_chapter_shows_warnings_in_its_output(capsys):
    import warnings

    previous = warnings.showwarning
    try:
        topolib.start_chapter(seed=0, profile="fast")
        warnings.warn("landmarks do not resolve this data", RuntimeWarning, stacklevel=1)
        out = capsys.readouterr()
        assert "RuntimeWarning: landmarks do not resolve this data" in out.out
        assert "landmarks" not in out.err
    finally:
        warnings.showwarning = previous


def test_scatter_3d_grid_gives_each_panel_its_own_scene():
    import numpy as np
    import pytest

    from topolib.plotting import scatter_3d_grid

    pts = np.random.default_rng(0).normal(size=(30, 3))
    fig = scatter_3d_grid({"a": (pts, None), "b": (pts, np.arange(30)), "c": (pts, None)},
                          title="t", columns=2)
    assert [t.scene for t in fig.data] == ["scene", "scene2", "scene3"]
    assert fig.layout.height == 2 * 430
    with pytest.raises(ValueError, match=r"panels\['b'\] colour must have one value"):
        scatter_3d_grid({"b": (pts, np.arange(3))})
    with pytest.raises(ValueError, match="at least one panel"):
        scatter_3d_grid({})


def test_a_detected_gpu_profile_says_how_to_choose_cpu(monkeypatch):
    import topolib.profiles

    monkeypatch.delenv("TOPOLIB_PROFILE", raising=False)
    monkeypatch.setattr(topolib.profiles, "_cuda_available", lambda: True)
    detected = topolib.start_chapter(seed=0, device="cpu")
    assert detected.profile.name == "gpu" and detected.detected
    assert "os.environ['TOPOLIB_PROFILE'] = 'cpu'" in repr(detected)
    assert "profile='cpu'" in detected._repr_html_()
    chosen = topolib.start_chapter(seed=0, profile="gpu", device="cpu")
    assert not chosen.detected and "TOPOLIB_PROFILE" not in repr(chosen)


def test_the_setup_cell_says_when_the_install_fails(monkeypatch):
    import importlib.util
    import subprocess
    import sys
    from types import SimpleNamespace

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    from setup_cell import setup_cell_source

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: SimpleNamespace(returncode=1))
    with pytest.raises(RuntimeError, match="Installing topolib failed"):
        exec(setup_cell_source(0), {})
