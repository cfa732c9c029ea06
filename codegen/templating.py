"""The one Jinja2 environment every backend renders with.

Templates live in ``templates/<backend>/<file>.<ext>.j2`` (in a checkout) or in
``codegen/_data/templates`` (in an installed wheel).  Number and unit formatting is done by the
registered filters, never inside templates.  Every string that comes from outside the code (the
spec's ``name`` and ``description``) reaches a template only through the escaping filters of
:mod:`codegen.escape` (``spice_comment``, ``spectre_comment``, ``verilog_comment``,
``python_comment``, ``python_str`` for free text; ``spice_ident``, ``verilog_ident``,
``python_ident`` for names).
"""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2

from .escape import FILTERS
from .units import format_si, spice_float

__all__ = ["data_dir", "env", "render"]


def data_dir(name: str) -> Path:
    """Folder ``name`` (templates, rtl, analog, sim) of the checkout, or of the installed package."""
    here = Path(__file__).resolve().parent
    for cand in (here.parent / name, here / "_data" / name):
        if cand.is_dir():
            return cand
    raise FileNotFoundError(f"data folder {name!r} not found next to the codegen package")


@functools.cache
def env() -> jinja2.Environment:
    e = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    e.filters["si"] = format_si
    e.filters["spice_float"] = spice_float
    e.filters.update(FILTERS)
    return e


def render(template: str, **context: object) -> str:
    """Render ``templates/<template>`` with ``context``."""
    return env().get_template(template).render(**context)
