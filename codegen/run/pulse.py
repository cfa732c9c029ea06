"""Device-level checks of the Verilog-A memristor against the golden pulse model, in ngspice.

* :func:`memristor_pulse_response` — a train of set then reset pulses (amplitude and width from
  the IR) across one ``eqp_memristor``; the conductance after every pulse is compared with
  :func:`codegen.model.device.apply_pulses` / :func:`~codegen.model.device.g_from_w`.
* :func:`crossbar_half_select` — V/2 programming of one cell of a small crossbar: the selected
  cell moves by the golden model's steps, the half-selected and unselected cells do not move.
* :func:`memristor_read_disturb` — long constant biases (read voltage, half-select voltage, …);
  the state must not move, since the rate is exactly zero between the thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..ir import Chip, PulsedDeviceIR
from ..model.device import apply_pulses, g_from_w
from ..units import spice_float
from ..veriloga import compile_va, render_sources
from .ngspice_tran import memristor_deck_head, run_dir, run_ngspice, tran_wrdata_tail

__all__ = [
    "memristor_pulse_response",
    "memristor_read_disturb",
    "crossbar_half_select",
    "pulse_train_pwl",
    "pwl_source",
    "memristor_osdi",
    "RISE_FRACTION",
]

#: rise/fall time of each pulse as a fraction of its width.  The golden model takes the pulse as
#: rectangular of the full width.  Measured in ngspice 46 (trapezoidal): the per-pulse step error
#: is ≈ 1.4·RISE_FRACTION relative (1.4e-3 at 1e-2, 1.4e-4 at 1e-3, 1.4e-5 at 1e-4; 2.7× that on
#: the pulse that reaches a hard bound); it comes from the integration across the edges (the state
#: rings back by about one edge-step's worth after the falling edge), not from the flat part.
RISE_FRACTION = 1e-4
#: time steps per pulse width (the model's $bound_step and the .tran maximum step)
STEPS_PER_WIDTH = 50


def pulse_train_pwl(
    signs: Sequence[int], amplitude_V: float, width_s: float, period_s: float, start_s: float
) -> tuple[str, list[float]]:
    """PWL source text for pulses of ``sign·amplitude_V``, flat for ``width_s``, one every ``period_s``
    from ``start_s``; also the pulse start times (s)."""
    tr = width_s * RISE_FRACTION
    points = [(0.0, 0.0)]
    starts = [float(start_s + period_s * k) for k in range(len(signs))]
    for s, t0 in zip(signs, starts, strict=True):
        v = s * amplitude_V
        points += [(t0, 0.0), (t0 + tr, v), (t0 + tr + width_s, v), (t0 + 2 * tr + width_s, 0.0)]
    return pwl_source(points), starts


def pwl_source(points: Sequence[tuple[float, float]]) -> str:
    """``PWL(t0 v0 t1 v1 …)`` source text of ``(time s, value V)`` points, four points a line."""
    lines = [
        " ".join(f"{spice_float(t)} {spice_float(v)}" for t, v in points[i : i + 4])
        for i in range(0, len(points), 4)
    ]
    return "PWL(" + "\n+ ".join(lines) + ")"


def memristor_osdi(chip: Chip) -> bytes:
    """The chip's ``eqp_memristor`` Verilog-A model compiled with openvaf-r (OSDI bytes)."""
    osdi, _ = compile_va(render_sources(chip)["eqp_memristor"], "eqp_memristor")
    return osdi


def _netlist(title: str, source: str, w0: float, tstop_s: float, step_s: float) -> str:
    return "\n".join(
        [
            *memristor_deck_head(title),
            f"Vp a 0 {source}",
            f"N1 a 0 mem w0={spice_float(w0)}",
            *tran_wrdata_tail(step_s, tstop_s, step_s, "state.txt", ["@n1[w]", "@n1[g]"]),
        ]
    )


def _osdi(chip: Chip, osdi: bytes | None) -> dict[str, bytes]:
    return {"eqp_memristor.osdi": memristor_osdi(chip) if osdi is None else osdi}


def memristor_pulse_response(
    chip: Chip,
    n_set: int = 20,
    n_reset: int = 20,
    w0: float = 0.5,
    workdir: str | Path | None = None,
    osdi: bytes | None = None,
) -> dict[str, Any]:
    """Apply ``n_set`` set pulses then ``n_reset`` reset pulses (±``pulse_amplitude_V`` for
    ``pulse_width_s``) to one ``eqp_memristor`` starting at state ``w0`` in an ngspice transient.

    Returns a dict:

    * ``g_spice``, ``g_golden`` — conductance (S) before the first pulse and after each pulse
      (length ``n_set + n_reset + 1``), from ngspice and from the golden model;
    * ``dg_spice``, ``dg_golden`` — the per-pulse steps (S);
    * ``max_rel_err`` — max over pulses of ``|dg_spice − dg_golden| / dg_nominal`` where
      ``dg_nominal`` is the chip's ``dg_set_S`` (set pulses) or ``dg_reset_S`` (reset pulses), so
      a pulse that the golden model clips to zero at a bound is still compared;
    * ``max_abs_err_S`` — max ``|g_spice − g_golden|`` (S).

    ``osdi``: a compiled ``eqp_memristor`` (else the chip's model is compiled here).
    ``workdir``: keep the run folder (netlist, log, data) there instead of a temporary one.
    """
    d: PulsedDeviceIR = chip.device
    signs = [1] * n_set + [-1] * n_reset
    width = d.pulse_width_s
    period = 3 * width
    source, starts = pulse_train_pwl(signs, d.pulse_amplitude_V, width, period, start_s=width)
    tstop = starts[-1] + period if len(signs) else 2 * width
    step = width / STEPS_PER_WIDTH
    with run_dir(workdir) as wd:
        res = run_ngspice(
            _netlist(f"eqp_memristor pulse response of chip {chip.name}", source, w0, tstop, step),
            wd,
            osdi=_osdi(chip, osdi),
            outputs={"state.txt": ["w", "g"]},
        )["state.txt"]
    # sample in the middle of the gaps (the state is constant there): before pulse 0 and after each
    t_sample = np.concatenate([[width / 2], np.array(starts) + width + (period - width) / 2])
    g_spice = np.interp(t_sample, res["time"], res["g"])
    w = [float(w0)]
    for s in signs:
        w.append(float(apply_pulses(d, np.array([w[-1]]), np.array([s]))[0]))
    g_golden = g_from_w(d, np.array(w))
    dg_spice, dg_golden = np.diff(g_spice), np.diff(g_golden)
    nominal = np.where(np.array(signs) > 0, d.dg_set_S, d.dg_reset_S)
    rel = np.abs(dg_spice - dg_golden) / nominal if len(signs) else np.zeros(0)
    return {
        "g_spice": g_spice,
        "g_golden": g_golden,
        "dg_spice": dg_spice,
        "dg_golden": dg_golden,
        "max_rel_err": float(rel.max()) if len(rel) else 0.0,
        "max_abs_err_S": float(np.abs(g_spice - g_golden).max()),
    }


def memristor_read_disturb(
    chip: Chip,
    voltages_V: Sequence[float] | None = None,
    duration_s: float | None = None,
    w0: float = 0.5,
    workdir: str | Path | None = None,
    osdi: bytes | None = None,
) -> dict[float, float]:
    """Hold each bias in ``voltages_V`` (default: ± read voltage and ± half the controller's
    programming amplitude) across a fresh ``eqp_memristor`` at state ``w0`` for ``duration_s``
    (default: 100 pulse widths) and return ``{V: ΔG (S)}``, the conductance change it caused.
    """
    d = chip.device
    if voltages_V is None:
        half = chip.controller.v_program_V / 2
        voltages_V = [d.read_voltage_V, -d.read_voltage_V, half, -half]
    duration = 100 * d.pulse_width_s if duration_s is None else duration_s
    osdi_files = _osdi(chip, osdi)
    out: dict[float, float] = {}
    with run_dir(workdir) as wd:
        for i, v in enumerate(voltages_V):
            width = duration
            source, _ = pulse_train_pwl([1], float(v), width, 2 * width, start_s=d.pulse_width_s)
            sub = wd / f"bias{i}"
            sub.mkdir(exist_ok=True)
            res = run_ngspice(
                _netlist(
                    f"eqp_memristor read disturb at {v!r} V",
                    source,
                    w0,
                    2 * width,
                    d.pulse_width_s / STEPS_PER_WIDTH,
                ),
                sub,
                osdi=osdi_files,
                outputs={"state.txt": ["w", "g"]},
            )["state.txt"]
            out[float(v)] = float(res["g"][-1] - g_from_w(d, w0))
    return out


def crossbar_half_select(
    chip: Chip,
    rows: int = 2,
    cols: int = 3,
    target: tuple[int, int] = (0, 1),
    n_pulses: int = 5,
    sign: int = 1,
    w0: float = 0.5,
    workdir: str | Path | None = None,
    osdi: bytes | None = None,
) -> dict[str, Any]:
    """Program cell ``target`` of a ``rows × cols`` crossbar of ``eqp_memristor`` (p = row, n =
    column) with ``n_pulses`` V/2 pulses: the target row is driven to ``+sign·v_program_V/2``, the
    target column to ``−sign·v_program_V/2``, all other lines to 0 V, for ``pulse_width_s`` each.

    Returns ``g_before``, ``g_after``, ``g_golden_after`` (S, shape rows × cols): the golden
    model applies ``sign·n_pulses`` pulses to the target only and leaves every other cell alone.
    """
    d = chip.device
    half = chip.controller.v_program_V / 2
    width = d.pulse_width_s
    period = 3 * width
    signs = [sign] * n_pulses
    row_src, starts = pulse_train_pwl(signs, half, width, period, start_s=width)
    col_src, _ = pulse_train_pwl(signs, -half, width, period, start_s=width)
    tstop = starts[-1] + period
    step = width / STEPS_PER_WIDTH
    r0, c0 = target
    lines = memristor_deck_head(
        f"V/2 programming of cell {target} in a {rows}x{cols} eqp_memristor crossbar of chip {chip.name}"
    )
    lines += [f"Vr{r} r{r} 0 {row_src if r == r0 else '0'}" for r in range(rows)]
    lines += [f"Vc{c} c{c} 0 {col_src if c == c0 else '0'}" for c in range(cols)]
    names = []
    for r in range(rows):
        for c in range(cols):
            lines.append(f"N{r}_{c} r{r} c{c} mem w0={spice_float(w0)}")
            names.append(f"@n{r}_{c}[g]")
    lines += tran_wrdata_tail(step, tstop, step, "g.txt", names)
    with run_dir(workdir) as wd:
        res = run_ngspice("\n".join(lines), wd, osdi=_osdi(chip, osdi), outputs={"g.txt": names})["g.txt"]
    g_before = np.array([res[n][0] for n in names]).reshape(rows, cols)
    g_after = np.array([res[n][-1] for n in names]).reshape(rows, cols)
    g_golden = np.full((rows, cols), float(g_from_w(d, w0)))
    g_golden[r0, c0] = float(g_from_w(d, apply_pulses(d, np.array([w0]), np.array([sign * n_pulses]))[0]))
    return {"g_before": g_before, "g_after": g_after, "g_golden_after": g_golden}
