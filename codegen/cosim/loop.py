"""The co-simulated learning loop and its step-by-step check against the golden model.

One step (one batch of ``training.batch_size`` samples, in the trainer's order):

1. **analog** (:class:`~codegen.cosim.analog.SpiceCrossbars`): ngspice solves the free and nudged
   phases; the EP update from the SPICE voltage drops → update codes (sign-pulse rule,
   :func:`codegen.learn.rules.pulse_codes`).
2. **digital** (a :class:`Controller`: the RTL under cocotb + Icarus, or the reference model): the
   codes are written into the pulse controller, which is started once per crossbar; the line
   levels it drives are captured and decoded into the pulses every cell saw
   (:mod:`codegen.cosim.decode`).
3. **devices** (:mod:`codegen.cosim.devices`): those pulses move the memristors (golden device model
   or an ngspice transient through the Verilog-A memristor); the new conductances go back to ngspice.

The golden side runs the same loop on its own: :class:`codegen.model.GoldenModel` EP gradient at its
own conductances → the same rule → :class:`codegen.learn.devices.DeviceArrays`.  After every step:

* **pulses**: the pulses decoded from the controller's lines must equal the codes the analog side
  asked for (exactly: a controller fault), and those codes must equal the golden model's codes,
  except at *near-threshold* cells: cells where the two EP estimates straddle a decision boundary
  of the rule (0, the dead zone, a rounding half-step) while ngspice's estimate agrees with the
  golden model's *at the chip's conductances* within the ngspice vs golden EP tolerance
  (``TOL_EP_REL`` of the crossbar's largest update; with transient devices the two sides'
  conductances differ slightly, and that drift is checked separately below).  Those are reported
  as ties and the golden side follows the chip's decision for that cell (otherwise the two
  trajectories would part for a reason both checks accept); any other difference is a divergence;
* **conductances**: behavioral devices: ``max|G_cosim − G_golden| ≤ TOL_G_REL_BEHAVIORAL·g_max``;
  transient: per update ``|G_cosim − golden_device(G_cosim before, pulses)| ≤ TOL_STEP_TRANSIENT``
  of a step per cell, and along the trajectory ``|G_cosim − G_golden| ≤ TOL_STEP_TRANSIENT`` of a
  step per pulse the cell has received;
* **loss**: ``|C_spice − C_golden| ≤ 2·TOL_V·mean Σ|t − y| + 2·Σ|∂C/∂G·ΔG| + 1e-12 V²`` (the
  node-voltage tolerance of the netlists, plus first order in any conductance difference).

The first divergence stops the loop; :class:`Divergence` names the step, crossbar, cell, both
values and the files to inspect.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from ..controller import CtrlParams, encode_counts, schedule
from ..errors import CodegenError
from ..ir import Chip
from .decode import Capture, Decoded, capture_from_schedule, decode

__all__ = [
    "DEVICES",
    "TOL_G_REL_BEHAVIORAL",
    "TOL_STEP_TRANSIENT",
    "CosimConfig",
    "Controller",
    "ReferenceController",
    "Divergence",
    "CosimResult",
    "run_loop",
    "validate",
    "rule_boundaries",
    "compare_codes",
    "CodeComparison",
    "batches",
]

DEVICES = ("behavioral", "transient")
#: behavioral devices: both sides apply the same golden device ODE to the same pulses; what is left
#: is float rounding of segment-wise vs pulse-train integration (≈1e-16 relative)
TOL_G_REL_BEHAVIORAL = 1e-12
#: transient devices: per pulse, as a fraction of the nominal step; the Verilog-A checks measured
#: 1.4e-5 (docs/veriloga.md), 2.8e-3 accumulated over a 200-pulse train that saturates
TOL_STEP_TRANSIENT = 1e-2


@dataclass
class CosimConfig:
    """Run settings.  ``learning_rate`` (S²/V²), ``dead_zone`` (steps), ``quantize``: the sign-pulse
    rule's parameters (default: the chip's ``training``)."""

    steps: int
    device: str = "behavioral"
    phases: str = "sequential"
    learning_rate: float | None = None
    dead_zone: float | None = None
    quantize: bool | None = None
    out: Path = Path("build/cosim")
    keep_transients: bool = False
    stop_on_divergence: bool = True
    #: the slower paths of before issue 15, kept for bench/bench_cosim.py's ratios: one ``ngspice -b``
    #: per transient saving every ``@inst[g]`` at every time point, a Python clock in cocotb, pytest
    #: assertion rewriting of every imported module
    legacy: bool = False
    #: where the update codes come from: ``python`` (the rule on ngspice's EP update) or ``analog``
    #: (the peripheral update circuit of analog/eqp_update.sp in ngspice, :mod:`codegen.cosim.codes_analog`)
    codes: str = "python"

    def rule(self, chip: Chip) -> dict[str, float | bool]:
        tr = chip.training
        return {
            "learning_rate": tr.learning_rate if self.learning_rate is None else self.learning_rate,
            "dead_zone": tr.dead_zone if self.dead_zone is None else self.dead_zone,
            "quantize": tr.quantize if self.quantize is None else self.quantize,
        }


class Controller(Protocol):
    """The digital half: programs one crossbar with code words, returns the captured line levels."""

    name: str
    seconds: float

    async def program(self, xi: int, codes: np.ndarray, step: int) -> Capture: ...


class ReferenceController:
    """The cycle-accurate reference model (:mod:`codegen.controller`) in place of the RTL.

    ``fault``: ``(step, xbar, address)``: at that step flip the sign bit of that cell's code before
    it is scheduled, as a faulty controller would (for tests of the checker).
    """

    name = "reference model"

    def __init__(self, params: list[CtrlParams], fault: tuple[int, str, int] | None = None):
        self.params = params
        self.fault = fault
        self.seconds = 0.0

    async def program(self, xi: int, codes: np.ndarray, step: int) -> Capture:
        t0 = time.perf_counter()
        p = self.params[xi]
        codes = np.array(codes, dtype=np.int64)
        if self.fault is not None and self.fault[0] == step and self.fault[1] == p.name:
            codes.ravel()[self.fault[2]] ^= 1 << p.count_bits
        cap = capture_from_schedule(schedule(p, codes))
        self.seconds += time.perf_counter() - t0
        return cap


@dataclass
class Divergence:
    """The first disagreement between the co-simulation and the golden model."""

    step: int
    kind: str  # controller | codes | conductance | loss | ngspice
    message: str
    xbar: str | None = None
    cell: tuple[int, int] | None = None
    cosim: float | None = None
    golden: float | None = None
    files: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class CosimResult:
    chip: str
    config: dict
    steps: list[dict]
    divergence: Divergence | None
    timing: dict[str, float]
    ties: list[dict]

    @property
    def passed(self) -> bool:
        return self.divergence is None and len(self.steps) == self.config["steps"]

    def as_dict(self) -> dict:
        return {
            "chip": self.chip,
            "passed": self.passed,
            "config": self.config,
            "divergence": None if self.divergence is None else self.divergence.as_dict(),
            "ties": self.ties,
            "timing_s": self.timing,
            "steps": self.steps,
        }


def rule_boundaries(dead_zone: float, quantize: bool, cap: int) -> np.ndarray:
    """Decision boundaries of the sign-pulse rule on ``|η·∂C/∂G|/step`` (and 0 for the sign)."""
    b = [0.0, dead_zone]
    if quantize:
        b += [k + 0.5 for k in range(1, cap)]
    return np.unique(np.array(b))


@dataclass
class CodeComparison:
    """Cells whose codes differ, split into ties (within tolerance of a rule boundary) and mismatches."""

    ties: list[dict]
    mismatches: list[dict]
    near: int  # cells (codes equal or not) whose golden update lies within tolerance of a boundary


def compare_codes(
    codes_s: dict[str, np.ndarray],
    codes_g: dict[str, np.ndarray],
    update_s: dict[str, np.ndarray],
    update_g: dict[str, np.ndarray],
    bounds: np.ndarray,
    tol_rel: float,
    update_ref: dict[str, np.ndarray] | None = None,
) -> CodeComparison:
    """Compare the co-simulation's codes with the golden model's.

    ``update_*``: the signed wanted update of each cell in steps (``−η·∂C/∂G/step``) from each
    side's own voltages at its own conductances.  ``update_ref``: the golden model's update at the
    *co-simulation's* conductances (default ``update_g``: the same conductances), which separates
    the solvers (ngspice vs golden) from conductance drift (checked on its own).  A cell whose
    codes differ is a *tie* when ``|update_s − update_ref| ≤ tol_rel·max|update_ref|`` (per
    crossbar: the EP tolerance between ngspice and the golden model) — the difference then comes
    from a decision boundary of the rule lying between two estimates that agree within tolerance;
    otherwise it is a *mismatch*.
    """
    ref_all = update_g if update_ref is None else update_ref
    ties: list[dict] = []
    bad: list[dict] = []
    near = 0
    for name in codes_g:
        ref = ref_all[name]
        tol = tol_rel * max(float(np.abs(ref).max()), 1e-300)
        dist = np.min(np.abs(np.abs(ref)[..., None] - bounds), axis=-1)
        near += int(np.sum(dist <= tol))
        for r, c in np.argwhere(codes_s[name] != codes_g[name]):
            a, b, e = float(update_s[name][r, c]), float(update_g[name][r, c]), float(ref[r, c])
            entry = {
                "xbar": name,
                "cell": [int(r), int(c)],
                "code_cosim": int(codes_s[name][r, c]),
                "code_golden": int(codes_g[name][r, c]),
                "update_steps_cosim": a,
                "update_steps_golden": b,
                "update_steps_golden_at_cosim_G": e,
                "tolerance_steps": tol,
            }
            (ties if abs(a - e) <= tol else bad).append(entry)
    return CodeComparison(ties, bad, near)


def batches(chip: Chip, n: int, steps: int) -> list[np.ndarray]:
    """Sample indices of each step, in the order :func:`codegen.learn.trainer.train` uses."""
    tr = chip.training
    rng = np.random.default_rng([tr.seed, 3])  # trainer's _SHUFFLE stream
    bs = min(tr.batch_size, n)
    out: list[np.ndarray] = []
    while len(out) < steps:
        order = rng.permutation(n)
        for i in range(0, n, bs):
            out.append(order[i : i + bs])
            if len(out) == steps:
                break
    return out


def _ratios(grad: dict[str, np.ndarray], eta: float, step_S: float) -> dict[str, np.ndarray]:
    """Signed wanted update in steps, ``−η·∂C/∂G / step``."""
    return {k: -eta * np.asarray(v) / step_S for k, v in grad.items()}


def validate(chip: Chip, cfg: CosimConfig) -> None:
    """Raise :class:`CodegenError` for settings the co-simulation cannot run."""
    from .analog import PHASES

    dev = chip.device
    if cfg.device not in DEVICES:
        raise CodegenError(f"unknown device mode {cfg.device!r}; choose from {', '.join(DEVICES)}")
    if cfg.phases not in PHASES:
        raise CodegenError(f"unknown phase mode {cfg.phases!r}; choose from {', '.join(PHASES)}")
    if dev.d2d_sigma or dev.c2c_sigma or dev.stuck_at_gmin or dev.stuck_at_gmax:
        raise CodegenError(
            "co-simulation models ideal devices: set device.variation and device.faults to 0 "
            "(the Verilog-A memristor has no per-cell variation to match them)"
        )
    if cfg.codes not in ("python", "analog"):
        raise CodegenError(f"unknown code source {cfg.codes!r}; choose from python, analog")
    if cfg.steps < 1:
        raise CodegenError(f"--steps must be at least 1, got {cfg.steps}")
    rule = cfg.rule(chip)
    if not float(rule["learning_rate"]) > 0 or float(rule["dead_zone"]) < 0:
        raise CodegenError("the sign-pulse rule needs learning_rate > 0 and dead_zone ≥ 0")


async def run_loop(chip: Chip, cfg: CosimConfig, ctrl: Controller, log=print) -> CosimResult:
    """Run ``cfg.steps`` co-simulated learning steps, checking each against the golden model."""
    from ..learn.datasets import load_dataset
    from ..learn.devices import DeviceArrays
    from ..learn.rules import pulse_codes
    from ..model import GoldenModel
    from ..model.device import apply_pulses, g_from_w, w_from_g
    from ..run.equivalence import TOL_EP_REL, TOL_V, ep_relative_error
    from .analog import SpiceCrossbars
    from .devices import BehavioralDevices, TransientDevices

    dev = chip.device
    validate(chip, cfg)
    rule = cfg.rule(chip)
    eta, dz, quant = float(rule["learning_rate"]), float(rule["dead_zone"]), bool(rule["quantize"])
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    for stale in [*out.glob("divergence_step*"), out / "transient"]:  # from an earlier run
        if stale.is_dir():
            shutil.rmtree(stale)
    params = CtrlParams.all_from_chip(chip)
    pmap = {p.name: p for p in params}
    beta = chip.nudge.beta_S
    ds = load_dataset(chip)
    order = batches(chip, len(ds.x_train), cfg.steps)

    t_setup = t_start = time.perf_counter()
    golden_dev = DeviceArrays.create(chip)
    g0 = golden_dev.conductances
    model = GoldenModel(chip, conductances=g0)
    model_c = GoldenModel(chip, conductances=g0)  # the golden model at the chip's conductances
    spice = SpiceCrossbars(chip, g0, cfg.phases)
    devices: BehavioralDevices | TransientDevices
    if cfg.device == "behavioral":
        devices = BehavioralDevices(chip, g0)
    else:
        devices = TransientDevices(
            chip, g0, out / "transient", keep=cfg.keep_transients, kept_session=not cfg.legacy
        )
    analog_codes = None
    if cfg.codes == "analog":
        from .codes_analog import AnalogCodes

        analog_codes = AnalogCodes(chip, learning_rate=eta, dead_zone=dz, quantize=quant)
    setup_s = time.perf_counter() - t_setup
    g_cosim = {k: v.copy() for k, v in g0.items()}
    received = {k: np.zeros(v.shape, dtype=np.int64) for k, v in g0.items()}  # |pulses| per cell so far
    bounds = rule_boundaries(dz, quant, chip.controller.max_pulses)
    steps: list[dict] = []
    ties: list[dict] = []
    divergence: Divergence | None = None
    t_golden = t_check = 0.0
    step_s = dev.dg_set_S

    state: dict[str, object] = {}  # what this step has computed so far, dumped on a divergence

    def diverge(step: int, kind: str, msg: str, **kw) -> Divergence:
        import json

        d = Divergence(step, kind, msg, **kw)
        folder = out / f"divergence_step{step:04d}"
        spice.write_netlists(folder / "spice", g_cosim_before)
        d.files += [str(folder / "spice" / f"{spice.top}.sp"), str(folder / "spice" / "cells.sp")]
        dump = {"step": step, "kind": kind, "message": msg, "conductances_before_S": g_cosim_before, **state}
        (folder / "step.json").write_text(json.dumps(_jsonable(dump), indent=1) + "\n")
        d.files.append(str(folder / "step.json"))
        if isinstance(devices, TransientDevices) and devices.last_dir is not None:
            d.files.append(str(devices.last_dir / "circuit.cir"))
        return d

    for s, idx in enumerate(order):
        g_cosim_before = {k: v.copy() for k, v in g_cosim.items()}
        x, t = ds.x_train[idx], ds.t_train[idx]
        state.clear()
        state["samples"] = idx
        # ---- analog (ngspice) ----
        try:
            ana = spice.solve(x, t, beta)
        except CodegenError as exc:
            divergence = diverge(s, "ngspice", str(exc))
            break
        if analog_codes is None:
            codes_s = pulse_codes(ana.gradient, chip, learning_rate=eta, dead_zone=dz, quantize=quant)
        else:  # the update circuit's codes; its accumulated input (V = steps) is the chip's estimate
            try:
                res_a = analog_codes.codes(g_cosim, x, t)
            except CodegenError as exc:
                divergence = diverge(s, "ngspice", str(exc))
                break
            codes_s = res_a.codes
        # ---- golden ----
        t0 = time.perf_counter()
        g_grad = model.ep_gradient(x, t, beta=beta, centered=chip.nudge.centered)
        # one free solve for the loss and the outputs (GoldenModel.loss would solve it again)
        g_y = model.solve(x).outputs
        g_loss = float(np.mean(0.5 * ((np.atleast_2d(np.asarray(t, dtype=float)) - g_y) ** 2).sum(axis=1)))
        codes_g = pulse_codes(g_grad, chip, learning_rate=eta, dead_zone=dz, quantize=quant)
        same_g = all(np.array_equal(g_cosim[k], v) for k, v in model.conductances.items())
        if same_g:
            g_grad_c = g_grad
        else:  # transient devices: the golden model also at the chip's conductances
            model_c.set_conductances(g_cosim)
            g_grad_c = model_c.ep_gradient(x, t, beta=beta, centered=chip.nudge.centered)
        t_golden += time.perf_counter() - t0
        # ---- codes: cosim vs golden, ties near a rule boundary ----
        t0 = time.perf_counter()
        r_s, r_g = _ratios(ana.gradient, eta, step_s), _ratios(g_grad, eta, step_s)
        if analog_codes is not None:
            r_s = res_a.analog_steps
        r_c = _ratios(g_grad_c, eta, step_s)
        cmp = compare_codes(codes_s, codes_g, r_s, r_g, bounds, TOL_EP_REL, update_ref=r_c)
        state.update(
            codes_cosim=codes_s,
            codes_golden=codes_g,
            update_steps_cosim=r_s,
            update_steps_golden=r_g,
            loss_cosim=ana.loss,
            loss_golden=g_loss,
        )
        for e in cmp.ties:
            e["step"] = s
            r, c = e["cell"]
            codes_g[e["xbar"]][r, c] = e["code_cosim"]  # golden follows the chip on a tie
        step_ties, near = cmp.ties, cmp.near
        if cmp.mismatches and divergence is None:
            e = cmp.mismatches[0]
            r, c = e["cell"]
            a, b, tol = e["update_steps_cosim"], e["update_steps_golden"], e["tolerance_steps"]
            divergence = diverge(
                s,
                "codes",
                f"update code of {e['xbar']}[{r},{c}] differs: co-simulation {e['code_cosim']:+d} "
                f"(EP update {a:+.6g} steps from ngspice), golden {e['code_golden']:+d} ({b:+.6g} steps; "
                f"{e['update_steps_golden_at_cosim_G']:+.6g} at the chip's conductances); "
                f"|ngspice − golden| {abs(a - e['update_steps_golden_at_cosim_G']):.3g} > tolerance {tol:.3g} steps",
                xbar=e["xbar"],
                cell=(r, c),
                cosim=float(e["code_cosim"]),
                golden=float(e["code_golden"]),
            )
        ties += step_ties
        ep_err = ep_relative_error(ana.gradient, g_grad_c)  # same conductances: solvers only
        t_check += time.perf_counter() - t0
        if divergence is not None and cfg.stop_on_divergence:
            break
        # ---- digital: the controller programs every crossbar ----
        decoded: dict[str, Decoded] = {}
        for xi, p in enumerate(params):
            cap = await ctrl.program(xi, encode_counts(codes_s[p.name], p.count_bits), s)
            decoded[p.name] = decode(p, cap)
        state["pulses_decoded"] = {k: d.counts for k, d in decoded.items()}
        state["pulse_runs"] = {  # [cycle, row, col, polarity, cycles, pulses] per run at ±v_program
            k: [[q.cycle, q.row, q.col, q.polarity, q.width_cycles, q.pulses] for q in d.runs]
            for k, d in decoded.items()
        }
        t0 = time.perf_counter()
        for name, dec in decoded.items():
            if dec.faults and divergence is None:
                divergence = diverge(s, "controller", "; ".join(dec.faults[:4]), xbar=name)
            bad = np.argwhere(dec.counts != codes_s[name])
            if len(bad) and divergence is None:
                r, c = (int(v) for v in bad[0])
                divergence = diverge(
                    s,
                    "controller",
                    f"{name}[{r},{c}] received {int(dec.counts[r, c]):+d} pulses from the controller, "
                    f"its update code asked for {int(codes_s[name][r, c]):+d} (golden model: "
                    f"{int(codes_g[name][r, c]):+d}); {len(bad)} cell(s) differ in {name}",
                    xbar=name,
                    cell=(r, c),
                    cosim=float(dec.counts[r, c]),
                    golden=float(codes_g[name][r, c]),
                )
        t_check += time.perf_counter() - t0
        if divergence is not None and cfg.stop_on_divergence:
            break
        # ---- devices ----
        try:
            g_cosim = devices.program(pmap, decoded, s)
            state["conductances_after_S"] = g_cosim
        except CodegenError as exc:
            divergence = diverge(s, "ngspice", f"programming transient failed: {exc}")
            break
        t0 = time.perf_counter()
        golden_dev.program(codes_g)
        g_gold = golden_dev.conductances
        model.set_conductances(g_gold)
        t_golden += time.perf_counter() - t0
        t0 = time.perf_counter()
        pulses = {k: np.array(d.counts) for k, d in decoded.items()}
        for k in received:
            received[k] += np.abs(pulses[k])
        g_err = max(float(np.abs(g_cosim[k] - g_gold[k]).max()) for k in g_gold)
        step_err = 0.0  # transient: this update's error against the golden device from the same start
        if cfg.device == "behavioral":
            lim = TOL_G_REL_BEHAVIORAL * dev.g_max_S
            worst = max(g_gold, key=lambda k: float(np.abs(g_cosim[k] - g_gold[k]).max()))
            if g_err > lim and divergence is None:
                r, c = np.unravel_index(
                    np.argmax(np.abs(g_cosim[worst] - g_gold[worst])), g_gold[worst].shape
                )
                divergence = diverge(
                    s,
                    "conductance",
                    f"{worst}[{r},{c}]: co-simulated {g_cosim[worst][r, c]:.12g} S, golden {g_gold[worst][r, c]:.12g} S "
                    f"(|Δ| {g_err:.3g} S > {lim:.3g} S)",
                    xbar=worst,
                    cell=(int(r), int(c)),
                    cosim=float(g_cosim[worst][r, c]),
                    golden=float(g_gold[worst][r, c]),
                )
        else:
            for k in g_gold:
                expect = np.where(
                    pulses[k] == 0,
                    g_cosim_before[k],
                    g_from_w(dev, apply_pulses(dev, w_from_g(dev, g_cosim_before[k]), pulses[k])),
                )
                e = np.abs(g_cosim[k] - expect) / step_s
                step_err = max(step_err, float(e.max()))
                traj = np.abs(g_cosim[k] - g_gold[k]) / step_s
                lim_traj = TOL_STEP_TRANSIENT * np.maximum(received[k], 1)
                if divergence is None and (e.max() > TOL_STEP_TRANSIENT or np.any(traj > lim_traj)):
                    bad_step = e.max() > TOL_STEP_TRANSIENT
                    arr = e if bad_step else traj - lim_traj
                    r, c = np.unravel_index(np.argmax(arr), arr.shape)
                    ref = expect if bad_step else g_gold[k]
                    divergence = diverge(
                        s,
                        "conductance",
                        f"{k}[{r},{c}] after the transient: {g_cosim[k][r, c]:.9g} S, golden device model "
                        f"{ref[r, c]:.9g} S ("
                        + (
                            f"this update off by {e[r, c]:.3g} step > {TOL_STEP_TRANSIENT}"
                            if bad_step
                            else f"trajectory off by {traj[r, c]:.3g} step > {lim_traj[r, c]:.3g} "
                            f"for {received[k][r, c]} pulses"
                        )
                        + ")",
                        xbar=k,
                        cell=(int(r), int(c)),
                        cosim=float(g_cosim[k][r, c]),
                        golden=float(ref[r, c]),
                    )
        # loss at the free phase of this step (before its update)
        dg_before = sum(
            float(np.sum(np.abs(g_grad[k]) * np.abs(g_cosim_before[k] - gb)))
            for k, gb in _golden_before(steps, g0).items()
        )
        loss_tol = 2 * TOL_V * float(np.mean(np.sum(np.abs(t - g_y), axis=1))) + 2 * dg_before + 1e-12
        if abs(ana.loss - g_loss) > loss_tol and divergence is None:
            divergence = diverge(
                s,
                "loss",
                f"loss {ana.loss:.9g} V² (ngspice) vs {g_loss:.9g} V² (golden), |Δ| {abs(ana.loss - g_loss):.3g} > {loss_tol:.3g}",
                cosim=ana.loss,
                golden=g_loss,
            )
        t_check += time.perf_counter() - t0
        rec = {
            "step": s,
            "samples": [int(i) for i in idx],
            "loss_cosim": ana.loss,
            "loss_golden": g_loss,
            "loss_tol": loss_tol,
            "ep_rel_err": ep_err,
            "pulses": int(sum(np.abs(v).sum() for v in pulses.values())),
            "pulses_golden": int(sum(np.abs(v).sum() for v in codes_g.values())),
            "ties": len(step_ties),
            "near_threshold": near,
            "g_err_S": g_err,
            "g_err_steps": g_err / step_s,
            "transient_step_err_steps": step_err,
            "ops": ana.ops,
            "g_golden": {k: v.tolist() for k, v in g_gold.items()},
        }
        steps.append(rec)
        log(
            f"step {s:3d}: loss {ana.loss:.6g} (golden {g_loss:.6g})  pulses {rec['pulses']:3d}  "
            f"|ΔG| {g_err:.2e} S  EP err {ep_err:.1e}" + (f"  ties {len(step_ties)}" if step_ties else "")
        )
        if divergence is not None and cfg.stop_on_divergence:
            break
        spice.set_conductances(g_cosim)
    if isinstance(devices, TransientDevices):
        devices.close()  # the kept ngspice worker
    for rec in steps:
        rec.pop("g_golden", None)
    timing = {
        "setup": setup_s,
        "ngspice_op": spice.seconds,
        "rtl": ctrl.seconds,
        "devices": devices.seconds,
        "golden": t_golden,
        "checks": t_check,
        "loop_wall": time.perf_counter() - t_start,
    }
    cfg_d = {
        "steps": cfg.steps,
        "device": cfg.device,
        "phases": cfg.phases,
        "codes": cfg.codes,
        "controller": ctrl.name,
        "rule": "sign-pulse",
        **rule,
        "beta_S": beta,
        "centered": chip.nudge.centered,
        "tolerances": {
            "ep_rel": TOL_EP_REL,
            "node_V": TOL_V,
            "g_rel_behavioral": TOL_G_REL_BEHAVIORAL,
            "step_transient": TOL_STEP_TRANSIENT,
        },
    }
    return CosimResult(chip.name, cfg_d, steps, divergence, timing, ties)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _golden_before(steps: list[dict], g0: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Golden conductances before the current step (after the last recorded one)."""
    if not steps:
        return g0
    return {k: np.array(v) for k, v in steps[-1]["g_golden"].items()}
