"""Backends ``spice`` (ngspice), ``spectre``, ``xyce`` and ``vacask``: the chip as a netlist.

The circuit follows :mod:`codegen.ir` exactly; the pass :func:`codegen.circuit.build_circuit`
turns it into elements, each named once (:mod:`codegen.circuit.names`), and each dialect's
templates (``templates/<dialect>/*.j2``, :mod:`codegen.circuit.render`) only spell them.  Files
per dialect:

* ``cells``: the diode ``.model``, one subcircuit per crossbar (``W01``, ``B1`` …, one resistor
  ``R<row>_<col>`` per cell whose value is written as a number, ``1/g_<xbar>_<row>_<col>`` in Ω),
  one per neuron layer (``NRN1`` …,
  diodes ``DHI_<node>`` / ``DLO_<node>``) and the whole network ``<chip>_net`` (crossbars, neurons
  and bidirectional amplifiers ``E_<amp>`` + 0 V sense ``V_<amp>`` + ``F_<amp>``).
* ``params``: a listing for designers, one parameter ``g_<xbar>_<row>_<col>`` (S) per conductance
  (the chip's initial conductances, or ``options.conductances``: ``codegen build --conductances
  FILE``, whose file name and sha256 then head the file).  No deck includes it: ngspice's parse of
  thousands of ``.param`` lines is superlinear (a 256×100×10 deck: 238 s instead of 0.39 s,
  docs/netlists.md), so ``cells`` carries the same values as numbers; every copy of the network
  instantiates the same crossbar subcircuits and so shares them.
* ``free``: sources + one network copy, no nudging (output switches open).
* ``nudged``: the same plus, per output, a target source ``VTGT<j>`` (V(tref) = V(out−) + t) and a
  VCCS ``GNUDGE<j>`` of gain β driving ``β·(t − y)`` into ``out<j>p`` (and out of ``out<j>n``).
* ``memristor`` (ngspice; Spectre with ``ahdl_include`` of the ``.va``): the free circuit with every resistor replaced by a Verilog-A
  ``eqp_memristor`` instance ``N<row>_<col>`` (p = column, n = row, ``g0`` = the cell's
  conductance in S, as a number), loaded with ``pre_osdi ../veriloga/eqp_memristor.osdi``; for transient programming.
* ``simultaneous`` (docs/background.md §2): copies of the network that share the input/bias/neuron sources and
  the conductance parameters and are solved in one operating point: the free copy (IR node names),
  the +β copy (nodes ``<node>__pos``) and with centered nudging the −β copy (``<node>__neg``).

A runner changes inputs (``alter VIN0P dc=…``), targets (``VTGT0 dc``), β (``GNUDGE0 gain``) and
conductances (the resistors' ``resistance``) in place; see :mod:`codegen.run.ngspice`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..circuit import Circuit, build_circuit
from ..circuit.names import COPY_SUFFIX, copy_node, resistor_param
from ..circuit.render import OSDI_PATH, VA_PATH, get_dialect, render_dialect
from ..ir import Chip
from . import Backend, BuildOptions, register

__all__ = [
    "NetlistContext",
    "netlist_context",
    "build_context",
    "COPY_SUFFIX",
    "copy_node",
    "resistor_param",
    "SpiceBackend",
    "format_spice_files",
    "format_dialect_files",
    "SpectreBackend",
    "XyceBackend",
    "VacaskBackend",
    "OSDI_PATH",
    "VA_PATH",
]

#: the circuit the templates render (kept under its former name)
NetlistContext = Circuit


def netlist_context(
    chip: Chip, conductances: Mapping[str, np.ndarray] | None = None, params_source: str = ""
) -> Circuit:
    """The element-level circuit of ``chip`` (:func:`codegen.circuit.build_circuit`).

    ``conductances``: dict crossbar → (rows, cols) array (S); default the chip's initial conductances.
    ``params_source``: one line saying where they come from (written into the params files).
    """
    return build_circuit(chip, conductances, params_source)


def _conductances(chip: Chip, options: BuildOptions) -> tuple[dict[str, np.ndarray], str]:
    from ..model.conductances import chip_conductances

    cs = options.conductances
    source = "" if cs is None else f"from conductance file {cs.name} (sha256 {cs.sha256})"
    return chip_conductances(chip, options), source


def build_context(chip: Chip, options: BuildOptions) -> Circuit:
    """The circuit at the conductances of the build (:func:`chip_conductances`)."""
    g, source = _conductances(chip, options)
    return build_circuit(chip, g, source)


def format_dialect_files(
    dialect: str,
    chip: Chip,
    conductances: Mapping[str, np.ndarray] | None = None,
    *,
    params_source: str = "",
    memristor: bool = True,
    **more: object,
) -> dict[str, str]:
    """Every file of ``dialect`` (``<dialect>/<name>``), the memristor variant included where the
    dialect has one (unless ``memristor`` is False); ``more``: template variables (e.g. ``vacask=True`` for the Spectre spelling
    VACASK reads)."""
    d = get_dialect(dialect)
    circuit = build_circuit(chip, conductances, params_source)
    mem = (
        build_circuit(chip, conductances, params_source, memristor=True)
        if d.memristor and memristor
        else None
    )
    return {f"{dialect}/{k}": v for k, v in render_dialect(d, circuit, mem, **more).items()}


def format_spice_files(ctx: Circuit, memristor: Circuit | None = None) -> dict[str, str]:
    """The ``spice`` backend's files (``spice/<name>``) for one circuit (``memristor``: its
    memristor variant, for ``memristor_cells.sp`` and ``memristor.sp``)."""
    return {f"spice/{k}": v for k, v in render_dialect("spice", ctx, memristor).items()}


class _DialectBackend(Backend):
    dialect = ""

    def render(self, chip: Chip, options: BuildOptions) -> dict[str, str | bytes]:
        g, source = _conductances(chip, options)
        return dict(format_dialect_files(self.dialect, chip, g, params_source=source))


@register
class SpiceBackend(_DialectBackend):
    name = dialect = "spice"
    summary = (
        "spice/: ngspice netlists (crossbar/neuron subckts, free, nudged, simultaneous tops, .spiceinit)"
    )


@register
class SpectreBackend(_DialectBackend):
    name = dialect = "spectre"
    summary = "spectre/: the same netlists in Spectre syntax, memristor variant via ahdl_include (no simulator here)"


@register
class XyceBackend(_DialectBackend):
    name = dialect = "xyce"
    summary = "xyce/: the same netlists in Xyce syntax (templated; runs in VACASK with lang=xyce)"


@register
class VacaskBackend(_DialectBackend):
    name = dialect = "vacask"
    summary = "vacask/: the same netlists in VACASK's native syntax (runs in VACASK)"
