"""ngspice runs the emitted netlists unchanged and agrees with the golden model (marker ``ngspice``)."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from codegen.backends import BuildOptions, get_backend
from codegen.backends.spice import netlist_context
from codegen.elab import elaborate
from codegen.ir import Chip
from codegen.load import load_spec
from codegen.run.equivalence import (
    TOL_EP_REL,
    TOL_V,
    compare_phases,
    ep_from_voltages,
    ngspice_loss,
)
from codegen.run.ngspice import (
    BatchSession,
    NgspiceError,
    SharedSession,
    inline_deck,
    netlist_files,
    parse_print_all,
    read_netlist_dir,
    run_batch,
)
from tests.chips import random_chip

pytestmark = pytest.mark.ngspice
ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("*.yaml"))


def _example(name: str) -> Chip:
    return elaborate(load_spec(ROOT / "examples" / f"{name}.yaml"))


def _samples(chip: Chip, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (n, chip.n_inputs)), rng.uniform(-0.5, 0.5, (n, chip.n_outputs))


#: 20 seeded random networks: shapes with and without hidden layers' skips, ReLUα clamps, neurons
#: on the outputs, single-ended inputs/outputs, no amplifiers
RANDOM = [
    (seed, layers, kw)
    for seed, (layers, kw) in enumerate(
        [
            ([2, 3, 1], {}),
            ([3, 5, 2], {}),
            ([4, 6, 3], {"input_doubling": False}),
            ([3, 4, 4, 2], {"skip": [(1, 3)]}),
            ([3, 4, 4, 2], {"skip": [(0, 2)]}),
            ([2, 3, 3, 3, 2], {"skip": [(0, 2), (1, 4)]}),
            ([3, 4, 2], {"neuron": "relu_clamp", "alpha_V": 1.0}),
            ([3, 4, 4, 2], {"neuron": "relu_clamp", "skip": [(1, 3)], "on_output": True}),
            ([5, 3, 2], {"doubled_outputs": False}),
            ([3, 4, 2], {"amplifier": False}),
            ([3, 4, 4, 2], {"amplifier": False, "skip": [(0, 3)]}),
            ([6, 8, 4], {"gain": 2.0}),
            ([4, 4, 4, 2], {"gain": 3.0, "skip": [(1, 3)], "on_output": True}),
            ([2, 6, 1], {"bias": False}),
            ([3, 5, 5, 2], {"diode_n": 1.5}),
            ([8, 6, 3], {"g_low_S": 1e-6, "g_high_S": 3e-5}),
            ([3, 4, 3, 2], {"neuron": "relu_clamp", "alpha_V": 2.0, "skip": [(0, 2)]}),
            ([2, 3, 3, 1], {"doubled_outputs": False, "skip": [(0, 3)]}),
            ([4, 10, 3], {"v_low_V": -0.3, "v_high_V": 0.3}),
            ([5, 4, 4, 4, 3], {"skip": [(1, 3), (2, 4)]}),
        ]
    )
]


# --------------------------------------------------------------------------- netlists run unchanged
@pytest.mark.parametrize("case", [*EXAMPLES, "random"])
def test_every_netlist_runs_unchanged_in_ngspice(tmp_path, case):
    chip = (
        random_chip(3, [3, 4, 4, 2], skip=[(1, 3)], neuron="relu_clamp")
        if case == "random"
        else _example(case)
    )
    for rel, text in get_backend("spice").render(chip, BuildOptions(compile=False)).items():
        (tmp_path / Path(rel).name).write_text(str(text))
    # the three tops run concurrently (digits: ~2.5 s each, in ngspice's parameter expansion)
    procs = {
        top: subprocess.Popen(
            ["ngspice", "-b", f"{top}.sp"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for top in ("free", "nudged", "simultaneous")
    }
    for top, proc in procs.items():
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, (top, out[-2000:])
        assert "No. of Data Rows : 1" in out, (top, out[-2000:])
        assert not re.search(r"^\s*error", out, re.IGNORECASE | re.MULTILINE), out[-2000:]
        assert "warning" not in out.lower(), out[-2000:]


@pytest.mark.parametrize("case", ["xor", "kiraz_case1"])
def test_ngspice_flattened_element_count_matches_the_ir(case):
    chip = _example(case)
    ctx = netlist_context(chip)
    for top in ("free", "nudged", "simultaneous"):
        s = SharedSession(chip, netlist_files(chip), top)
        listing = s.ng.exec_command("listing expand")
        n = len(re.findall(r"^\s*\d+ : [rdvefg]\S* ", listing, re.MULTILINE))
        assert n == ctx.element_count(top), (top, n)


# --------------------------------------------------------------------------- golden equivalence
def _assert_rows(rows, label):
    for r in rows:
        # tolerances: TOL_V = 1e-6 V on every node, TOL_EP_REL = 1e-3 of the largest update per
        # crossbar (codegen/run/equivalence.py says why)
        assert r.max_dv_V <= TOL_V, f"{label} {r.phase}: max |dV| = {r.max_dv_V:.3g} V > {TOL_V} V"
        if r.ep_rel_err is not None:
            assert r.ep_rel_err <= TOL_EP_REL, (
                f"{label} {r.phase}: EP rel err {r.ep_rel_err:.3g} > {TOL_EP_REL}"
            )


@pytest.mark.parametrize("case", EXAMPLES)
def test_examples_match_golden_model(case):
    chip = _example(case)
    x, t = _samples(chip, 2)
    rows = compare_phases(chip, chip.initial_conductances(), x, t)
    assert [r.phase for r in rows] == ["free", "nudged +β", "nudged −β", "simultaneous"]
    _assert_rows(rows, case)


def test_twenty_random_networks_match_golden_model():
    t0 = time.perf_counter()
    for seed, layers, kw in RANDOM:
        chip = random_chip(100 + seed, layers, **kw)
        x, t = _samples(chip, 2, seed)
        _assert_rows(compare_phases(chip, chip.initial_conductances(), x, t), f"random{seed} {layers} {kw}")
    assert time.perf_counter() - t0 < 60, "20 random networks should take well under a minute in shared mode"


def test_strong_reverse_bias_follows_ngspice_diode_equations():
    """A large IS puts clamp diodes deep into reverse bias (below −3·N·Vt), where ngspice leaves the
    Shockley equation for SPICE3's cubic branch; with a plain exponential in the golden model this
    chip was 3.3e-7 V off ngspice.  Same tolerances as every other equivalence check."""
    chip = random_chip(5, [4, 6, 3], diode_is_A=1e-8, v_low_V=-0.05, v_high_V=0.05)
    x, t = _samples(chip, 3, 5)
    rows = compare_phases(chip, chip.initial_conductances(), x, t)
    _assert_rows(rows, "IS = 10 nA")
    assert max(r.max_dv_V for r in rows) < 1e-8, [r.max_dv_V for r in rows]


def test_other_conductances_by_alter_match_golden_model():
    chip = _example("iris")
    x, t = _samples(chip, 1)
    g = chip.initial_conductances(seed=99)
    s = SharedSession(chip, netlist_files(chip), "free")  # loaded with the initial conductances
    s.set_conductances(g)
    v = s.op(x[0]).copies["free"]
    from codegen.model import GoldenModel

    gold = GoldenModel(chip, conductances=g).solve(x).voltages()
    assert max(abs(v[n] - float(gold[n][0])) for n in v) <= TOL_V


# --------------------------------------------------------------------------- EP vs finite differences
@pytest.mark.parametrize("case", ["xor", "kiraz_case1", "skip_relu"])
def test_ep_from_ngspice_matches_finite_differences_of_ngspice_loss(case):
    if case == "skip_relu":
        chip = random_chip(7, [3, 3, 3, 2], skip=[(0, 2)], neuron="relu_clamp", on_output=True)
    else:
        chip = _example(case)
    x, t = _samples(chip, 2, seed=1)
    g = chip.initial_conductances()
    beta = chip.nudge.beta_S  # 1e-6 S: small against every node's conductance (>= 1e-5 S)
    sim = SharedSession(chip, netlist_files(chip, g), "simultaneous")
    ops = [sim.op(xb, tb, beta) for xb, tb in zip(x, t, strict=True)]
    ep = ep_from_voltages(
        chip,
        [o.copies["free"] for o in ops],
        [o.copies["pos"] for o in ops],
        [o.copies["neg"] for o in ops],
        beta,
    )
    free = SharedSession(chip, netlist_files(chip, g), "free")
    fd_all, ep_all = [], []
    for xb in chip.crossbars:
        for (r, c), g0 in np.ndenumerate(g[xb.name]):
            h = 1e-3 * g0  # central difference, relative step 1e-3 (loss curvature is mild there)
            losses = []
            for sign in (1, -1):
                gp = {k: v.copy() for k, v in g.items()}
                gp[xb.name][r, c] = g0 + sign * h
                free.set_conductances(gp)
                losses.append(ngspice_loss(free, chip, x, t))
            fd_all.append((losses[0] - losses[1]) / (2 * h))
            ep_all.append(ep[xb.name][r, c])
    fd, epv = np.array(fd_all), np.array(ep_all)
    cos = float(fd @ epv / (np.linalg.norm(fd) * np.linalg.norm(epv)))
    assert cos >= 0.99, f"cosine(EP from ngspice, finite differences of ngspice loss) = {cos:.4f}"


# --------------------------------------------------------------------------- runner mechanics
def test_batch_and_shared_mode_agree():
    chip = _example("xor")
    x, t = _samples(chip, 1)
    files = netlist_files(chip)
    b = run_batch(chip, files, "simultaneous", x[0], t[0], chip.nudge.beta_S)
    s = SharedSession(chip, files, "simultaneous").op(x[0], t[0], chip.nudge.beta_S)
    assert b.copies.keys() == s.copies.keys() == {"free", "pos", "neg"}
    # same simulator, same deck: equal to printing precision (17 digits)
    assert max(abs(b.copies[c][n] - s.copies[c][n]) for c in b.copies for n in b.copies[c]) < 1e-14
    assert b.copies["pos"]["out0p"] != b.copies["free"]["out0p"]  # the nudge acted


def test_build_dir_netlists_run_in_batch(tmp_path):
    from codegen.build import build

    chip, out, _, _ = build(
        ROOT / "examples" / "kiraz_case1.yaml", tmp_path / "b", options=BuildOptions(compile=False)
    )
    files = read_netlist_dir(out / "spice")
    x = np.array([-2.0, 2.0])
    op = run_batch(chip, files, "free", x)
    assert op.copies["free"]["in0"] == pytest.approx(-2.0 * chip.training.input_scale_V)
    from codegen.model import GoldenModel

    gold = GoldenModel(chip).solve(x).voltages()
    assert max(abs(op.copies["free"][n] - float(gold[n][0])) for n in op.copies["free"]) <= TOL_V


def test_parse_print_all_skips_noise():
    text = "Note: no compatibility mode\n\nh1_0 = 8.8e-02\nv.xnet.v_a#branch = -1.5e-06\nNo. of Data Rows : 1\nfoo = bar\n"
    assert parse_print_all(text) == {"h1_0": 0.088, "v.xnet.v_a#branch": -1.5e-06}


def test_non_convergence_names_phase_and_netlist():
    chip = _example("xor")
    files = netlist_files(chip)
    # ngspice 46 solves every well-posed deck we could make hard (gmin, source stepping, transient
    # op), so make one that has no operating point: a loop of voltage sources (in0p, in0n fixed at
    # 0 V and 1 V apart); Newton, gmin and source stepping all fail on the singular matrix
    files["free.sp"] = files["free.sp"].replace(
        "Vin0n in0n 0 DC 0\n", "Vin0n in0n 0 DC 0\nVloop in0p in0n DC 1\n"
    )
    assert "Vloop" in files["free.sp"]
    x = np.array([1.0, 1.0])
    with pytest.raises(NgspiceError, match=r"free.*spice/free\.sp|spice/free\.sp.*free"):
        run_batch(chip, files, "free", x)
    with pytest.raises(NgspiceError, match=r"phase free of spice/free\.sp"):
        SharedSession(chip, files, "free").op(x)


# --------------------------------------------------------------------------- memristor variant
@pytest.mark.openvaf
def test_memristor_netlist_reads_like_the_resistor_netlist(tmp_path):
    """memristor.sp (Verilog-A eqp_memristor weights) has free.sp's operating point while every
    memristor stays below its thresholds (no bias sources, inputs 0.3 V: drops < v_set = 1 V)."""
    from codegen.build import render_plan
    from codegen.plan import write_plan

    chip = random_chip(3, [3, 4, 2], bias=False)
    write_plan(render_plan(chip, only=["spice", "veriloga"]), tmp_path)
    proc = subprocess.run(
        ["ngspice", "-b", "memristor.sp"], cwd=tmp_path / "spice", capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0 and "No. of Data Rows : 1" in proc.stdout, proc.stdout[-2000:] + proc.stderr
    files = read_netlist_dir(tmp_path / "spice")
    x = np.full(chip.n_inputs, 0.3) / chip.training.input_scale_V
    mem = run_batch(chip, files, "memristor", x, workdir=tmp_path / "spice").copies["free"]
    res = run_batch(chip, files, "free", x).copies["free"]
    drops = [abs(mem[s] - mem[d]) for xb in chip.crossbars for s in xb.src_nodes for d in xb.dst_nodes]
    assert max(drops) < chip.device.v_set_V
    # the OSDI device holds G = g0 exactly in an operating point (docs/veriloga.md)
    assert max(abs(mem[n] - res[n]) for n in res) <= TOL_V


@pytest.mark.parametrize("top", ["nudged", "simultaneous"])
def test_branch_currents_in_ir_terms(top):
    """Amplifier output currents and source currents read back from ngspice obey the IR's circuit:
    I_out = Σ G·(V(out) − V(row)) over the crossbar cells the amplifier drives, and the sources
    deliver what their crossbar cells carry (golden voltages, 1e-12 A)."""
    chip = random_chip(21, [3, 4, 4, 2], skip=[(1, 3)])
    g = chip.initial_conductances()
    x, t = _samples(chip, 1)
    op = SharedSession(chip, netlist_files(chip, g), top).op(x[0], t[0], chip.nudge.beta_S)
    copy = "pos"
    v = op.copies[copy]
    expect_amp: dict[str, float] = {a.out_node: 0.0 for a in chip.amplifiers}
    expect_src: dict[str, float] = {s.node: 0.0 for s in chip.sources if s.kind != "neuron"}
    for xb in chip.crossbars:
        for (r, c), gv in np.ndenumerate(g[xb.name]):
            i = gv * (v[xb.src_nodes[c]] - v[xb.dst_nodes[r]])
            if xb.src_nodes[c] in expect_amp:
                expect_amp[xb.src_nodes[c]] += i
            else:
                expect_src[xb.src_nodes[c]] += i
    got = op.amplifier_currents(chip, copy)
    assert got and all(abs(got[a.name] - expect_amp[a.out_node]) < 1e-12 for a in chip.amplifiers)
    if top == "nudged":  # one network copy: the sources feed only it
        src = op.source_currents(chip)
        for s in chip.sources:
            if s.kind != "neuron":
                assert abs(src[s.name] - expect_src[s.node]) < 1e-12, s.name


def test_sessions_coexist_in_one_libngspice():
    """Two sessions on different chips alternate: each op simulates its own deck and state."""
    a_chip, b_chip = _example("xor"), _example("iris")
    ga = {k: v * 1.3 for k, v in a_chip.initial_conductances().items()}
    a = SharedSession(a_chip, netlist_files(a_chip), "free")
    a.set_conductances(ga)  # an alter that must survive b's load
    xa = np.array([1.0, 0.0])
    first = a.op(xa).copies["free"]
    b = SharedSession(b_chip, netlist_files(b_chip), "nudged")
    b.op(np.ones(4), np.zeros(3), b_chip.nudge.beta_S)
    again = a.op(xa).copies["free"]
    assert again == first
    from codegen.model import GoldenModel

    gold = GoldenModel(a_chip, conductances=ga).solve(xa).voltages()
    assert max(abs(again[n] - float(gold[n][0])) for n in again) <= TOL_V


def test_batch_runs_share_one_runner_and_its_timeout_names_the_deck(tmp_path):
    """run_batch and run_ngspice both go through run_deck: a deck that runs past its timeout raises
    NgspiceError naming the deck, and run_ngspice's NgspiceFailed is an NgspiceError."""
    from codegen.run.ngspice_tran import NgspiceFailed, run_deck, run_ngspice

    # the deck's control block sleeps 5 s, past a 1 s timeout
    slow = "* slow\nR1 a 0 1k\n.control\nshell sleep 5\n.endc\n.end\n"
    with pytest.raises(NgspiceError, match=r"ran longer than 1 s on .*slow\.cir"):
        run_deck(slow, tmp_path, "slow.cir", "set num_threads=1\n", timeout_s=1.0)
    assert (tmp_path / ".spiceinit").read_text() == "set num_threads=1\n"
    with pytest.raises(NgspiceFailed, match=r"ran longer than 1 s on .*circuit\.cir"):
        run_ngspice(slow, tmp_path, timeout_s=1.0)
    assert issubclass(NgspiceFailed, NgspiceError)


def test_the_runner_loads_the_deck_the_designer_gets():
    """inline_deck only pastes the .include files in: the numbers ngspice reads are cells.sp's."""
    chip = _example("xor")
    files = netlist_files(chip)
    deck = inline_deck(files, "simultaneous")
    assert files["cells.sp"].rstrip("\n") in deck and files["params.sp"].splitlines()[-1] not in deck
    assert ".param" not in deck and "{" not in deck


@pytest.mark.parametrize("top", ["simultaneous", "nudged"])
def test_batch_session_solves_like_one_op_per_sample_and_alters_only_changed_cells(top):
    # simultaneous: the phases are the deck's three network copies; nudged: one network, the
    # phases one after another in time (β switched by VBSEL)
    chip = _example("xor")
    g = chip.initial_conductances()
    x, t = _samples(chip, 5, seed=3)
    b = BatchSession(chip, netlist_files(chip, g), top, conductances=g)
    copies = 3 if top == "simultaneous" else 1
    nodes = b.nodes

    def per_op(gs):
        s = SharedSession(chip, netlist_files(chip, gs), "simultaneous")
        ops = [s.op(xi, ti, chip.nudge.beta_S).copies for xi, ti in zip(x, t, strict=True)]
        return {c: np.array([[op[c][n] for n in nodes] for op in ops]) for c in ops[0]}

    def close(got, ref):
        # ngspice converged both ways (reltol 1e-6 of the deck, 1e-9 in the batch); measured 5e-11 V
        assert set(got) == set(ref) == {"free", "pos", "neg"}
        assert max(np.abs(got[c] - ref[c]).max() for c in ref) <= 1e-9

    close(b.solve(x, t), per_op(g))
    assert b.altered == 0
    g2 = {k: v.copy() for k, v in g.items()}
    g2["W01"][1, 2] *= 1.5
    b.set_conductances(g2)
    assert b.altered == copies  # the one cell that changed, in each network copy
    close(b.solve(x, t), per_op(g2))
    b.solve(x[:1], t[:1])  # per_op loaded another deck: b reloads it and re-alters its one cell
    assert b.altered == 2 * copies
    b.set_conductances(g2)  # nothing changed, nothing altered
    assert b.altered == 2 * copies


@pytest.mark.ngspice
def test_batch_session_alters_every_changed_cell_in_lines_ngspice_keeps():
    """``BatchSession._write`` joins the ``alter`` commands with ``;`` into lines of at most
    ``ALTER_LINE`` characters (longer lines lose commands in ngspice): every cell of digits changed,
    each line within the limit, every command sent once in cell order, and the values ngspice reads
    back are the new ones."""
    from codegen.run.ngspice import ALTER_LINE

    chip = _example("digits")
    g = chip.initial_conductances()
    b = BatchSession(chip, netlist_files(chip, g), "nudged", conductances=g)
    rng = np.random.default_rng(5)
    g2 = {k: v * rng.uniform(0.5, 1.5, v.shape) for k, v in g.items()}
    sent: list[str] = []
    real = b._command
    b._command = lambda cmd: (sent.append(cmd), real(cmd))  # type: ignore[method-assign]
    b.set_conductances(g2)
    assert sent and max(map(len, sent)) <= ALTER_LINE
    cmds = [c for line in sent for c in line.split(";")]
    want = [
        p + repr(float(1.0 / g2[xb.name][r, c]))
        for xb in chip.crossbars
        for (r, c), p in np.ndenumerate(b._alter_names[xb.name][0])
    ]
    assert cmds == want and b.altered == len(want)
    for i in rng.choice(len(want), 12, replace=False):  # what ngspice holds now
        path, value = want[i].removeprefix("alter ").split("=")
        b.ng.clear_output()
        b.ng.exec_command(f"print @{path}[resistance]")
        assert float(b.ng._stdout[-1].split("=")[1]) == pytest.approx(float(value), rel=1e-6)
