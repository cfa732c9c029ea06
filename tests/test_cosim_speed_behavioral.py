"""Speed paths of the behavioral co-simulation (``codegen cosim --device behavioral``): each one must
give the numbers of the slower code it replaced, bit for bit.  The slower code is kept here as the
reference (per-branch clamp diodes, one device call per segment and voltage, uncached solver
blocks), so a change that moves a single bit fails here, not as a drifting step record."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from codegen.controller import CtrlParams, encode_counts, schedule
from codegen.cosim.decode import capture_from_schedule, decode
from codegen.elab import elaborate
from codegen.load import load_spec

ROOT = Path(__file__).resolve().parents[1]
XOR = ROOT / "examples" / "xor.yaml"


def _chip(path: Path = XOR, **device):
    spec = load_spec(path)
    if device:
        spec = spec.model_copy(update={"device": spec.device.model_copy(update=device)})
    return elaborate(spec)


# ------------------------------------------------------------------ clamp diodes
def _clamp_by_branch(x, i_s, nvt, gmin, reverse="spice3"):
    """shockley_clamp as it was: each branch on the index arrays of its own voltages."""
    from tests.test_kinds import _clamp_branch_by_branch

    return tuple(a.reshape(x.shape) for a in _clamp_branch_by_branch(x, i_s, nvt, gmin, reverse))


@pytest.mark.parametrize("reverse", ["spice3", "shockley"])
def test_clamp_diode_picks_branches_per_element_bit_for_bit(reverse):
    from codegen.kinds.neurons.diode_pair.golden import shockley_clamp

    rng = np.random.default_rng(0)
    cases = [rng.normal(0, 0.3, (4, 8)) * s for s in (1e-3, 0.1, 1.0, 30.0)]
    cases += [np.abs(cases[1]), -np.abs(cases[2]) - 1.0, np.zeros((3, 2))]  # one branch only; x = 0
    cases[2].ravel()[5] = 0.0
    for x in cases:
        with np.errstate(over="ignore"):
            got, want = (
                shockley_clamp(x, 1e-9, 0.0258, 1e-12, reverse),
                _clamp_by_branch(x, 1e-9, 0.0258, 1e-12, reverse),
            )
        for a, b in zip(got, want, strict=True):
            assert a.shape == x.shape
            assert np.array_equal(a, b, equal_nan=True)


# ------------------------------------------------------------------ golden model caches
def test_golden_model_caches_follow_the_conductances_bit_for_bit():
    """EP gradients after set_conductances equal a fresh model's at those conductances (the cached
    K + β·PᵀP and its dense blocks are rebuilt), and the cached dense blocks give the solve of the
    uncached ones."""
    from codegen.learn.datasets import load_dataset
    from codegen.model import GoldenModel

    chip = _chip()
    ds = load_dataset(chip)
    x, t = ds.x_train[:4], ds.t_train[:4]
    g1 = chip.initial_conductances()
    g2 = {k: np.clip(v * 1.37, chip.device.g_min_S, chip.device.g_max_S) for k, v in g1.items()}
    m = GoldenModel(chip, conductances=g1)
    assert m.method == "dense"
    first, _ = m.ep_gradient_and_free(x, t)
    m.set_conductances(g2)
    got, free = m.ep_gradient_and_free(x, t)
    fresh = GoldenModel(chip, conductances=g2)
    want, free_w = fresh.ep_gradient_and_free(x, t)
    for k in want:
        assert np.array_equal(got[k], want[k]), k
        assert not np.array_equal(first[k], want[k])
    assert np.array_equal(free.v, free_w.v)
    # the cached blocks give the uncached solve
    beta = chip.nudge.beta_S
    rng = np.random.default_rng(1)
    hd, rhs = rng.random((4, m.n_free)) * 1e-5, rng.normal(size=(4, m.n_free)) * 1e-6
    base = m._K + (beta * m._c_out) * m._PtP
    assert np.array_equal(m._base(beta), base)
    assert np.array_equal(m._dense_solve(base, hd, rhs), m._dense_solve(base, hd, rhs, m._dense_parts(beta)))
    # the source voltages passed in are the ones solve computes
    assert np.array_equal(m.solve(x).v, m.solve(x, sources=m.source_values(x)).v)


def test_golden_model_takes_the_blas_limit_once_when_nested():
    import contextlib

    from codegen.model import GoldenModel

    m = GoldenModel(_chip())
    outer = m._blas_threads()
    assert not isinstance(outer, contextlib.nullcontext)
    with outer:
        assert m._blas_held
        assert isinstance(m._blas_threads(), contextlib.nullcontext)  # nested: no second limit
    assert not m._blas_held
    assert not isinstance(m._blas_threads(), contextlib.nullcontext)


# ------------------------------------------------------------------ behavioral devices
def _program_by_segment(dev, p, dec, g):
    """BehavioralDevices.program as it was: every segment, every voltage in it, one device call."""
    from codegen.model.device import apply_pulse, g_from_w, rate, w_from_g

    w0 = w_from_g(dev, g)
    w = w0.copy()
    half = p.v_program_V / 2
    for s in dec.segments:
        volts, dt = s.halves * half, s.length / p.clock_hz
        for v in np.unique(volts):
            if float(rate(dev, float(v))) == 0.0:
                continue
            m = volts == v
            w[m] = apply_pulse(dev, w[m], float(v), dt)
    return np.where(w == w0, g, g_from_w(dev, w))


@pytest.mark.parametrize(
    ("gap", "soft"),
    [(1, False), (0, False), (2, True)],  # gap 0: a cell's pulses merge into one longer segment
)
def test_behavioral_devices_apply_rounds_bit_for_bit(gap, soft):
    """Cells with up to max_pulses pulses of either sign (several rounds of exposures), hard and
    soft bounds, merged and separate pulses: the conductances of one call per segment and voltage."""
    from codegen.cosim.devices import BehavioralDevices
    from codegen.learn.devices import DeviceArrays

    spec = load_spec(XOR)
    spec = spec.model_copy(
        update={
            "controller": spec.controller.model_copy(update={"gap_cycles": gap}),
            "device": spec.device.model_copy(update={"soft_bounds": soft}),
        }
    )
    chip = elaborate(spec)
    rng = np.random.default_rng(gap)
    params = {p.name: p for p in CtrlParams.all_from_chip(chip)}
    g = DeviceArrays.create(chip).conductances
    beh = BehavioralDevices(chip, g)
    for step in range(3):
        dec = {}
        for name, p in params.items():
            counts = rng.integers(-p.max_pulses, p.max_pulses + 1, size=(p.rows, p.cols))
            counts[rng.random(counts.shape) < 0.3] = 0
            dec[name] = decode(p, capture_from_schedule(schedule(p, encode_counts(counts, p.count_bits))))
        want = {k: _program_by_segment(chip.device, params[k], dec[k], g[k]) for k in g}
        got = beh.program(params, dec, step)
        for k in want:
            assert np.array_equal(got[k], want[k]), (step, k)
        assert any(not np.array_equal(got[k], g[k]) for k in g)  # something moved
        g = want


# ------------------------------------------------------------------ Verilator build
def test_verilator_build_makes_only_the_testbench_signals_public():
    from codegen.cosim.runner import VERILATOR_PUBLIC, verilator_public_build
    from codegen.errors import CodegenError

    cmds = [
        [
            "verilator",
            "-cc",
            "--vpi",
            "--public-flat-rw",
            "--prefix",
            "Vtop",
            "x/verilator.cpp",
            "a.v",
            "b.v",
        ],
        ["make", "-C", "x"],
    ]
    got = verilator_public_build(cmds, "p.vlt")
    assert got[0] == [
        "verilator",
        "-cc",
        "--vpi",
        "--prefix",
        "Vtop",
        "p.vlt",
        "x/verilator.cpp",
        "a.v",
        "b.v",
    ]
    assert got[1] == cmds[1]
    assert 'public_flat_rw -module "cosim_vtop" -var "*"' in VERILATOR_PUBLIC
    assert 'public_flat_rw -module "eqp_code_mem*" -var "mem"' in VERILATOR_PUBLIC
    with pytest.raises(CodegenError, match="public-flat-rw"):
        verilator_public_build([cmds[0][:3] + cmds[0][4:], cmds[1]], "p.vlt")


# ------------------------------------------------------------------ the loop
def test_behavioral_loop_records_are_those_of_the_reference_paths(tmp_path, monkeypatch):
    """Six xor steps through run_loop (reference controller) give the step records of the same loop
    with the slower paths patched back in (per-branch clamp diodes, uncached solver blocks, one
    device call per segment and voltage), byte for byte.  (The golden twin's warm starts change
    numbers within the solver tolerance, not bit for bit: both runs have them, and
    tests/test_cosim_speed.py checks them against a cold golden model.)"""
    import json

    import codegen.kinds.neurons.diode_pair as dpair
    from codegen.cosim import devices as cdev
    from codegen.cosim.loop import CosimConfig, ReferenceController, run_loop
    from codegen.model import network

    chip = _chip()

    def run(out):
        res = asyncio.run(
            run_loop(
                chip,
                CosimConfig(steps=6, out=out),
                ReferenceController(CtrlParams.all_from_chip(chip)),
                log=lambda *a: None,
            )
        ).as_dict()
        res.pop("timing_s")
        return json.dumps(res, sort_keys=True)

    fast = run(tmp_path / "fast")
    monkeypatch.setattr(dpair, "shockley_clamp", _clamp_by_branch)  # what clamp_diode calls
    monkeypatch.setattr(network.GoldenModel, "_dense_parts", lambda self, beta: None)
    monkeypatch.setattr(
        network.GoldenModel, "_base", lambda self, beta: self._K + (beta * self._c_out) * self._PtP
    )

    def by_segment(self, params, decoded, step, during=None):
        for name, dec in decoded.items():
            self.g[name] = _program_by_segment(self.dev, params[name], dec, self.g[name])
        if during is not None:
            during()
        return {k: v.copy() for k, v in self.g.items()}

    monkeypatch.setattr(cdev.BehavioralDevices, "program", by_segment)
    slow = run(tmp_path / "slow")
    assert fast.replace(str(tmp_path / "fast"), "OUT") == slow.replace(str(tmp_path / "slow"), "OUT")


# ------------------------------------------------------------------ ngspice batch
@pytest.mark.ngspice
def test_batch_session_reads_each_vector_once_and_prints_no_initial_solution():
    """The nudged deck's three phases are time slots of one network copy: each node's vector is read
    back once per batch (not once per phase), and the transient prints no listing of its initial
    solution (a Python callback per line) — the voltages are those of the slower reads."""
    from codegen.cosim import analog
    from codegen.learn.datasets import load_dataset

    chip = _chip()
    ds = load_dataset(chip)
    sp = analog.SpiceCrossbars(chip, chip.initial_conductances(), "sequential")
    s = sp.session
    calls: list[str] = []
    printed: list[str] = []
    read, run = s._vector, s.ng.exec_command

    def counting(plot, name):
        calls.append(name)
        return read(plot, name)

    def keeping(cmd, *a, **k):
        out = run(cmd, *a, **k)
        printed.extend(s.ng._stdout)
        return out

    s._vector, s.ng.exec_command = counting, keeping
    v = s.solve(ds.x_train[:4], ds.t_train[:4])
    assert sorted(calls) == sorted(["time", *dict.fromkeys(n for names in s._vec.values() for n in names)])
    assert len(s._vec) == 3 and not any("Initial Transient Solution" in ln for ln in printed)
    assert any("No. of Data Rows" in ln for ln in printed)  # the transient did print its summary
    plot = None

    def every_read(cmd, *a, **k):  # keep the plot for the slower reads below
        nonlocal plot
        if cmd.startswith("destroy"):
            plot = s.ng.last_plot
            return None
        return run(cmd, *a, **k)

    s.ng.exec_command = every_read
    v2 = s.solve(ds.x_train[:4], ds.t_train[:4])
    for c in v:
        assert np.array_equal(v[c], v2[c])
    time_s = read(plot, "time")
    from codegen.run.ngspice import _sample_of

    k = 4 * s._slots
    last = np.full(k, -1)
    last[_sample_of(time_s, k)] = np.arange(len(time_s))
    for c, names in s._vec.items():  # one read per phase and node, as before
        want = np.stack([read(plot, n)[last[s._slot[c] :: s._slots]] for n in names], axis=1)
        assert np.array_equal(v2[c], want), c
    run("destroy all")


@pytest.mark.ngspice
def test_spice_crossbars_ep_from_arrays_is_the_per_sample_dicts_bit_for_bit():
    """SpiceCrossbars.solve takes the EP update and the outputs from the solve's arrays; the
    per-sample node → V dicts it built before give the same numbers."""
    from codegen.cosim import analog
    from codegen.learn.datasets import load_dataset
    from codegen.run.equivalence import ep_from_voltages

    chip = _chip()
    ds = load_dataset(chip)
    x, t = ds.x_train[:4], ds.t_train[:4]
    sp = analog.SpiceCrossbars(chip, chip.initial_conductances(), "sequential")
    got = sp.solve(x, t, chip.nudge.beta_S)
    v = sp.session.solve(x, t)  # the same deck and batch: the same voltages
    d = {c: [dict(zip(sp.nodes, row.tolist(), strict=True)) for row in a] for c, a in v.items()}
    want = ep_from_voltages(chip, d["free"], d["pos"], d["neg"], chip.nudge.beta_S)
    y = np.array([analog.outputs_of(chip, s) for s in d["free"]])
    for k in want:
        assert np.array_equal(got.gradient[k], want[k]), k
    assert np.array_equal(got.outputs, y)
    assert got.loss == float(np.mean(0.5 * np.sum((t - y) ** 2, axis=1)))


def _newton_reference(m, x, t, beta, v0):
    """GoldenModel._solve's damped Newton loop as it was (dense/sparse start from v0 or 0): every
    array filtered each iteration, the line search's first test on index arrays, 60 halvings."""
    u = m.source_values(x)
    B = u.shape[0]
    t = m._targets(t, B)
    b = u @ m._Bm.T
    v = np.zeros((B, m.n_free)) if v0 is None else np.array(np.broadcast_to(v0, (B, m.n_free)), dtype=float)
    tol, maxit = m.chip.simulation.residual_tol_A, m.chip.simulation.max_newton_iterations
    iters, res = np.zeros(B, dtype=int), np.full(B, np.inf)
    energy, grad, hdiag = m._eval(v, b, t, beta)
    act, it = np.arange(B), 0
    while True:
        r = np.abs(grad / m._c).max(axis=1)
        res[act], iters[act] = r, it
        keep = ~(r <= tol)
        act, energy, grad, hdiag = act[keep], energy[keep], grad[keep], hdiag[keep]
        if act.size == 0 or it >= maxit:
            break
        it += 1
        va, ba = v[act], b[act]
        ta = None if t is None else t[act]
        step = m._newton_step(hdiag, grad, beta, np.maximum(1e-5 * tol, 1e-10 * r[keep]))
        slope = np.einsum("bi,bi->b", grad, step)
        alpha = np.ones(act.size)
        new_v = va + step
        new_e, new_g, new_h = m._eval(new_v, ba, ta, beta)
        pending = np.arange(act.size)
        for _ in range(60):
            ok = np.isfinite(new_e[pending]) & (
                (new_e[pending] <= energy[pending] + 1e-4 * alpha[pending] * slope[pending])
                | (np.abs(new_g[pending] / m._c).max(axis=1) < r[keep][pending])
            )
            pending = pending[~ok]
            if pending.size == 0:
                break
            alpha[pending] *= 0.5
            tv = va[pending] + alpha[pending, None] * step[pending]
            te, tg, th = m._eval(tv, ba[pending], None if ta is None else ta[pending], beta)
            new_v[pending], new_e[pending], new_g[pending], new_h[pending] = tv, te, tg, th
        v[act] = new_v
        energy, grad, hdiag = new_e, new_g, new_h
    return v, iters, res


def test_newton_loop_gives_the_filtered_loops_iterates_bit_for_bit():
    """The Newton loop skips the copies while every sample is active and tests the first line-search
    step on whole arrays: the same voltages, iterations and residuals, also from starts that need
    many halvings (far from the clamps) and with samples converging at different iterations."""
    from codegen.learn.datasets import load_dataset
    from codegen.model import GoldenModel

    chip = _chip()
    ds = load_dataset(chip)
    x, t = ds.x_train[:4], ds.t_train[:4]
    m = GoldenModel(chip, conductances=chip.initial_conductances())
    rng = np.random.default_rng(3)
    starts = [
        None,
        rng.normal(0, 0.3, (4, m.n_free)),
        np.full((4, m.n_free), 1.0),
        rng.normal(0, 0.5, (4, m.n_free)),
    ]
    beta = chip.nudge.beta_S
    for v0 in starts:
        for b, tt in ((0.0, None), (beta, t), (-beta, t)):
            eq = m.solve(x, tt, b, v0=v0)
            v, iters, res = _newton_reference(m, x, tt, b, v0)
            assert np.array_equal(eq.v, v) and np.array_equal(eq.iterations, iters)
            assert np.array_equal(eq.residual, res)
    assert len({int(i) for i in m.solve(x).iterations}) > 1  # samples part ways
    calls = []
    orig = m._eval
    m._eval = lambda *a: (calls.append(len(a[0])), orig(*a))[1]
    eq = m.solve(x)
    assert len(calls) > int(eq.iterations.max()) + 1  # the line search halved some steps
