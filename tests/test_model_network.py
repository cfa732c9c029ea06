"""Golden network model: KCL at equilibrium, energy, power balance, EP vs exact vs finite differences."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from codegen.errors import CodegenError
from codegen.model import ConvergenceError, GoldenModel
from tests.chips import random_chip

# Test networks: clamps at ±0.1 V (ReLUα: 0..0.3 V) and inputs up to ±4 V so that the diodes
# conduct in a good share of the samples (checked in test_diodes_conduct: the tests are nonlinear).
CASES = {
    "2-4-1 amp": dict(layers=[2, 4, 1]),
    "4-6-3 no amp": dict(layers=[4, 6, 3], amplifier=False),
    "3-5-4-2 skips, output neurons": dict(layers=[3, 5, 4, 2], skip=[(0, 2), (1, 3)], on_output=True),
    "3-5-4-2 relu_clamp skip": dict(layers=[3, 5, 4, 2], neuron="relu_clamp", alpha_V=0.3, skip=[(1, 3)]),
    "2-3-2 single-ended": dict(layers=[2, 3, 2], input_doubling=False, doubled_outputs=False, gain=2.0),
}


def _setup(name: str, seed: int = 3, batch: int = 12, **extra):
    kw = dict(v_low_V=-0.1, v_high_V=0.1) | CASES[name] | extra
    chip = random_chip(seed, **kw)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-4, 4, (batch, chip.n_inputs))
    t = rng.uniform(-0.3, 0.3, (batch, chip.n_outputs))
    return chip, GoldenModel(chip), x, t


def _g_out(m: GoldenModel) -> float:
    """Mean total conductance (S) at an output node: the scale β is small or large against."""
    out = m.chip.layers[-1].nodes
    tot = sum(
        m.conductances[xb.name].sum() for xb in m.chip.crossbars if xb.dst_layer == len(m.chip.layers) - 1
    )
    return float(tot / len(out))


def _flat(d: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([d[k].ravel() for k in sorted(d)])


@pytest.mark.parametrize("name", CASES)
def test_kcl_energy_and_power_balance(name):
    chip, m, x, t = _setup(name)
    for beta in (0.0, 1e-3 * _g_out(m), -1e-3 * _g_out(m)):
        eq = m.solve(x, t if beta else None, beta)
        # KCL from the element currents (independent of the solver's own residual): ≤ 1e-9 A
        assert np.abs(m.kcl_residual(eq)).max() <= 1e-9
        assert eq.residual.max() <= chip.simulation.residual_tol_A
        # Tellegen: absorbed power of all elements sums to 0, to rounding of the resistor power
        totals = m.power_totals(eq)
        assert np.abs(sum(totals.values())).max() <= 1e-9 * totals["resistors"].max()
        assert (totals["resistors"] > 0).all() and (totals["diodes"] >= 0).all()
    # the equilibrium minimises the energy: random perturbations of the free nodes raise it
    eq = m.solve(x)
    rng = np.random.default_rng(0)
    e0 = m.energy(eq)
    for _ in range(5):
        moved = type(eq)(
            m, eq.v + rng.normal(0, 1e-3, eq.v.shape), eq.u, None, 0.0, eq.iterations, eq.residual, "free"
        )
        assert (m.energy(moved) > e0).all()


@pytest.mark.parametrize("name", CASES)
def test_diodes_conduct(name):
    """The test networks are nonlinear: some clamp diode carries ≥ 1 % of the largest crossbar current."""
    chip, m, x, _ = _setup(name)
    if chip.layers[1].neuron is None:
        pytest.skip("no neurons")
    eq = m.solve(x)
    nrn = chip.layers[1].neuron
    v = np.stack([eq.voltages()[n] for la in chip.layers[1:] if la.neuron for n in la.nodes], axis=1)
    p = m.power(eq)
    i_diode = np.maximum(p["diode_hi"] / (v - nrn.v_high_V), p["diode_lo"] / (nrn.v_low_V - v))  # A
    i_xbar = max(np.abs(d * m.conductances[k]).max() for k, d in m.voltage_drops(eq).items())  # A
    assert i_diode.max() >= 1e-2 * i_xbar, (i_diode.max(), i_xbar)
    assert eq.iterations.max() >= 3  # Newton had real work to do


@pytest.mark.parametrize("name", CASES)
def test_ep_matches_exact_gradient(name):
    """β = 1e-3 in units of the output node's total conductance G_out (S).

    EP's bias is O(β/G_out): the nudge current β·(t − y) competes with the G_out·ΔV currents that
    hold the output node, so "small β" only means something relative to G_out; the test chips have
    G_out ≈ 1e-4 S, where a literal β = 1e-3 S would be ten times stronger than the network.
    """
    chip, m, x, t = _setup(name)
    beta = 1e-3 * _g_out(m)
    exact = _flat(m.exact_gradient(x, t))
    errs = {}
    for centered in (False, True):
        ep = _flat(m.ep_gradient(x, t, beta=beta, centered=centered))
        cos = ep @ exact / np.linalg.norm(ep) / np.linalg.norm(exact)
        rel = np.linalg.norm(ep - exact) / np.linalg.norm(exact)
        assert cos >= 0.999, (centered, cos)
        assert rel <= 1e-2, (centered, rel)
        errs[centered] = rel
    assert errs[True] < errs[False]  # centered EP is O(β²), vanilla O(β)
    # vanilla error shrinks ∝ β
    ep10 = _flat(m.ep_gradient(x, t, beta=beta / 10, centered=False))
    assert np.linalg.norm(ep10 - exact) / np.linalg.norm(exact) < 0.2 * errs[False]


@pytest.mark.parametrize("name", ["2-4-1 amp", "3-5-4-2 skips, output neurons", "3-5-4-2 relu_clamp skip"])
def test_exact_gradient_matches_finite_differences(name):
    chip, m, x, t = _setup(name, batch=4)
    exact = m.exact_gradient(x, t)
    rng = np.random.default_rng(1)
    G = m.conductances
    for xb in chip.crossbars:
        r, c = rng.integers(xb.shape[0]), rng.integers(xb.shape[1])
        h = 1e-4 * G[xb.name][r, c]
        losses = []
        for s in (1, -1):
            G2 = {k: v.copy() for k, v in G.items()}
            G2[xb.name][r, c] += s * h
            losses.append(GoldenModel(chip, G2).loss(x, t).mean())
        fd = (losses[0] - losses[1]) / (2 * h)
        # central differences: truncation O(h²) ≈ 1e-8 relative; allow 1e-5 of the largest entry
        scale = np.abs(exact[xb.name]).max()
        assert fd == pytest.approx(exact[xb.name][r, c], abs=1e-5 * scale), xb.name


def test_batch_equals_one_by_one_and_dense_equals_sparse():
    chip, m, x, t = _setup("3-5-4-2 skips, output neurons", batch=6)
    beta = 1e-3 * _g_out(m)
    eq = m.solve(x, t, beta)
    for i in range(len(x)):
        one = m.solve(x[i], t[i], beta)
        np.testing.assert_allclose(one.v[0], eq.v[i], rtol=0, atol=1e-12)  # V
    sparse = GoldenModel(chip, method="sparse")
    np.testing.assert_allclose(sparse.solve(x, t, beta).v, eq.v, rtol=0, atol=1e-12)
    g1, g2 = m.exact_gradient(x, t), sparse.exact_gradient(x, t)
    for k in g1:
        np.testing.assert_allclose(g2[k], g1[k], rtol=1e-9, atol=1e-9 * np.abs(g1[k]).max())
    # per-sample gradients average to the batch gradient
    mean = {k: np.mean([m.exact_gradient(x[i], t[i])[k] for i in range(len(x))], axis=0) for k in g1}
    for k in g1:
        np.testing.assert_allclose(mean[k], g1[k], rtol=1e-9, atol=1e-12 * np.abs(g1[k]).max())


def test_voltages_outputs_and_drops():
    chip, m, x, _ = _setup("2-4-1 amp", batch=3)
    eq = m.solve(x)
    volts = eq.voltages()
    for a in chip.amplifiers:
        np.testing.assert_allclose(volts[a.out_node], a.gain * volts[a.in_node])
    for s in chip.sources:
        exp = s.value_V if s.kind != "input" else s.sign * chip.training.input_scale_V * x[:, s.input_index]
        np.testing.assert_allclose(volts[s.node], exp)
    np.testing.assert_allclose(eq.outputs[:, 0], volts["out0p"] - volts["out0n"])
    drops = m.voltage_drops(eq)
    xb = chip.crossbar("W12")
    assert drops["W12"].shape == (3, *xb.shape)
    np.testing.assert_allclose(drops["W12"][:, 1, 2], volts[xb.src_nodes[2]] - volts[xb.dst_nodes[1]])


def test_resistors_only_energy_leaves_out_the_amplifier_weights():
    chip, m, x, t = _setup("3-5-4-2 skips, output neurons")
    beta = 1e-3 * _g_out(m)
    full = m.ep_gradient(x, t, beta=beta, energy="full")
    naive = m.ep_gradient(x, t, beta=beta, energy="resistors_only")
    c_out = chip.nudge.energy_scale
    for xb in chip.crossbars:
        np.testing.assert_allclose(naive[xb.name] * xb.energy_scale / c_out, full[xb.name], rtol=1e-12)
    assert any(xb.energy_scale != c_out for xb in chip.crossbars)  # so the two differ here
    chip0, m0, x0, t0 = _setup("4-6-3 no amp")
    a = m0.ep_gradient(x0, t0, beta=1e-3 * _g_out(m0), energy="resistors_only")
    b = m0.ep_gradient(x0, t0, beta=1e-3 * _g_out(m0), energy="full")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])  # without amplifiers every c_k is 1


def test_convergence_error_names_the_phase():
    chip, m, x, t = _setup("3-5-4-2 skips, output neurons", max_newton_iterations=2)
    with pytest.raises(ConvergenceError, match=r"free phase did not converge after 2 Newton iterations") as e:
        m.solve(x)
    assert isinstance(e.value, CodegenError) and e.value.samples and e.value.residual_A > 1e-12
    ok = GoldenModel(random_chip(3, v_low_V=-0.1, v_high_V=0.1, **CASES["3-5-4-2 skips, output neurons"]))
    free = ok.solve(x)
    with pytest.raises(ConvergenceError, match="nudged −β phase"):
        m.solve(x, t, -0.5 * _g_out(m), v0=free.v)


def test_bad_input_is_a_codegen_error():
    chip, m, x, t = _setup("2-4-1 amp")
    with pytest.raises(CodegenError, match="inputs need 2 features"):
        m.solve(np.zeros((3, 5)))
    with pytest.raises(CodegenError, match="NaN"):
        m.solve(np.full((1, 2), np.nan))
    with pytest.raises(CodegenError, match="needs a target"):
        m.solve(x, beta=1e-6)
    with pytest.raises(CodegenError, match="crossbar W01 needs shape"):
        m.set_conductances({k: np.zeros((1, 1)) for k in m.conductances})
    with pytest.raises(CodegenError, match="energy must be"):
        m.ep_gradient(x, t, energy="power")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kw",
    [
        dict(layers=[20, 30, 30, 30, 5], gain=10.0, v_low_V=-0.05, v_high_V=0.05, skip=[(0, 2), (1, 4)]),
        dict(layers=[20, 30, 30, 30, 5], neuron="relu_clamp", alpha_V=0.2, gain=10.0, on_output=True),
        dict(layers=[20, 30, 5], v_low_V=-0.01, v_high_V=0.01, diode_n=0.5),
    ],
    ids=["deep gain 10 skips", "deep relu gain 10", "sharp diodes"],
)
@pytest.mark.parametrize("method", ["auto", "layered"])
def test_newton_converges_from_zero_on_hard_networks(kw, method):
    """Strongly driven clamps (inputs ±10 V, clamps near 0 V, gain 10 over three layers): the damped
    Newton reaches the KCL tolerance from v = 0 for every sample."""
    chip = random_chip(0, g_low_S=1e-6, g_high_S=3e-5, **kw)
    m = GoldenModel(chip, method=method)
    x = np.random.default_rng(0).uniform(-10, 10, (40, chip.n_inputs))
    eq = m.solve(x)
    # hard: the diodes switch on during the solve (the layered solver's Gauss–Seidel start leaves
    # Newton less to do)
    assert eq.iterations.max() >= (10 if method == "auto" else 2)
    assert np.abs(m.kcl_residual(eq)).max() <= chip.simulation.residual_tol_A * 1.01


@pytest.mark.parametrize("name", ["3-5-4-2 skips, output neurons", "2-3-2 single-ended"])
def test_hessian_is_the_c_scaled_kcl_jacobian_and_symmetric(name):
    """H = ∂(c_j·I_j)/∂v from the element currents by central differences; H symmetric (gradient system)."""
    chip, m, x, t = _setup(name, batch=2)
    beta = 1e-3 * _g_out(m)
    eq = m.solve(x, t, beta)
    H = m.hessian(eq)
    c = np.array([la.energy_scale for la in chip.layers[1:] for _ in la.nodes])
    h = 1e-6  # V
    J = np.empty_like(H)
    for j in range(m.n_free):
        cur = []
        for s in (1, -1):
            v = eq.v.copy()
            v[:, j] += s * h
            moved = type(eq)(m, v, eq.u, eq.target, beta, eq.iterations, eq.residual, eq.phase)
            cur.append(m.kcl_residual(moved) * c)
        J[:, :, j] = (cur[0] - cur[1]) / (2 * h)
    np.testing.assert_allclose(J, H, rtol=1e-5, atol=1e-6 * np.abs(H).max())  # FD error O(h²)
    np.testing.assert_allclose(H, H.transpose(0, 2, 1), rtol=0, atol=1e-15 * np.abs(H).max())


def _diode_reference(m: GoldenModel, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pre-optimisation reference: ``GoldenModel._diode`` as of main 872ae6c (np.where over both
    branches, ``**`` powers), kept verbatim so the faster version can be checked against it."""
    x0 = -3.0 * m._nvt
    c3 = (3.0 * m._nvt / np.e) ** 3
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        fwd = x >= x0
        e = np.exp(np.where(fwd, x, x0) / m._nvt)
        xr = np.where(fwd, x0, x)  # reverse-branch voltage (never 0)
        arg = c3 / xr**3
        i = np.where(fwd, m._is * (e - 1.0), -m._is * (1.0 + arg)) + m._gmin * x
        gd = np.where(fwd, m._is / m._nvt * e, 3.0 * m._is * arg / xr) + m._gmin
        w0 = m._is * m._nvt * (np.exp(-3.0) - 1.0) - m._is * x0
        w_rev = w0 - m._is * (x - x0) + 0.5 * m._is * c3 * (xr**-2 - x0**-2)
        w = np.where(fwd, m._is * m._nvt * (e - 1.0) - m._is * x, w_rev) + 0.5 * m._gmin * x * x
    return i, gd, w


@pytest.mark.parametrize(
    "diode", [dict(), dict(diode_n=0.5, diode_is_A=1e-8)], ids=["default", "sharp, IS 10 nA"]
)
def test_diode_matches_the_pre_optimisation_formula(diode):
    """Current, conductance and co-content agree with the reference to 1e-15 relative (products
    instead of ``**`` differ from libm's pow by at most an ulp or two), on both branches, at the
    branch point −3·N·Vt and across the whole range the solver visits (±20 V, plus overflow)."""
    chip = random_chip(0, [2, 3, 1], **diode)
    m = GoldenModel(chip)
    x0 = -3.0 * m._nvt
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            rng.uniform(-20, 20, 4000),
            rng.uniform(-0.3, 0.3, 4000),
            x0 + rng.normal(0, 1e-3, 1993),
            [x0, np.nextafter(x0, 0), np.nextafter(x0, -1), 0.0, -1e-300, 30.0, -1e6],
        ]
    ).reshape(2, -1, 4)  # any shape
    assert (x < x0).sum() > 1000 and (x >= x0).sum() > 1000  # both branches are exercised
    new, ref = m._diode(x), _diode_reference(m, x)
    for a, b, what in zip(new, ref, ("current", "conductance", "co-content"), strict=True):
        assert a.shape == b.shape
        fin = np.isfinite(b)
        np.testing.assert_array_equal(np.isfinite(a), fin, err_msg=what)
        np.testing.assert_allclose(a[fin], b[fin], rtol=1e-15, atol=0, err_msg=what)


LAYERED = {
    "deep gain 10 skips": dict(layers=[20, 30, 30, 30, 5], gain=10.0, skip=[(0, 2), (1, 3), (1, 4)]),
    "deep relu on output": dict(layers=[12, 25, 25, 25, 3], neuron="relu_clamp", alpha_V=0.2, on_output=True),
    "wide single-ended": dict(layers=[16, 40, 40, 4], input_doubling=False, doubled_outputs=False),
    "deep no amplifiers": dict(
        layers=[10, 30, 30, 30, 3], amplifier=False, skip=[(0, 3)], v_low_V=-0.02, v_high_V=0.02
    ),
}


@pytest.mark.parametrize("name", LAYERED)
def test_layered_solver_equals_dense(name):
    """The layered solver (CG on the reduced system) reaches the same KCL tolerance as the dense
    Schur-complement LU and the same equilibrium, in the free phase, both nudged phases, the EP
    gradient and the exact (adjoint) gradient, also after new conductances.

    Both stop once the KCL residual is ≤ 1e-12 A; through the Hessian's smallest eigenvalues
    (~1e-4 S here) the voltages may then differ by up to ~1e-8 V, the golden = ngspice bar
    (measured: ≤ 1.4e-9 V).  EP gradients: to 1e-7 of the largest entry (the EP difference
    quotient at β = 1 µS magnifies sub-tolerance differences most in the first layers)."""
    chip = random_chip(1, **(dict(g_low_S=1e-6, g_high_S=3e-5, v_low_V=-0.1, v_high_V=0.1) | LAYERED[name]))
    x = np.random.default_rng(2).uniform(-4, 4, (16, chip.n_inputs))
    t = np.random.default_rng(3).uniform(-0.3, 0.3, (16, chip.n_outputs))
    lay, den = GoldenModel(chip, method="layered"), GoldenModel(chip, method="dense")
    tol = chip.simulation.residual_tol_A
    beta = 1e-3 * _g_out(den)
    for b in (0.0, beta, -beta):
        e1, e0 = lay.solve(x, t, b), den.solve(x, t, b)
        assert e0.iterations.max() >= 3  # nonlinear: the diodes switch during the dense solve
        assert np.abs(lay.kcl_residual(e1)).max() <= tol * 1.01
        np.testing.assert_allclose(e1.v, e0.v, rtol=0, atol=1e-8)  # V
    assert lay.cg_iterations > 0 and lay.dense_fallbacks == 0  # CG did the work, no dense fallback
    for grad in ("ep_gradient", "exact_gradient"):
        g1, g0 = getattr(lay, grad)(x, t), getattr(den, grad)(x, t)
        for k in g0:
            np.testing.assert_allclose(
                g1[k], g0[k], rtol=0, atol=1e-7 * np.abs(g0[k]).max(), err_msg=(grad, k)
            )
    # new conductances reach the layered solver's cached blocks
    rng = np.random.default_rng(4)
    G2 = {k: g * rng.uniform(0.5, 1.5, g.shape) for k, g in den.conductances.items()}
    lay.set_conductances(G2)
    den.set_conductances(G2)
    np.testing.assert_allclose(lay.solve(x).v, den.solve(x).v, rtol=0, atol=1e-8)


def test_layered_solver_in_chunks_equals_one_batch(monkeypatch):
    """Large batches go through CG in chunks (memory); the result does not depend on the split."""
    import codegen.model.network as network

    chip = random_chip(
        1, **(dict(g_low_S=1e-6, g_high_S=3e-5, v_low_V=-0.1, v_high_V=0.1) | LAYERED["deep gain 10 skips"])
    )
    x = np.random.default_rng(2).uniform(-4, 4, (12, chip.n_inputs))
    m = GoldenModel(chip, method="layered")
    whole = m.solve(x)
    monkeypatch.setattr(network, "_LAYERED_CHUNK_FLOATS", 50 * m.n_free)  # 5 samples per chunk
    np.testing.assert_allclose(m.solve(x).v, whole.v, rtol=0, atol=1e-12)  # V


def test_auto_method_picks_the_layered_solver_at_depth():
    """auto: dense while the reduced set R is small (784×100×10: R = the 20 output nodes), layered
    for deep and wide networks (R = every other hidden layer), sparse above 2000 free nodes."""
    assert GoldenModel(random_chip(0, [30, 100, 10])).method == "dense"
    deep = GoldenModel(random_chip(0, [10, 80, 80, 80, 4]))
    assert deep.method == "layered" and deep._R.size > 64


def test_layered_gauss_seidel_start_saves_newton_iterations():
    """The nonlinear regime at depth (single-ended inputs drive the hidden nodes past the ±0.3 V
    clamps): from the layer-wise Gauss–Seidel start Newton needs at most half the iterations it
    needs from v = 0 (measured: 3.0 against 8.6 on average), to the same residual."""
    chip = random_chip(
        0, [20, 60, 60, 60, 5], g_low_S=1e-6, g_high_S=3e-5, v_low_V=-0.3, v_high_V=0.3, input_doubling=False
    )
    x = np.random.default_rng(1).uniform(0, 1, (20, chip.n_inputs))
    lay, den = GoldenModel(chip, method="layered"), GoldenModel(chip, method="dense")
    e1, e0 = lay.solve(x), den.solve(x)
    assert e0.iterations.mean() >= 5  # hard from v = 0
    assert e1.iterations.mean() <= 0.5 * e0.iterations.mean(), (e1.iterations.mean(), e0.iterations.mean())
    assert e1.residual.max() <= chip.simulation.residual_tol_A


def test_golden_model_keeps_freed_memory_in_the_process():
    """codegen/model/_malloc.py: on glibc the first GoldenModel sets fixed mmap/trim thresholds (the
    freed temporaries stay in the heap instead of being faulted in anew on every numpy operation);
    ``EQP_KEEP_MALLOC=1`` leaves the allocator alone.  Fresh interpreters, since it is once per process."""
    import os
    import subprocess
    import sys

    code = (
        "from codegen.model import GoldenModel, _malloc\n"
        "from tests.chips import random_chip\n"
        "GoldenModel(random_chip(0, [4, 3, 2]))\n"
        "print(_malloc.keep_freed_memory.cache_info().currsize, _malloc.keep_freed_memory())\n"
    )
    root = Path(__file__).resolve().parents[1]
    for env, want in (({}, "1 True"), ({"EQP_KEEP_MALLOC": "1"}, "1 False")):
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root), **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout.split()
        assert " ".join(out) == want, (env, out)


def test_layered_solver_halves_large_batches_without_changing_the_equilibria(monkeypatch):
    """A large batch goes through the layered solver as two halves (two threads where there are two
    cores): the same equilibria as one batch to rounding, the same Newton iterations, the same with
    one thread or two, and a sample that fails is named by its index in the whole batch."""
    import codegen.model.network as network

    chip = random_chip(
        1, **(dict(g_low_S=1e-6, g_high_S=3e-5, v_low_V=-0.1, v_high_V=0.1) | LAYERED["deep gain 10 skips"])
    )
    x = np.random.default_rng(2).uniform(-4, 4, (40, chip.n_inputs))
    t = np.random.default_rng(3).uniform(-0.3, 0.3, (40, chip.n_outputs))
    m = GoldenModel(chip, method="layered")
    halves = {}
    for threads in (1, 2):
        m.threads = threads
        halves[threads] = (m.solve(x), m.solve(x, t, 1e-6))
    monkeypatch.setattr(network, "_SPLIT_MIN_SAMPLES", 10**6)  # one batch
    whole = (m.solve(x), m.solve(x, t, 1e-6))
    for threads, eqs in halves.items():
        for got, ref in zip(eqs, whole, strict=True):
            assert np.array_equal(got.iterations, ref.iterations), threads
            np.testing.assert_allclose(got.v, ref.v, rtol=0, atol=1e-12)  # V
            assert got.outputs.shape == (40, chip.n_outputs) and got.target is not None or got.beta == 0
    assert np.array_equal(halves[1][0].v, halves[2][0].v)  # threads change nothing at all
    monkeypatch.setattr(network, "_SPLIT_MIN_SAMPLES", 16)
    from dataclasses import replace

    one = GoldenModel(replace(chip, simulation=replace(chip.simulation, max_newton_iterations=1)))
    few = np.zeros_like(x)  # at v = 0 already: no Newton step needed ...
    few[[3, 31]] = x[[3, 31]]  # ... but these two need more than one
    with pytest.raises(ConvergenceError) as err:
        one.solve(few)
    assert err.value.samples == [3, 31]  # indices in the whole batch, from both halves


# Kiraz case 1 (examples/kiraz_case1.yaml) at the conductances where a sweep point (β = 1e-4 S,
# η = 1e-9, init seed 6) met its first −β phase: β·c_out outweighs the output pair's conductances,
# the Hessian of F is indefinite and F unbounded below.  Newton with the line search on F wandered
# off on an AMD EPYC (KCL residual 0.01 A after 200 iterations) and converged on an Intel Xeon.
_KIRAZ_SADDLE_G = {
    "W01": [[6.310531647899728e-05, 2.053450082172404e-06], [7.093467569481703e-05, 1e-06]],
    "B1": [[4.708895417930247e-05], [1.688090592339121e-05]],
    "W12": [[8.857275535346512e-05, 8.16162982540131e-05], [7.053039505301527e-05, 2.9209793586668877e-05]],
    "B2": [[3.0869853224761784e-05], [9.999901844708436e-05]],
}


def _kiraz_saddle() -> GoldenModel:
    from codegen.elab import elaborate
    from codegen.load import load_spec

    m = GoldenModel(
        elaborate(load_spec(Path(__file__).resolve().parent.parent / "examples" / "kiraz_case1.yaml"))
    )
    m.set_conductances({k: np.array(v) for k, v in _KIRAZ_SADDLE_G.items()})
    return m


def test_minus_beta_phase_past_an_indefinite_hessian_is_followed_from_beta_zero(monkeypatch):
    m = _kiraz_saddle()
    x, t, beta = np.array([[-2.0, 2.0]]), np.array([[1.0]]), -1e-4
    tol = m.chip.simulation.residual_tol_A
    assert np.linalg.eigvalsh(m._base(beta)).min() < 0  # the case the continuation is for
    free = m.solve(x)
    either = m.solve(x, t, beta, v0=free.v)  # whichever way this CPU's rounding goes

    newton = GoldenModel._newton

    def wanders(self, v, b, t, beta, act, *rest, **kw):  # the first try fails, as on the EPYC
        if rest[5] == "energy":
            return act
        return newton(self, v, b, t, beta, act, *rest, **kw)

    monkeypatch.setattr(GoldenModel, "_newton", wanders)
    eq = m.solve(x, t, beta, v0=free.v)
    assert eq.residual.max() <= tol and eq.iterations[0] > 0
    assert np.abs(m.kcl_residual(eq)).max() <= 1e-9  # KCL from the element currents, not the solver's
    assert np.abs(eq.v).max() > 100  # the stationary point is far out (±720 V at the outputs)
    np.testing.assert_allclose(either.v, eq.v, rtol=1e-9, atol=1e-9)  # one stationary point

    # a budget too small to get there: the error still names the phase and the sample
    monkeypatch.setattr(
        m,
        "chip",
        dataclasses.replace(
            m.chip, simulation=dataclasses.replace(m.chip.simulation, max_newton_iterations=5)
        ),
    )
    with pytest.raises(ConvergenceError, match=r"nudged −β phase did not converge after \d+ Newton") as e:
        m.solve(x, t, beta, v0=free.v)
    assert e.value.samples == [0]
