"""The Chip IR: typed, frozen dataclasses that every backend, the golden model and the runners read.

The IR is the single source of truth for every number that appears in two places (a diode's IS in
the golden model and in a netlist come from the same field here).  It is built from a validated
:class:`~codegen.spec.Spec` by the passes in :mod:`codegen.elab`.

Circuit conventions (all voltages to ground, in V; currents in A; conductances in S):

* **Input layer** (layer 0): one ideal voltage source per input node.  With input doubling, input
  ``i`` drives ``in{i}p = +s·x_i`` and ``in{i}n = −s·x_i`` (``s`` = ``input_scale``).  The bias
  sources ``bias_p = +V_b`` and ``bias_n = −V_b`` (only ``bias_p`` without doubling) feed one bias
  crossbar per neuron layer.
* **Hidden / output layers**: free nodes ``h{k}_{j}`` / ``out{j}p``, ``out{j}n`` (``out{j}`` without
  doubling).  A neuron is two diodes: node → ``nrn_hi`` (source at ``v_high``) and ``nrn_lo``
  (source at ``v_low``) → node, each with ``gmin`` in parallel, as ngspice puts GMIN across a junction.
* **Crossbar** ``W{j}{k}`` from layer j to layer k: conductance ``G[r, c]`` between source column
  node ``src_nodes[c]`` and destination row node ``dst_nodes[r]``.
* **Bidirectional amplifier** on a hidden node feeding a crossbar ``d = k − j`` layers ahead: a VCVS
  ``V(out) = A^d · V(in)`` and a CCCS that draws ``I_out / A^d`` from ``in``, where ``I_out`` is the
  current the VCVS delivers into the crossbar.  The gain ``A^d`` (not ``A``) on skip paths keeps the
  network a gradient system: its energy is ``Σ_k c_k·E_k`` with ``c_k = A^{-2(k-1)}``
  (:attr:`CrossbarIR.energy_scale`).
* **Nudging**: current ``β·(t_i − y_i)`` into ``out{i}p`` and its negative into ``out{i}n``,
  ``y_i = V(out{i}p) − V(out{i}n)``; loss ``C = ½ Σ (t_i − y_i)²``.
* **EP rule**: ``∂C/∂G = (c / c_out)·(ΔV²_β − ΔV²_0)/(2β)`` for a conductance of crossbar energy
  scale ``c`` and output-layer scale ``c_out``; centered EP uses ``(ΔV²_{+β} − ΔV²_{−β})/(4β)``·``c/c_out``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

__all__ = [
    "Chip",
    "LayerIR",
    "CrossbarIR",
    "AmplifierIR",
    "SourceIR",
    "DiodeIR",
    "NeuronIR",
    "NudgeIR",
    "PulsedDeviceIR",
    "DeviceIR",
    "ControllerIR",
    "SimulationIR",
    "TrainingIR",
    "InterconnectIR",
    "WireSegment",
    "to_json",
]


@dataclass(frozen=True)
class DiodeIR:
    """Shockley diode ``I = is_A·(exp(V/(n·vt_V)) − 1) + gmin_S·V``.

    ``reverse``: the law below −3·n·vt_V, as the simulator checked against computes it:
    ``spice3`` (SPICE3's reverse branch ``−is_A·(1 + (3·n·vt_V/(e·V))³)``, ngspice and Xyce; the
    golden model's default) or ``shockley`` (the forward formula everywhere, VACASK's
    ``diode.osdi`` in the spectre and native dialects).  Netlists do not read it.
    """

    is_A: float  # saturation current (A)
    n: float  # emission coefficient (1)
    vt_V: float  # thermal voltage kT/q at the spec's temperature (V)
    temperature_C: float  # temperature (°C), for simulators that compute vt themselves
    gmin_S: float  # conductance in parallel with the junction (S)
    reverse: Literal["spice3", "shockley"] = "spice3"  # reverse-bias law (see above)


@dataclass(frozen=True)
class NeuronIR:
    """Two clamp diodes per node: node→``v_high_V`` source and ``v_low_V`` source→node."""

    kind: str  # a registered neuron kind (codegen.kinds.neurons)
    v_low_V: float
    v_high_V: float
    diode: DiodeIR


@dataclass(frozen=True)
class SourceIR:
    """An ideal voltage source from ``node`` to ground.

    ``kind``: ``input`` (value = sign·input_scale·x[input_index]), ``bias`` (value = ``value_V``),
    ``neuron`` (clamp bias, value = ``value_V``).
    """

    name: str
    node: str
    kind: Literal["input", "bias", "neuron"]
    value_V: float = 0.0  # fixed value for bias / neuron sources (V)
    input_index: int = -1  # which input feature, for kind == "input"
    sign: int = 1  # +1 or −1 (input doubling)


@dataclass(frozen=True)
class LayerIR:
    """One layer.  ``nodes`` are the physical nodes (source nodes for the input layer)."""

    index: int
    role: Literal["input", "hidden", "output"]
    size: int  # logical size (features / neurons / outputs)
    nodes: tuple[str, ...]
    neuron: NeuronIR | None
    energy_scale: float  # c_k: weight of this layer's KCL in the total energy (1)


@dataclass(frozen=True)
class AmplifierIR:
    """Bidirectional amplifier: ``V(out_node) = gain·V(in_node)``; draws ``I_out/gain`` from ``in_node``."""

    name: str
    in_node: str
    out_node: str
    gain: float  # forward voltage gain (V/V); backward current gain is 1/gain


@dataclass(frozen=True)
class CrossbarIR:
    """Conductance matrix ``G`` (rows = ``dst_nodes``, cols = ``src_nodes``) in S."""

    name: str
    kind: Literal["forward", "skip", "bias"]
    src_layer: int  # −1 for the bias crossbar
    dst_layer: int
    src_nodes: tuple[str, ...]  # column drivers: input/bias sources or amplifier outputs
    dst_nodes: tuple[str, ...]
    gain: float  # amplifier gain on the source side (V/V), 1 for sources
    energy_scale: float  # c of the destination layer (1)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.dst_nodes), len(self.src_nodes))

    @property
    def size(self) -> int:
        return len(self.dst_nodes) * len(self.src_nodes)


@dataclass(frozen=True)
class NudgeIR:
    """Output nudging: pairs of (plus, minus) nodes; minus is ``None`` without doubled outputs."""

    outputs: tuple[tuple[str, str | None], ...]
    beta_S: float  # β (A/V)
    centered: bool
    energy_scale: float  # c_out


@dataclass(frozen=True)
class PulsedDeviceIR:
    """What every device kind has (:mod:`codegen.kinds.devices`): conductance bounds, the step of
    one programming pulse, the pulse, the switching thresholds the V/2 scheme relies on, the read
    voltage, variation, faults and the initial-conductance distribution.  ``kind`` (a class
    attribute, not a field: ir.json stays as it was) names the slice whose golden equations,
    Verilog-A template and netlist spelling apply."""

    kind: ClassVar[str] = ""

    g_min_S: float
    g_max_S: float
    dg_set_S: float  # conductance step of one set pulse (S)
    dg_reset_S: float  # conductance step of one reset pulse (S, positive number)
    pulse_amplitude_V: float
    pulse_width_s: float
    v_set_V: float  # > 0
    v_reset_V: float  # < 0
    read_voltage_V: float
    d2d_sigma: float  # relative σ of the step, per device
    c2c_sigma: float  # relative σ of the step, per pulse
    stuck_at_gmin: float  # fraction of cells
    stuck_at_gmax: float  # fraction of cells
    init_distribution: Literal["uniform", "normal", "constant"]
    init_low_S: float
    init_high_S: float
    init_mean_S: float
    init_std_S: float


@dataclass(frozen=True)
class DeviceIR(PulsedDeviceIR):
    """Device kind ``memristor``: threshold memristor, VTEAM-like, state ``w ∈ [0, 1]``,
    ``G = g_min_S + (g_max_S − g_min_S)·w`` (slice :mod:`codegen.kinds.devices.memristor`).

    Rate (no change between the thresholds)::

        dw/dt = k_set_per_s  ·(V/v_set_V   − 1)^exponent · f_set(w)    for V > v_set_V
        dw/dt = −k_reset_per_s·(V/v_reset_V − 1)^exponent · f_reset(w) for V < v_reset_V

    with ``f = 1`` inside [0, 1] (hard bounds, w clipped) or ``f_set = 1 − w``, ``f_reset = w``
    (soft bounds).  ``k_*`` are chosen so one pulse of ``pulse_amplitude_V`` for ``pulse_width_s``
    moves ``G`` by ``dg_set_S`` (``dg_reset_S``) from ``w = 0`` (``w = 1``) with hard bounds.
    """

    kind: ClassVar[str] = "memristor"

    exponent: float
    k_set_per_s: float
    k_reset_per_s: float
    soft_bounds: bool


@dataclass(frozen=True)
class ControllerIR:
    """Programming-pulse controller parameters; ``crossbars`` lists (name, rows, cols)."""

    clock_hz: float
    pulse_width_cycles: int
    gap_cycles: int
    max_pulses: int
    count_bits: int  # bits of the pulse-count field of an update code
    scheme: str
    order: str
    crossbars: tuple[tuple[str, int, int], ...]
    v_program_V: float  # full programming amplitude (V); half-selected cells see v_program_V/2


@dataclass(frozen=True)
class SimulationIR:
    reltol: float
    vntol_V: float
    abstol_A: float
    gmin_S: float
    max_newton_iterations: int
    residual_tol_A: float


@dataclass(frozen=True)
class TrainingIR:
    rule: Literal["gradient", "sign-pulse"]
    learning_rate: float  # η (S²/V²)
    dead_zone: float
    quantize: bool
    epochs: int
    batch_size: int
    seed: int
    dataset: str  # built-in name, or the data file's name (without its folder)
    test_fraction: float
    input_scale_V: float
    target_high_V: float
    target_low_V: float
    dataset_sha256: str | None = None  # sha256 of the data file (None for a built-in dataset)
    dataset_label: str | None = None  # class-label column of a CSV data file
    standardize: bool = False  # features scaled by the training split's mean and std
    #: absolute path of the data file; left out of :func:`to_json` (no absolute paths in outputs)
    dataset_path: str | None = None


@dataclass(frozen=True)
class WireSegment:
    """One wire resistor: ``name`` (element name without its SPICE letter), nodes ``a`` – ``b``, ``r_ohm`` (Ω)."""

    name: str
    a: str
    b: str
    r_ohm: float


@dataclass(frozen=True)
class InterconnectIR:
    """Wire resistance and capacitance (all 0: ideal wires, no wire nodes).

    Geometry (one array per crossbar, ``R`` rows = ``dst_nodes``, ``C`` columns = ``src_nodes``):

    * row line ``r`` is driven at its column-0 end by ``dst_nodes[r]``; its wire node at cell
      ``(r, c)`` is ``{xb}_r{r}_{c}``; segment ``c`` (``r_row_ohm``) joins the row line's node at cell
      ``c − 1`` (``c = 0``: ``dst_nodes[r]``) and the one at cell ``c``;
    * column line ``c`` is driven at its row-0 end by ``src_nodes[c]`` (a source or an amplifier
      output); its node at cell ``(r, c)`` is ``{xb}_c{r}_{c}``; segment ``r`` (``r_col_ohm``) joins
      cell ``r − 1`` (``r = 0``: ``src_nodes[c]``) and cell ``r``;
    * with ``r_access_ohm > 0`` the cell's access resistor joins the column-line node and
      ``{xb}_a{r}_{c}``, and the memristor ``G[r, c]`` joins that node and the row-line node.

    A zero resistance merges the nodes it would join (no wire node, no element).  ``c_segment_F``
    is the capacitance to ground of every wire node, ``c_node_F`` that of every input, neuron and
    output node (transients only).
    """

    r_row_ohm: float = 0.0
    r_col_ohm: float = 0.0
    r_access_ohm: float = 0.0
    c_segment_F: float = 0.0
    c_node_F: float = 0.0

    @property
    def ideal(self) -> bool:
        """No wire resistance and no capacitance."""
        return not (
            self.r_row_ohm or self.r_col_ohm or self.r_access_ohm or self.c_segment_F or self.c_node_F
        )

    @property
    def resistive(self) -> bool:
        """Some wire resistance (the operating point differs from the ideal crossbar's)."""
        return bool(self.r_row_ohm or self.r_col_ohm or self.r_access_ohm)

    def cell_nodes(self, xb: CrossbarIR) -> tuple[list[list[str]], list[list[str]]]:
        """(column side, row side) node names of every memristor ``G[r, c]`` as [r][c] lists."""
        R, C = xb.shape
        rows = [
            [f"{xb.name}_r{r}_{c}" if self.r_row_ohm else xb.dst_nodes[r] for c in range(C)] for r in range(R)
        ]
        cols = [
            [f"{xb.name}_c{r}_{c}" if self.r_col_ohm else xb.src_nodes[c] for c in range(C)] for r in range(R)
        ]
        if self.r_access_ohm:
            cols = [[f"{xb.name}_a{r}_{c}" for c in range(C)] for r in range(R)]
        return cols, rows

    def segments(self, xb: CrossbarIR) -> list[WireSegment]:
        """Every wire resistor of crossbar ``xb``: row lines (row by row), column lines (column by
        column), then access resistors (row-major)."""
        R, C = xb.shape
        out: list[WireSegment] = []
        n = xb.name
        if self.r_row_ohm:
            for r in range(R):
                prev = xb.dst_nodes[r]
                for c in range(C):
                    node = f"{n}_r{r}_{c}"
                    out.append(WireSegment(f"{n}_r{r}_{c}", prev, node, self.r_row_ohm))
                    prev = node
        if self.r_col_ohm:
            for c in range(C):
                prev = xb.src_nodes[c]
                for r in range(R):
                    node = f"{n}_c{r}_{c}"
                    out.append(WireSegment(f"{n}_c{r}_{c}", prev, node, self.r_col_ohm))
                    prev = node
        if self.r_access_ohm:
            for r in range(R):
                for c in range(C):
                    col = f"{n}_c{r}_{c}" if self.r_col_ohm else xb.src_nodes[c]
                    out.append(WireSegment(f"{n}_a{r}_{c}", col, f"{n}_a{r}_{c}", self.r_access_ohm))
        return out

    def wire_nodes(self, xb: CrossbarIR) -> list[str]:
        """The wire nodes of ``xb`` (the ``b`` end of every segment), in :meth:`segments` order."""
        return [s.b for s in self.segments(xb)]


@dataclass(frozen=True)
class Chip:
    """The elaborated chip."""

    name: str
    description: str
    spec_hash: str
    layers: tuple[LayerIR, ...]
    sources: tuple[SourceIR, ...]
    amplifiers: tuple[AmplifierIR, ...]
    crossbars: tuple[CrossbarIR, ...]
    nudge: NudgeIR
    device: PulsedDeviceIR
    controller: ControllerIR
    simulation: SimulationIR
    training: TrainingIR
    input_doubling: bool
    doubled_outputs: bool
    #: neuron and output nodes, whose voltages the equilibrium solves for (amplifier outputs are
    #: dependent nodes, ``gain·V(in_node)``; source nodes are clamped)
    free_nodes: tuple[str, ...] = field(default=())
    #: wire resistance and capacitance (default: ideal wires)
    interconnect: InterconnectIR = field(default_factory=InterconnectIR)

    # ---------------------------------------------------------------- helpers
    @property
    def n_inputs(self) -> int:
        return self.layers[0].size

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].size

    def crossbar(self, name: str) -> CrossbarIR:
        for xb in self.crossbars:
            if xb.name == name:
                return xb
        raise KeyError(name)

    def input_sources(self) -> tuple[SourceIR, ...]:
        return tuple(s for s in self.sources if s.kind == "input")

    def source_voltages(self, x: np.ndarray) -> np.ndarray:
        """Voltages (V) of the input sources, in :meth:`input_sources` order, for inputs ``x``.

        ``x`` has shape (n_inputs,) or (batch, n_inputs) in feature units; the result has the same
        leading shape with one column per input source.
        """
        x = np.asarray(x, dtype=float)
        srcs = self.input_sources()
        idx = np.array([s.input_index for s in srcs])
        sign = np.array([s.sign for s in srcs], dtype=float)
        return x[..., idx] * sign * self.training.input_scale_V

    def initial_conductances(self, seed: int | None = None) -> dict[str, np.ndarray]:
        """Initial conductances (S) of every crossbar, drawn from the device's init distribution.

        Deterministic for a seed (default: the training seed); crossbars are drawn in IR order.
        """
        d = self.device
        rng = np.random.default_rng(self.training.seed if seed is None else seed)
        out = {}
        for xb in self.crossbars:
            if d.init_distribution == "uniform":
                g = rng.uniform(d.init_low_S, d.init_high_S, size=xb.shape)
            elif d.init_distribution == "normal":
                g = np.clip(rng.normal(d.init_mean_S, d.init_std_S, size=xb.shape), d.g_min_S, d.g_max_S)
            else:
                g = np.full(xb.shape, d.init_mean_S)
            out[xb.name] = g
        return out

    def with_diode_reverse(self, reverse: Literal["spice3", "shockley"]) -> Chip:
        """This chip with every clamp diode's :attr:`DiodeIR.reverse` law set to ``reverse``."""

        def nrn(n: NeuronIR | None) -> NeuronIR | None:
            return (
                None
                if n is None
                else dataclasses.replace(n, diode=dataclasses.replace(n.diode, reverse=reverse))
            )

        return dataclasses.replace(
            self, layers=tuple(dataclasses.replace(la, neuron=nrn(la.neuron)) for la in self.layers)
        )


def to_json(obj: Any) -> str:
    """Deterministic JSON of an IR object (sorted keys, repr-exact floats)."""
    data = dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) and not isinstance(obj, type) else obj
    if isinstance(obj, Chip):
        data["training"].pop("dataset_path")  # machine-specific; dataset_sha256 names the content
        for layer in data["layers"]:  # the golden model's default diode law: ir.json as before
            if layer["neuron"] is not None and layer["neuron"]["diode"]["reverse"] == "spice3":
                layer["neuron"]["diode"].pop("reverse")
        if obj.interconnect.ideal:  # ideal wires: the same IR text as before wires were modelled
            data.pop("interconnect")
    return json.dumps(data, indent=1, sort_keys=True) + "\n"
