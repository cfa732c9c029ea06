"""The netlist dialects: each is a template folder ``templates/<name>/`` (``cells``, ``params``,
``top`` and an ``elements`` macro file with one line per element kind) plus one :class:`Dialect`
entry here.  Dialects that differ little extend another's templates (Xyce extends the SPICE
templates, VACASK's native netlist the Spectre ones) and override only their blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..templating import render
from .build import TOPS
from .ir import Circuit

__all__ = ["Dialect", "DIALECTS", "register_dialect", "get_dialect", "render_dialect", "render_top"]


@dataclass(frozen=True)
class Dialect:
    """One netlist dialect: template folder ``name``, file extension ``ext``; ``memristor``:
    whether it has the memristor variant (``memristor_cells``, ``memristor`` top);
    ``context``: extra template variables (paths, spelling switches)."""

    name: str
    ext: str
    memristor: bool = False
    context: dict[str, Any] = field(default_factory=dict)
    #: files besides cells/params/tops ({name: text}), e.g. ngspice's .spiceinit
    extra: dict[str, str] = field(default_factory=dict)

    def template(self, kind: str) -> str:
        return f"{self.name}/{kind}.{self.ext}.j2"

    def variables(self, circuit: Circuit, **more: Any) -> dict[str, Any]:
        return {"c": circuit, "ext": self.ext, "elements": self.template("elements"), **self.context, **more}


DIALECTS: dict[str, Dialect] = {}


def register_dialect(d: Dialect) -> Dialect:
    if d.name in DIALECTS and DIALECTS[d.name] != d:
        raise ValueError(f"dialect {d.name!r} registered twice")
    DIALECTS[d.name] = d
    return d


def get_dialect(name: str) -> Dialect:
    try:
        return DIALECTS[name]
    except KeyError:
        raise ValueError(f"unknown netlist dialect {name!r}; have {', '.join(DIALECTS)}") from None


def render_top(dialect: Dialect | str, circuit: Circuit, top: str, **more: Any) -> str:
    """Text of top level ``top`` (``free``, ``nudged``, ``simultaneous``; ``memristor`` for a
    memristor circuit) of ``circuit`` in ``dialect``."""
    d = get_dialect(dialect) if isinstance(dialect, str) else dialect
    return render(d.template("top"), **d.variables(circuit, top=circuit.top(top), **more))


def render_dialect(
    dialect: Dialect | str, circuit: Circuit, memristor: Circuit | None = None, **more: Any
) -> dict[str, str]:
    """Every file of ``dialect`` (``{file name: text}``, no folder): ``cells``, ``params``, one per
    top level, the extra files and, given the ``memristor`` circuit and where the dialect has the
    variant, ``memristor_cells`` and ``memristor``.  ``more``: template variables."""
    d = get_dialect(dialect) if isinstance(dialect, str) else dialect
    v = d.variables(circuit, **more)
    files = {
        f"cells.{d.ext}": render(d.template("cells"), **v),
        f"params.{d.ext}": render(d.template("params"), **v),
    }
    for top in TOPS:
        files[f"{top}.{d.ext}"] = render_top(d, circuit, top, **more)
    files.update(d.extra)
    if memristor is not None and d.memristor:
        m = d.variables(memristor, **more)
        files[f"memristor_cells.{d.ext}"] = render(d.template("cells"), **m)
        files[f"memristor.{d.ext}"] = render_top(d, memristor, "memristor", **more)
    return files


#: the veriloga backend's OSDI build of eqp_memristor, relative to the spice/ folder
OSDI_PATH = "../veriloga/eqp_memristor.osdi"
#: the veriloga backend's source of eqp_memristor, relative to the spectre/ folder (ahdl_include)
VA_PATH = "../veriloga/eqp_memristor.va"

# ngspice reads .spiceinit from the folder it runs in (docs/veriloga.md: 8 threads on 2 cores
# made OSDI transients 15-20x slower)
SPICE = register_dialect(
    Dialect(
        "spice",
        "sp",
        memristor=True,
        context={"osdi_path": OSDI_PATH},
        extra={".spiceinit": "* ngspice start-up for these netlists\nset num_threads=1\n"},
    )
)
XYCE = register_dialect(Dialect("xyce", "cir"))
SPECTRE = register_dialect(
    Dialect("spectre", "scs", memristor=True, context={"va_path": VA_PATH, "vacask": False})
)
#: VACASK's native netlist: the Spectre templates with VACASK's device loads, ``ground 0`` and a
#: ``control`` block (templates/vacask/ extends templates/spectre/)
VACASK = register_dialect(
    Dialect("vacask", "sim", memristor=True, context={"osdi_path": OSDI_PATH, "vacask": True})
)
