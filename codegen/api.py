"""The public Python API: one import (``import codegen``) for what the commands do.

Every function takes a chip as a path to chip.yaml, a ``dict`` with the same content, a validated
:class:`~codegen.spec.Spec` or an elaborated :class:`~codegen.ir.Chip`; bad input raises
:class:`~codegen.errors.SpecError` with the same messages as the CLI (file, line where there is one,
YAML path, what is allowed).  Units: conductances in S, voltages in V, β in S, learning rates in
S²/V², losses in V².  See ``docs/api.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from .errors import CodegenError, SpecError, SpecProblem

if TYPE_CHECKING:
    from .ir import Chip
    from .learn.trainer import TrainResult
    from .model.conductances import ConductanceSet
    from .model.network import GoldenModel
    from .plan import BuildPlan, WriteReport
    from .spec import Spec

__all__ = [
    "ChipSource",
    "Built",
    "example",
    "examples",
    "load_spec",
    "load_chip",
    "write_build",
    "golden_model",
    "make_dataset",
    "train",
    "run_check",
    "run_cosim",
]

#: what every function accepts as "the chip"
ChipSource = Union[str, Path, Mapping[str, Any], "Spec", "Chip"]


def example(name: str) -> Path:
    """Path of a chip.yaml shipped with codegen (``xor``, ``kiraz_case1``, ``sign_pulse/xor_sign``;
    ``codegen examples`` lists them).  Unknown name: :class:`~codegen.errors.CodegenError`."""
    from .cli.examples import find_example

    return find_example(name).path


def examples() -> dict[str, str]:
    """Every shipped example: name → one-line description."""
    from .cli.examples import list_examples

    return {ex.name: ex.description for ex in list_examples()}


def _spec_from_dict(data: Mapping[str, Any], where: str) -> Spec:
    """Validate a chip.yaml-shaped mapping with the loader's messages (no lines: there is no file)."""
    from pydantic import ValidationError

    from .load import _describe  # the one formatter of pydantic errors (codegen/load.py)
    from .spec import Spec

    if not all(isinstance(k, str) for k in data):
        raise SpecError(where, [SpecProblem("", None, "the top-level keys must be strings")])
    try:
        return Spec.model_validate(dict(data))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc, message = _describe(err)
            problems.append(SpecProblem(".".join(str(p) for p in loc), None, message))
        raise SpecError(where, problems) from None


def load_spec(source: str | Path | Mapping[str, Any] | Spec, *, name: str = "<dict>") -> Spec:
    """A validated :class:`~codegen.spec.Spec` from a chip.yaml path, a ``dict`` or a Spec.

    ``name``: how messages name a ``dict`` source.  Raises :class:`~codegen.errors.SpecError`
    (a :class:`~codegen.errors.CodegenError`) with one problem per line of its message.
    """
    from . import load
    from .spec import Spec

    if isinstance(source, Spec):
        return source
    if isinstance(source, (str, Path)):
        return load.load_spec(source)
    if isinstance(source, Mapping):
        return _spec_from_dict(source, name)
    raise CodegenError(
        f"a chip is a path to chip.yaml, a dict, a Spec or a Chip, not {type(source).__name__}"
    )


def load_chip(source: ChipSource) -> Chip:
    """The elaborated :class:`~codegen.ir.Chip` (nodes, crossbars, device, controller) of ``source``."""
    from .elab import elaborate
    from .ir import Chip

    if isinstance(source, Chip):
        return source
    return elaborate(load_spec(source))


def _conductances(chip: Chip, conductances: Any) -> ConductanceSet | None:
    """``None``, a conductance file (path), a ConductanceSet or ``{crossbar: (rows, cols) array (S)}``."""
    from .model.conductances import ConductanceSet, read_conductances

    if conductances is None or isinstance(conductances, ConductanceSet):
        return conductances
    if isinstance(conductances, (str, Path)):
        return read_conductances(chip, conductances)
    if isinstance(conductances, Mapping):
        return ConductanceSet.from_values(chip, conductances)
    raise CodegenError(
        "conductances: a conductance file, a ConductanceSet or a dict of (rows, cols) arrays in S, "
        f"not {type(conductances).__name__}"
    )


@dataclass(frozen=True)
class Built:
    """What :func:`write_build` wrote: ``out`` (the build folder), ``plan`` (every file in memory, with
    its digest) and ``report`` (paths ``written`` / ``unchanged`` / ``removed``)."""

    chip: Chip
    out: Path
    plan: BuildPlan
    report: WriteReport
    files: list[str] = field(default_factory=list)


def write_build(
    source: ChipSource,
    out_dir: str | Path | None = None,
    *,
    compile: bool = True,
    conductances: Any = None,
    only: list[str] | None = None,
    force: bool = False,
) -> Built:
    """Render every backend (or those in ``only``) and write them under ``out_dir`` (default
    ``build/<name>``), as ``codegen build`` does.  ``compile=False``: no openvaf-r (``.va`` only).
    ``conductances``: emit these (file, ConductanceSet or dict of arrays in S) instead of the seeded
    initial ones.  Files codegen did not write are never overwritten unless ``force``."""
    from .backends import BuildOptions
    from .build import default_build_dir, render_plan
    from .plan import write_plan

    chip = load_chip(source)
    options = BuildOptions(compile=compile, conductances=_conductances(chip, conductances))
    out = Path(out_dir) if out_dir is not None else default_build_dir(chip.name)
    plan = render_plan(chip, options, only=only)
    report = write_plan(plan, out, force=force)
    return Built(chip, out, plan, report, sorted(plan.files))


def golden_model(source: ChipSource, conductances: Any = None) -> GoldenModel:
    """The chip's :class:`~codegen.model.network.GoldenModel` (numpy/scipy): ``.solve(x)`` gives an
    equilibrium (``.outputs`` in V), ``.ep_gradient(x, t)`` / ``.exact_gradient(x, t)`` in V²/S.
    ``conductances``: as for :func:`write_build` (default: the seeded initial conductances)."""
    from .model import GoldenModel

    chip = load_chip(source)
    cs = _conductances(chip, conductances)
    return GoldenModel(chip, None if cs is None else cs.G)


def make_dataset(
    x_train: Any,
    t_train: Any,
    x_test: Any = None,
    t_test: Any = None,
    *,
    labels_train: Any = None,
    labels_test: Any = None,
    name: str = "arrays",
):
    """A :class:`~codegen.learn.datasets.Dataset` from arrays: inputs ``x`` (B, n_in) in the chip's
    input units (V for ``input_scale: 1 V``), targets ``t`` (B, n_out) in V.  With ``labels_*``
    (class indices) accuracy is classification (argmax, or the one output against the mid-point of
    the targets); without, it is regression (every output within 10 mV of its target).
    The test split defaults to the training split."""
    import numpy as np

    from .learn.datasets import Dataset

    x = np.atleast_2d(np.asarray(x_train, dtype=float))
    t = np.asarray(t_train, dtype=float).reshape(len(x), -1)
    xt = x if x_test is None else np.atleast_2d(np.asarray(x_test, dtype=float))
    tt = t if t_test is None else np.asarray(t_test, dtype=float).reshape(len(xt), -1)
    classify = labels_train is not None
    if classify:
        lab = np.asarray(labels_train, dtype=int).reshape(len(x))
        lab_t = lab if labels_test is None and x_test is None else np.asarray(labels_test, dtype=int)
    else:
        lab, lab_t = np.zeros(len(x), dtype=int), np.zeros(len(xt), dtype=int)
    if len(lab_t) != len(xt):
        raise CodegenError(f"labels_test has {len(lab_t)} entries for {len(xt)} test samples")
    return Dataset(
        name=name,
        x_train=x,
        labels_train=lab,
        t_train=t,
        x_test=xt,
        labels_test=lab_t,
        t_test=tt,
        target_low_V=float(min(t.min(), tt.min())),
        target_high_V=float(max(t.max(), tt.max())),
        classify=classify,
    )


def train(
    source: ChipSource,
    x_train: Any = None,
    t_train: Any = None,
    x_test: Any = None,
    t_test: Any = None,
    *,
    labels_train: Any = None,
    labels_test: Any = None,
    epochs: int | None = None,
    rule: str | None = None,
    learning_rate: float | None = None,
    backend: str = "golden",
    gradient_source: str = "ep",
    init_seed: int | None = None,
) -> TrainResult:
    """Train the chip with EP on arrays (see :func:`make_dataset`), or on its own
    ``training.dataset`` when ``x_train`` is None.  ``rule``: ``gradient`` or ``sign-pulse``;
    ``learning_rate`` in S²/V²; ``backend``: ``golden`` or ``spice`` (ngspice).  Returns a
    :class:`~codegen.learn.trainer.TrainResult`: ``history`` (losses in V² per epoch), ``g_final``
    (S)."""
    from .learn.backends import make_backend
    from .learn.datasets import load_dataset
    from .learn.trainer import train as _train

    chip = load_chip(source)
    if x_train is None:
        ds = load_dataset(chip)
    else:
        if t_train is None:
            raise CodegenError("train: x_train needs t_train (targets in V)")
        ds = make_dataset(
            x_train, t_train, x_test, t_test, labels_train=labels_train, labels_test=labels_test
        )
        if ds.x_train.shape[1] != chip.n_inputs or ds.t_train.shape[1] != chip.n_outputs:
            raise CodegenError(
                f"{chip.name} takes {chip.n_inputs} inputs and gives {chip.n_outputs} outputs "
                f"(network.layers), but x has {ds.x_train.shape[1]} columns and t {ds.t_train.shape[1]}"
            )
    return _train(
        chip,
        make_backend(backend, chip),
        ds,
        epochs=epochs,
        rule=rule,
        learning_rate=learning_rate,
        init_seed=init_seed,
        gradient_source=gradient_source,
    )


def run_check(
    source: ChipSource,
    *,
    samples: int = 4,
    seed: int = 0,
    conductances: Any = None,
    pulse: bool = False,
    inputs: str = "random",
) -> dict[str, Any]:
    """ngspice against the golden model (free, nudged ±β, simultaneous phases) and read disturb, as
    ``codegen check``; ``pulse``: also the Verilog-A memristor's pulse response (openvaf-r).
    Returns the report (``report["passed"]``; voltages in V).  Needs ngspice 46."""
    from .cli.check import check_chip

    chip = load_chip(source)
    return check_chip(
        chip, samples, seed, None, pulse, inputs, conductances=_conductances(chip, conductances)
    )


def run_cosim(
    source: ChipSource,
    steps: int = 10,
    out_dir: str | Path | None = None,
    *,
    device: str = "behavioral",
    phases: str = "sequential",
    learning_rate: float | None = None,
) -> dict[str, Any]:
    """Co-simulate ``steps`` learning steps: the controller's reference model programs the crossbars
    that ngspice solves, each step checked against the golden model (``codegen cosim``; the RTL
    controller runs through ``codegen cosim --controller rtl``).  Writes ``cosim.json`` and
    ``cosim.png`` into ``out_dir`` (default ``build/<name>/cosim``); returns the result
    (``result["passed"]``, ``result["steps"]`` with losses in V²).  Needs ngspice 46."""
    import asyncio

    from .backends.rtl import design
    from .controller import CtrlParams
    from .cosim.loop import CosimConfig, ReferenceController, run_loop, validate
    from .cosim.report import clear_artifacts, write_report

    chip = load_chip(source)
    out = Path(out_dir) if out_dir is not None else Path("build") / chip.name / "cosim"
    cfg = CosimConfig(steps=steps, device=device, phases=phases, learning_rate=learning_rate, out=out)
    validate(chip, cfg)
    clear_artifacts(out, design(chip.name, chip.controller).top)
    ctrl = ReferenceController(CtrlParams.all_from_chip(chip))
    res = asyncio.run(run_loop(chip, cfg, ctrl, log=lambda *a, **k: None)).as_dict()
    write_report(res, out)
    return res
