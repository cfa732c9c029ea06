"""The Verilog-A models of the circuit's cells as text, and their OSDI builds with openvaf-r: the
memristor from its device kind's slice, the neuron from its neuron kind's slice
(:mod:`codegen.kinds`), the amplifier and the nudge.  The ``veriloga`` backend
(:mod:`codegen.backends.veriloga`) and the runners (:mod:`codegen.run.pulse`) both take them from
here, so the runners need not import the backends."""

from __future__ import annotations

import functools
import re
import subprocess
import tempfile
from pathlib import Path

from .ir import Chip, NeuronIR
from .kinds.devices import kind_of
from .kinds.neurons import neuron_kind
from .templating import render
from .tools import openvaf_command, openvaf_failure

__all__ = ["MODULES", "OPENVAF_FLAGS", "render_sources", "compile_va"]

#: module names, in build order (the file of module ``m`` is ``veriloga/m.va``)
MODULES = ("eqp_memristor", "eqp_amplifier", "eqp_nudge", "eqp_neuron")
#: openvaf-r flags: portable machine code, no host-specific instructions
OPENVAF_FLAGS = ("--target_cpu", "generic")

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _neuron(chip: Chip) -> NeuronIR | None:
    for layer in chip.layers:
        if layer.neuron is not None:
            return layer.neuron
    return None


def _context(chip: Chip) -> dict[str, dict[str, object] | None]:
    gains = sorted({a.gain for a in chip.amplifiers})
    n = _neuron(chip)
    return {
        # the device kind's slice owns its template's variables (codegen.kinds.devices)
        "eqp_memristor": kind_of(chip.device).va_context(chip),
        "eqp_amplifier": {"gain": gains[0] if gains else 1.0},
        "eqp_nudge": {"beta_S": chip.nudge.beta_S},
        # the neuron kind's slice owns its template's variables (codegen.kinds.neurons); no neurons, no file
        "eqp_neuron": neuron_kind(n.kind).va_context(chip, n) if n is not None else None,
    }


def _template(chip: Chip, mod: str) -> str:
    """The template of module ``mod``: the device kind's for the memristor, the neuron kind's for the
    neuron, else ``veriloga/<mod>.va.j2``."""
    if mod == "eqp_memristor":
        return kind_of(chip.device).va_template
    if mod == "eqp_neuron":
        n = _neuron(chip)
        assert n is not None
        return neuron_kind(n.kind).va_template
    return f"veriloga/{mod}.va.j2"


def render_sources(chip: Chip) -> dict[str, str]:
    """``{module: Verilog-A text}`` for every model this chip needs (the neuron only if it has neurons)."""
    ctx = _context(chip)
    out = {}
    for mod in MODULES:
        c = ctx[mod]
        if c is None:
            continue
        out[mod] = render(_template(chip, mod), chip_name=chip.name, description=chip.description, **c)
    return out


@functools.lru_cache(maxsize=64)
def compile_va(source: str, name: str = "model") -> tuple[bytes, str]:
    """Compile Verilog-A ``source`` with openvaf-r in a temporary folder.

    Returns ``(osdi_bytes, diagnostics)`` where ``diagnostics`` is openvaf-r's output without the
    "Finished building" line (empty when there were no warnings).  Raises CodegenError on failure.
    The output is byte-deterministic for a given source and name, so results are cached in-process.
    """
    with tempfile.TemporaryDirectory(prefix="eqp-openvaf-") as tmp:
        va = Path(tmp) / f"{name}.va"
        osdi = Path(tmp) / f"{name}.osdi"
        va.write_text(source)
        proc = subprocess.run(
            [*openvaf_command(), *OPENVAF_FLAGS, va.name, "-o", osdi.name],
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=300,
        )
        text = _ANSI.sub("", proc.stdout + proc.stderr)
        diagnostics = "\n".join(
            line
            for line in text.splitlines()
            if line.strip() and not line.strip().startswith("Finished building")
        )
        if proc.returncode != 0 or not osdi.is_file():
            raise openvaf_failure(f"{name}.va", proc.returncode, diagnostics)
        return osdi.read_bytes(), diagnostics
