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

Layout: :class:`GoldenTwin` is the golden side (model, rule, devices); the checks are pure
functions of one step's numbers that return a :class:`Finding` or ``None`` (:func:`check_codes`,
:func:`check_controller`, :func:`check_behavioral_conductances`,
:func:`check_transient_conductances`, :func:`check_loss`); :func:`run_loop` only orders them and
keeps the first finding (with its step folder) as the run's :class:`Divergence`.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..controller import CtrlParams, encode_counts, schedule
from ..errors import CodegenError
from ..ir import Chip
from ..learn.rules import rule_boundaries
from ..model import readout
from .decode import Capture, Decoded, capture_from_schedule, decode

if TYPE_CHECKING:
    from ..model.network import Equilibrium
    from .devices import BehavioralDevices
    from .golden_worker import WorkerDevices

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
    "GoldenTwin",
    "GoldenStep",
    "Finding",
    "follow_ties",
    "check_codes",
    "check_controller",
    "check_behavioral_conductances",
    "check_transient_conductances",
    "loss_tolerance",
    "check_loss",
    "program_crossbars",
    "check_conductances",
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
    #: assertion rewriting of every imported module, one ngspice ``op`` per phase and sample with
    #: every vector read back, a Python callback per line-level change and one clocked write per code
    legacy: bool = False
    #: transient devices, the path before the per-crossbar transients (bench/bench_cosim.py's
    #: ``--transient-pair`` ratios): one deck of every cell of the update, the step bound on the whole
    #: transient, ngspice's memory check at every time point
    full_transient: bool = False
    #: where the update codes come from: ``python`` (the rule on ngspice's EP update) or ``analog``
    #: (the peripheral update circuit of analog/eqp_update.sp in ngspice, :mod:`codegen.cosim.codes_analog`)
    codes: str = "python"
    #: the RTL runner runs the golden side in a worker process (:mod:`codegen.cosim.golden_worker`),
    #: its work overlapping the controller's and ngspice's; ``False`` (and ``legacy``): in the loop
    golden_worker: bool = True

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
    """Sample indices of each of ``steps`` steps, in the order :func:`codegen.learn.trainer.train`
    uses (:func:`codegen.learn.trainer.epoch_batches`)."""
    from ..learn.trainer import epoch_batches

    out: list[np.ndarray] = []
    for epoch in epoch_batches(chip, n):
        for idx in epoch:
            out.append(idx)
            if len(out) == steps:
                return out
    raise AssertionError("unreachable: epoch_batches is endless")  # pragma: no cover


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


# ------------------------------------------------------------------ the golden twin
@dataclass
class GoldenStep:
    """What the golden side computed for one step, before its update."""

    gradient: dict[str, np.ndarray]  # EP estimate at the golden conductances (V²/S)
    outputs: np.ndarray  # (B, n_out) free-phase outputs (V)
    loss: float  # batch-mean ½Σ(t − y)² (V²)
    codes: dict[str, np.ndarray]  # the rule's signed pulse counts (ties then follow the chip)
    gradient_at_chip: dict[str, np.ndarray]  # EP estimate at the chip's conductances (V²/S)
    conductances_before: dict[str, np.ndarray]  # golden conductances (S) the step started from


#: most floats of free equilibria :class:`GoldenTwin` keeps per model to start the next ones from
_WARM_FLOATS = 4_000_000


def _batch_key(x: np.ndarray, t: np.ndarray) -> bytes:
    """A batch's features and targets as bytes (what :meth:`GoldenTwin.prefetch` is keyed on)."""
    x, t = np.ascontiguousarray(x, dtype=float), np.ascontiguousarray(t, dtype=float)
    return repr((x.shape, t.shape)).encode() + x.tobytes() + t.tobytes()


class GoldenTwin:
    """The golden side of the loop: the golden model at its own conductances, the same sign-pulse
    rule, the golden device model (:class:`codegen.learn.devices.DeviceArrays`).  A second golden
    model evaluates the EP estimate at the *chip's* conductances when the two sides differ
    (transient devices), so solver differences are told apart from conductance drift.

    ``rule``: ``learning_rate`` (S²/V²), ``dead_zone`` (steps), ``quantize``; ``seconds``: time spent
    here (s)."""

    def __init__(self, chip: Chip, rule: dict[str, float | bool]):
        from ..learn.devices import DeviceArrays
        from ..model import GoldenModel

        self.chip = chip
        self.rule = rule
        self.devices = DeviceArrays.create(chip)
        self.initial = self.devices.conductances
        self.model = GoldenModel(chip, conductances=self.initial)
        self.model_c = GoldenModel(chip, conductances=self.initial)  # at the chip's conductances
        self.conductances = {k: v.copy() for k, v in self.initial.items()}
        self.seconds = 0.0
        #: model → sample (its feature bytes) → its last free equilibrium (V), the start of its next
        #: free phase (at most ``_WARM_FLOATS`` floats per model)
        self._last: dict[int, dict[bytes, np.ndarray]] = {}
        #: (batch key, EP gradient and free equilibrium) computed ahead by :meth:`prefetch`
        self._ahead: tuple[bytes, tuple[dict[str, np.ndarray], Equilibrium]] | None = None
        self._pending: tuple[dict[str, np.ndarray], tuple[np.ndarray, np.ndarray] | None] | None = None
        self._step_args: tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]] | None = None
        self._lines: dict[str, Decoded] = {}
        self.lines_seconds = 0.0  # decoding the controller's lines (s)

    def _codes(self, grad: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from ..learn.rules import pulse_codes

        r = self.rule
        return pulse_codes(
            grad,
            self.chip,
            learning_rate=float(r["learning_rate"]),
            dead_zone=float(r["dead_zone"]),
            quantize=bool(r["quantize"]),
        )

    def _ep(self, model, x: np.ndarray, t: np.ndarray):
        """``model``'s EP gradient and free equilibrium.  A batch whose samples were all seen before
        starts from their last free equilibria (the free energy is convex: the same equilibrium to
        the residual tolerance; on xor at most 3 Newton iterations instead of up to 8)."""
        nudge = self.chip.nudge
        seen = self._last.setdefault(id(model), {})
        rows = [np.ascontiguousarray(r, dtype=float).tobytes() for r in np.atleast_2d(x)]
        v0 = np.stack([seen[k] for k in rows]) if all(k in seen for k in rows) else None
        grad, free = model.ep_gradient_and_free(x, t, beta=nudge.beta_S, centered=nudge.centered, v0_free=v0)
        for k, v in zip(rows, free.v, strict=True):
            if k in seen or (len(seen) + 1) * v.size <= _WARM_FLOATS:
                seen[k] = v.copy()
        return grad, free

    def step(self, x: np.ndarray, t: np.ndarray, g_chip: dict[str, np.ndarray]) -> GoldenStep:
        """EP gradient, outputs, loss and codes of batch ``x`` (features), targets ``t`` (V);
        ``g_chip``: the chip's present conductances (S)."""
        t0 = time.perf_counter()
        # the EP solve's own free phase gives the loss and the outputs (3 equilibria per step, not 4)
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[0] == _batch_key(x, t):
            grad, free = ahead[1]
        else:
            grad, free = self._ep(self.model, x, t)
        y = free.outputs
        loss = readout.mean_loss(t, y)
        if all(np.array_equal(g_chip[k], v) for k, v in self.conductances.items()):
            grad_c = grad
        else:  # transient devices: the golden model also at the chip's conductances
            self.model_c.set_conductances(g_chip)
            grad_c = self._ep(self.model_c, x, t)[0]
        out = GoldenStep(grad, y, loss, self._codes(grad), grad_c, self.conductances)
        self.seconds += time.perf_counter() - t0
        return out

    def prefetch(self, x: np.ndarray, t: np.ndarray) -> None:
        """The golden model's EP solve of the next batch, at the golden conductances as they are
        now, for :meth:`step` to take (the loop calls it while the chip's transients run): the same
        numbers :meth:`step` would compute.  A solver error is left for :meth:`step` to raise."""
        t0 = time.perf_counter()
        try:
            self._ahead = (_batch_key(x, t), self._ep(self.model, x, t))
        except CodegenError:
            self._ahead = None
        self.seconds += time.perf_counter() - t0

    def program(self, codes: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Apply signed pulse counts to the golden devices; returns the new conductances (S)."""
        t0 = time.perf_counter()
        self._ahead = None  # computed at the conductances before
        self.devices.program(codes)
        self.conductances = self.devices.conductances
        self.model.set_conductances(self.conductances)
        self.seconds += time.perf_counter() - t0
        return self.conductances

    def start_step(self, x: np.ndarray, t: np.ndarray, g_chip: dict[str, np.ndarray]) -> None:
        """:meth:`step`, asked for at the start of the loop's step; :meth:`finish_step` returns it
        (here computed then; a worker's client starts it at once, while ngspice solves)."""
        self._step_args = (x, t, g_chip)

    def finish_step(self) -> GoldenStep:
        """The :class:`GoldenStep` of :meth:`start_step`'s batch."""
        args, self._step_args = self._step_args, None
        assert args is not None, "finish_step without start_step"
        return self.step(*args)

    def speculate(self, codes: dict[str, np.ndarray]) -> tuple:
        """Apply ``codes`` now, ahead of the loop's :meth:`program` (a worker does it while ngspice
        solves: the golden codes change before the update only at a tie); returns what
        :meth:`program_as` needs to keep or undo it."""
        import copy

        saved = (copy.deepcopy(self.devices), self.conductances, self._ahead)
        kept = {k: np.array(v) for k, v in codes.items()}
        return kept, saved, self.program(codes)

    def program_as(self, codes: dict[str, np.ndarray], speculated: tuple | None) -> dict[str, np.ndarray]:
        """:meth:`program` with ``codes``, where :meth:`speculate` may have applied them already:
        the same codes keep its result, others undo it first (the same numbers either way)."""
        if speculated is None:
            return self.program(codes)
        kept, (devices, conductances, ahead), g = speculated
        if kept.keys() == codes.keys() and all(np.array_equal(kept[k], codes[k]) for k in codes):
            return g
        t0 = time.perf_counter()
        self.devices, self.conductances, self._ahead = devices, conductances, ahead
        self.model.set_conductances(conductances)
        self.seconds += time.perf_counter() - t0
        return self.program(codes)

    def start_program(self, codes: dict[str, np.ndarray], nxt: tuple[np.ndarray, np.ndarray] | None) -> None:
        """The step's golden update, asked for as soon as its codes are final: :meth:`finish_program`
        applies ``codes`` and solves the next batch ``nxt`` (features, targets) ahead.  In this
        process both wait for :meth:`finish_program` (the loop calls it while the chip's devices
        are programmed); :class:`codegen.cosim.golden_worker.GoldenClient` starts them at once, in
        its worker."""
        self._pending = (codes, nxt)

    def finish_program(self) -> dict[str, np.ndarray]:
        """The golden conductances (S) after the codes of :meth:`start_program`; then the next
        batch's EP solve (:meth:`prefetch`)."""
        assert self._pending is not None, "finish_program without start_program"
        codes, nxt = self._pending
        self._pending = None
        g = self.program(codes)
        if nxt is not None:
            self.prefetch(*nxt)
        return g

    def close(self) -> float | None:
        """Nothing to stop in this process (a worker's client returns the worker's seconds)."""
        return None

    def initial_netlists(self) -> dict[str, str] | None:
        """``None``: the loop renders the spice files itself (a worker's client has them ready)."""
        return None

    def read_lines(self, p: CtrlParams, cap: Capture) -> None:
        """Decode one crossbar's captured lines (:func:`codegen.cosim.decode.decode`; here, not a
        golden computation: it sits on the twin so that the loop asks one object, in this process or
        in the worker, :meth:`codegen.cosim.golden_worker.GoldenClient.read_lines`)."""
        t0 = time.perf_counter()
        self._lines[p.name] = decode(p, cap)
        self.lines_seconds += time.perf_counter() - t0

    def lines(self) -> dict[str, Decoded]:
        """The decoded lines of every crossbar read since the last call (by name, in order)."""
        out, self._lines = self._lines, {}
        return out

    def behavioral_devices(self, chip: Chip, g0: dict[str, np.ndarray]) -> BehavioralDevices:
        """The chip's behavioral devices at ``g0`` (S), in this process."""
        from .devices import BehavioralDevices

        return BehavioralDevices(chip, g0)


# ------------------------------------------------------------------ pure per-step checks
@dataclass
class Finding:
    """One check's verdict against the golden model (what :class:`Divergence` is made from)."""

    kind: str
    message: str
    xbar: str | None = None
    cell: tuple[int, int] | None = None
    cosim: float | None = None
    golden: float | None = None


def follow_ties(cmp: CodeComparison, codes_g: dict[str, np.ndarray], step: int) -> None:
    """On a tie the golden side takes the chip's code for that cell (``codes_g`` is changed)."""
    for e in cmp.ties:
        e["step"] = step
        r, c = e["cell"]
        codes_g[e["xbar"]][r, c] = e["code_cosim"]


def check_codes(cmp: CodeComparison) -> Finding | None:
    """The first code mismatch beyond tolerance, if any."""
    if not cmp.mismatches:
        return None
    e = cmp.mismatches[0]
    r, c = e["cell"]
    a, b, tol = e["update_steps_cosim"], e["update_steps_golden"], e["tolerance_steps"]
    ref = e["update_steps_golden_at_cosim_G"]
    return Finding(
        "codes",
        f"update code of {e['xbar']}[{r},{c}] differs: co-simulation {e['code_cosim']:+d} "
        f"(EP update {a:+.6g} steps from ngspice), golden {e['code_golden']:+d} ({b:+.6g} steps; "
        f"{ref:+.6g} at the chip's conductances); "
        f"|ngspice − golden| {abs(a - ref):.3g} > tolerance {tol:.3g} steps",
        xbar=e["xbar"],
        cell=(r, c),
        cosim=float(e["code_cosim"]),
        golden=float(e["code_golden"]),
    )


def check_controller(
    decoded: dict[str, Decoded], codes_s: dict[str, np.ndarray], codes_g: dict[str, np.ndarray]
) -> Finding | None:
    """The first controller fault, or the first cell whose decoded pulses differ from its code."""
    for name, dec in decoded.items():
        if dec.faults:
            return Finding("controller", "; ".join(dec.faults[:4]), xbar=name)
        bad = np.argwhere(dec.counts != codes_s[name])
        if len(bad):
            r, c = (int(v) for v in bad[0])
            return Finding(
                "controller",
                f"{name}[{r},{c}] received {int(dec.counts[r, c]):+d} pulses from the controller, "
                f"its update code asked for {int(codes_s[name][r, c]):+d} (golden model: "
                f"{int(codes_g[name][r, c]):+d}); {len(bad)} cell(s) differ in {name}",
                xbar=name,
                cell=(r, c),
                cosim=float(dec.counts[r, c]),
                golden=float(codes_g[name][r, c]),
            )
    return None


def check_behavioral_conductances(
    g_cosim: dict[str, np.ndarray], g_gold: dict[str, np.ndarray], g_max_S: float
) -> tuple[float, Finding | None]:
    """``(max |G_cosim − G_golden| (S), finding)``: behavioral devices must agree within
    ``TOL_G_REL_BEHAVIORAL·g_max_S``."""
    g_err = max(float(np.abs(g_cosim[k] - g_gold[k]).max()) for k in g_gold)
    lim = TOL_G_REL_BEHAVIORAL * g_max_S
    if not g_err > lim:
        return g_err, None
    worst = max(g_gold, key=lambda k: float(np.abs(g_cosim[k] - g_gold[k]).max()))
    r, c = np.unravel_index(np.argmax(np.abs(g_cosim[worst] - g_gold[worst])), g_gold[worst].shape)
    return g_err, Finding(
        "conductance",
        f"{worst}[{r},{c}]: co-simulated {g_cosim[worst][r, c]:.12g} S, golden {g_gold[worst][r, c]:.12g} S "
        f"(|Δ| {g_err:.3g} S > {lim:.3g} S)",
        xbar=worst,
        cell=(int(r), int(c)),
        cosim=float(g_cosim[worst][r, c]),
        golden=float(g_gold[worst][r, c]),
    )


def check_transient_conductances(
    chip: Chip,
    g_before: dict[str, np.ndarray],
    g_cosim: dict[str, np.ndarray],
    g_gold: dict[str, np.ndarray],
    pulses: dict[str, np.ndarray],
    received: dict[str, np.ndarray],
) -> tuple[float, Finding | None]:
    """``(this update's worst error in steps, finding)``: per update ``|G_cosim −
    golden_device(G_before, pulses)| ≤ TOL_STEP_TRANSIENT`` of a step, along the trajectory
    ``|G_cosim − G_golden| ≤ TOL_STEP_TRANSIENT`` of a step per pulse received (``received``)."""
    from ..model.device import apply_pulses, g_from_w, w_from_g

    dev = chip.device
    step_s = dev.dg_set_S
    step_err = 0.0
    found: Finding | None = None
    for k in g_gold:
        expect = np.where(
            pulses[k] == 0,
            g_before[k],
            g_from_w(dev, apply_pulses(dev, w_from_g(dev, g_before[k]), pulses[k])),
        )
        e = np.abs(g_cosim[k] - expect) / step_s
        step_err = max(step_err, float(e.max()))
        traj = np.abs(g_cosim[k] - g_gold[k]) / step_s
        lim_traj = TOL_STEP_TRANSIENT * np.maximum(received[k], 1)
        if found is None and (e.max() > TOL_STEP_TRANSIENT or np.any(traj > lim_traj)):
            bad_step = e.max() > TOL_STEP_TRANSIENT
            arr = e if bad_step else traj - lim_traj
            r, c = np.unravel_index(np.argmax(arr), arr.shape)
            ref = expect if bad_step else g_gold[k]
            why = (
                f"this update off by {e[r, c]:.3g} step > {TOL_STEP_TRANSIENT}"
                if bad_step
                else f"trajectory off by {traj[r, c]:.3g} step > {lim_traj[r, c]:.3g} "
                f"for {received[k][r, c]} pulses"
            )
            found = Finding(
                "conductance",
                f"{k}[{r},{c}] after the transient: {g_cosim[k][r, c]:.9g} S, golden device model "
                f"{ref[r, c]:.9g} S ({why})",
                xbar=k,
                cell=(int(r), int(c)),
                cosim=float(g_cosim[k][r, c]),
                golden=float(ref[r, c]),
            )
    return step_err, found


def loss_tolerance(
    t: np.ndarray,
    gold: GoldenStep,
    g_chip_before: dict[str, np.ndarray],
    tol_v: float,
) -> float:
    """``2·TOL_V·mean Σ|t − y| + 2·Σ|∂C/∂G·ΔG| + 1e-12`` (V²): the netlists' node tolerance
    ``tol_v`` (V) plus first order in the two sides' conductance difference before the step."""
    dg = sum(
        float(np.sum(np.abs(gold.gradient[k]) * np.abs(g_chip_before[k] - gb)))
        for k, gb in gold.conductances_before.items()
    )
    return 2 * tol_v * float(np.mean(np.sum(np.abs(t - gold.outputs), axis=1))) + 2 * dg + 1e-12


def check_loss(loss_s: float, loss_g: float, tol: float) -> Finding | None:
    """The free-phase loss of ngspice (V²) against the golden model's."""
    if not abs(loss_s - loss_g) > tol:
        return None
    return Finding(
        "loss",
        f"loss {loss_s:.9g} V² (ngspice) vs {loss_g:.9g} V² (golden), |Δ| {abs(loss_s - loss_g):.3g} > {tol:.3g}",
        cosim=loss_s,
        golden=loss_g,
    )


# ------------------------------------------------------------------ the loop
class _Verdicts:
    """The first divergence of a run, with its step folder (netlists, ``step.json``, transient)."""

    def __init__(self, out: Path, spice, devices, stop_on_divergence: bool):
        self.out, self.spice, self.devices = out, spice, devices
        self.stop_on_divergence = stop_on_divergence
        self.divergence: Divergence | None = None
        self.state: dict[str, object] = {}  # what this step has computed so far, dumped on a divergence
        self.before: dict[str, np.ndarray] = {}  # the chip's conductances (S) before this step

    @property
    def stop(self) -> bool:
        return self.divergence is not None and self.stop_on_divergence

    def note(self, step: int, found: Finding | None, *, fatal: bool = False) -> None:
        """Keep ``found`` if it is the run's first (``fatal``: a simulator failure, kept anyway)."""
        if found is None or (self.divergence is not None and not fatal):
            return
        import json

        d = Divergence(step, found.kind, found.message, found.xbar, found.cell, found.cosim, found.golden)
        folder = self.out / f"divergence_step{step:04d}"
        self.spice.write_netlists(folder / "spice", self.before)
        d.files += [str(folder / "spice" / f"{self.spice.top}.sp"), str(folder / "spice" / "cells.sp")]
        dump = {
            "step": step,
            "kind": found.kind,
            "message": found.message,
            "conductances_before_S": self.before,
            **self.state,
        }
        (folder / "step.json").write_text(json.dumps(_jsonable(dump), indent=1) + "\n")
        d.files.append(str(folder / "step.json"))
        last = getattr(self.devices, "last_dir", None)
        if last is not None:
            d.files.append(str(last / "circuit.cir"))
            d.files += sorted(str(f) for f in last.glob("xbar_*.cir"))  # the decks it sources
        self.divergence = d


async def program_crossbars(
    ctrl: Controller,
    params: list[CtrlParams],
    codes: dict[str, np.ndarray],
    step: int,
    reader: GoldenTwin,
) -> dict[str, Decoded]:
    """The controller programs every crossbar with ``codes``; the pulses decoded from its lines by
    ``reader`` (:meth:`GoldenTwin.read_lines`: here, in turn; a worker's client decodes each
    crossbar's lines while the controller programs the next)."""
    for xi, p in enumerate(params):
        reader.read_lines(p, await ctrl.program(xi, encode_counts(codes[p.name], p.count_bits), step))
    return reader.lines()


def _prepare_out(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for stale in [*out.glob("divergence_step*"), out / "transient"]:  # from an earlier run
        if stale.is_dir():
            shutil.rmtree(stale)


async def run_loop(
    chip: Chip, cfg: CosimConfig, ctrl: Controller, log=print, golden: GoldenTwin | None = None
) -> CosimResult:
    """Run ``cfg.steps`` co-simulated learning steps, checking each against the golden model.

    ``golden``: the golden side (default a :class:`GoldenTwin` in this process; the RTL runner
    passes a :class:`codegen.cosim.golden_worker.GoldenClient`, the same twin in a process of its
    own, so its work overlaps the controller's and ngspice's)."""
    from ..learn.datasets import load_dataset
    from ..learn.rules import pulse_codes
    from ..run.equivalence import TOL_EP_REL, TOL_V, ep_relative_error
    from . import analog
    from .devices import TransientDevices

    validate(chip, cfg)
    rule = cfg.rule(chip)
    eta, dz, quant = float(rule["learning_rate"]), float(rule["dead_zone"]), bool(rule["quantize"])
    out = Path(cfg.out)
    _prepare_out(out)
    params = CtrlParams.all_from_chip(chip)
    pmap = {p.name: p for p in params}
    beta = chip.nudge.beta_S
    ds = load_dataset(chip)
    order = batches(chip, len(ds.x_train), cfg.steps)

    t_setup = t_start = time.perf_counter()
    twin = GoldenTwin(chip, rule) if golden is None else golden
    g0 = twin.initial  # a worker's: waits for its setup
    devices: BehavioralDevices | TransientDevices | WorkerDevices
    if cfg.device == "behavioral":  # a worker's client: its cells programmed in the worker
        devices = twin.behavioral_devices(chip, g0)
    else:
        devices = TransientDevices(
            chip,
            g0,
            out / "transient",
            keep=cfg.keep_transients,
            kept_session=not cfg.legacy,
            full_deck=cfg.full_transient,
        )
        devices.osdi  # noqa: B018 - compiled in the setup, not in the first update's time
        devices.start()  # the transient workers start while the rest of the setup runs
    # one analysis per batch; legacy: one `op` per phase and sample (bench/bench_cosim.py's ratios)
    if cfg.legacy:
        spice: analog.OpCrossbars | analog.SpiceCrossbars = analog.OpCrossbars(chip, g0, cfg.phases)
    else:  # a worker rendered the deck while the simulator started
        spice = analog.SpiceCrossbars(chip, g0, cfg.phases, files=twin.initial_netlists())
    analog_codes = None
    if cfg.codes == "analog":
        from .codes_analog import AnalogCodes

        analog_codes = AnalogCodes(chip, learning_rate=eta, dead_zone=dz, quantize=quant)
    setup_s = time.perf_counter() - t_setup
    g_cosim = {k: v.copy() for k, v in g0.items()}
    received = {k: np.zeros(v.shape, dtype=np.int64) for k, v in g0.items()}  # |pulses| per cell so far
    bounds = rule_boundaries(dz, quant, chip.controller.max_pulses)
    step_S = chip.device.dg_set_S
    steps: list[dict] = []
    ties: list[dict] = []
    t_check = 0.0
    run = _Verdicts(out, spice, devices, cfg.stop_on_divergence)
    state = run.state

    for s, idx in enumerate(order):
        run.before = {k: v.copy() for k, v in g_cosim.items()}
        x, t = ds.x_train[idx], ds.t_train[idx]
        state.clear()
        state["samples"] = idx
        # ---- analog (ngspice) and golden ----
        twin.start_step(x, t, g_cosim)  # a worker's golden step runs while ngspice solves
        try:
            ana = spice.solve(x, t, beta)
        except CodegenError as exc:
            run.note(s, Finding("ngspice", str(exc)), fatal=True)
            break
        if analog_codes is None:
            codes_s = pulse_codes(ana.gradient, chip, learning_rate=eta, dead_zone=dz, quantize=quant)
        else:  # the update circuit's codes; its accumulated input (V = steps) is the chip's estimate
            try:
                res_a = analog_codes.codes(g_cosim, x, t)
            except CodegenError as exc:
                run.note(s, Finding("ngspice", str(exc)), fatal=True)
                break
            codes_s = res_a.codes
        gold = twin.finish_step()
        # ---- codes: cosim vs golden, ties near a rule boundary ----
        t0 = time.perf_counter()
        r_s, r_g = _ratios(ana.gradient, eta, step_S), _ratios(gold.gradient, eta, step_S)
        if analog_codes is not None:
            r_s = res_a.analog_steps
        r_c = _ratios(gold.gradient_at_chip, eta, step_S)
        cmp = compare_codes(codes_s, gold.codes, r_s, r_g, bounds, TOL_EP_REL, update_ref=r_c)
        state.update(
            codes_cosim=codes_s,
            codes_golden=gold.codes,
            update_steps_cosim=r_s,
            update_steps_golden=r_g,
            loss_cosim=ana.loss,
            loss_golden=gold.loss,
        )
        follow_ties(cmp, gold.codes, s)
        run.note(s, check_codes(cmp))
        ties += cmp.ties
        ep_err = ep_relative_error(ana.gradient, gold.gradient_at_chip)  # same conductances: solvers only
        t_check += time.perf_counter() - t0
        if run.stop:
            break
        # the golden update is known now (ties followed): a worker applies it, then solves the next
        # batch, while the controller and the chip's devices run
        nxt = s + 1
        twin.start_program(
            gold.codes, (ds.x_train[order[nxt]], ds.t_train[order[nxt]]) if nxt < len(order) else None
        )
        # ---- digital: the controller programs every crossbar ----
        decoded = await program_crossbars(ctrl, params, codes_s, s, twin)
        state.update(_pulse_state(decoded))
        t0 = time.perf_counter()
        run.note(s, check_controller(decoded, codes_s, gold.codes))
        t_check += time.perf_counter() - t0
        if run.stop:
            break
        # ---- devices, both sides: the golden side (and its next EP solve) while the chip's run ----
        golden_side: dict[str, dict[str, np.ndarray]] = {}

        def program_golden(golden_side=golden_side) -> None:
            golden_side["g"] = twin.finish_program()

        try:
            g_cosim = devices.program(pmap, decoded, s, during=program_golden)
            state["conductances_after_S"] = g_cosim
        except CodegenError as exc:
            run.note(s, Finding("ngspice", f"programming transient failed: {exc}"), fatal=True)
            break
        g_gold = golden_side["g"]  # both device kinds call `during` once
        t0 = time.perf_counter()
        pulses = {k: np.array(d.counts) for k, d in decoded.items()}
        for k in received:
            received[k] += np.abs(pulses[k])
        g_err, step_err, found = check_conductances(
            cfg.device, chip, run.before, g_cosim, g_gold, pulses, received
        )
        run.note(s, found)
        loss_tol = loss_tolerance(t, gold, run.before, TOL_V)  # the free phase of this step
        run.note(s, check_loss(ana.loss, gold.loss, loss_tol))
        t_check += time.perf_counter() - t0
        rec = {
            "step": s,
            "samples": [int(i) for i in idx],
            "loss_cosim": ana.loss,
            "loss_golden": gold.loss,
            "loss_tol": loss_tol,
            "ep_rel_err": ep_err,
            "pulses": int(sum(np.abs(v).sum() for v in pulses.values())),
            "pulses_golden": int(sum(np.abs(v).sum() for v in gold.codes.values())),
            "ties": len(cmp.ties),
            "near_threshold": cmp.near,
            "g_err_S": g_err,
            "g_err_steps": g_err / step_S,
            "transient_step_err_steps": step_err,
            "ops": ana.ops,
        }
        steps.append(rec)
        log(_log_line(rec))
        if run.stop:
            break
        spice.set_conductances(g_cosim)
    if isinstance(devices, TransientDevices):
        devices.close()  # the kept ngspice worker
    worker_s = twin.close()
    timing = {
        "setup": setup_s,
        "ngspice_op": spice.seconds,
        "rtl": ctrl.seconds,
        "devices": devices.seconds,
        "golden": twin.seconds,
        "lines": twin.lines_seconds,
        "checks": t_check,
        "loop_wall": time.perf_counter() - t_start,
    }
    if worker_s is not None:  # the golden worker's own time (s); "golden" is the loop's wait for it
        timing["golden_worker"] = worker_s
    return CosimResult(chip.name, _config_record(chip, cfg, ctrl), steps, run.divergence, timing, ties)


def check_conductances(
    device: str,
    chip: Chip,
    g_before: dict[str, np.ndarray],
    g_cosim: dict[str, np.ndarray],
    g_gold: dict[str, np.ndarray],
    pulses: dict[str, np.ndarray],
    received: dict[str, np.ndarray],
) -> tuple[float, float, Finding | None]:
    """``(max |G_cosim − G_golden| (S), this update's worst error in steps (transient; else 0),
    finding)`` by the device mode's check."""
    g_err = max(float(np.abs(g_cosim[k] - g_gold[k]).max()) for k in g_gold)
    if device == "behavioral":
        g_err, found = check_behavioral_conductances(g_cosim, g_gold, chip.device.g_max_S)
        return g_err, 0.0, found
    step_err, found = check_transient_conductances(chip, g_before, g_cosim, g_gold, pulses, received)
    return g_err, step_err, found


def _pulse_state(decoded: dict[str, Decoded]) -> dict[str, object]:
    """What a divergence's ``step.json`` records of the decoded pulses."""
    return {
        "pulses_decoded": {k: d.counts for k, d in decoded.items()},
        "pulse_runs": {  # [cycle, row, col, polarity, cycles, pulses] per run at ±v_program
            k: d.run_table[:, [3, 0, 1, 2, 4, 5]].tolist() for k, d in decoded.items()
        },
    }


def _log_line(rec: dict) -> str:
    return (
        f"step {rec['step']:3d}: loss {rec['loss_cosim']:.6g} (golden {rec['loss_golden']:.6g})  "
        f"pulses {rec['pulses']:3d}  |ΔG| {rec['g_err_S']:.2e} S  EP err {rec['ep_rel_err']:.1e}"
        + (f"  ties {rec['ties']}" if rec["ties"] else "")
    )


def _config_record(chip: Chip, cfg: CosimConfig, ctrl: Controller) -> dict:
    """The run's settings as ``cosim.json`` records them."""
    from ..run.equivalence import TOL_EP_REL, TOL_V

    return {
        "steps": cfg.steps,
        "device": cfg.device,
        "phases": cfg.phases,
        "codes": cfg.codes,
        "controller": ctrl.name,
        "rule": "sign-pulse",
        **cfg.rule(chip),
        "beta_S": chip.nudge.beta_S,
        "centered": chip.nudge.centered,
        "tolerances": {
            "ep_rel": TOL_EP_REL,
            "node_V": TOL_V,
            "g_rel_behavioral": TOL_G_REL_BEHAVIORAL,
            "step_transient": TOL_STEP_TRANSIENT,
        },
    }


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
