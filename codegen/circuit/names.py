"""Every element and node name of the netlists, and how each simulator spells a path to it.

Naming lives here only: the circuit pass (:mod:`codegen.circuit.build`) names each element once
with these functions, the dialect templates print the names they are given, and the runners
(ngspice, VACASK, the co-simulation) address elements through :func:`ngspice_path` /
:func:`vacask_path` of names taken from the :class:`~codegen.circuit.ir.Circuit`, never by reading
rendered text back.
"""

from __future__ import annotations

from ..escape import spice_ident

__all__ = [
    "COPY_SUFFIX",
    "DIODE_MODEL",
    "MEMRISTOR_MODEL",
    "MEMRISTOR_MODULE",
    "copy_node",
    "resistor_param",
    "cell_resistor",
    "cell_memristor",
    "crossbar_inst",
    "crossbar_tile",
    "tile_inst",
    "neuron_subckt",
    "neuron_inst",
    "clamp_diodes",
    "amplifier_elements",
    "amplifier_sense_node",
    "network_subckt",
    "copy_inst",
    "nudge_elements",
    "nudge_ref_node",
    "ngspice_path",
    "ngspice_alter",
    "ngspice_vector",
    "ngspice_branch",
    "vacask_name",
    "vacask_path",
]

#: node suffix of each network copy in the simultaneous netlist (the free copy keeps the IR names)
COPY_SUFFIX = {"free": "", "pos": "__pos", "neg": "__neg"}
#: model of the neuron clamp diodes
DIODE_MODEL = "dnrn"
#: SPICE model card of the Verilog-A memristor (``.model mem eqp_memristor``)
MEMRISTOR_MODEL = "mem"
#: the Verilog-A module of the memristor (backend veriloga)
MEMRISTOR_MODULE = "eqp_memristor"


def copy_node(node: str, copy: str) -> str:
    """Name of IR node ``node`` in network copy ``copy`` (``free``/``pos``/``neg``)."""
    return node + COPY_SUFFIX[copy]


def resistor_param(xbar: str, row: int, col: int) -> str:
    """Name of the conductance parameter (S) of cell (row, col) of crossbar ``xbar`` (params file)."""
    return f"g_{xbar}_{row}_{col}"


def cell_resistor(row: int, col: int) -> str:
    """Resistor of crossbar cell (row, col) inside its crossbar subcircuit."""
    return f"R{row}_{col}"


def cell_memristor(row: int, col: int) -> str:
    """Verilog-A memristor instance of crossbar cell (row, col) (memristor variant)."""
    return f"N{row}_{col}"


def wire_resistor(segment: str) -> str:
    """A wire segment's resistor: ``R`` + the segment name of :meth:`codegen.ir.InterconnectIR.segments`
    (``RW01_r0_3``: row line 0 of ``W01`` at cell 3)."""
    return f"R{segment}"


def wire_capacitor(node: str) -> str:
    """The capacitor from wire node ``node`` to ground (``CW01_r0_3``)."""
    return f"C{node}"


def node_capacitor(node: str) -> str:
    """The capacitor from an input, neuron or output node to ground (``C_h1_0``)."""
    return f"C_{node}"


def crossbar_inst(xbar: str) -> str:
    """Instance of crossbar ``xbar``'s subcircuit (named ``xbar``) inside the network."""
    return f"X{xbar}"


def crossbar_tile(xbar: str, i: int, j: int) -> str:
    """Subcircuit of tile (i, j) (blocks of rows, of columns) of a large crossbar ``xbar``."""
    return f"{xbar}_T{i}_{j}"


def tile_inst(tile: str) -> str:
    return f"X{tile}"


def neuron_subckt(layer: int) -> str:
    return f"NRN{layer}"


def neuron_inst(layer: int) -> str:
    return f"XNRN{layer}"


def clamp_diodes(node: str) -> tuple[str, str]:
    """The two clamp diodes of neuron node ``node``: to the upper and from the lower clamp level."""
    return f"DHI_{node}", f"DLO_{node}"


def amplifier_elements(amp: str) -> tuple[str, str, str]:
    """VCVS, 0 V sense source and CCCS of bidirectional amplifier ``amp``."""
    return f"E_{amp}", f"V_{amp}", f"F_{amp}"


def amplifier_sense_node(out_node: str) -> str:
    return f"{out_node}_s"


def network_subckt(chip: str) -> str:
    """The subcircuit of the whole network (a legal SPICE name, else :class:`EscapeError`)."""
    return spice_ident(f"{chip}_net")


def copy_inst(suffix: str) -> str:
    """Instance of the network in a top level: ``XNET`` plus the copy's suffix (upper case)."""
    return f"XNET{suffix.upper()}"


def nudge_elements(j: int, suffix: str) -> tuple[str, str]:
    """Target source and nudging VCCS of output ``j`` in the copy with node suffix ``suffix``."""
    return f"VTGT{j}{suffix.upper()}", f"GNUDGE{j}{suffix.upper()}"


def nudge_ref_node(j: int, suffix: str) -> str:
    return f"tref{j}{suffix}"


# --------------------------------------------------------------------------- simulator spelling
def ngspice_path(*names: str) -> str:
    """ngspice's name of an element reached through subcircuit instances ``names[:-1]``: the
    element's letter, then the instance path, dotted, lower case (``r.xnet.xw01.r0_1``); a
    top-level element is its own name (``vin0p``)."""
    leaf = names[-1].lower()
    if len(names) == 1:
        return leaf
    return ".".join([leaf[0], *(n.lower() for n in names[:-1]), leaf])


def ngspice_alter(path: str, value: str, param: str | None = None) -> str:
    """ngspice's ``alter`` command: ``alter <path> <param>=<value>`` (``alter <path>=<value>``
    for the element's main value when ``param`` is None)."""
    return f"alter {path}={value}" if param is None else f"alter {path} {param}={value}"


def ngspice_vector(node: str, *insts: str) -> str:
    """ngspice's vector of node ``node`` (inside instances ``insts``): dotted, lower case."""
    return ".".join([*(i.lower() for i in insts), node.lower()])


def ngspice_branch(*names: str) -> str:
    """ngspice's branch-current vector of a voltage source (``v.xnet.v_a1#branch``)."""
    return ngspice_path(*names) + "#branch"


def vacask_name(name: str, dialect: str) -> str:
    """VACASK's spelling of a netlist name: the Xyce front end folds to lower case, the others keep it."""
    return name.lower() if dialect == "xyce" else name


def vacask_path(dialect: str, *names: str) -> str:
    """VACASK's hierarchical name: instance path and element joined by ``:``."""
    return ":".join(vacask_name(n, dialect) for n in names)
