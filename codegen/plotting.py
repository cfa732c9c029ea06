"""One look for every PNG codegen writes (``train``, ``sweep``, ``cosim``): matplotlib's Agg
backend, one style, a title, an explanation line under each figure, labelled colorbars, and no
timestamps or software versions in the files (same data → same bytes).

Use :func:`figure` as a context manager; it saves and closes the figure on exit and the caller
may return the :class:`~matplotlib.figure.Figure` (still inspectable after closing) for tests::

    with figure(path, 1, 2, title="xor: training", note="what the panels show") as (fig, ax):
        ax[0, 0].plot(...)
        colorbar(fig, im, ax[0, 1], "G (µS)")

Units in labels follow the project's: conductances in µS (:data:`G_LABEL`), voltages in V, β in S,
losses in V²; :func:`param_label` names a chip.yaml key with its unit from the schema.
"""

from __future__ import annotations

import contextlib
import functools
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "STYLE",
    "G_LABEL",
    "LOSS_LABEL",
    "DPI",
    "pyplot",
    "figure",
    "colorbar",
    "param_label",
    "value_label",
    "unit_of",
]

#: dots per inch of every PNG
DPI = 110
#: axis label of conductances (values are plotted in µS)
G_LABEL = "G (µS)"
#: axis label of the EP loss
LOSS_LABEL = "loss ½Σ(t−y)² (V²)"

#: rcParams every figure is drawn with (applied only while drawing, never globally)
STYLE: dict[str, Any] = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "legend.fontsize": 8,
    "legend.framealpha": 0.8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "figure.titlesize": 11,
    "image.cmap": "viridis",
    "savefig.facecolor": "white",
}

#: short, readable names of chip.yaml keys in labels
_SYMBOLS = {
    "nudge.beta": "β",
    "training.learning_rate": "η",
    "device.asymmetry": "asymmetry",
    "device.step_per_pulse": "step per pulse",
}


@functools.cache
def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@contextlib.contextmanager
def figure(
    path: str | Path,
    nrows: int = 1,
    ncols: int = 1,
    *,
    title: str = "",
    note: str = "",
    panel_in: tuple[float, float] = (4.2, 3.3),
    size_in: tuple[float, float] | None = None,
    metadata: dict[str, str] | None = None,
    **subplots: Any,
) -> Iterator[tuple[Figure, Any]]:
    """A figure of ``nrows × ncols`` panels (axes as a 2-D array), saved to ``path`` on exit.

    ``panel_in``: width, height of one panel (inches); ``size_in`` overrides the whole figure.
    ``title`` goes on top, ``note`` (one or two short sentences: what the figure shows and how to
    read it) under the panels.  ``metadata``: extra PNG text chunks (e.g. ``{"Title": ...}``).
    """
    plt = pyplot()
    with plt.rc_context(STYLE):
        w, h = size_in or (panel_in[0] * ncols, panel_in[1] * nrows)
        # wrap the note to the figure's width (8 pt text: about 17 characters per inch)
        note = "\n".join(textwrap.fill(par, max(int(w * 17), 40)) for par in note.split("\n")) if note else ""
        n_note = note.count("\n") + 1 if note else 0
        # and the title (11 pt: about 12 characters per inch)
        title = (
            "\n".join(textwrap.fill(par, max(int(w * 12), 30)) for par in title.split("\n")) if title else ""
        )
        n_title = title.count("\n") + 1 if title else 0
        h_total = h + 0.22 * n_note + 0.3 * n_title
        fig, ax = plt.subplots(
            nrows, ncols, figsize=(w, h_total), squeeze=False, layout="constrained", **subplots
        )
        try:
            yield fig, ax
            if title:
                fig.suptitle(title)
            if note:
                fig.text(0.5, 0.01, note, ha="center", va="bottom", fontsize=8, color="0.25", gid="note")
                bottom = (0.22 * n_note + 0.06) / h_total
                fig.get_layout_engine().set(rect=(0, bottom, 1, 1 - bottom))
            fig.savefig(path, dpi=DPI, metadata={"Software": None, **(metadata or {})})
        finally:
            plt.close(fig)


def colorbar(fig: Figure, mappable: Any, ax: Any, label: str, **kw: Any) -> Any:
    """A colorbar beside ``ax`` with ``label`` (say what the colour means, with its unit)."""
    cb = fig.colorbar(mappable, ax=ax, **kw)
    cb.set_label(label)
    return cb


def unit_of(key: str) -> str:
    """The unit of chip.yaml key ``key`` (``nudge.beta`` → ``S``) from its schema description;
    ``""`` for dimensionless or unknown keys."""
    from pydantic import BaseModel

    from .spec import Spec

    def models(t: Any) -> list[type[BaseModel]]:
        """The pydantic models a field's type may hold (a kind union gives each kind's model)."""
        if isinstance(t, type) and issubclass(t, BaseModel):
            return [t]
        return [m for a in get_args(t) for m in models(a)]

    choices: list[type[BaseModel]] = [Spec]
    field = None
    for part in key.split("."):
        field = next((f for m in choices for n, f in m.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            return ""
        choices = models(field.annotation)
    desc = (field.description if field is not None else "") or ""
    m = re.search(r"\(([^()]*)\)", desc)
    if not m:
        return ""
    unit = m.group(1).split(",")[0].split(";")[0].strip()
    if "=" in unit:
        unit = unit.rsplit("=", 1)[1].strip()
    if not unit or unit.startswith(("dimensionless", "relative")) or " " in unit:
        return ""
    return unit


def param_label(key: str) -> str:
    """Axis label of a chip.yaml key with its unit, e.g. ``β = nudge.beta (S)``."""
    sym = _SYMBOLS.get(key)
    unit = unit_of(key)
    name = f"{sym} = {key}" if sym and sym != key.split(".")[-1] else key
    return f"{name} ({unit})" if unit else name


def value_label(key: str, value: Any) -> str:
    """A value of ``key`` for a tick label, SI-formatted with its unit (``1e-06`` → ``1 µS``)."""
    from .units import format_si

    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    unit = unit_of(key)
    if not unit:
        return f"{v:g}"
    if any(c in unit for c in "²³/·"):  # a prefix would read as applying to S² or to one factor
        return f"{v:g} {unit}"
    return format_si(v, unit)
