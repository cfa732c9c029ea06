"""Backend ``veriloga``: Verilog-A models of the analog cells, and their OSDI builds.

Renders from the IR (templates in ``templates/veriloga/``):

* ``veriloga/eqp_memristor.va`` — module ``eqp_memristor(p, n)``, the chip's device from its kind's
  template (``kind_of(chip.device).va_template``, :mod:`codegen.kinds.devices`), state on an internal node;
* ``veriloga/eqp_amplifier.va`` — module ``eqp_amplifier(inp, out)``, :class:`~codegen.ir.AmplifierIR`;
* ``veriloga/eqp_nudge.va`` — module ``eqp_nudge(outp, outn)``, the nudging current of :class:`~codegen.ir.NudgeIR`;
* ``veriloga/eqp_neuron.va`` — module ``eqp_neuron(x)``, the chip's neuron from its kind's template
  (``neuron_kind(n.kind).va_template``, :mod:`codegen.kinds.neurons`), :class:`~codegen.ir.NeuronIR`.

Unless ``options.compile`` is False each file is compiled with openvaf-r (``--target_cpu generic``)
in a temporary folder and the ``.osdi`` bytes join the plan as ``veriloga/<module>.osdi``.  The
module, terminal and parameter names are a stable interface (docs/veriloga.md).
"""

from __future__ import annotations

from ..errors import CodegenError
from ..ir import Chip
from ..tools import openvaf_command, tool_version
from ..veriloga import MODULES, OPENVAF_FLAGS, compile_va, render_sources
from . import Backend, BuildOptions, register

__all__ = ["VerilogA", "MODULES", "render_sources", "compile_va", "OPENVAF_FLAGS"]


@register
class VerilogA(Backend):
    name = "veriloga"
    summary = "veriloga/*.va: memristor, amplifier, nudge and neuron models (+ .osdi via openvaf-r)"

    def render(self, chip: Chip, options: BuildOptions) -> dict[str, str | bytes]:
        files: dict[str, str | bytes] = {}
        for mod, text in render_sources(chip).items():
            files[f"veriloga/{mod}.va"] = text
            if options.compile:
                osdi, _ = compile_va(text, mod)
                files[f"veriloga/{mod}.osdi"] = osdi
        return files

    def tool_versions(self) -> dict[str, str]:
        try:
            return {"openvaf-r": tool_version((*openvaf_command(), "--version"))}
        except CodegenError:
            return {"openvaf-r": "missing"}
