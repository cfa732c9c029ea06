"""Every PNG of ``train``, ``sweep`` and ``cosim`` rendered on a small case, checked through the
matplotlib Figure each plotting function returns: axis and colorbar labels with units, g_min/g_max
on the histograms, fixed convergence scale, no empty panels, an explanation line, same bytes twice."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

import codegen
from codegen.cosim.report import plot_report
from codegen.learn.plots import HEATMAP_MAX_CELLS, plot_conductances, plot_history, plot_outputs, plot_sweep
from codegen.learn.sweep import summarise
from codegen.plotting import DPI, param_label, unit_of, value_label

ROOT = Path(__file__).resolve().parents[1]
XOR = ROOT / "examples" / "xor.yaml"


def _colorbars(fig) -> list:
    return [im.colorbar for a in fig.axes for im in a.images if im.colorbar is not None]


def _data_axes(fig) -> list:
    cbar_axes = {cb.ax for cb in _colorbars(fig)}
    return [a for a in fig.axes if a not in cbar_axes]


def _note(fig) -> str:
    """The explanation line under the figure (:func:`codegen.plotting.figure` tags it ``note``)."""
    (t,) = [t for t in fig.texts if t.get_gid() == "note"]
    return t.get_text()


def _check_common(fig, path: Path) -> None:
    """Every data panel has data and labelled axes, every colorbar a label, the figure a note, and
    the whole figure (labels included) lies inside the canvas."""
    assert path.stat().st_size > 5000
    assert len(_note(fig)) > 30, "no explanation line"
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)  # the saved figure is closed: draw it again as it was saved
    fig.set_dpi(DPI)
    canvas.draw()
    r = canvas.get_renderer()
    box = fig.bbox
    for a in _data_axes(fig):
        assert a.has_data(), f"empty panel {a.get_title()!r}"
        assert a.get_xlabel() and a.get_ylabel(), f"unlabelled axis in {a.get_title()!r}"
    for cb in _colorbars(fig):
        assert cb.ax.get_ylabel(), "colorbar without a label"
        lab = cb.ax.yaxis.label.get_window_extent(r)
        assert lab.x1 <= box.x1 + 1 and lab.x0 >= box.x0 - 1, "colorbar label outside the figure"
    for t in fig.texts:
        ext = t.get_window_extent(r)
        assert ext.x0 >= box.x0 - 1 and ext.x1 <= box.x1 + 1, "note wider than the figure"


@pytest.fixture(scope="module")
def trained():
    chip = codegen.load_chip(XOR)
    return chip, codegen.train(chip, epochs=3), codegen.train(chip, epochs=3, gradient_source="exact")


def test_training_png(trained, tmp_path):
    chip, ep, base = trained
    fig = plot_history(
        ep.rows(), tmp_path / "training.png", "xor", baseline=base.rows(), pulses_label="update"
    )
    _check_common(fig, tmp_path / "training.png")
    loss, acc, upd = _data_axes(fig)
    assert loss.get_ylabel() == "loss ½Σ(t−y)² (V²)" and loss.get_yscale() == "log"
    assert "accuracy" in acc.get_ylabel() and acc.get_ylim() == pytest.approx((-0.02, 1.02))
    assert upd.get_ylabel() == "Σ|ΔG| (µS)"
    assert all(a.get_xlabel() == "epoch" for a in (loss, acc, upd))
    fig = plot_history(ep.rows(), tmp_path / "t2.png", "xor", pulses_label="pulses")
    assert _data_axes(fig)[2].get_ylabel() == "programming pulses"


def test_training_png_is_deterministic(trained, tmp_path):
    _chip, ep, _ = trained
    plot_history(ep.rows(), tmp_path / "a.png", "xor")
    plot_history(ep.rows(), tmp_path / "b.png", "xor")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_conductances_png_histograms_and_heatmaps(trained, tmp_path):
    chip, ep, _ = trained
    d = chip.device
    lo, hi = d.g_min_S * 1e6, d.g_max_S * 1e6
    fig = plot_conductances(ep.g_initial, ep.g_final, tmp_path / "c.png", (d.g_min_S, d.g_max_S), title="xor")
    _check_common(fig, tmp_path / "c.png")
    axes = _data_axes(fig)
    n = len(ep.g_final)
    hists, maps = axes[:n], axes[n:]
    assert len(maps) == n  # every xor crossbar is small: one heatmap each
    for a in hists:
        assert a.get_xlabel() == "G (µS)" and a.get_ylabel() == "cells"
        xs = sorted({round(float(line.get_xdata()[0]), 9) for line in a.lines})
        assert xs == [round(lo, 9), round(hi, 9)], "g_min/g_max lines"
        labels = {t.get_text().strip() for t in a.texts}
        assert {"g_min", "g_max"} <= labels
    for a, (name, g) in zip(maps, ep.g_final.items(), strict=True):
        (im,) = a.images
        np.testing.assert_allclose(im.get_array(), g * 1e6)
        assert im.norm.vmin == pytest.approx(lo) and im.norm.vmax == pytest.approx(hi)
        assert im.colorbar.ax.get_ylabel() == "G (µS)"
        assert name in a.get_title()


def test_conductances_png_large_crossbar_has_no_heatmap(tmp_path):
    rng = np.random.default_rng(0)
    big = {"W01": rng.uniform(1e-6, 1e-4, (HEATMAP_MAX_CELLS + 1, 1))}
    fig = plot_conductances(big, big, tmp_path / "c.png", (1e-6, 1e-4))
    _check_common(fig, tmp_path / "c.png")
    assert len(_data_axes(fig)) == 1 and not _colorbars(fig)


def test_outputs_png(trained, tmp_path):
    chip, ep, _ = trained
    from codegen.learn.datasets import load_dataset

    ds = load_dataset(chip)
    y0 = codegen.golden_model(chip, ep.g_initial).solve(ds.x_test).outputs
    y1 = codegen.golden_model(chip, ep.g_final).solve(ds.x_test).outputs
    fig = plot_outputs(ds.t_test, y0, y1, tmp_path / "o.png", title="xor")
    _check_common(fig, tmp_path / "o.png")
    (a,) = _data_axes(fig)
    assert a.get_xlabel() == "target (V)" and a.get_ylabel().endswith("(V)")
    before, after = a.collections
    np.testing.assert_allclose(after.get_offsets()[:, 1], y1.ravel())
    np.testing.assert_allclose(before.get_offsets()[:, 0], ds.t_test.ravel())


def _sweep_rows(grid, energies=("full",)) -> list[dict]:
    rows = []
    keys = [k for k, _ in grid]
    for i, combo in enumerate(itertools.product(*[v for _, v in grid])):
        for e in energies:
            for seed in (0, 1):
                loss = 10.0 ** (-1 - i) * (1 + seed)
                rows.append(
                    {
                        **dict(zip(keys, combo, strict=True)),
                        "energy": e,
                        "init_seed": seed,
                        "final_loss": loss,
                        "converged": loss <= 1e-3,
                    }
                )
    return rows


def test_sweep_pngs(tmp_path):
    grid = [("training.learning_rate", [1e-9, 1e-8, 1e-7]), ("nudge.beta", [1e-7, 1e-6, 1e-3])]
    s = summarise(_sweep_rows(grid), grid)
    loss, conv = plot_sweep(s, grid, tmp_path, "kiraz_case1: 2 seeds", 1e-3)
    for fig, name in ((loss, "final_loss.png"), (conv, "convergence.png")):
        _check_common(fig, tmp_path / name)
        (a,) = _data_axes(fig)
        assert a.get_xlabel() == "η = training.learning_rate (S²/V²)"
        assert a.get_ylabel() == "β = nudge.beta (S)"
        assert [t.get_text() for t in a.get_xticklabels()] == ["1e-09 S²/V²", "1e-08 S²/V²", "1e-07 S²/V²"]
        assert [t.get_text() for t in a.get_yticklabels()] == ["beta=100 nS", "beta=1 µS", "beta=1 mS"]
    (cb,) = _colorbars(loss)
    assert (
        cb.ax.get_ylabel() == "median final loss ½Σ(t−y)² (V²)"
        and loss.axes[0].images[0].norm.__class__.__name__ == "LogNorm"
    )
    (cb,) = _colorbars(conv)
    assert cb.ax.get_ylabel() == "fraction of seeds converged"
    im = _data_axes(conv)[0].images[0]
    assert (im.norm.vmin, im.norm.vmax) == (0.0, 1.0)


def test_convergence_scale_is_fixed_when_nothing_converged(tmp_path):
    grid = [("nudge.beta", [1e-6, 1e-3])]
    rows = [dict(r, converged=False) for r in _sweep_rows(grid, energies=("full", "resistors_only"))]
    _loss, conv = plot_sweep(summarise(rows, grid), grid, tmp_path, "t", 1e-9)
    _check_common(conv, tmp_path / "convergence.png")
    im = _data_axes(conv)[0].images[0]
    assert (im.norm.vmin, im.norm.vmax) == (0.0, 1.0)
    assert _data_axes(conv)[0].get_ylabel() == "energy"


def _cosim_res(device: str, n: int, g_err: float) -> dict:
    steps = [
        {
            "step": i,
            "loss_golden": 0.3 - 0.01 * i,
            "loss_cosim": 0.3 - 0.01 * i,
            "pulses": 12,
            "pulses_golden": 12,
            "g_err_steps": g_err,
            "transient_step_err_steps": 1e-4,
        }
        for i in range(n)
    ]
    return {
        "chip": "kiraz_case1",
        "steps": steps,
        "divergence": None,
        "config": {"controller": "reference model", "device": device, "phases": "sequential", "steps": n},
    }


@pytest.mark.parametrize(
    ("device", "g_err", "panels"), [("behavioral", 0.0, 2), ("behavioral", 1e-9, 3), ("transient", 0.0, 3)]
)
def test_cosim_png_has_no_empty_panel(tmp_path, device, g_err, panels):
    fig = plot_report(_cosim_res(device, 5, g_err), tmp_path / "cosim.png")
    _check_common(fig, tmp_path / "cosim.png")
    axes = _data_axes(fig)
    assert len(axes) == panels
    assert axes[0].get_ylabel() == "loss ½Σ(t−y)² (V²)" and axes[-1].get_ylabel() == "programming pulses"
    if panels == 3:
        assert axes[1].get_ylabel() == "max |G_cosim − G_golden| (device steps)"
    else:
        assert "exactly" in _note(fig)


def test_cosim_png_without_steps_is_one_panel(tmp_path):
    res = _cosim_res("behavioral", 0, 0.0)
    res["divergence"] = {"step": 0, "kind": "controller"}
    fig = plot_report(res, tmp_path / "cosim.png")
    assert len(fig.axes) == 1 and "no step completed" in fig.axes[0].texts[0].get_text()
    assert "DIVERGED at step 0" in fig._suptitle.get_text()


def test_units_come_from_the_schema():
    assert unit_of("nudge.beta") == "S" and unit_of("device.g_min") == "S"
    assert unit_of("training.learning_rate") == "S²/V²" and unit_of("device.asymmetry") == ""
    assert unit_of("device.pulse_amplitude") == "V" and unit_of("no.such") == ""
    assert param_label("nudge.beta") == "β = nudge.beta (S)"
    assert value_label("nudge.beta", "1e-06") == "1 µS" and value_label("device.asymmetry", 0.5) == "0.5"


def test_train_cli_writes_every_png(tmp_path):
    from codegen.cli import main

    out = tmp_path / "train"
    assert main(["train", str(XOR), "--epochs", "2", "--no-baseline", "-q", "-o", str(out)]) == 0
    for name in ("training.png", "conductances.png", "outputs.png"):
        assert (out / name).stat().st_size > 5000, name


def test_conductances_png_heatmap_sits_under_its_own_histogram(tmp_path):
    rng = np.random.default_rng(0)
    g = {"W01": rng.uniform(1e-6, 1e-4, (64, 128)), "B1": rng.uniform(1e-6, 1e-4, (64, 2))}
    fig = plot_conductances(g, g, tmp_path / "c.png", (1e-6, 1e-4))
    _check_common(fig, tmp_path / "c.png")
    hists = [a for a in _data_axes(fig) if a.get_ylabel() == "cells"]
    (heat,) = [a for a in _data_axes(fig) if a.images]
    assert heat.get_title() == "B1 after training"
    assert "none for W01 (8192 cells)" in " ".join(_note(fig).split())
    b1 = next(a for a in hists if a.get_title().startswith("B1"))
    assert abs(heat.get_position().x0 - b1.get_position().x0) < 0.05


def _disturb(margin_V: float) -> dict:
    return {
        "cell": "W01[3,1] (in0n → h1_3)",
        "dv_V": -(4.0 - margin_V),
        "phase": "nudged −β",
        "sample_label": "train 3",
        "margin_V": margin_V,
        "v_set_V": 4.0,
        "v_reset_V": -4.0,
    }


@pytest.mark.parametrize("worst", [0.627, -0.006])
def test_read_margin_png(tmp_path, worst):
    from codegen.cli.check import plot_read_margin

    margins = np.array([worst, 0.7, 0.69, 2.85])
    fig = plot_read_margin(tmp_path / "read_margin.png", "xor", margins, _disturb(worst))
    (ax,) = fig.axes
    assert ax.get_xlabel() == "read margin (V)" and ax.get_ylabel() == "samples"
    assert sum(p.get_height() for p in ax.patches) == len(margins)  # every sample is counted
    lo, hi = ax.get_xlim()
    assert lo <= min(worst, 0.0) and hi >= margins.max()  # the 0 V line and every sample in view
    note = next(t.get_text() for t in fig.texts if t.get_gid() == "note")
    assert "W01[3,1]" in note and "train 3" in note and "+4 / -4 V" in note
    assert (tmp_path / "read_margin.png").stat().st_size > 0


@pytest.mark.ngspice
def test_check_cli_writes_the_read_margin_png(tmp_path):
    from codegen.cli import main

    out = tmp_path / "r" / "check.json"
    assert main(["check", str(ROOT / "examples" / "kiraz_case1.yaml"), "--json", str(out), "--no-pulse"]) == 0
    assert (tmp_path / "r" / "read_margin.png").stat().st_size > 0
