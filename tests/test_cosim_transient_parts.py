"""Transient devices as one transient per crossbar, without the cells that cannot move.

The line drivers are ideal sources, so a cell sees only ``V_row − V_col``: a cell whose voltage
never leaves ``[v_reset_V, v_set_V]`` keeps its conductance (the Verilog-A rate is exactly 0 there)
and is left out of the transient; the crossbars, which share no line, run as separate transients
on the same time axis.  The result must be the full deck's within float rounding."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from codegen.controller import CtrlParams, encode_counts, schedule
from codegen.cosim.decode import capture_from_schedule, decode
from codegen.elab import elaborate
from codegen.load import load_spec

ROOT = Path(__file__).resolve().parents[1]
XOR = ROOT / "examples" / "xor.yaml"
YAK = ROOT / "examples" / "yakopcic" / "xor_yakopcic.yaml"


def _chip(path: Path = XOR):
    return elaborate(load_spec(path))


def _decoded(chip, seed: int, choices=(-2, -1, 0, 0, 1, 2)):
    """Decoded reference-controller updates of every crossbar for random signed counts."""
    rng = np.random.default_rng(seed)
    params = {p.name: p for p in CtrlParams.all_from_chip(chip)}
    out = {}
    for name, p in params.items():
        counts = rng.choice(np.array(choices), size=(p.rows, p.cols))
        out[name] = decode(p, capture_from_schedule(schedule(p, encode_counts(counts, p.count_bits))))
    return params, out


def _g0(chip):
    from codegen.learn.devices import DeviceArrays

    return DeviceArrays.create(chip).conductances


def _pwl_points(line: str) -> tuple[str, np.ndarray]:
    """(node, (n, 2) array of time s, value V) of a ``V<node> <node> 0 PWL(...)`` line."""
    node = line.split()[1]
    if "PWL(" not in line:
        return node, np.array([[0.0, 0.0]])
    nums = line[line.index("PWL(") + 4 : line.rindex(")")].replace("+", " ").split()
    return node, np.array([float(x) for x in nums]).reshape(-1, 2)


def test_moving_cells_is_strict_at_the_thresholds():
    from codegen.cosim.devices import moving_cells

    dev = _chip().device
    up, down = dev.v_set_V, dev.v_reset_V
    v_max = np.array([[up, np.nextafter(up, np.inf), 0.0, 0.0]])
    v_min = np.array([[0.0, 0.0, down, np.nextafter(down, -np.inf)]])
    # the Verilog-A model moves for v > v_set or v < v_reset only
    assert moving_cells(dev, v_max, v_min).tolist() == [[False, True, False, True]]


def test_a_kind_not_idle_between_thresholds_simulates_every_cell(monkeypatch):
    from codegen.cosim.devices import moving_cells
    from codegen.kinds.devices import kind_of

    dev = _chip().device
    monkeypatch.setattr(kind_of(dev), "idle_between_thresholds", False)
    assert moving_cells(dev, np.zeros((2, 3)), np.zeros((2, 3))).all()


@pytest.mark.parametrize("path", [XOR, YAK], ids=["memristor", "yakopcic"])
def test_skipped_cells_are_exactly_those_that_never_leave_the_thresholds(tmp_path, path):
    """Per crossbar: the simulated cells are the pulsed ones (±v_program, past a threshold); the
    half-selected and unselected ones (≤ v_program/2) are left out, and so are lines that touch no
    simulated cell.  The corner voltages it decides from are the PWL sources' own extremes."""
    from codegen.cosim.devices import TransientDevices, moving_cells

    chip = _chip(path)
    params, dec = _decoded(chip, seed=1)
    td = TransientDevices(chip, _g0(chip), tmp_path)
    parts, _step, _tstop = td.parts(params, dec)
    by_name = {p.xbar: p for p in parts}
    body, _names, _s, _t = td.body(params, dec)
    src = dict(_pwl_points(ln) for ln in body if ln.startswith("V"))
    for name, p in params.items():
        moved = dec[name].counts != 0
        if not moved.any():
            assert name not in by_name
            continue
        part = by_name[name]
        assert np.array_equal(part.cells, moved), name
        insts = [ln.split()[0] for ln in part.lines if ln.startswith("N")]
        assert insts == [f"N{name}_{r}_{c}" for r, c in zip(*np.nonzero(moved), strict=True)]
        nodes = {ln.split()[1] for ln in part.lines if ln.startswith("V")}
        low = name.lower()
        assert nodes == {f"{low}_r{r}" for r in np.nonzero(moved.any(axis=1))[0]} | {
            f"{low}_c{c}" for c in np.nonzero(moved.any(axis=0))[0]
        }
        # the full deck's waveforms at every corner of every line of this crossbar
        rows = [src[f"{low}_r{r}"] for r in range(p.rows)]
        cols = [src[f"{low}_c{c}"] for c in range(p.cols)]
        times = np.unique(np.concatenate([a[:, 0] for a in rows + cols]))
        vr = np.array([np.interp(times, a[:, 0], a[:, 1]) for a in rows])
        vc = np.array([np.interp(times, a[:, 0], a[:, 1]) for a in cols])
        cell_v = vr[:, None, :] - vc[None, :, :]
        assert np.array_equal(moving_cells(chip.device, cell_v.max(axis=2), cell_v.min(axis=2)), moved)


def test_a_cell_driven_past_a_threshold_is_simulated(tmp_path):
    """Half-selected cells see ±v_program/2: left out when that is the threshold (not past it),
    in the transient as soon as the threshold is below it; a cell no pulse half-selects (nothing
    pulsed in its row or column) stays out either way."""
    from codegen.cosim.devices import TransientDevices

    chip = _chip()
    params, dec = _decoded(chip, seed=2, choices=(-1, 0, 0, 1))
    half = next(iter(params.values())).v_program_V / 2
    for v_set, half_selected_in in [(half, False), (np.nextafter(half, 0.0), True)]:
        dev = dataclasses.replace(chip.device, v_set_V=float(v_set), v_reset_V=-float(v_set))
        c = dataclasses.replace(chip, device=dev)
        parts, _s, _t = TransientDevices(c, _g0(chip), tmp_path).parts(params, dec)
        got = {p.xbar: p.cells for p in parts}
        for name, d in dec.items():
            pulsed = d.counts != 0
            half_sel = pulsed.any(axis=1)[:, None] | pulsed.any(axis=0)[None, :]
            want = half_sel if half_selected_in else pulsed
            assert np.array_equal(got.get(name, np.zeros_like(pulsed)), want), (name, v_set)
            if half_selected_in:
                assert (want & ~pulsed).any(), name  # the case is exercised


@pytest.mark.ngspice
@pytest.mark.openvaf
def test_per_crossbar_transients_equal_the_full_deck_on_xor(tmp_path):
    """Three xor updates (signed counts up to ±2, a third of the cells not pulsed): the cells left
    out keep their conductance bit for bit; the simulated ones agree with the one-deck transient of
    every cell within 1e-9 of a step (measured ≈1.5e-12: the time steps differ only where no cell
    of a deck is past a threshold, so what is left is the rounding of ngspice's solves), and both
    pass the co-simulation's transient check against the golden device model."""
    from codegen.cosim.devices import TransientDevices
    from codegen.cosim.loop import check_transient_conductances

    chip = _chip()
    step = chip.device.dg_set_S
    g0 = _g0(chip)
    new = TransientDevices(chip, g0, tmp_path / "new", keep=True)
    full = TransientDevices(chip, g0, tmp_path / "full", keep=True, full_deck=True)
    try:
        for k in range(3):
            params, dec = _decoded(chip, seed=10 + k)
            before = {n: v.copy() for n, v in new.g.items()}
            full.g = {n: v.copy() for n, v in before.items()}  # both from the same conductances
            gn = new.program(params, dec, k)
            gf = full.program(params, dec, k)
            pulses = {n: d.counts for n, d in dec.items()}
            for n in gn:
                still = pulses[n] == 0
                assert np.array_equal(gn[n][still], before[n][still]), n
                assert np.abs(gn[n] - gf[n]).max() <= 1e-9 * step, n
                assert not np.array_equal(gn[n][~still], before[n][~still]), n
            for g in (gn, gf):
                err, found = check_transient_conductances(chip, before, g, g, pulses, pulses)
                assert found is None and err < 1e-3
        assert new.cells_simulated < new.cells_active  # cells were left out
        assert full.cells_simulated == full.cells_active
    finally:
        new.close()
        full.close()


@pytest.mark.ngspice
@pytest.mark.openvaf
def test_transients_spread_over_two_workers_give_one_workers_conductances(tmp_path):
    """The per-crossbar decks of three xor updates run in one worker and spread over two: the
    same conductances bit for bit (each deck is its own circuit)."""
    from codegen.cosim.devices import TransientDevices

    chip = _chip()
    g0 = _g0(chip)
    one = TransientDevices(chip, g0, tmp_path / "one", workers=1)
    two = TransientDevices(chip, g0, tmp_path / "two", workers=2)
    try:
        for k in range(3):
            params, dec = _decoded(chip, seed=20 + k)
            calls: list[bool] = []
            folder = tmp_path / "two" / f"step{k:04d}"
            g1 = one.program(params, dec, k)
            g2 = two.program(
                params, dec, k, during=lambda c=calls, f=folder: c.append((f / "circuit.cir").is_file())
            )
            assert all(np.array_equal(g1[n], g2[n]) for n in g1)
            assert calls == [True]  # once, while the workers ran, the step folder written
        assert one.extra == [] and len(two.extra) == 1
        assert two.cells_simulated == one.cells_simulated > 0
    finally:
        one.close()
        two.close()
    assert two.session is None and two.extra == []


@pytest.mark.ngspice
@pytest.mark.openvaf
@pytest.mark.parametrize("path", [XOR, YAK], ids=["memristor", "yakopcic"])
def test_step_bound_applies_only_past_a_threshold(tmp_path, path):
    """The Verilog-A ``$bound_step`` holds while ``V`` is past a threshold and not between them: with
    a ``.tran`` maximum step of one pulse width, 100 widths at v_program/2 take about 100 steps (the
    bound throughout would take 5 000), the pulse at ±v_program still at least STEPS_PER_WIDTH."""
    from codegen.run.ngspice_tran import memristor_deck_head, run_ngspice, tran_wrdata_tail
    from codegen.run.pulse import STEPS_PER_WIDTH, memristor_osdi, pulse_train_pwl

    chip = _chip(path)
    d = chip.device
    w = d.pulse_width_s
    amp = chip.controller.v_program_V
    hold, _ = pulse_train_pwl([1], amp / 2, 100 * w, 200 * w, start_s=w)
    pulse, starts = pulse_train_pwl([1], amp, w, 3 * w, start_s=102 * w)
    lines = [*memristor_deck_head("step bound"), f"Vh a 0 {hold}", f"Vp b a {pulse}", "N1 b 0 mem w0=0.5"]
    lines += tran_wrdata_tail(w / STEPS_PER_WIDTH, 106 * w, w, "t.txt", ["v(b)"])
    res = run_ngspice("\n".join(lines), tmp_path, osdi={"eqp_memristor.osdi": memristor_osdi(chip)})
    del res
    t = np.loadtxt(tmp_path / "t.txt", ndmin=2)[:, 0]
    in_hold = np.count_nonzero((t > 2 * w) & (t < 100 * w))
    in_pulse = np.count_nonzero((t > starts[0]) & (t < starts[0] + w))
    assert in_hold < 300, in_hold
    assert in_pulse >= STEPS_PER_WIDTH, in_pulse


@pytest.mark.ngspice
@pytest.mark.openvaf
def test_divergence_lists_the_transient_decks_the_step_folder_runs(tmp_path):
    """A divergence with transient devices names ``circuit.cir`` and the ``xbar_<name>.cir`` decks
    it sources, all present."""
    import asyncio

    from codegen.cosim.loop import CosimConfig, ReferenceController, run_loop

    chip = _chip(ROOT / "examples" / "kiraz_case1.yaml")
    cfg = CosimConfig(steps=4, device="transient", out=tmp_path)
    ctrl = ReferenceController(CtrlParams.all_from_chip(chip), fault=(1, "W12", 1))
    res = asyncio.run(run_loop(chip, cfg, ctrl, log=lambda s: None))
    dv = res.divergence
    assert not res.passed and dv is not None and dv.step == 1
    decks = [Path(f) for f in dv.files if Path(f).name.startswith("xbar_")]
    assert decks and all(f.is_file() for f in decks)
    assert any(Path(f).name == "circuit.cir" for f in dv.files)
    driver = next(Path(f) for f in dv.files if Path(f).name == "circuit.cir").read_text()
    assert all(f"source {f.name}" in driver for f in decks)
