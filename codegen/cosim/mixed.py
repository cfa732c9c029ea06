"""Mixed-signal smoke test: the generated controller runs *inside* ngspice (d_cosim + Verilator)
and its line levels program Verilog-A memristors in the same transient.

The digital part is the controller RTL plus a small generated sequencer
(``templates/cosim/dcosim_top.v.j2``) that writes one crossbar's update codes after reset and
starts it.  ngspice supplies the clock and the reset (PULSE/PWL sources through ``adc_bridge``);
each 2-bit line level comes back through two ``dac_bridge`` outputs and a B-source turns it into
the line voltage (GND 0 V, V/2, V; released lines grounded, as in
:class:`~codegen.cosim.devices.TransientDevices`).  One ``eqp_memristor`` per cell (p = row,
n = column, ``g0`` = its conductance).  The conductances read back after the transient are
compared with the golden device model applied to the codes' pulse counts.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..backends.rtl import design, format_rtl
from ..controller import CtrlParams, encode_counts, schedule
from ..errors import CodegenError
from ..ir import Chip
from ..model.device import apply_pulses, g_from_w, w_from_g
from ..templating import render
from ..units import spice_float

__all__ = ["dcosim_smoke", "first_step_counts"]

#: edge time of the clock, reset and dac_bridge outputs as a fraction of a pulse width
#: (as codegen.run.pulse.RISE_FRACTION)
EDGE_FRACTION = 1e-4


def first_step_counts(chip: Chip, xbar: str, learning_rate: float | None = None) -> np.ndarray:
    """Pulse counts of ``xbar`` for the first training sample: golden EP gradient at the initial
    conductances → sign-pulse rule with quantized counts (``learning_rate`` S²/V², default the chip's)."""
    from ..learn.datasets import load_dataset
    from ..learn.rules import pulse_codes
    from ..model import GoldenModel

    ds = load_dataset(chip)
    m = GoldenModel(chip)
    grad = m.ep_gradient(ds.x_train[:1], ds.t_train[:1])
    return pulse_codes(grad, chip, learning_rate=learning_rate, quantize=True)[xbar]


def dcosim_smoke(
    chip: Chip,
    workdir: str | Path,
    xbar: str | None = None,
    counts: np.ndarray | None = None,
    conductances: dict[str, np.ndarray] | None = None,
) -> dict:
    """Program crossbar ``xbar`` (default the first) with ``counts`` (default
    :func:`first_step_counts`) from the controller running inside ngspice; returns a dict with
    ``g_before``, ``g_after`` (ngspice), ``g_golden`` (S, rows × cols), ``counts``,
    ``max_err_steps`` (max |g_after − g_golden| / step), ``done_at_s`` (time ``done`` rose, s),
    ``end_s`` (the reference model's end of the update, s), ``build_s``, ``tran_s`` and the files."""
    from ..run.dcosim import build_dcosim_library, port_bits
    from ..run.ngspice_tran import memristor_deck_head, run_ngspice, tran_wrdata_tail
    from ..run.pulse import memristor_osdi

    wd = Path(workdir).resolve()
    wd.mkdir(parents=True, exist_ok=True)
    d = design(chip.name, chip.controller)
    names = [x.name for x in d.xbars]
    xbar = xbar or names[0]
    if xbar not in names:
        raise CodegenError(f"no crossbar {xbar!r} (have {', '.join(names)})")
    xi = names.index(xbar)
    p: CtrlParams = d.xbars[xi]
    counts = first_step_counts(chip, xbar) if counts is None else np.asarray(counts, dtype=np.int64)
    if counts.shape != (p.rows, p.cols):
        raise CodegenError(f"counts must have shape {(p.rows, p.cols)}")
    codes = encode_counts(counts, p.count_bits)
    g0 = (conductances or chip.initial_conductances())[xbar]
    # ---- digital: controller + sequencer, built into a d_cosim library ----
    files = format_rtl(chip.name, chip.controller)
    for rel, text in files.items():
        (wd / rel).parent.mkdir(parents=True, exist_ok=True)
        (wd / rel).write_text(text)
    top = f"{chip.name}_dcosim_top"
    sw = max(int(p.cells + 1).bit_length(), d.addr_bits)
    (wd / "rtl" / f"{top}.v").write_text(
        render(
            "cosim/dcosim_top.v.j2",
            top=top,
            chip=chip.name,
            ctl=d.top,
            x=p,
            xi=xi,
            sel_bits=d.sel_bits,
            aw=d.addr_bits,
            sw=sw,
            codes=list(enumerate(int(c) for c in codes.ravel())),
            others=[n for n in names if n != xbar],
        )
    )
    lib = build_dcosim_library([wd / f for f in d.rtl_files] + [wd / "rtl" / f"{top}.v"], top, wd, name="ctl")
    # ---- analog: clock, reset, line drivers, memristors ----
    dev = chip.device
    period = 1.0 / p.clock_hz
    tr = dev.pulse_width_s * EDGE_FRACTION
    half = p.v_program_V / 2
    ins = port_bits(lib.inputs)
    outs = port_bits(lib.outputs)
    if ins != ["clk", "rst"]:
        raise CodegenError(f"d_cosim: unexpected inputs {ins}")

    def dnode(bit: str) -> str:
        return "d_" + bit.replace("[", "_").replace("]", "")

    sched = schedule(p, codes)
    reset_cycles = 3
    # edge 0 of the update: the rising edge that samples start (reset, p.cells writes, then start)
    start_edge = reset_cycles + p.cells
    t_end = (start_edge + sched.end_cycle + 5) * period
    lines = [
        *memristor_deck_head(
            f"d_cosim smoke test of chip {chip.name}: controller inside ngspice programs crossbar {xbar}"
        ),
        f'.model ctl d_cosim simulation="{lib.path}"',
        ".model adc adc_bridge(in_low=0.5 in_high=0.5)",
        f".model dac dac_bridge(out_low=0 out_high=1 out_undef=0.5 t_rise={spice_float(tr)} t_fall={spice_float(tr)})",
        # clock: rising edges at (k + 1/2)·period, so edge k of the RTL is at t = (k + 1/2)·T
        f"Vclk clk_a 0 PULSE(0 1 {spice_float(period / 2)} {spice_float(tr)} {spice_float(tr)} "
        f"{spice_float(period / 2 - tr)} {spice_float(period)})",
        f"Vrst rst_a 0 PWL(0 1 {spice_float(reset_cycles * period)} 1 {spice_float(reset_cycles * period + tr)} 0)",
        "aclk [clk_a rst_a] [d_clk d_rst] adc",
        f"actl [d_clk d_rst] [{' '.join(dnode(b) for b in outs)}] ctl",
    ]
    for b in outs:
        lines.append(f"a{dnode(b)} [{dnode(b)}] [{dnode(b)}_a] dac")
    for kind, n in (("row", p.rows), ("col", p.cols)):
        for i in range(n):
            hi, lo = dnode(f"{kind}_lvl[{2 * i + 1}]") + "_a", dnode(f"{kind}_lvl[{2 * i}]") + "_a"
            lines.append(f"B{kind}{i} {kind}{i} 0 V={spice_float(half)}*max(2*V({hi})+V({lo})-1, 0)")
    inst = []
    for r in range(p.rows):
        for c in range(p.cols):
            lines.append(f"N{r}_{c} row{r} col{c} mem g0={spice_float(float(g0[r, c]))}")
            inst.append(f"@n{r}_{c}[g]")
    step = dev.pulse_width_s / 50
    lines += tran_wrdata_tail(
        period / 20, t_end, step, "g.txt", [*inst, "v(d_done_a)"], save=[*inst, "d_done_a"]
    )
    osdi = memristor_osdi(chip)
    t0 = time.perf_counter()
    res = run_ngspice(
        "\n".join(lines),
        wd,
        osdi={"eqp_memristor.osdi": osdi},
        outputs={"g.txt": [*inst, "done"]},
        timeout_s=600,
    )["g.txt"]
    tran_s = time.perf_counter() - t0
    g_after = np.array([res[n][-1] for n in inst]).reshape(p.rows, p.cols)
    g_before = np.array([res[n][0] for n in inst]).reshape(p.rows, p.cols)
    g_gold = np.where(counts == 0, g0, g_from_w(dev, apply_pulses(dev, w_from_g(dev, g0), counts)))
    done = res["done"]
    rose = np.flatnonzero(done > 0.5)
    return {
        "xbar": xbar,
        "counts": counts,
        "g_before": g_before,
        "g_after": g_after,
        "g_golden": g_gold,
        "max_err_steps": float(np.abs(g_after - g_gold).max() / dev.dg_set_S),
        "done_at_s": float(res["time"][rose[0]]) if rose.size else None,
        "end_s": (start_edge + sched.end_cycle + 0.5) * period,
        "build_s": lib.seconds,
        "tran_s": tran_s,
        "netlist": str(wd / "circuit.cir"),
        "library": str(lib.path),
    }
