"""The ``chip.yaml`` schema: frozen pydantic v2 models, ``extra="forbid"``.

Every physical field states its unit in its description; numbers may be written as floats or SI
strings (``"1u"``, ``"10k"``, ``"2 V"``).  Physical sanity checks (``g_min < g_max``, positive widths,
``β > 0`` …) run at load time.  The YAML is read once (:mod:`codegen.load`) and only the
elaborated IR (:mod:`codegen.ir`) is seen by backends.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from .escape import MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, NAME_PATTERN, RESERVED_FILE_NAMES
from .units import parse_si

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
    "Training",
    "Controller",
    "Simulation",
    "PhysicsError",
]


class PhysicsError(ValueError):
    """A non-physical value.  ``field`` names the offending key relative to the model that raised."""

    def __init__(self, field: str, message: str):
        super().__init__(f"@{field}: {message}")
        self.field = field


def _si(unit: str):
    pattern = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*[fpnuµmkMG]?" + (unit or "") + r"?\s*$"
    return (
        BeforeValidator(lambda v: parse_si(v, unit)),
        WithJsonSchema(
            {"anyOf": [{"type": "number"}, {"type": "string", "pattern": pattern}], "x-unit": unit or "1"}
        ),
    )


Siemens = Annotated[float, *_si("S")]
Volts = Annotated[float, *_si("V")]
Amperes = Annotated[float, *_si("A")]
Seconds = Annotated[float, *_si("s")]
Hertz = Annotated[float, *_si("Hz")]
Number = Annotated[float, *_si("")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


# --------------------------------------------------------------------------- network
class Skip(_Model):
    """A skip connection: one more crossbar from layer ``src`` to the non-adjacent layer ``dst``."""

    src: int = Field(description="source layer index (0 = inputs)", ge=0)
    dst: int = Field(description="destination layer index, at least src + 2", ge=0)

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
        description="logical layer sizes, inputs first, outputs last (at least [inputs, outputs])",
        min_length=2,
    )
    input_doubling: bool = Field(
        True,
        description="drive each input x as two sources +x and −x so positive conductances give signed weights",
    )
    bias: bool = Field(
        True,
        description="add a bias source (doubled like the inputs) with its own conductance to every neuron",
    )
    bias_voltage: Volts = Field(1.0, description="bias source voltage (V)")
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
class Variation(_Model):
    """Device variability, as relative standard deviations (dimensionless)."""

    d2d: Number = Field(0.0, description="device-to-device spread of the step per pulse (relative σ)", ge=0)
    c2c: Number = Field(0.0, description="cycle-to-cycle spread of each pulse's step (relative σ)", ge=0)


class Faults(_Model):
    """Stuck-at faults, as fractions of cells."""

    stuck_at_gmin: Number = Field(0.0, description="fraction of cells stuck at g_min", ge=0, le=1)
    stuck_at_gmax: Number = Field(0.0, description="fraction of cells stuck at g_max", ge=0, le=1)

    @model_validator(mode="after")
    def _sum(self) -> Faults:
        if self.stuck_at_gmin + self.stuck_at_gmax > 1:
            raise PhysicsError("stuck_at_gmax", "stuck_at_gmin + stuck_at_gmax must not exceed 1")
        return self


class InitialConductance(_Model):
    """Distribution of the initial conductances (S), drawn with the training seed."""

    distribution: Literal["uniform", "normal", "constant"] = Field(
        "uniform",
        description="uniform in [low, high], normal(mean, std) clipped to the bounds, or constant = mean",
    )
    low: Siemens | None = Field(None, description="lower end for uniform (S); default g_min")
    high: Siemens | None = Field(None, description="upper end for uniform (S); default g_max")
    mean: Siemens | None = Field(None, description="mean for normal/constant (S); default (g_min+g_max)/2")
    std: Siemens = Field(0.0, description="standard deviation for normal (S)", ge=0)


class Device(_Model):
    """Threshold (VTEAM-like) memristor used as a programmable conductance."""

    kind: Literal["memristor"] = Field("memristor", description="device kind")
    g_min: Siemens = Field(description="lower conductance bound (S)")
    g_max: Siemens = Field(description="upper conductance bound (S)")
    step_per_pulse: Siemens = Field(
        description="conductance change of one set pulse at the programming amplitude (S)"
    )
    pulse_amplitude: Volts = Field(
        1.2, description="programming pulse amplitude across a fully selected cell (V)"
    )
    pulse_width: Seconds = Field(1e-6, description="programming pulse width (s)")
    v_threshold_set: Volts = Field(1.0, description="voltage above which the state grows (V, > 0)")
    v_threshold_reset: Volts = Field(-1.0, description="voltage below which the state shrinks (V, < 0)")
    read_voltage: Volts = Field(0.2, description="read voltage; must leave the state unchanged (V)")
    exponent: Number = Field(1.0, description="VTEAM rate exponent (dimensionless, ≥ 1)", ge=1)
    asymmetry: Number = Field(
        0.0, description="reset step = step_per_pulse·(1 + asymmetry) (dimensionless, > −1)"
    )
    soft_bounds: bool = Field(False, description="step shrinks linearly to 0 at the bound it approaches")
    variation: Variation = Field(
        default_factory=Variation, description="device-to-device and cycle-to-cycle variation"
    )
    faults: Faults = Field(default_factory=Faults, description="stuck-at faults")
    init: InitialConductance = Field(
        default_factory=InitialConductance, description="initial conductance distribution"
    )

    @model_validator(mode="after")
    def _physics(self) -> Device:
        if self.g_min <= 0:
            raise PhysicsError("g_min", f"must be > 0 S, got {self.g_min:g} S")
        if self.g_min >= self.g_max:
            raise PhysicsError(
                "g_min", f"must be smaller than g_max, got g_min={self.g_min:g} S ≥ g_max={self.g_max:g} S"
            )
        if not 0 < self.step_per_pulse <= self.g_max - self.g_min:
            raise PhysicsError(
                "step_per_pulse",
                f"must be in (0, g_max − g_min] = (0, {self.g_max - self.g_min:g}] S, got {self.step_per_pulse:g} S",
            )
        if self.pulse_width <= 0:
            raise PhysicsError("pulse_width", f"must be > 0 s, got {self.pulse_width:g} s")
        if self.v_threshold_set <= 0:
            raise PhysicsError("v_threshold_set", f"must be > 0 V, got {self.v_threshold_set:g} V")
        if self.v_threshold_reset >= 0:
            raise PhysicsError("v_threshold_reset", f"must be < 0 V, got {self.v_threshold_reset:g} V")
        if self.pulse_amplitude <= max(self.v_threshold_set, -self.v_threshold_reset):
            raise PhysicsError(
                "pulse_amplitude",
                f"must exceed both thresholds ({self.v_threshold_set:g} V, {-self.v_threshold_reset:g} V) to program, got {self.pulse_amplitude:g} V",
            )
        if self.pulse_amplitude / 2 >= min(self.v_threshold_set, -self.v_threshold_reset):
            raise PhysicsError(
                "pulse_amplitude",
                f"half-selected cells see {self.pulse_amplitude / 2:g} V, which must stay below both thresholds (V/2 scheme)",
            )
        if not -self.v_threshold_reset > abs(self.read_voltage) < self.v_threshold_set:
            raise PhysicsError(
                "read_voltage",
                f"|read_voltage| = {abs(self.read_voltage):g} V must stay below both thresholds",
            )
        if self.asymmetry <= -1:
            raise PhysicsError("asymmetry", f"must be > −1, got {self.asymmetry:g}")
        i = self.init
        for name in ("low", "high", "mean"):
            v = getattr(i, name)
            if v is not None and not self.g_min <= v <= self.g_max:
                raise PhysicsError(
                    f"init.{name}",
                    f"must lie in [g_min, g_max] = [{self.g_min:g}, {self.g_max:g}] S, got {v:g} S",
                )
        if i.low is not None and i.high is not None and i.low > i.high:
            raise PhysicsError("init.low", f"must be ≤ init.high, got {i.low:g} > {i.high:g} S")
        return self


# --------------------------------------------------------------------------- neuron / amplifier
class Diode(_Model):
    """Shockley diode I = IS·(exp(V/(N·Vt)) − 1), with ngspice's GMIN in parallel."""

    is_: Amperes = Field(1e-12, alias="is", description="saturation current IS (A)", gt=0)
    n: Number = Field(1.0, description="emission coefficient N (dimensionless)", gt=0)
    temperature: Number = Field(27.0, description="temperature (°C); sets Vt = kT/q")


class Neuron(_Model):
    """Neuron at every hidden (and optionally output) node: two diodes to two bias sources.

    ``diode_pair`` (Kendall et al.): a diode from the node to a source at ``v_high`` and one from a
    source at ``v_low`` to the node, so the node is softly clamped to [v_low, v_high].
    ``relu_clamp`` (Hopfield-ResNet ReLUα): the same circuit with v_low = 0 V and v_high = α.
    """

    kind: Literal["diode_pair", "relu_clamp"] = Field("diode_pair", description="neuron circuit")
    diode: Diode = Field(default_factory=Diode, description="diode model of both clamp diodes")
    v_low: Volts = Field(-1.0, description="lower clamp bias source, diode_pair only (V)")
    v_high: Volts = Field(1.0, description="upper clamp bias source, diode_pair only (V)")
    alpha: Volts = Field(6.0, description="ReLUα clip level, relu_clamp only (V)", gt=0)
    on_output: bool = Field(False, description="also put a neuron on every output node")

    @model_validator(mode="after")
    def _check(self) -> Neuron:
        if self.kind == "diode_pair" and self.v_low >= self.v_high:
            raise PhysicsError(
                "v_low", f"must be smaller than v_high, got {self.v_low:g} V ≥ {self.v_high:g} V"
            )
        return self


class Amplifier(_Model):
    """Bidirectional amplifier after each hidden layer: forward VCVS gain A, backward CCCS gain 1/A."""

    enabled: bool = Field(True, description="insert amplifiers between layers")
    gain: Number = Field(4.0, description="forward voltage gain A (V/V, > 0)", gt=0)


class Nudge(_Model):
    """Nudging current sources at the outputs: I = β·(target − output) into V+, the opposite into V−."""

    beta: Siemens = Field(1e-3, description="nudging strength β (A/V = S), > 0", gt=0)
    centered: bool = Field(True, description="centered EP: nudge with +β and −β")


# --------------------------------------------------------------------------- training
class Dataset(_Model):
    """Built-in datasets that need no download."""

    name: Literal["kiraz_case1", "xor", "iris", "digits"] = Field(description="dataset")
    test_fraction: Number = Field(0.25, description="held-out fraction (deterministic split)", ge=0, lt=1)
    input_scale: Volts = Field(1.0, description="input voltage for a feature value of 1 (V)", gt=0)
    target_high: Volts = Field(1.0, description="target output for the true class / logic 1 (V)")
    target_low: Volts = Field(0.0, description="target output for other classes / logic 0 (V)")


class Training(_Model):
    """Learning rule and schedule."""

    rule: Literal["gradient", "sign-pulse"] = Field(
        "gradient",
        description="gradient: ΔG = −η·∂L/∂G; sign-pulse: fixed-step pulses in the sign of the EP update",
    )
    learning_rate: Number = Field(
        1e-6,
        description="η of the gradient rule (S²/V²); scales the EP update into a conductance change",
        gt=0,
    )
    dead_zone: Number = Field(
        0.0,
        description="sign-pulse: no pulse where |η·∂L/∂G| < dead_zone·step_per_pulse (dimensionless)",
        ge=0,
    )
    quantize: bool = Field(
        False, description="sign-pulse: round |η·∂L/∂G|/step into 1..max pulses instead of one pulse"
    )
    epochs: int = Field(10, description="training epochs", ge=1)
    batch_size: int = Field(1, description="samples per update", ge=1)
    seed: int = Field(0, description="seed of every random draw (initial conductances, variation, shuffling)")
    dataset: Dataset = Field(description="training data")


class Controller(_Model):
    """Digital programming-pulse controller."""

    clock_hz: Hertz = Field(50e6, description="controller clock (Hz)", gt=0)
    pulse_width_cycles: int = Field(50, description="programming pulse width in clock cycles", ge=1)
    gap_cycles: int = Field(1, description="idle cycles between two pulses", ge=0)
    max_pulses_per_update: int = Field(
        15, description="largest pulse count one update code can ask for", ge=1, le=255
    )
    scheme: Literal["v_half"] = Field("v_half", description="selection scheme: V/2 half-select")
    order: Literal["row_by_row", "row_parallel"] = Field(
        "row_by_row",
        description="order in which cells are programmed: row_by_row (one cell at a time) or row_parallel "
        "(all cells of a row that need a pulse of one sign at once); docs/controller.md",
    )


class Simulation(_Model):
    """Solver tolerances shared by the golden model and the SPICE netlists."""

    reltol: Number = Field(1e-6, description="relative tolerance (dimensionless)", gt=0, lt=1)
    vntol: Volts = Field(1e-9, description="absolute voltage tolerance (V)", gt=0)
    abstol: Amperes = Field(1e-15, description="absolute current tolerance (A)", gt=0)
    gmin: Siemens = Field(
        1e-12, description="conductance across every diode junction, as ngspice's GMIN (S)", ge=0
    )
    max_newton_iterations: int = Field(200, description="Newton iteration cap of the golden solver", ge=1)
    residual_tol: Amperes = Field(1e-12, description="KCL residual the golden solver must reach (A)", gt=0)


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
    device: Device
    neuron: Neuron = Field(default_factory=Neuron)
    amplifier: Amplifier = Field(default_factory=Amplifier)
    nudge: Nudge = Field(default_factory=Nudge)
    training: Training
    controller: Controller = Field(default_factory=Controller)
    simulation: Simulation = Field(default_factory=Simulation)

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
        width = self.controller.pulse_width_cycles / self.controller.clock_hz
        if abs(width - self.device.pulse_width) > 1e-3 * self.device.pulse_width:
            raise PhysicsError(
                "controller.pulse_width_cycles",
                f"{self.controller.pulse_width_cycles} cycles at {self.controller.clock_hz:g} Hz last {width:g} s, "
                f"but device.pulse_width is {self.device.pulse_width:g} s; make them agree (to 0.1 %)",
            )
        n_in, n_out = self.network.layers[0], self.network.layers[-1]
        ds = self.training.dataset.name
        need = {"kiraz_case1": (2, 1), "xor": (2, 1), "iris": (4, 3), "digits": (64, 10)}[ds]
        if (n_in, n_out) != need:
            raise PhysicsError(
                "network.layers",
                f"dataset {ds!r} needs {need[0]} inputs and {need[1]} outputs, got {n_in} and {n_out}",
            )
        return self
