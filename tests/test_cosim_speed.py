"""Co-simulation speed paths (issue 15): the ngspice worker kept across transients, the final
``@inst[g]`` printed instead of saved per time point, the clock inside Icarus and pytest's assertion
rewriting limited to the test module.  Verdicts and numbers must not change: the kept worker gives
the conductances the per-step ``ngspice -b`` run gave, bit for bit."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import numpy as np
import pytest

from codegen.controller import CtrlParams, encode_counts, schedule
from codegen.cosim.decode import capture_from_schedule, decode
from codegen.cosim.loop import CosimConfig, ReferenceController, run_loop
from codegen.elab import elaborate
from codegen.load import load_spec

ROOT = Path(__file__).resolve().parents[1]
KIRAZ = ROOT / "examples" / "kiraz_case1.yaml"
XOR = ROOT / "examples" / "xor.yaml"


def _chip(path: Path):
    return elaborate(load_spec(path))


def _decoded(chip, seed: int = 0):
    """Decoded reference-controller updates of every crossbar for random ±1/0 codes."""
    rng = np.random.default_rng(seed)
    params = {p.name: p for p in CtrlParams.all_from_chip(chip)}
    out = {}
    for name, p in params.items():
        counts = rng.integers(-1, 2, size=(p.rows, p.cols))
        out[name] = decode(p, capture_from_schedule(schedule(p, encode_counts(counts, p.count_bits))))
    return params, out


def _ngspice_alone(folder: Path) -> dict[str, float]:
    """``ngspice -b circuit.cir`` in a step folder: the printed ``@inst[g]`` values."""
    import subprocess

    from codegen.run.tools import ngspice_command
    from codegen.run.tran_session import parse_printed

    # the step folder brings its own .spiceinit (OSDI single-threaded: 16× faster per time point)
    assert "set num_threads=1" in (folder / ".spiceinit").read_text().splitlines()
    proc = subprocess.run(
        [*ngspice_command(), "-b", "circuit.cir"], cwd=folder, capture_output=True, text=True
    )
    return parse_printed(proc.stdout)


@pytest.mark.ngspice
@pytest.mark.openvaf
def test_kept_worker_gives_the_batch_runs_conductances_bit_for_bit(tmp_path):
    """The full deck (``full_deck``) in the kept worker gives what one ``ngspice -b`` per update
    saving every ``@inst[g]`` gave (before issue 15), and its ``circuit.cir`` runs alone."""
    from codegen.cosim.devices import TransientDevices
    from codegen.learn.devices import DeviceArrays

    chip = _chip(XOR)
    g0 = DeviceArrays.create(chip).conductances
    params, dec = _decoded(chip)
    kept = TransientDevices(chip, g0, tmp_path / "kept", keep=True, full_deck=True)
    batch = TransientDevices(chip, g0, tmp_path / "batch", keep=True, kept_session=False)
    try:
        for step in range(2):  # two updates through the same worker
            gk = kept.program(params, dec, step)
            gb = batch.program(params, dec, step)
            for k in gk:
                assert np.array_equal(gk[k], gb[k]), k  # same transient, same 16 digits
                assert not np.array_equal(gk[k], g0[k])  # the pulses moved something
        assert kept.session is not None
        assert kept.session.setup == ()  # the path before: ngspice's memory check left on
        first = kept.session
        kept.program(params, dec, 2)
        assert kept.session is first  # one worker for every step
    finally:
        kept.close()
    assert first._proc.poll() is not None  # close() ends the worker
    # the step folder's deck: saves one node per time point, prints every @inst[g] at the end
    deck = (tmp_path / "kept" / "step0002" / "circuit.cir").read_text().splitlines()
    saves = [ln for ln in deck if ln.startswith("save ")]
    assert len(saves) == 1 and len(saves[0].split()) == 2
    assert not any(ln.startswith("wrdata") for ln in deck)
    assert sum(ln.startswith("print @n") for ln in deck) == sum(p.cells for p in params.values())
    # ... and runs alone under `ngspice -b` in its folder, printing the worker's values
    alone = _ngspice_alone(tmp_path / "kept" / "step0002")
    for name, p in params.items():
        got = [alone[f"@n{name.lower()}_{r}_{c}[g]"] for r in range(p.rows) for c in range(p.cols)]
        assert np.array_equal(np.reshape(got, (p.rows, p.cols)), kept.g[name]), name


@pytest.mark.ngspice
@pytest.mark.openvaf
def test_per_crossbar_circuit_cir_runs_alone_and_prints_the_workers_values(tmp_path):
    """The default path: one transient per crossbar in the kept worker (memory check off); the
    step folder's ``circuit.cir`` sources every ``xbar_<name>.cir`` and prints bit for bit the
    values the worker returned."""
    from codegen.cosim.devices import NO_MEM_CHECK, TransientDevices
    from codegen.learn.devices import DeviceArrays

    chip = _chip(XOR)
    g0 = DeviceArrays.create(chip).conductances
    params, dec = _decoded(chip, seed=3)
    dev = TransientDevices(chip, g0, tmp_path / "t", keep=True)
    try:
        for step in range(2):
            dev.program(params, dec, step)
        assert dev.session is not None and dev.session.setup == (NO_MEM_CHECK,)
    finally:
        dev.close()
    folder = tmp_path / "t" / "step0001"
    files = sorted(f.name for f in folder.glob("xbar_*.cir"))
    assert files == sorted(f"xbar_{k.lower()}.cir" for k in params if np.any(dec[k].counts))
    driver = (folder / "circuit.cir").read_text()
    assert NO_MEM_CHECK in driver.splitlines() and "osdi eqp_memristor.osdi" in driver.splitlines()
    alone = _ngspice_alone(folder)
    for name, p in params.items():
        moved = dec[name].counts != 0
        for r in range(p.rows):
            for c in range(p.cols):
                key = f"@n{name.lower()}_{r}_{c}[g]"
                if moved[r, c]:
                    assert alone[key] == dev.g[name][r, c], key
                else:  # left out of the transient: not printed, conductance kept bit for bit
                    assert key not in alone and dev.g[name][r, c] == g0[name][r, c]


@pytest.mark.ngspice
@pytest.mark.openvaf
def test_transient_loop_starts_its_workers_once_and_stops_them(tmp_path, monkeypatch):
    import codegen.run.tran_session as ts

    started: list[ts.TranSession] = []

    class Counting(ts.TranSession):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            started.append(self)

    monkeypatch.setattr(ts, "TranSession", Counting)
    chip = _chip(KIRAZ)
    cfg = CosimConfig(steps=3, device="transient", out=tmp_path)
    ctrl = ReferenceController(CtrlParams.all_from_chip(chip))
    res = asyncio.run(run_loop(chip, cfg, ctrl, log=lambda s: None))
    assert res.passed, res.divergence
    workers = min(2, len(os.sched_getaffinity(0)))  # TransientDevices' default
    assert len(started) == workers  # started once, not per step
    assert all(s._proc.poll() is not None for s in started)  # and gone when the loop returns


@pytest.mark.ngspice
def test_tran_session_reports_a_bad_deck_and_runs_the_next(tmp_path):
    from codegen.run.ngspice_tran import NgspiceFailed
    from codegen.run.tran_session import TranSession

    good = "* rc\nV1 a 0 PWL(0 0 1u 1)\nR1 a b 1k\nC1 b 0 1n\n.tran 1e-8 1e-6\n.end\n"
    with TranSession() as s:
        with pytest.raises(NgspiceFailed, match=r"ngspice failed on bad\.cir"):
            s.run(
                good.replace("R1 a b 1k", "R1 a b 1k\nX1 a b nosuchsubckt"),
                ["@r1[resistance]"],
                "b",
                "bad.cir",
            )
        assert s.run(good, ["@r1[resistance]", "@c1[capacitance]"], "b") == [1000.0, 1e-9]
        assert s.seconds > 0


@pytest.mark.ngspice
def test_tran_session_runs_many_decks_in_one_request(tmp_path):
    """``run_many`` gives what ``run`` gives deck by deck; a failing deck is named by its ``where``
    and the worker runs the next request."""
    from codegen.run.ngspice_tran import NgspiceFailed
    from codegen.run.tran_session import TranSession

    rc = "* rc\nV1 a 0 PWL(0 0 1u 1)\nR1 a b {r}\nC1 b 0 1n\n.tran 1e-8 1e-6\n.end\n"
    decks = [(rc.format(r=r), ["@r1[resistance]", "@c1[capacitance]"], "b") for r in ("1k", "2k")]
    with TranSession(setup=["set no_mem_check"]) as s:
        assert s.run_many(decks) == [s.run(*d) for d in decks] == [[1000.0, 1e-9], [2000.0, 1e-9]]
        bad = (rc.format(r="1k\nX1 a b nosuchsubckt"), ["@r1[resistance]"], "b")
        with pytest.raises(NgspiceFailed, match=r"ngspice failed on second\.cir"):
            s.run_many([decks[0], bad], where=["first.cir", "second.cir"])
        assert s.run_many(decks[1:]) == [[2000.0, 1e-9]]


@pytest.mark.ngspice
def test_run_spread_gives_run_many_values_in_order_from_two_workers(tmp_path):
    """Decks spread over two workers (largest first to the least loaded) come back in the order
    given, equal to one worker's; a failing deck is named by its own ``where`` and both workers
    answer the next request."""
    from codegen.run.ngspice_tran import NgspiceFailed
    from codegen.run.tran_session import TranSession

    rc = "* rc\nV1 a 0 PWL(0 0 1u 1)\nR1 a b {r}\nC1 b 0 1n\n{more}.tran 1e-8 1e-6\n.end\n"
    decks = [
        (
            rc.format(r=r, more="R2 b 0 5k\n" * extra),
            ["@r1[resistance]", "@c1[capacitance]"][: 1 + extra],
            "b",
        )
        for r, extra in (("1k", 0), ("2k", 1), ("3k", 0), ("4k", 1))
    ]
    one = TranSession(setup=["set no_mem_check"])
    pool = TranSession.several(
        2, logs=[tmp_path / "w0.log", tmp_path / "w1.log"], wait=False, setup=["set no_mem_check"]
    )  # started without waiting: the first request waits for each start
    try:
        want = one.run_many(decks)
        assert want == [[1000.0], [2000.0, 1e-9], [3000.0], [4000.0, 1e-9]]
        assert TranSession.run_spread(pool, decks) == want
        assert pool[0].seconds > 0
        bad = (rc.format(r="1k\nX1 a b nosuchsubckt", more=""), ["@r1[resistance]"], "b")
        runs = [decks[1], decks[0], bad, decks[3]]
        with pytest.raises(NgspiceFailed, match=r"ngspice failed on third\.cir"):
            TranSession.run_spread(pool, runs, where=["first.cir", "second.cir", "third.cir", "fourth.cir"])
        assert TranSession.run_spread(pool, decks[::-1]) == want[::-1]
    finally:
        one.close()
        TranSession.close_all(pool)
    assert all(s._proc.poll() is not None for s in pool)


@pytest.mark.ngspice
def test_tran_session_refuses_an_osdi_it_cannot_load(tmp_path):
    from codegen.run.ngspice_tran import NgspiceFailed
    from codegen.run.tran_session import TranSession

    bad = tmp_path / "not_a_model.osdi"
    bad.write_bytes(b"nothing")
    with pytest.raises(NgspiceFailed, match=r"could not start: `osdi .*not_a_model\.osdi`"):
        TranSession([bad], where="the test", log=tmp_path / "worker.log")
    (late,) = TranSession.several(1, [bad], wait=False, where="the test")  # the failure at first use
    with pytest.raises(NgspiceFailed, match=r"could not start: `osdi .*not_a_model\.osdi`"):
        late.run("* x\nR1 a 0 1k\n.tran 1e-9 1e-8\n.end\n", ["@r1[resistance]"], "a")
    late.close()


def test_parse_printed_reads_ngspice_print_lines():
    from codegen.run.tran_session import parse_printed

    text = "@nw01_0_0[g] = 1.587439837221433e-05\n@NB2_1_1[g] = 3.3e-05\nnoise\n"
    assert parse_printed(text) == {"@nw01_0_0[g]": 1.587439837221433e-05, "@nb2_1_1[g]": 3.3e-05}


class _FakeRunner:
    """Stands in for cocotb's Icarus runner: records what run_rtl_cosim asks for, writes a result."""

    def __init__(self):
        self.build_kw: dict = {}
        self.test_kw: dict = {}

    def build(self, **kw):
        self.build_kw = kw

    def test(self, **kw):
        self.test_kw = kw
        conf = json.loads(Path(kw["extra_env"]["EQP_COSIM_CONFIG"]).read_text())
        Path(conf["result"]).write_text(
            json.dumps({"passed": True, "steps": [], "divergence": None, "timing_s": {"loop_wall": 0.0}})
        )


@pytest.mark.parametrize("legacy", [False, True])
def test_rtl_cosim_clocks_inside_icarus_and_rewrites_only_the_test_module(tmp_path, monkeypatch, legacy):
    import cocotb_tools.runner

    import codegen.run.tools
    from codegen.cosim.runner import TEST_MODULE, format_clock_module, format_line_monitor, run_rtl_cosim

    fake = _FakeRunner()
    monkeypatch.setattr(cocotb_tools.runner, "get_runner", lambda name: fake)
    monkeypatch.setattr(codegen.run.tools, "iverilog_command", lambda: ["iverilog"])
    chip = _chip(XOR)
    run_rtl_cosim(chip, XOR, {}, CosimConfig(steps=1, out=tmp_path, legacy=legacy))
    conf = json.loads((tmp_path / "cosim_config.json").read_text())
    clock_v = tmp_path / "sim_build" / "cosim_clock.v"
    env = fake.test_kw["extra_env"]
    if legacy:  # the old paths: cocotb's clock, every module rewritten
        assert conf["clock"] == "cocotb" and "cosim_clock" not in fake.build_kw["build_args"]
        assert "COCOTB_REWRITE_ASSERTION_FILES" not in env
        # a cocotb trigger per line-level change, clocked writes through the port
        assert "cosim_monitor" not in fake.build_kw["build_args"] and not fake.test_kw["plusargs"]
        assert conf["lines_log"] is None and conf["direct_writes"] is False
        return
    assert conf["clock"] == "verilog"
    assert clock_v in fake.build_kw["sources"]
    assert fake.build_kw["build_args"][-4:] == ["-s", "cosim_clock", "-s", "cosim_monitor"]
    # the simulator logs the line levels of every crossbar; the testbench reads that file
    log = tmp_path / "sim_build" / "line_levels.log"
    assert fake.test_kw["plusargs"] == [f"+eqp_lines={log}"] and conf["lines_log"] == str(log)
    assert conf["monitored"] == [f"{x}_{k}_lvl" for x in ("W01", "B1", "W12", "B2") for k in ("row", "col")]
    assert conf["direct_writes"] is True
    monitor = (tmp_path / "sim_build" / "cosim_monitor.v").read_text()
    assert monitor == format_line_monitor("xor_pulse_ctrl", conf["monitored"])
    assert env["COCOTB_REWRITE_ASSERTION_FILES"] == f"{TEST_MODULE}.py"
    # 50 MHz: 20 000 ps, high first for 10 000 ps (as cocotb's Clock starts), forced onto the DUT's clk
    text = clock_v.read_text()
    assert text == format_clock_module("xor_pulse_ctrl", 20_000)
    assert "reg clk = 1'b1;" in text and "#10000 clk = 1'b0; #10000 clk = 1'b1;" in text
    assert "force xor_pulse_ctrl.clk = clk;" in text
    assert "#4 clk = 1'b0; #5 clk = 1'b1;" in format_clock_module("t", 9)  # odd period: high the shorter


def _cosim_tb():
    """sim/cosim_tb.py, as the simulator imports it (from its own folder)."""
    import importlib
    import sys

    sys.path.insert(0, str(ROOT / "sim"))
    try:
        return importlib.import_module("cosim_tb")
    finally:
        sys.path.remove(str(ROOT / "sim"))


def test_line_log_reader_merges_deltas_marks_xz_and_waits_for_whole_lines(tmp_path):
    """The simulator's log of line-level changes (codegen.cosim.runner.format_line_monitor) read
    as the cocotb recorders recorded them: the last value of a time step counts, X/Z reads None,
    changes from before the recorder started (reset) are dropped, a half-written line waits."""
    tb = _cosim_tb()
    recs = []
    for _ in range(2):
        r = object.__new__(tb._Logged)  # no simulator here: start as the recorder would at 1000 ps
        r.sig, r.changes = None, [(1000, 0)]
        recs.append(r)
    path = tmp_path / "line_levels.log"
    log = tb._LineLog(str(path), recs)
    path.write_text("500 0 0001\n1000 0 0000\n2000 0 0011\n2000 0 1011\n3000 1 x01z\n4000 1 01")
    log.pull()
    assert recs[0].changes == [(1000, 0), (2000, 0b1011)]
    assert recs[1].changes == [(1000, 0), (3000, None)]
    with path.open("a") as fh:
        fh.write("10\n5000 0 0000\n")
    log.pull()
    assert recs[1].changes[-1] == (4000, 0b0110) and recs[0].changes[-1] == (5000, 0)
    log.close()
    faults: list[str] = []
    window = recs[0].take_window(1000, 5000, 1000, "W01_row_lvl", faults)
    assert window == [(0, 0), (1, 0b1011), (4, 0)] and faults == []


def test_line_monitor_names_every_signal_with_its_index():
    from codegen.cosim.runner import format_line_monitor

    text = format_line_monitor("chip_pulse_ctrl", ["W01_row_lvl", "W01_col_lvl"])
    assert text.count("always @(chip_pulse_ctrl.W01_") == 2
    # one flush per update, 1 ps after busy falls (the testbench reads half a period later)
    assert text.count("$fflush") == 1
    assert "always @(negedge chip_pulse_ctrl.busy) begin #1 $fflush(fd); end" in text
    assert '"%0t 1 %b\\n", $time, chip_pulse_ctrl.W01_col_lvl' in text
    assert '$value$plusargs("eqp_lines=%s", path)' in text and text.endswith("endmodule\n")


def test_golden_twin_solves_three_equilibria_per_step_and_its_loss_is_the_free_phases(monkeypatch):
    """The EP solve's free phase gives the loss and the outputs (no fourth solve), equal bit for bit
    to a separate free solve."""
    from codegen.cosim.loop import GoldenTwin, batches
    from codegen.learn.datasets import load_dataset
    from codegen.model import GoldenModel

    chip = _chip(ROOT / "examples" / "xor.yaml")
    twin = GoldenTwin(chip, CosimConfig(steps=1).rule(chip))
    ds = load_dataset(chip)
    idx = batches(chip, len(ds.x_train), 1)[0]
    x, t = ds.x_train[idx], ds.t_train[idx]
    calls = []
    orig = GoldenModel.solve

    def counting(self, *a, **k):
        calls.append(k.get("beta", a[2] if len(a) > 2 else 0.0))
        return orig(self, *a, **k)

    monkeypatch.setattr(GoldenModel, "solve", counting)
    st = twin.step(x, t, twin.conductances)
    assert len(calls) == (3 if chip.nudge.centered else 2), calls  # free, +β (, −β)
    monkeypatch.setattr(GoldenModel, "solve", orig)
    y = GoldenModel(chip, conductances=twin.initial).solve(x).outputs
    assert np.array_equal(st.outputs, y)
    assert st.loss == float(np.mean(0.5 * ((t - y) ** 2).sum(axis=1)))


def test_golden_twin_warm_starts_and_prefetch_change_no_code_and_follow_the_conductances():
    """Over 6 xor steps: a twin that starts each sample's free phase from its last equilibrium and
    solves the next batch ahead (:meth:`GoldenTwin.prefetch`, as the loop does while the chip's
    transients run) gives the codes of a cold golden model bit for bit, and gradients, outputs and
    losses within the solver's tolerance; a prefetch made before :meth:`GoldenTwin.program` is
    not used after it."""
    from codegen.cosim.loop import GoldenTwin, batches
    from codegen.learn.datasets import load_dataset
    from codegen.model import GoldenModel

    chip = _chip(XOR)
    twin = GoldenTwin(chip, CosimConfig(steps=1).rule(chip))
    cold = GoldenModel(chip, conductances=twin.initial)
    ds = load_dataset(chip)
    order = batches(chip, len(ds.x_train), 6)
    nudge = chip.nudge
    iterations = []
    orig = GoldenModel.solve

    def counting(self, *a, **k):
        eq = orig(self, *a, **k)
        if self is twin.model and k.get("beta", a[2] if len(a) > 2 else 0.0) == 0.0:
            iterations.append(int(eq.iterations.max()))
        return eq

    for s, idx in enumerate(order):
        x, t = ds.x_train[idx], ds.t_train[idx]
        used, before = twin._ahead, len(iterations)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(GoldenModel, "solve", counting)
            st = twin.step(x, t, twin.conductances)
        if s:  # the batch solved ahead is the one taken: no free solve in step
            assert used is not None and np.array_equal(st.outputs, used[1][1].outputs)
            assert len(iterations) == before
        grad, free = cold.ep_gradient_and_free(x, t, beta=nudge.beta_S, centered=nudge.centered)
        assert all(np.array_equal(st.codes[k], twin._codes(grad)[k]) for k in grad)
        for k in grad:
            np.testing.assert_allclose(st.gradient[k], grad[k], rtol=1e-6, atol=1e-9 * np.abs(grad[k]).max())
        np.testing.assert_allclose(st.outputs, free.outputs, rtol=0, atol=1e-9)
        if s + 1 < len(order):  # ahead at the conductances before the update: dropped by program
            nxt = order[s + 1]
            twin.prefetch(ds.x_train[nxt], ds.t_train[nxt])
            assert twin._ahead is not None
        twin.program(st.codes)
        assert twin._ahead is None
        cold.set_conductances(twin.conductances)
        if s + 1 < len(order):
            nxt = order[s + 1]
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(GoldenModel, "solve", counting)
                twin.prefetch(ds.x_train[nxt], ds.t_train[nxt])
            ahead = twin._ahead
            assert ahead is not None
            again = GoldenTwin(chip, CosimConfig(steps=1).rule(chip))
            again.model.set_conductances(twin.conductances)
            ref = again.model.ep_gradient_and_free(
                ds.x_train[nxt], ds.t_train[nxt], beta=nudge.beta_S, centered=nudge.centered
            )[1]
            np.testing.assert_allclose(ahead[1][1].outputs, ref.outputs, rtol=0, atol=1e-9)
    # each xor batch holds all four samples: after the first, every free phase starts warm
    # (step 0's free solve, then one prefetch per step; cold, the most iterations of a sample is 8)
    assert len(iterations) == len(order) and max(iterations[1:]) <= 3 < iterations[0], iterations


def test_verilator_top_wraps_the_design_with_its_clock_and_line_log():
    from codegen.backends.rtl import design, format_rtl
    from codegen.cosim.runner import format_verilator_top

    chip = _chip(XOR)
    d = design(chip.name, chip.controller)
    text = format_rtl(chip.name, chip.controller)[f"rtl/{d.top}.v"]
    v = format_verilator_top(d.top, text, 20000, ["W01_row_lvl", "B2_col_lvl"])
    assert "module cosim_vtop (" in v and f"    {d.top} dut (" in v
    assert "    input wire [1:0] sel," in v and "    output wire [3:0] B2_col_lvl\n);" in v
    assert "input wire clk" not in v and "        .clk(clk)," in v  # the clock is the wrapper's own
    assert "reg clk = 1'b1;" in v and "#10000 clk = 1'b0; #10000 clk = 1'b1;" in v
    assert '$fwrite(fd, "%0t 1 %b\\n", $time, B2_col_lvl)' in v
    ports = [ln for ln in text.splitlines() if ln.strip().startswith(("input", "output"))]
    assert v.count("        .") == len(ports)  # every port of the generated top connected
    with pytest.raises(Exception, match="no clk port"):
        format_verilator_top(d.top, text.replace("clk", "ck"), 20000, [])


@pytest.mark.slow
@pytest.mark.verilator
@pytest.mark.ngspice
def test_verilator_cosim_gives_the_reference_controllers_steps_and_catches_a_fault(tmp_path):
    """The RTL under Verilator: the same step records as the reference controller (behavioral
    devices: the same pulses, conductances and losses), and the injected sign fault is found at the
    same step and cell as under Icarus (tests/test_cosim.py)."""
    from codegen.cosim.runner import run_rtl_cosim

    chip = _chip(XOR)
    cfg = CosimConfig(steps=4, out=tmp_path / "v")
    res = run_rtl_cosim(chip, XOR, {}, cfg, simulator="verilator")
    assert res["passed"], res["divergence"]
    ref = asyncio.run(
        run_loop(
            chip,
            CosimConfig(steps=4, out=tmp_path / "m"),
            ReferenceController(CtrlParams.all_from_chip(chip)),
            log=lambda *a: None,
        )
    ).as_dict()
    keys = ("loss_cosim", "loss_golden", "pulses", "pulses_golden", "g_err_S")
    assert [[s[k] for k in keys] for s in res["steps"]] == [[s[k] for k in keys] for s in ref["steps"]]
    assert res["timing_s"]["rtl_build"] > 0 and res["timing_s"]["icarus_build"] == 0.0
    bad = run_rtl_cosim(
        chip, XOR, {}, CosimConfig(steps=2, out=tmp_path / "f"), fault=("W01", 2), simulator="verilator"
    )
    dv = bad["divergence"]
    assert not bad["passed"] and (dv["step"], dv["kind"], dv["xbar"], dv["cell"]) == (
        0,
        "controller",
        "W01",
        [0, 2],
    )
    assert dv["cosim"] == -dv["golden"]


def test_verilator_cosim_refuses_vcd_and_legacy(tmp_path):
    from codegen.cosim.runner import run_rtl_cosim
    from codegen.errors import CodegenError

    chip = _chip(XOR)
    for kw, cfg in [
        ({"vcd": True}, CosimConfig(steps=1, out=tmp_path)),
        ({}, CosimConfig(steps=1, out=tmp_path, legacy=True)),
    ]:
        with pytest.raises(CodegenError, match="no VCD and no legacy"):
            run_rtl_cosim(chip, XOR, {}, cfg, simulator="verilator", **kw)
    with pytest.raises(CodegenError, match="simulator must be one of icarus, verilator"):
        run_rtl_cosim(chip, XOR, {}, CosimConfig(steps=1, out=tmp_path), simulator="xcelium")
    assert not (tmp_path / "rtl").exists()
