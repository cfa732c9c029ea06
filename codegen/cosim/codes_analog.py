"""Update codes from the peripheral analog update circuit (``analog/eqp_update.sp``) in ngspice.

The Python side of the learning loop forms the EP update from the phases' voltage drops and
:func:`codegen.learn.rules.pulse_codes` turns it into signed pulse counts.  :class:`AnalogCodes`
takes the same codes from circuits instead: one ngspice operating point of a deck that holds, per
sample of the batch, the simultaneous copies of the network (free, +β and with centered nudging −β,
:func:`codegen.backends.spice.netlist_context`) and, per crossbar cell, one ``eqp_sqdiff`` stage per
sample (``k·(ΔV²_second − ΔV²_first)``, A) summing into an ``eqp_load`` (``rl``, Ω) and a
comparator (``eqp_cmp3``, or the flash quantiser ``eqp_qcode`` when the rule quantises) with the
rule's dead zone and an input-referred offset.  ``k`` is chosen so that 1 V at the accumulation node
is one conductance step of the wanted update ``−η·∂C/∂G`` — the thresholds are the rule's own
(``training.dead_zone``, ``controller.max_pulses``), read from the IR like :func:`pulse_codes` does.

>>> ac = AnalogCodes(chip, offset_V=0.0)                    # doctest: +SKIP
>>> res = ac.codes(conductances, x_batch, t_batch)          # doctest: +SKIP
>>> res.codes["W01"]                                        # doctest: +SKIP
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CodegenError
from ..ir import Chip

__all__ = [
    "AnalogCodes",
    "AnalogCodesResult",
    "CODE_SOURCES",
    "RL_OHM",
    "compare_with_rule",
    "track_training",
]

#: where the loop's update codes come from: the Python rule or the analog update circuit in ngspice
CODE_SOURCES = ("python", "analog")
#: transimpedance of each cell's accumulation node (Ω); ``k`` follows from it
RL_OHM = 1.0e6


@dataclass
class AnalogCodesResult:
    """What one update's circuit run produced."""

    codes: dict[str, np.ndarray]  # signed pulse counts (int64) per crossbar, read from V(code) (V → pulses)
    analog_steps: dict[str, np.ndarray]  # V(acc) per cell (V = conductance steps of the wanted update)
    seconds: float  # wall time of the ngspice run (s)


def _rule(chip: Chip, learning_rate: float | None, dead_zone: float | None, quantize: bool | None):
    tr = chip.training
    eta = tr.learning_rate if learning_rate is None else float(learning_rate)
    dz = tr.dead_zone if dead_zone is None else float(dead_zone)
    quant = tr.quantize if quantize is None else bool(quantize)
    return eta, dz, quant


class AnalogCodes:
    """The analog update circuit of every cell, run in ngspice (``ngspice -b``, one process per update).

    ``offset_V``: every comparator's input-referred offset (V, 1 V = one step); ``offset_sigma_V``:
    plus a per-cell mismatch offset drawn once from N(0, σ) with ``seed`` (deterministic).
    ``learning_rate`` (S²/V²), ``dead_zone`` (steps) and ``quantize`` override ``chip.training``
    as in :func:`codegen.learn.rules.pulse_codes`.
    """

    def __init__(
        self,
        chip: Chip,
        *,
        offset_V: float = 0.0,
        offset_sigma_V: float = 0.0,
        seed: int = 0,
        learning_rate: float | None = None,
        dead_zone: float | None = None,
        quantize: bool | None = None,
        timeout_s: float = 120.0,
    ):
        if not (np.isfinite(offset_V) and np.isfinite(offset_sigma_V) and offset_sigma_V >= 0):
            raise CodegenError(
                f"analog codes: offset_V must be finite and offset_sigma_V >= 0 V, got {offset_V}, {offset_sigma_V}"
            )
        if chip.interconnect.resistive:
            raise CodegenError(
                "analog codes: the update circuit reads each cell's drop at the line ends; with wire "
                "resistance (interconnect.r_row / r_col / r_access > 0) that is not the memristor's drop"
            )
        self.chip = chip
        self.eta, self.dead_zone, self.quantize = _rule(chip, learning_rate, dead_zone, quantize)
        if self.eta <= 0:
            raise CodegenError(f"analog codes: the learning rate must be > 0 S²/V², got {self.eta}")
        self.timeout_s = timeout_s
        rng = np.random.default_rng([seed, 11])
        self.offsets_V = {
            xb.name: offset_V + offset_sigma_V * rng.standard_normal(xb.shape) for xb in chip.crossbars
        }
        self.seconds = 0.0
        self.runs = 0

    @property
    def offset_band_V(self) -> float:
        """Largest comparator offset |voff| (V = steps): codes may differ from the rule only within it."""
        return max((float(np.abs(v).max()) for v in self.offsets_V.values() if v.size), default=0.0)

    def k_A_per_V2(self, xbar: str, batch: int) -> float:
        """Gain ``k`` (A/V²) of crossbar ``xbar``'s squaring stages for a batch of ``batch`` samples:
        ``rl·k·Σ_b (ΔV²_second − ΔV²_first) = −η·∂C/∂G/step`` (V = steps)."""
        chip = self.chip
        xb = next(x for x in chip.crossbars if x.name == xbar)
        denom = (4.0 if chip.nudge.centered else 2.0) * chip.nudge.beta_S
        scale = xb.energy_scale / chip.nudge.energy_scale  # energy="full", as the golden model's EP
        return self.eta * scale / (denom * batch * chip.device.dg_set_S * RL_OHM)

    def format_deck(self, conductances: dict[str, np.ndarray], x: np.ndarray, target: np.ndarray) -> str:
        """The ngspice deck (text) of one update for the batch ``x`` (feature units), ``target`` (V)."""
        from ..backends.spice import COPY_SUFFIX, netlist_context
        from ..templating import render

        chip = self.chip
        x = np.atleast_2d(np.asarray(x, dtype=float))
        t = np.atleast_2d(np.asarray(target, dtype=float))
        if len(x) != len(t):
            raise CodegenError(f"analog codes: {len(x)} input rows but {len(t)} target rows")
        circ = netlist_context(chip, conductances)  # the element-level circuit (codegen.circuit)
        inputs = {s.node for s in chip.input_sources()}
        dynamic = set(chip.free_nodes) | {a.out_node for a in chip.amplifiers}
        beta = chip.nudge.beta_S
        copies = [("free", None), ("pos", beta)] + ([("neg", -beta)] if chip.nudge.centered else [])

        def node(n: str, copy: str, b: int) -> str:
            if n == "0":
                return n
            if n in inputs:
                return f"{n}_b{b}"
            if n in dynamic or n.startswith("tref"):
                return f"{n}{COPY_SUFFIX[copy]}_b{b}"
            return n

        samples = []
        for b in range(len(x)):
            volts = chip.source_voltages(x[b])
            srcs = [
                {"name": f"{s.name}_B{b}", "node": node(s.node, "free", b), "value": float(v)}
                for s, v in zip(chip.input_sources(), volts, strict=True)
            ]
            cps = []
            for name, bt in copies:
                suf = COPY_SUFFIX[name].upper()
                nudges = []
                if bt is not None:
                    for j, (p, m) in enumerate(chip.nudge.outputs):
                        nudges.append(
                            {
                                "g": f"GNUDGE{j}{suf}_B{b}",
                                "v": f"VTGT{j}{suf}_B{b}",
                                "plus": node(p, name, b),
                                "minus": node(m, name, b) if m is not None else "0",
                                "ref": node(f"tref{j}", name, b),
                                "target": float(t[b, j]),
                            }
                        )
                cps.append(
                    {
                        "name": name,
                        "inst": f"XNET{suf}_B{b}",
                        "ports": [node(n, name, b) for n in circ.network.ports],
                        "beta_S": bt,
                        "nudges": nudges,
                    }
                )
            samples.append({"index": b, "sources": srcs, "copies": cps})
        first, second = "pos", ("neg" if chip.nudge.centered else "free")
        crossbars = []
        for xb in chip.crossbars:
            cells = []
            lname = xb.name.lower()
            for r, dst in enumerate(xb.dst_nodes):
                for c, src in enumerate(xb.src_nodes):
                    tag = f"{lname}_{r}_{c}"
                    stages = [
                        {
                            "inst": f"XSQ_{tag}_b{b}",
                            "p1": node(src, second, b),
                            "n1": node(dst, second, b),
                            "p2": node(src, first, b),
                            "n2": node(dst, first, b),
                        }
                        for b in range(len(x))
                    ]
                    cells.append(
                        {
                            "stages": stages,
                            "acc": f"acc_{tag}",
                            "code": f"code_{tag}",
                            "load": f"XRL_{tag}",
                            "cmp": f"XCMP_{tag}",
                            "voff": float(self.offsets_V[xb.name][r, c]),
                        }
                    )
            crossbars.append({"name": xb.name, "k": self.k_A_per_V2(xb.name, len(x)), "cells": cells})
        shared = [
            {"name": e.name, "node": e.nodes[0], "value": float(e.params["dc"])}
            for e in circ.sources
            if e.params["source"] != "input"
        ]
        return render(
            "characterize/update.sp.j2",
            title=f"{chip.name}: analog update codes",
            options=circ.options,
            shared_sources=shared,
            samples=samples,
            copies=[c for c, _ in copies],
            minuend=second,
            subtrahend=first,
            net_subckt=circ.network.name,
            crossbars=crossbars,
            rl=RL_OHM,
            quantize=self.quantize,
            decider="eqp_qcode (flash quantiser)" if self.quantize else "eqp_cmp3 (ternary comparator)",
            vth=self.dead_zone,
            nmax=chip.controller.max_pulses,
        )

    def deck_files(
        self, conductances: dict[str, np.ndarray], x: np.ndarray, target: np.ndarray
    ) -> dict[str, str]:
        """``{file name: text}`` of one update's deck: ``update.sp`` (the simultaneous copies of every
        sample with the update circuit of every cell), the ``cells.sp`` it includes and ``eqp_update.sp``."""
        from ..run.ngspice import netlist_files
        from ..templating import data_dir

        return {
            "update.sp": self.format_deck(conductances, x, target),
            "cells.sp": netlist_files(self.chip, conductances)["cells.sp"],
            "eqp_update.sp": (data_dir("analog") / "eqp_update.sp").read_text(),
        }

    def codes(
        self,
        conductances: dict[str, np.ndarray],
        x: np.ndarray,
        target: np.ndarray,
        workdir: str | Path | None = None,
    ) -> AnalogCodesResult:
        """Run the circuit for one update and read back the codes and the accumulated analog values."""
        from ..run.ngspice import parse_print_all
        from ..run.ngspice_tran import describe_failure, run_deck, run_dir

        files = self.deck_files(conductances, x, target)
        deck = files.pop("update.sp")
        with run_dir(workdir) as wd:
            t0 = time.perf_counter()
            proc = run_deck(
                deck, wd, "update.sp", "set num_threads=1\n", self.timeout_s, files=files, where="update.sp"
            )
            dt = time.perf_counter() - t0
        raw = parse_print_all(proc.stdout)
        codes: dict[str, np.ndarray] = {}
        acc: dict[str, np.ndarray] = {}
        try:
            for xb in self.chip.crossbars:
                lname = xb.name.lower()
                v_code = np.array(
                    [[raw[f"code_{lname}_{r}_{c}"] for c in range(xb.shape[1])] for r in range(xb.shape[0])]
                )
                acc[xb.name] = np.array(
                    [[raw[f"acc_{lname}_{r}_{c}"] for c in range(xb.shape[1])] for r in range(xb.shape[0])]
                )
                codes[xb.name] = np.rint(v_code).astype(np.int64)
        except KeyError as exc:
            raise CodegenError(
                f"update.sp: ngspice found no operating point of the analog update circuit (no value of {exc}); "
                f"{describe_failure(proc.stdout + proc.stderr, proc.returncode)}"
            ) from None
        self.seconds += dt
        self.runs += 1
        return AnalogCodesResult(codes, acc, dt)


def compare_with_rule(
    result: AnalogCodesResult,
    python_codes: dict[str, np.ndarray],
    python_steps: dict[str, np.ndarray],
    bounds: np.ndarray,
    band_V: float,
    tol_steps: float = 0.0,
) -> dict:
    """Agreement of the circuit's codes with the Python decision for one update.

    ``python_steps``: the rule's signed wanted update per cell (steps, ``−η·∂C/∂G/step``);
    ``bounds``: the rule's decision boundaries on its magnitude
    (:func:`codegen.cosim.loop.rule_boundaries`).  A disagreement is *in band* when the Python
    update lies within ``band_V + tol_steps`` of a boundary (1 V = 1 step).
    """
    cells = agree = in_band = 0
    worst = 0.0
    out_of_band: list[dict] = []
    for name, pc in python_codes.items():
        cc = result.codes[name]
        cells += pc.size
        same = cc == pc
        agree += int(same.sum())
        for r, c in np.argwhere(~same):
            u = float(python_steps[name][r, c])
            d = float(np.min(np.abs(abs(u) - bounds)))
            worst = max(worst, d)
            if d <= band_V + tol_steps:
                in_band += 1
            else:
                out_of_band.append(
                    {
                        "xbar": name,
                        "cell": [int(r), int(c)],
                        "python": int(pc[r, c]),
                        "circuit": int(cc[r, c]),
                        "update_steps": u,
                    }
                )
    return {
        "cells": cells,
        "agree": agree,
        "disagree_in_band": in_band,
        "out_of_band": out_of_band,
        "worst_boundary_distance_steps": worst,
    }


def track_training(
    chip: Chip,
    analog: AnalogCodes,
    steps: int | None = None,
    *,
    follow: str = "python",
    on_step=None,
) -> dict:
    """Run the sign-pulse training of ``chip`` (golden model, the trainer's batch order) for
    ``steps`` updates (default ``training.epochs`` epochs) and compare, at every update, the analog
    circuit's codes with the Python decision (:func:`codegen.learn.rules.pulse_codes` of the golden
    model's EP gradient).  ``follow``: whose codes program the devices (``python`` or ``analog``).
    Returns the totals of :func:`compare_with_rule` over the run, the final training accuracy and
    loss (V²) of the golden model, and the offset band (V = steps)."""
    from ..learn.datasets import load_dataset
    from ..learn.devices import DeviceArrays
    from ..learn.rules import pulse_codes
    from ..model import GoldenModel
    from .loop import batches, rule_boundaries

    if follow not in CODE_SOURCES:
        raise CodegenError(f"follow must be one of {', '.join(CODE_SOURCES)}, got {follow!r}")
    ds = load_dataset(chip)
    n = len(ds.x_train)
    if steps is None:
        steps = chip.training.epochs * -(-n // min(chip.training.batch_size, n))
    devices = DeviceArrays.create(chip)
    model = GoldenModel(chip, conductances=devices.conductances)
    bounds = rule_boundaries(analog.dead_zone, analog.quantize, chip.controller.max_pulses)
    tot: dict[str, Any] = {
        "cells": 0,
        "agree": 0,
        "disagree_in_band": 0,
        "out_of_band": [],
        "worst_boundary_distance_steps": 0.0,
    }
    for s, idx in enumerate(batches(chip, n, steps)):
        x, t = ds.x_train[idx], ds.t_train[idx]
        g = devices.conductances
        grad = model.ep_gradient(x, t)
        py = pulse_codes(
            grad, chip, learning_rate=analog.eta, dead_zone=analog.dead_zone, quantize=analog.quantize
        )
        wanted = {k: -analog.eta * v / chip.device.dg_set_S for k, v in grad.items()}
        res = analog.codes(g, x, t)
        # the golden model and ngspice agree to rounding of the decks' tolerances: 1e-6 of a step
        cmp = compare_with_rule(res, py, wanted, bounds, analog.offset_band_V, tol_steps=1e-6)
        for k in ("cells", "agree", "disagree_in_band"):
            tot[k] += cmp[k]
        tot["out_of_band"] += [{**e, "step": s} for e in cmp["out_of_band"]]
        tot["worst_boundary_distance_steps"] = max(
            tot["worst_boundary_distance_steps"], cmp["worst_boundary_distance_steps"]
        )
        devices.program(py if follow == "python" else res.codes)
        model.set_conductances(devices.conductances)
        if on_step is not None:
            on_step(s, cmp)
    y = model.solve(ds.x_train).outputs
    tot.update(
        steps=steps,
        agreement=tot["agree"] / max(tot["cells"], 1),
        offset_band_V=analog.offset_band_V,
        train_loss_V2=float(np.mean(0.5 * ((ds.t_train - y) ** 2).sum(axis=1))),
        train_accuracy=float(ds.accuracy(y, ds.labels_train, ds.t_train)),
        ngspice_seconds=analog.seconds,
    )
    return tot
