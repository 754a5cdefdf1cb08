"""``plot_runs`` / ``lraudit plot``: open the written files and check what is drawn."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from _workflow_timelines import decay_plateau_timeline
from conftest import run_cli

from lraudit.errors import UsageError
from lraudit.report import plot as plot_module
from lraudit.report.plot import plot_runs

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SVG_NS = "{http://www.w3.org/2000/svg}"


def svg_ids_and_texts(path: Path) -> tuple[set[str], str]:
    root = ET.parse(path).getroot()
    ids = {el.get("id") for el in root.iter() if el.get("id")}
    texts = " ".join("".join(el.itertext()) for el in root.iter(f"{SVG_NS}text"))
    return ids, texts


def png_pixels(path: Path) -> np.ndarray:
    import matplotlib.image

    return matplotlib.image.imread(path)


FINDINGS = [
    {"code": "LRA001", "name": "hidden-decay", "severity": "warning", "step": 99,
     "run": "runs/decay_plateau"},
    {"code": "LRA007", "name": "decay-per-batch", "severity": "info", "run": "runs/decay_plateau"},
]


def test_svg_has_series_markers_labels_and_legend(tmp_path):
    out = plot_runs([decay_plateau_timeline()], FINDINGS, tmp_path / "lr.svg")
    ids, texts = svg_ids_and_texts(out)
    for gid in ("effective-lr-0", "base-lr-0", "logged-0-0", "plateau-reduction-0", "finding-LRA001-0-0"):
        assert gid in ids
    assert "optimizer step" in texts and "learning rate" in texts
    assert "effective lr (applied)" in texts and "logged lr (csvlogger)" in texts
    assert "ReduceLROnPlateau reduction" in texts
    assert "LRA001 hidden-decay" in texts
    assert "run-wide: LRA007" in texts  # a finding without step/epoch is still shown
    assert "Learning rate: logged vs effective" in texts
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temp file left


def test_effective_line_follows_the_closed_form(tmp_path):
    """The drawn path of the effective lr has one vertex pair per update at lr0/(1+decay*step)."""
    import matplotlib.figure

    captured = {}
    original = plot_module._draw_run

    def spy(ax, i, timeline, findings, **options):
        original(ax, i, timeline, findings, **options)
        captured[i] = ax

    plot_module._draw_run = spy
    try:
        plot_runs([decay_plateau_timeline(reductions=())], None, tmp_path / "lr.png")
    finally:
        plot_module._draw_run = original
    ax = captured[0]
    assert isinstance(ax.figure, matplotlib.figure.Figure)
    assert ax.get_yscale() == "log"
    line = next(a for a in ax.get_lines() if a.get_gid() == "effective-lr-0")
    steps = np.arange(160)
    np.testing.assert_allclose(line.get_xdata(), steps)
    np.testing.assert_allclose(line.get_ydata(), 1e-3 / (1 + 1e-2 * steps), rtol=1e-6)


@pytest.mark.slow  # a full matplotlib render (PNG or a grid of panels)
def test_png_is_a_real_picture(tmp_path):
    out = plot_runs([decay_plateau_timeline()], None, tmp_path / "lr.png")
    pixels = png_pixels(out)
    assert pixels.ndim == 3 and pixels.shape[0] > 300 and pixels.shape[1] > 800
    assert float(pixels[..., :3].std()) > 0.05  # not blank
    assert (out.stat().st_mode & 0o777) != 0o600  # a normal file mode, not mkstemp's


def test_nan_and_zero_lr_are_marked_not_dropped(tmp_path):
    timeline = decay_plateau_timeline(invalid_from=100, reductions=())
    timeline.frame.loc[5, "lr_effective"] = 0.0
    ids, texts = svg_ids_and_texts(plot_runs([timeline], None, tmp_path / "lr.svg"))
    assert "invalid-lr-0" in ids
    assert "60 updates with NaN lr, 1 with lr 0 (x on the bottom edge)" in texts


@pytest.mark.slow  # a full matplotlib render (PNG or a grid of panels)
def test_several_runs_make_a_grid_with_fit_boundaries(tmp_path):
    runs = [
        decay_plateau_timeline(
            path=f"runs/r{i}", epochs=4, reductions=(), fits=(0, 2), counter_restarts=i == 1
        )
        for i in range(4)
    ]
    ids, texts = svg_ids_and_texts(plot_runs(runs, None, tmp_path / "grid.svg", title="four runs"))
    for i in range(4):
        assert f"effective-lr-{i}" in ids and f"fit-boundary-{i}-0" in ids
    assert "four runs" in texts
    assert "fit boundary (counter restarts)" in texts and "fit boundary (counter continues)" in texts
    assert "updates in order" in texts  # the restarted counter cannot be the x axis


@pytest.mark.slow  # a full matplotlib render (PNG or a grid of panels)
def test_findings_are_matched_to_their_run(tmp_path):
    a = decay_plateau_timeline(path="runs/a")
    b = decay_plateau_timeline(path="runs/b")
    findings = [{"code": "LRA004", "severity": "warning", "epoch": 2, "run": "runs/b"}]
    ids, _ = svg_ids_and_texts(plot_runs([a, b], findings, tmp_path / "two.svg"))
    assert "finding-LRA004-1-0" in ids and not any(i.startswith("finding-LRA004-0") for i in ids)


@pytest.mark.parametrize("name", ["lr.pdf", "lr", "lr.PNG.txt"])
def test_unknown_suffix_is_a_usage_error(tmp_path, name):
    with pytest.raises(UsageError, match="unknown suffix"):
        plot_runs([decay_plateau_timeline()], None, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    import matplotlib.figure

    def broken(self, *args, **kwargs):
        Path(args[0]).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", broken)
    target = tmp_path / "lr.png"
    target.write_bytes(b"previous")
    with pytest.raises(OSError, match="disk full"):
        plot_runs([decay_plateau_timeline()], None, target)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["lr.png"]


# --------------------------------------------------------------------------- CLI on real runs


def test_cli_plot_seed_run_svg(tmp_path, monkeypatch, capsys):
    out = tmp_path / "seed.svg"
    code, _, err = run_cli(["plot", str(FIXTURES / "runs" / "k2_adam_decay_plateau"), "-o", str(out)],
                           monkeypatch, capsys)
    assert code == 0, err
    ids, texts = svg_ids_and_texts(out)
    assert "k2_adam_decay_plateau" in texts
    assert {"effective-lr-0", "base-lr-0", "plateau-reduction-0"} <= ids
    assert any(i.startswith("logged-0-") for i in ids)
    assert any(i.startswith("finding-LRA001-0") for i in ids)


@pytest.mark.slow  # a full matplotlib render (PNG or a grid of panels)
def test_cli_plot_two_runs_png(tmp_path, monkeypatch, capsys):
    out = tmp_path / "two.png"
    runs = [str(FIXTURES / "runs" / name) for name in ("k3jax_adam_plateau", "k2_resume_adam_decay")]
    code, _, err = run_cli(["plot", *runs, "-o", str(out)], monkeypatch, capsys)
    assert code == 0, err
    pixels = png_pixels(out)
    assert pixels.shape[0] > 700 and float(pixels[..., :3].std()) > 0.05


@pytest.mark.parametrize("target", ["lr.pdf", "lr.jpeg", "no_dir/lr.png"])
def test_cli_bad_output_exit_2(tmp_path, monkeypatch, capsys, target):
    args = ["plot", str(FIXTURES / "runs" / "k3jax_adam_plateau"), "-o", str(tmp_path / target)]
    code, out, err = run_cli(args, monkeypatch, capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("lraudit: error:")
    assert list(tmp_path.iterdir()) == []


def test_logged_zero_is_marked_on_the_bottom_edge(tmp_path):
    timeline = decay_plateau_timeline(reductions=())
    timeline.logged.loc[0, "value"] = 0.0  # e.g. a warm-up from 0 logged at epoch 0
    ids, texts = svg_ids_and_texts(plot_runs([timeline], None, tmp_path / "lr.svg"))
    assert "logged-invalid-0-0" in ids and "logged-0-0" in ids
    assert "logged lr (csvlogger); 1 NaN/zero/negative on the bottom edge" in texts
