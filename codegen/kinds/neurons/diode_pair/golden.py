"""Golden equations of neuron kind ``diode_pair``: ngspice's diode (dioload.c) as the clamp."""

from __future__ import annotations

import numpy as np

__all__ = ["shockley_clamp"]


def shockley_clamp(
    x: np.ndarray, i_s: float, nvt: float, gmin: float, reverse: str = "spice3"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Current (A), conductance (S) and co-content (W) of one clamp diode at voltage ``x`` (V);
    ``i_s`` saturation current (A), ``nvt`` = N·Vt (V), ``gmin`` (S) in parallel.

    ``reverse="spice3"``: ngspice's diode equations (dioload.c, no breakdown voltage): Shockley
    for ``x ≥ −3·N·Vt``; below it the SPICE3 reverse branch ``I = −IS·(1 + (3·N·Vt/(e·x))³)``,
    which joins the Shockley branch continuously.  ``reverse="shockley"``: Shockley everywhere
    (VACASK's ``diode.osdi``, the spectre and native dialects; :attr:`codegen.ir.DiodeIR.reverse`).  GMIN is in parallel throughout.  The co-content is the
    integral of the current from 0, so the energy and the Newton line search stay consistent.

    Products instead of ``**`` (numpy's float power of negative bases is ~150× slower than a
    product), and per element exactly the operations of its own branch, so the results are bit for
    bit those of evaluating each branch on its own voltages.  Two layouts, by size: up to
    :data:`SMALL` elements (a small network's few nodes, where index arrays cost more than the
    arithmetic) both branches run on the whole array and ``np.where`` picks (the reverse one only
    when some voltage needs it); above it (deep, wide networks, where numpy's float64 exponential
    is the cost) the reverse branch runs over the whole array at ``min(x, −3·N·Vt)`` and the
    exponential only on the gathered forward voltages, scattered back.
    """
    if reverse not in ("spice3", "shockley"):
        raise ValueError(f"reverse must be 'spice3' or 'shockley', got {reverse!r}")
    x0 = -3.0 * nvt
    c3 = (3.0 * nvt / np.e) ** 3
    flat = x.reshape(-1)
    if flat.size <= SMALL:
        i, gd, w = _whole_array(flat, i_s, nvt, x0, c3, reverse)
    else:
        i, gd, w = _forward_gathered(flat, i_s, nvt, x0, c3, reverse)
    i += gmin * flat
    gd += gmin
    w += 0.5 * gmin * flat * flat
    return i.reshape(x.shape), gd.reshape(x.shape), w.reshape(x.shape)


#: arrays up to this many elements take :func:`_whole_array`, larger ones :func:`_forward_gathered`
SMALL = 4096


def _whole_array(flat, i_s, nvt, x0, c3, reverse):
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        e = np.exp(flat / nvt)  # forward (Shockley) branch
        em1 = e - 1.0
        i = i_s * em1
        gd = i_s / nvt * e
        w = i_s * nvt * em1 - i_s * flat
        fwd = flat >= x0 if reverse == "spice3" else None
        if fwd is not None and not fwd.all():
            # the SPICE3 reverse branch (xr < x0 < 0 where it is taken; elsewhere discarded)
            inv2 = 1.0 / (flat * flat)
            arg = c3 / (flat * flat * flat)
            i = np.where(fwd, i, -i_s * (1.0 + arg))
            gd = np.where(fwd, gd, 3.0 * i_s * arg / flat)
            w0 = i_s * nvt * (np.exp(-3.0) - 1.0) - i_s * x0
            w = np.where(fwd, w, w0 - i_s * (flat - x0) + 0.5 * i_s * c3 * (inv2 - x0**-2))
    return i, gd, w


def _forward_gathered(flat, i_s, nvt, x0, c3, reverse):
    if reverse == "spice3":
        xr = np.minimum(flat, x0)  # reverse branch wherever x < x0 (elsewhere overwritten below)
        inv2 = 1.0 / (xr * xr)
        arg = c3 / (xr * xr * xr)
        i = -i_s * (1.0 + arg)
        gd = 3.0 * i_s * arg / xr
        w0 = i_s * nvt * (np.exp(-3.0) - 1.0) - i_s * x0
        w = w0 - i_s * (xr - x0) + 0.5 * i_s * c3 * (inv2 - x0**-2)
        fi = np.flatnonzero(flat >= x0)
    else:
        fi = None
    with np.errstate(over="ignore", invalid="ignore"):
        xf = flat if fi is None else flat[fi]
        e = np.exp(xf / nvt)
        em1 = e - 1.0
        fwd = i_s * em1, i_s / nvt * e, i_s * nvt * em1 - i_s * xf
    if fi is None:
        return fwd
    i[fi], gd[fi], w[fi] = fwd
    return i, gd, w
