"""Choose the scale parameters that put a chip's hidden layers into their nonlinear region while
every read stays below the memristor thresholds (``codegen tune``).

Knobs (:class:`Knobs`): ``training.dataset.input_scale`` (V per feature unit), the clamp sources
``neuron.v_low`` / ``v_high`` (V; moved symmetrically about their middle, ``diode_pair`` only),
the clamp diodes' ``neuron.diode.is`` (A; a larger IS moves the knee towards the clamp source by
n·Vt per factor e) and the initial conductances ``device.init`` (S): a uniform range
``low`` / ``high``, or the *skewed* draw ``normal(mean = g_min, std = SKEWED_STD_FRACTION·(g_max −
g_min))`` clipped to the bounds (σ/μ ≈ 1.3 against ≤ 0.58 for any uniform range: a larger relative
spread leaves more of the doubled inputs uncancelled, the only knob that moves the nodes of a
layer with a large fan-in once the reads cap the input scale).

Method: a grid search with the golden model.

1. Every combination of clamp half-width (the present one, 0.25 … 0.01 V, each narrower than the
   present one), diode IS (the present one and 1e-10 … 1e-3 A, each larger: what counts is IS against the
   node conductance, which grows with the layer's fan-in) and initial conductances (the present ones,
   uniform [g_min, g_max] and its lowest tenth: lower conductances let the diodes act sooner; the
   skewed normal draw: less cancellation) is tried with input scales ×1 … ×32 of the present one (×0.25 …
   ×1 when a layer is saturated), in ascending order, on ``search_samples`` samples spread evenly over the dataset, free phase
   only, at the conductances drawn with the chip's seed.  Combinations that change fewer knob
   groups (clamps, diode, initial range) come first; once a group yields a feasible candidate,
   groups with more changes are not tried.
2. A candidate is *feasible* when every neuron layer has at least
   :data:`~codegen.analysis.operating_point.TARGET_NONLINEAR` of its operating points past a knee,
   none is saturated or loaded by its diodes at rest, and the read margin is at least ``min_margin_V``.  The scale loop of a
   combination stops at the first scale whose margin is below that (reads only grow with the
   inputs), once every layer is half nonlinear, or at saturation.
3. Feasible candidates are ranked by the number of knob groups they change (fewest first), then
   whether they change the input scale, then by the nonlinear fraction of their least nonlinear
   layer (more is better up to 50 %), then by the read margin (larger first), then by grid order:
   the result is deterministic.
4. The best candidates are re-analysed on the whole dataset with every read phase (free and
   nudged); the first that is still feasible there is the answer.

The search assumes the hidden layers should work near their knees at the *initial* conductances;
training moves the operating point (``codegen analyze --conductances`` shows where it ends up).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from pydantic import ValidationError

from ..elab import elaborate
from ..errors import CodegenError
from ..kinds.neurons import neuron_kind
from ..spec import Spec
from .operating_point import (
    KNEE_RATIO,
    TARGET_NONLINEAR,
    OperatingPoint,
    analyze,
    dataset_arrays,
    node_conductances,
    rest_conductance,
)

__all__ = [
    "Knobs",
    "Candidate",
    "TuneResult",
    "tune",
    "apply_knobs",
    "SCALE_FACTORS",
    "CLAMPS_V",
    "DIODE_IS_A",
    "SKEWED_STD_FRACTION",
    "REST_LOAD_TARGET",
]

#: input-scale multipliers tried (1)
SCALE_FACTORS = (1.0, 1.1, 1.25, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0)
#: input-scale multipliers tried when a layer of the present chip is saturated (1)
SATURATED_SCALE_FACTORS = (0.25, 0.5, 0.75, 1.0)
#: clamp half-widths tried besides the present one (V)
CLAMPS_V = (0.25, 0.1, 0.05, 0.02, 0.01)
#: diode saturation currents tried besides the present one (A)
DIODE_IS_A = (1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3)
#: std of the skewed initial draw normal(g_min, ·) as a fraction of g_max − g_min (1); clipped to
#: [g_min, g_max] it puts half the cells at g_min and spreads the rest: σ/μ ≈ 1.3
SKEWED_STD_FRACTION = 0.3
#: rest load (diode conductance at the clamps' middle over the node conductance) of the grid's
#: "largest sound IS" point, per clamp setting and initial draw: 90 % of the loaded limit (1)
REST_LOAD_TARGET = 0.9 * KNEE_RATIO
#: largest diode IS the search proposes (A): chip.yaml's limit without simulation.allow_extreme
_IS_MAX_A = 1e-3


@dataclass(frozen=True)
class Knobs:
    """One point of the search (V, A, S)."""

    input_scale_V: float
    v_low_V: float
    v_high_V: float
    diode_is_A: float
    init_low_S: float  # uniform: lower end (S); NaN for the other distributions
    init_high_S: float  # uniform: upper end (S)
    init_distribution: str = "uniform"
    init_mean_S: float = float("nan")  # normal / constant: mean (S); NaN for uniform
    init_std_S: float = float("nan")  # normal: standard deviation (S)

    @classmethod
    def of(cls, spec: Spec) -> Knobs:
        d, n = spec.device, spec.neuron
        uniform = d.init.distribution == "uniform"
        mean = d.init.mean if d.init.mean is not None else 0.5 * (d.g_min + d.g_max)
        v_low, v_high = neuron_kind(n.kind).clamps(n)
        return cls(
            input_scale_V=spec.training.dataset.input_scale,
            v_low_V=v_low,
            v_high_V=v_high,
            diode_is_A=n.diode.is_,
            init_low_S=(d.init.low if d.init.low is not None else d.g_min) if uniform else np.nan,
            init_high_S=(d.init.high if d.init.high is not None else d.g_max) if uniform else np.nan,
            init_distribution=d.init.distribution,
            init_mean_S=np.nan if uniform else mean,
            init_std_S=d.init.std if d.init.distribution == "normal" else np.nan,
        )

    def changes(self, base: Knobs) -> dict[str, float | str]:
        """Dotted chip.yaml path → new value, for every knob that differs from ``base`` (by more
        than the 6 significant digits the suggestion is written with)."""
        out: dict[str, float | str] = {}
        if not _same(self.input_scale_V, base.input_scale_V):
            out["training.dataset.input_scale"] = self.input_scale_V
        if not (_same(self.v_low_V, base.v_low_V) and _same(self.v_high_V, base.v_high_V)):
            out["neuron.v_low"], out["neuron.v_high"] = self.v_low_V, self.v_high_V
        if not _same(self.diode_is_A, base.diode_is_A):
            out["neuron.diode.is"] = self.diode_is_A
        if self.init_distribution != base.init_distribution:
            out["device.init.distribution"] = self.init_distribution
        if self.init_distribution == "uniform":
            if not (_same(self.init_low_S, base.init_low_S) and _same(self.init_high_S, base.init_high_S)):
                out["device.init.low"], out["device.init.high"] = self.init_low_S, self.init_high_S
        elif not (_same(self.init_mean_S, base.init_mean_S) and _same(self.init_std_S, base.init_std_S)):
            out["device.init.mean"], out["device.init.std"] = self.init_mean_S, self.init_std_S
        return out


def _same(a: float, b: float) -> bool:
    return bool(np.isclose(a, b, rtol=1e-6, atol=0.0)) or (np.isnan(a) and np.isnan(b))


def _round(v: float) -> float:
    """``v`` to 6 significant digits (what the suggested spec shows; NaN stays NaN)."""
    return float(f"{v:.6g}")


def _set(d: dict[str, Any], dotted: str, value: object) -> None:
    keys = dotted.split(".")
    for k in keys[:-1]:
        nxt = d.get(k)
        if not isinstance(nxt, dict):
            nxt = {}
            d[k] = nxt
        d = nxt
    d[keys[-1]] = value


#: initial-conductance keys that mean nothing for a distribution (dropped when it is switched to)
_STALE_INIT_KEYS = {"uniform": ("mean", "std"), "normal": ("low", "high"), "constant": ("low", "high", "std")}


def apply_knobs(spec: Spec, changes: Mapping[str, float | str]) -> Spec:
    """``spec`` with the dotted-path ``changes`` applied (``training.dataset.*``, ``neuron.*``,
    ``device.*``).  Each changed section is validated again with its own model (its physics checks:
    clamp order, initial range within [g_min, g_max] …; raises ValidationError); the checks across
    sections do not involve these knobs."""
    sections: dict[str, dict[str, Any]] = {}
    for k, v in changes.items():
        head, rest = k.split(".", 1)
        if head == "training":
            head, rest = "training.dataset", rest.split(".", 1)[1]
        _set(sections.setdefault(head, {}), rest, v if isinstance(v, str) else float(v))
    update: dict[str, Any] = {}
    for head, ch in sections.items():
        model = spec.training.dataset if head == "training.dataset" else getattr(spec, head)
        data = model.model_dump(by_alias=True)
        _merge(data, ch)
        dist = ch.get("init", {}).get("distribution") if head == "device" else None
        if isinstance(dist, str):  # the keys of the old distribution go (as in the suggested yaml)
            for key in _STALE_INIT_KEYS[dist]:
                data["init"][key] = None if key != "std" else 0.0

        new = type(model).model_validate(data)
        if head == "training.dataset":
            update["training"] = spec.training.model_copy(update={"dataset": new})
        else:
            update[head] = new
    return spec.model_copy(update=update)


def _merge(d: dict[str, Any], ch: Mapping[str, Any]) -> None:
    for k, v in ch.items():
        if isinstance(v, dict) and isinstance(d.get(k), dict):
            _merge(d[k], v)
        else:
            d[k] = v


@dataclass
class Candidate:
    knobs: Knobs
    changes: dict[str, float | str]
    groups: int  # knob groups changed besides the input scale (clamps, diode IS, initial range)
    min_nonlinear: float  # nonlinear fraction of the least nonlinear judged layer (1)
    margin_V: float  # read margin on the search samples, free phase (V)
    feasible: bool
    sound: bool  # no layer saturated or loaded by its diodes at rest
    order: int  # position in the grid

    def rank(self) -> tuple[float, ...]:
        scale = int("training.dataset.input_scale" in self.changes)
        return (self.groups, scale, -min(self.min_nonlinear, 0.5), -self.margin_V, self.order)


@dataclass
class TuneResult:
    """``spec``: the suggested spec (None when nothing feasible was found); ``before`` / ``after``:
    whole-dataset analyses of the original and the suggested chip; ``tried``: grid points solved."""

    base: Knobs
    knobs: Knobs | None
    changes: dict[str, float | str]
    spec: Spec | None
    before: OperatingPoint
    after: OperatingPoint | None
    tried: int
    feasible: int
    min_margin_V: float
    best_effort: Candidate | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.spec is not None

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "base": asdict(self.base),
            "knobs": None if self.knobs is None else asdict(self.knobs),
            "changes": dict(self.changes),
            "tried": self.tried,
            "feasible": self.feasible,
            "min_margin_V": self.min_margin_V,
            "before": self.before.as_dict(),
            "after": None if self.after is None else self.after.as_dict(),
            "notes": list(self.notes),
        }


def _min_nonlinear(op: OperatingPoint) -> tuple[float, bool]:
    judged = [la for la in op.layers if la.judged]
    if not judged:
        return 1.0, True
    frac = min(la.frac_nonlinear for la in judged)
    bad = any(la.status in ("saturated", "loaded") for la in judged)
    return frac, not bad


#: one initial-conductance choice: (distribution, a, b) with (low, high) for uniform and
#: (mean, std) for normal / constant (S)
_Init = tuple[str, float, float]


def _base_init(base: Knobs) -> _Init:
    if base.init_distribution == "uniform":
        return ("uniform", base.init_low_S, base.init_high_S)
    return (base.init_distribution, base.init_mean_S, base.init_std_S)


def _combos(spec: Spec, base: Knobs) -> list[tuple[int, tuple[float, float], float | None, _Init]]:
    """(knob groups changed, clamps, diode IS, initial conductances) of every combination, fewest
    changes first (grid order within)."""
    n, d = spec.neuron, spec.device
    mid, half = 0.5 * (base.v_low_V + base.v_high_V), 0.5 * (base.v_high_V - base.v_low_V)
    clamps = [(base.v_low_V, base.v_high_V)]
    if n.kind == "diode_pair":
        clamps += [(mid - y, mid + y) for y in CLAMPS_V if y < half]
    diodes: list[float | None] = [base.diode_is_A, *(i for i in DIODE_IS_A if i > base.diode_is_A)]
    if n.kind == "diode_pair":
        diodes.append(None)  # the largest IS the rest-load rule allows (:func:`_sound_is`)
    inits: list[_Init] = [_base_init(base)]
    span = d.g_max - d.g_min
    for init in (
        ("uniform", d.g_min, d.g_max),
        ("uniform", d.g_min, d.g_min + 0.1 * span),
        ("normal", d.g_min, SKEWED_STD_FRACTION * span),
    ):
        if not any(init[0] == i[0] and _same(init[1], i[1]) and _same(init[2], i[2]) for i in inits):
            inits.append(init)
    out = []
    for ci, di, ii in itertools.product(range(len(clamps)), range(len(diodes)), range(len(inits))):
        out.append((int(ci > 0) + int(di > 0) + int(ii > 0), clamps[ci], diodes[di], inits[ii]))
    return sorted(out, key=lambda c: c[0])  # stable: grid order within a group


def _knobs(base: Knobs, spec: Spec, f: float, lo: float, hi: float, i_s: float, init: _Init) -> Knobs:
    """The grid point: input scale ×``f``, clamps, diode IS, initial conductances (rounded to the
    6 digits the suggestion is written with, and kept within [g_min, g_max])."""
    g_lo, g_hi = spec.device.g_min, spec.device.g_max

    def clip(g: float) -> float:
        return min(max(_round(g), g_lo), g_hi)

    dist, a, b = init
    uniform = dist == "uniform"
    return Knobs(
        _round(base.input_scale_V * f),
        _round(lo),
        _round(hi),
        i_s,
        clip(a) if uniform else np.nan,
        clip(b) if uniform else np.nan,
        dist,
        np.nan if uniform else clip(a),
        _round(b) if dist == "normal" else np.nan,
    )


def _sound_is(
    spec: Spec, base: Knobs, init: _Init, half_V: float, cache: dict[tuple[_Init, float], float | None]
) -> float | None:
    """The diode IS (A) whose rest load is :data:`REST_LOAD_TARGET` of the least node conductance
    of a judged layer (median over its nodes) at the initial draw ``init`` and clamps at the
    middle ± ``half_V`` (V).  The diodes' conductance at the middle (the golden model's diode
    equations, :func:`~codegen.analysis.operating_point.rest_conductance`) grows in proportion to
    IS, so one evaluation at 1 mA scales to the target; 2 significant digits, rounded
    down.  With two exponential diodes the knee's distance from the middle depends only on the rest
    load, so this is the closest knee the rules allow.  None above chip.yaml's 1 mA limit."""
    key = (init, half_V)
    if key not in cache:
        mid = 0.5 * (base.v_low_V + base.v_high_V)
        # evaluated at the largest IS, where the exponential outweighs GMIN by far
        k = _knobs(base, spec, 1.0, mid - half_V, mid + half_V, _IS_MAX_A, init)
        ch = k.changes(base)
        chip = elaborate(apply_knobs(spec, ch) if ch else spec)
        gn = node_conductances(chip, chip.initial_conductances())
        judged = [la for la in chip.layers[1:] if la.neuron is not None]
        ratio = min(
            (
                float(np.median([gn[n] for n in la.nodes])) / rest_conductance(chip, la.neuron)
                for la in judged
                if la.neuron is not None
            ),
            default=np.nan,
        )
        i_s = REST_LOAD_TARGET * ratio * _IS_MAX_A
        if np.isfinite(i_s) and i_s > 0:
            e = np.floor(np.log10(i_s)) - 1
            i_s = _round(float(np.floor(i_s / 10**e) * 10**e))
        cache[key] = i_s if np.isfinite(i_s) and 0 < i_s <= _IS_MAX_A else None
    return cache[key]


def tune(
    spec: Spec,
    *,
    min_margin_V: float | None = None,
    search_samples: int = 128,
    verify: int = 5,
    x: np.ndarray | None = None,
    target: np.ndarray | None = None,
) -> TuneResult:
    """Search the knobs of ``spec`` (module docstring).  ``min_margin_V``: the read margin every
    candidate must keep (V; default 10 % of the smaller threshold); ``search_samples``: samples
    solved per grid point; ``verify``: candidates re-analysed on the whole dataset at most.
    ``x`` / ``target``: the samples (feature units / V) instead of the chip's own dataset."""
    chip = elaborate(spec)
    if x is None or target is None:
        x, target = dataset_arrays(chip)
    x, target = np.asarray(x, dtype=float), np.asarray(target, dtype=float)
    if min_margin_V is None:
        min_margin_V = 0.1 * min(spec.device.v_threshold_set, -spec.device.v_threshold_reset)
    before = analyze(chip, x, target)
    base = Knobs.of(spec)
    idx = np.unique(np.linspace(0, len(x) - 1, min(search_samples, len(x))).round().astype(int))
    xs, ts = x[idx], target[idx]
    saturated = any(la.status == "saturated" for la in before.layers)
    factors = SATURATED_SCALE_FACTORS if saturated else SCALE_FACTORS
    cands: list[Candidate] = []
    tried = 0
    order = 0
    group_done = None
    g_cache: dict[tuple[_Init, float], float | None] = {}
    for groups, (lo, hi), i_s, init in _combos(spec, base):
        if group_done is not None and groups > group_done:
            break  # a feasible candidate with fewer changed knobs exists: it ranks first
        if i_s is None:
            i_s = _sound_is(spec, base, init, 0.5 * (hi - lo), g_cache)
            if i_s is None or any(np.isclose(i_s, i, rtol=1e-6) for i in (base.diode_is_A, *DIODE_IS_A)):
                continue  # beyond chip.yaml's IS limit, or a grid point already
        for f in factors:
            order += 1
            k = _knobs(base, spec, f, lo, hi, i_s, init)
            ch = k.changes(base)
            try:
                cand_spec = apply_knobs(spec, ch) if ch else spec
            except ValidationError:
                continue
            op = analyze(elaborate(cand_spec), xs, ts, phases=False, power=False)
            tried += 1
            frac, unsat = _min_nonlinear(op)
            feasible = frac >= TARGET_NONLINEAR and unsat and op.read.margin_V >= min_margin_V
            cands.append(Candidate(k, ch, groups, frac, op.read.margin_V, feasible, unsat, order))
            if feasible:
                group_done = groups
            if op.read.margin_V < min_margin_V or frac >= 0.5 or not unsat:
                break  # larger inputs only read harder and clamp more
    ranked = sorted((c for c in cands if c.feasible), key=Candidate.rank)
    result = TuneResult(base, None, {}, None, before, None, tried, len(ranked), min_margin_V)
    for c in ranked[:verify]:
        cand_spec = apply_knobs(spec, c.changes) if c.changes else spec
        after = analyze(elaborate(cand_spec), x, target)
        frac, unsat = _min_nonlinear(after)
        if frac >= TARGET_NONLINEAR and unsat and after.read.margin_V >= min_margin_V:
            result.knobs, result.changes, result.spec, result.after = (
                c.knobs,
                dict(c.changes),
                cand_spec,
                after,
            )
            return result
        result.notes.append(
            f"candidate {c.changes} reached {100 * frac:.0f} % nonlinear and a read margin of "
            f"{after.read.margin_V:.3g} V on the whole dataset; not kept"
        )
    safe = [c for c in cands if c.margin_V >= min_margin_V and c.sound]
    if safe:
        result.best_effort = max(safe, key=lambda c: (c.min_nonlinear, c.margin_V, -c.order))
    return result


def _fmt(v: float | str) -> str:
    return v if isinstance(v, str) else f"{v:.6g}"


def format_changes(changes: Mapping[str, float | str]) -> list[str]:
    """``path: value`` lines, numbers in plain notation."""
    return [f"{k}: {_fmt(v)}" for k, v in changes.items()]


def tuned_yaml(raw_text: str, result: TuneResult, source: str) -> str:
    """The chip.yaml text ``raw_text`` with the knobs of ``result`` applied, as YAML with a comment
    header listing what changed and why.  Values are written as plain numbers (V, A, S)."""
    import yaml

    if result.spec is None or result.after is None:
        raise CodegenError("tune: no suggestion to write")
    data = yaml.safe_load(raw_text)
    dist = result.changes.get("device.init.distribution")
    init = data.get("device", {}).get("init") if isinstance(data.get("device"), dict) else None
    if isinstance(dist, str) and isinstance(init, dict):  # drop the keys of the old distribution
        for key in _STALE_INIT_KEYS[dist]:
            init.pop(key, None)
    for k, v in result.changes.items():
        _set(data, k, v if isinstance(v, str) else float(v))
    base = asdict(result.base)
    units = {
        "input_scale": " V",
        "v_low": " V",
        "v_high": " V",
        "is": " A",
        "low": " S",
        "high": " S",
        "mean": " S",
        "std": " S",
        "distribution": "",
    }
    old = {
        "training.dataset.input_scale": base["input_scale_V"],
        "neuron.v_low": base["v_low_V"],
        "neuron.v_high": base["v_high_V"],
        "neuron.diode.is": base["diode_is_A"],
        "device.init.low": base["init_low_S"],
        "device.init.high": base["init_high_S"],
        "device.init.distribution": base["init_distribution"],
        "device.init.mean": base["init_mean_S"],
        "device.init.std": base["init_std_S"],
    }
    head = [f"# suggested by `codegen tune {source}` (docs/design_rules.md): the hidden layers"]
    head.append("# at their diode knees, every read below the memristor thresholds.")
    head.append("# changed:" if result.changes else "# changed: nothing (the chip already meets the rules)")
    for k, v in result.changes.items():
        head.append(f"#   {k}: {_fmt(old[k])} -> {_fmt(v)}{units[k.rsplit('.', 1)[1]]}")
    b, a = result.before, result.after
    for tag, op in (("before", b), ("after", a)):
        layers = ", ".join(
            f"layer {la.index} {la.status} ({100 * la.frac_nonlinear:.0f} % past a knee)"
            for la in op.layers
            if la.judged
        )
        head.append(
            f"# {tag}: {layers}; read margin {op.read.margin_V:.3g} V "
            f"(largest drop {op.read.max_abs_dv_V:.3g} V), {op.samples} samples"
        )
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100)
    return "\n".join(head) + "\n" + body
