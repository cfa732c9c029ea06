"""The element-level circuit IR between the Chip IR and the netlist dialects.

* :mod:`codegen.circuit.ir`: :class:`Circuit`, :class:`Subckt`, :class:`Top`, :class:`Copy`,
  :class:`Element` (every element named once, with nodes and parameter values; :data:`KINDS`).
* :mod:`codegen.circuit.build`: the pass :func:`build_circuit` (Chip IR → Circuit).
* :mod:`codegen.circuit.names`: every element and node name, and each simulator's spelling of a
  path to an element (``ngspice_path``, ``vacask_path``, ``ngspice_alter``).
* :mod:`codegen.circuit.render`: the dialects (``spice``, ``xyce``, ``spectre``, ``vacask``), each a
  template folder plus a short :class:`Dialect` entry.
"""

from .build import TOPS, build_circuit
from .ir import KINDS, Circuit, Copy, Element, Subckt, Top

__all__ = ["TOPS", "KINDS", "Circuit", "Copy", "Element", "Subckt", "Top", "build_circuit"]
