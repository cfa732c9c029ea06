"""Fit the golden device model to a measured pulse trace (:class:`~codegen.fit.trace.PulseTrace`).

The model is the golden one, called, never rewritten: every prediction goes through
:func:`codegen.model.device.apply_pulse` / :func:`~codegen.model.device.g_from_w` /
:func:`~codegen.model.device.w_from_g` on a :class:`~codegen.ir.DeviceIR` elaborated by the
``device`` pass.  In state units (w ∈ [0, 1], G = g_min + (g_max − g_min)·w) one set pulse moves
w by ``a = step_per_pulse/(g_max − g_min)`` and one reset pulse by ``b = a·(1 + asymmetry)``:
clipped to [0, 1] with hard bounds, ``1 − (1 − w)·e^{−a}`` / ``w·e^{−b}`` with soft bounds.

Fit, in three steps:

1. **mean model** — for hard and for soft bounds, :func:`scipy.optimize.least_squares` finds
   (g_min, g_max, a, b) minimising the one-pulse-ahead error ``Σ (G_n − pred(G_{n−1}, pulse_n))²``
   (each reading predicted from the one before, so cycle-to-cycle variation does not accumulate);
   the bound model with the smaller error wins (same number of parameters) unless one is asked for;
2. **spread** — the residuals' variance is modelled as ``c2c²·ΔG_pred² + σ_read²·(1 + (∂pred/∂G)²)``
   (a pulse's step is scaled by ``1 + c2c·ξ``; each reading carries read noise σ_read), solved for
   (c2c², σ_read²) ≥ 0 by :func:`scipy.optimize.nnls`.  With hard bounds, readings held at a bound
   (∂pred/∂G = 0) measure σ_read alone; with soft bounds the step size varies with G;
3. **uncertainty** — standard errors of the mean-model parameters from the Jacobian at the optimum.

The result becomes a ``device:`` section (:func:`device_section`) that loads through the spec.
"""

from __future__ import annotations

import dataclasses
import types
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.optimize as so
from pydantic import ValidationError

from ..elab import device as _device_pass
from ..errors import CodegenError
from ..ir import DeviceIR
from ..model.device import apply_pulse, g_from_w, w_from_g
from ..spec import Device
from .trace import PulseTrace

__all__ = ["FitResult", "BoundsFit", "fit_trace", "device_section", "device_yaml", "device_ir", "predict"]

Bounds = Literal["hard", "soft"]


def device_ir(device: Device) -> DeviceIR:
    """The :class:`DeviceIR` of a validated ``device:`` section (the elaboration pass itself)."""
    return _device_pass.run(types.SimpleNamespace(device=device), {})["device"]  # type: ignore[arg-type]


@dataclass(frozen=True)
class _Template:
    """A DeviceIR at the trace's pulse conditions, its state steps (a0, b0) per pulse."""

    dev: DeviceIR
    a0: float
    b0: float


def _template(pulse: dict[str, float]) -> _Template:
    dev = device_ir(Device(g_min=1.0, g_max=2.0, step_per_pulse=0.01, **pulse))
    w = apply_pulse(dev, np.array([0.5]), dev.pulse_amplitude_V, dev.pulse_width_s)
    a0 = float(w[0] - 0.5)
    w = apply_pulse(dev, np.array([0.5]), -dev.pulse_amplitude_V, dev.pulse_width_s)
    b0 = float(0.5 - w[0])
    return _Template(dev, a0, b0)


def predict(
    tpl: _Template,
    g_min_S: float,
    g_max_S: float,
    a: float,
    b: float,
    soft: bool,
    g_prev: np.ndarray,
    polarity: np.ndarray,
) -> np.ndarray:
    """Conductance (S) after one pulse of ``polarity`` (+1 set, −1 reset) from ``g_prev`` (S), by the
    golden model with state steps ``a`` (set) and ``b`` (reset) per pulse."""
    dev = dataclasses.replace(tpl.dev, g_min_S=g_min_S, g_max_S=g_max_S, soft_bounds=soft)
    w = w_from_g(dev, g_prev)
    up = apply_pulse(dev, w, dev.pulse_amplitude_V, dev.pulse_width_s, a / tpl.a0)
    down = apply_pulse(dev, w, -dev.pulse_amplitude_V, dev.pulse_width_s, b / tpl.b0)
    return np.asarray(g_from_w(dev, np.where(polarity > 0, up, down)))


@dataclass(frozen=True)
class BoundsFit:
    """The mean model fitted with one kind of bound.  Conductances in S; ``a``, ``b`` state steps."""

    bounds: Bounds
    g_min_S: float
    g_max_S: float
    a: float
    b: float
    rms_S: float  # rms one-pulse-ahead residual (S)
    stderr: dict[str, float]  # standard errors: g_min_S, g_max_S (S), step_S (S), asymmetry (1)

    @property
    def span_S(self) -> float:
        return self.g_max_S - self.g_min_S

    @property
    def step_S(self) -> float:
        """``step_per_pulse`` (S): the set step of the model (from w = 0 with hard bounds)."""
        return self.a * self.span_S

    @property
    def asymmetry(self) -> float:
        """reset step / set step − 1 (dimensionless)."""
        return self.b / self.a - 1.0


@dataclass(frozen=True)
class FitResult:
    """A fitted device: the chosen mean model, the other one for comparison, the spread, the pulse
    conditions and the per-cycle step factors."""

    best: BoundsFit
    other: BoundsFit | None
    c2c: float  # relative σ of one pulse's step (dimensionless)
    read_noise_S: float  # σ of one reading (S)
    cycle_step_spread: float  # relative σ across cycles of each cycle's median step (dimensionless)
    n_pulses: int  # transitions used
    n_cycles: int
    pulse: dict[str, float]  # pulse_amplitude, pulse_width, v_threshold_set, v_threshold_reset (V, s)
    g_pred_S: np.ndarray  # (N−1,) one-pulse-ahead prediction of readings 1..N−1 (S)


def _fit_bounds(tpl: _Template, tr: PulseTrace, soft: bool) -> BoundsFit:
    g, pol = tr.g_S, tr.polarity
    gp, gn, pn = g[:-1], g[1:], pol[1:]
    gs = float(np.max(g))  # conductance scale of the parameters
    lo, hi = float(np.percentile(g, 1)), float(np.percentile(g, 99))
    if not hi > lo * (1 + 1e-9):
        raise CodegenError(
            f"fit-device: the conductance hardly changes ({lo:.6g} … {hi:.6g} S over 98 % of the readings): "
            "the trace shows no switching to fit"
        )
    span0 = hi - lo
    dg = np.diff(g)
    mid = (gp > lo + 0.25 * span0) & (gp < hi - 0.25 * span0)
    set_mid, reset_mid = mid & (pn > 0), mid & (pn < 0)
    a_init = np.median(np.abs(dg[set_mid])) / span0 if set_mid.any() else 0.01
    b_init = np.median(np.abs(dg[reset_mid])) / span0 if reset_mid.any() else a_init
    a_init, b_init = (float(np.clip(x, 1e-6, 0.5)) for x in (a_init, b_init))
    if soft:  # asymptotes beyond the readings, steps of the state at the middle doubled
        lo, hi = max(lo - 0.1 * span0, 1e-3 * lo), hi + 0.1 * span0
        a_init, b_init = 2 * a_init, 2 * b_init

    # x = (g_min/gs, ln(span/gs), ln a, ln b): the span stays positive
    def unpack(x: np.ndarray) -> tuple[float, float, float, float]:
        return x[0] * gs, (x[0] + np.exp(x[1])) * gs, float(np.exp(x[2])), float(np.exp(x[3]))

    def resid(x: np.ndarray) -> np.ndarray:
        gmin, gmax, a, b = unpack(x)
        return (gn - predict(tpl, gmin, gmax, a, b, soft, gp, pn)) / gs

    lb = np.array([1e-9, np.log(1e-9), np.log(1e-9), np.log(1e-9)])
    ub = np.array([10.0, np.log(10.0), np.log(5.0), np.log(5.0)])
    x0 = np.array([lo / gs, np.log((hi - lo) / gs), np.log(a_init), np.log(b_init)])
    x0 = np.clip(x0, lb + 1e-12, ub - 1e-12)
    with np.errstate(all="ignore"):
        try:
            r = so.least_squares(resid, x0, bounds=(lb, ub), method="trf", x_scale="jac", max_nfev=400)
        except ValueError as exc:  # non-finite residuals
            raise CodegenError(
                f"fit-device: the {'soft' if soft else 'hard'}-bound fit failed ({exc})"
            ) from None
    gmin, gmax, a, b = unpack(r.x)
    n, k = len(gn), len(r.x)
    s2 = float(np.sum(r.fun**2)) / max(n - k, 1)
    # standard errors, carried to the reported quantities by the delta method
    try:
        cov = np.linalg.inv(r.jac.T @ r.jac) * s2
    except np.linalg.LinAlgError:
        cov = np.full((k, k), np.nan)
    span = gmax - gmin
    step = a * span
    j_max = np.array([gs, span, 0.0, 0.0])  # g_max = gs·(x0 + e^{x1})
    j_step = np.array([0.0, step, step, 0.0])  # step = e^{x2}·gs·e^{x1}
    j_asym = np.array([0.0, 0.0, -b / a, b / a])  # asymmetry = e^{x3 − x2} − 1
    se = {
        "g_min_S": float(np.sqrt(max(cov[0, 0], 0.0)) * gs),
        "g_max_S": float(np.sqrt(max(j_max @ cov @ j_max, 0.0))),
        "step_S": float(np.sqrt(max(j_step @ cov @ j_step, 0.0))),
        "asymmetry": float(np.sqrt(max(j_asym @ cov @ j_asym, 0.0))),
    }
    rms = float(np.sqrt(np.mean(r.fun**2)) * gs)
    return BoundsFit("soft" if soft else "hard", gmin, gmax, a, b, rms, se)


def _spread(tpl: _Template, tr: PulseTrace, f: BoundsFit) -> tuple[float, float, float, np.ndarray]:
    """(c2c, read noise (S), spread of per-cycle step factors, one-pulse-ahead prediction (S))."""
    g, pol = tr.g_S, tr.polarity
    gp, gn, pn = g[:-1], g[1:], pol[1:]
    soft = f.bounds == "soft"
    pred = predict(tpl, f.g_min_S, f.g_max_S, f.a, f.b, soft, gp, pn)
    h = 1e-6 * f.span_S
    slope = (predict(tpl, f.g_min_S, f.g_max_S, f.a, f.b, soft, gp + h, pn) - pred) / h
    e = gn - pred
    step = pred - gp
    # inside the bounds (a reading beyond them predicts from the bound: no slope there either)
    A = np.column_stack([step**2, 1.0 + slope**2])
    scale = np.array([max(float(np.max(A[:, 0])), 1e-300), 1.0])
    coef, _ = so.nnls(A / scale, e**2)
    coef = coef / scale
    c2c = float(np.sqrt(coef[0]))
    read = float(np.sqrt(coef[1]))
    # per-cycle median of measured / predicted step, where the step is not held at a bound
    moving = np.abs(step) > 0.25 * max(f.a, f.b) * f.span_S
    ratios = []
    for c in np.unique(tr.cycle[1:]):
        m = moving & (tr.cycle[1:] == c)
        if m.sum() >= 4:
            ratios.append(float(np.median((gn[m] - gp[m]) / step[m])))
    spread = float(np.std(ratios) / np.mean(ratios)) if len(ratios) >= 2 and np.mean(ratios) > 0 else 0.0
    return c2c, read, spread, pred


def fit_trace(
    tr: PulseTrace,
    *,
    bounds: Literal["auto", "hard", "soft"] = "auto",
    pulse_amplitude_V: float = 1.2,
    pulse_width_s: float = 1e-6,
    v_threshold_set_V: float = 1.0,
    v_threshold_reset_V: float = -1.0,
) -> FitResult:
    """Fit ``tr`` (see the module doc).  ``bounds``: ``auto`` (the better of hard and soft),
    ``hard`` or ``soft``.  The pulse conditions are those the trace was measured with (they are
    copied into the device section; the fit finds the step at that amplitude and width).  Pulse
    conditions the spec refuses (amplitude not above the thresholds, …) are a :class:`CodegenError`."""
    pulse = {
        "pulse_amplitude": float(pulse_amplitude_V),
        "pulse_width": float(pulse_width_s),
        "v_threshold_set": float(v_threshold_set_V),
        "v_threshold_reset": float(v_threshold_reset_V),
    }
    try:
        tpl = _template(pulse)
    except ValidationError as exc:
        raise CodegenError(f"fit-device: pulse conditions: {_first_error(exc)}") from None
    kinds = {"auto": (False, True), "hard": (False,), "soft": (True,)}[bounds]
    fits = [_fit_bounds(tpl, tr, soft) for soft in kinds]
    fits.sort(key=lambda f: f.rms_S)
    best = fits[0]
    c2c, read, spread, pred = _spread(tpl, tr, best)
    return FitResult(
        best=best,
        other=fits[1] if len(fits) > 1 else None,
        c2c=c2c,
        read_noise_S=read,
        cycle_step_spread=spread,
        n_pulses=len(tr) - 1,
        n_cycles=tr.n_cycles,
        pulse=pulse,
        g_pred_S=pred,
    )


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    msg = str(err.get("msg", exc))
    if msg.startswith("Value error, @"):
        field, _, rest = msg[len("Value error, @") :].partition(": ")
        return f"{field}: {rest}"
    loc = ".".join(str(p) for p in err.get("loc", ()))
    return f"{loc}: {msg}" if loc else msg


def _num(x: float) -> float:
    """``x`` rounded to 6 significant digits (the written section is short and stable)."""
    return float(f"{x:.6g}")


def device_section(fit: FitResult) -> dict[str, Any]:
    """The fitted device as a chip.yaml ``device:`` mapping (SI units: S, V, s), validated by the
    spec (:class:`codegen.spec.Device`); initial conductances uniform in [g_min, g_max]."""
    b = fit.best
    sec: dict[str, Any] = {
        "kind": "memristor",
        "g_min": _num(b.g_min_S),
        "g_max": _num(b.g_max_S),
        "step_per_pulse": _num(b.step_S),
        "asymmetry": _num(b.asymmetry),
        "soft_bounds": b.bounds == "soft",
        **{k: _num(v) for k, v in fit.pulse.items()},
        "variation": {"d2d": 0.0, "c2c": _num(min(fit.c2c, 10.0))},
        "init": {"distribution": "uniform"},
    }
    try:
        Device.model_validate(sec)
    except ValidationError as exc:
        raise CodegenError(
            f"fit-device: the fitted device is outside what chip.yaml allows ({_first_error(exc)}); "
            "check the trace (set and reset trains that reach their bounds) and the pulse conditions"
        ) from None
    return sec


def device_yaml(fit: FitResult) -> str:
    """``device:`` section as YAML text, with comment lines on the fit (numbers only: the same trace
    gives the same bytes wherever it is fitted)."""
    import yaml

    b, o = fit.best, fit.other
    se = b.stderr
    lines = [
        f"# fitted by codegen fit-device to {fit.n_pulses} pulses in {fit.n_cycles} cycles: {b.bounds} bounds",
        f"# one-pulse-ahead rms residual {b.rms_S:.3g} S"
        + (f" ({o.bounds} bounds: {o.rms_S:.3g} S)" if o is not None else ""),
        f"# standard errors: g_min {se['g_min_S']:.2g} S, g_max {se['g_max_S']:.2g} S, "
        f"step_per_pulse {se['step_S']:.2g} S, asymmetry {se['asymmetry']:.2g}",
        f"# read noise σ {fit.read_noise_S:.3g} S (not a chip.yaml field); per-cycle step spread "
        f"{fit.cycle_step_spread:.3g}; variation.d2d needs several devices (not fitted)",
    ]
    body = yaml.safe_dump({"device": device_section(fit)}, sort_keys=False, allow_unicode=True)
    return "\n".join(lines) + "\n" + body
