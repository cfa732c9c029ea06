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

    Each branch is evaluated only on the voltages where it applies, with products instead of
    ``**`` (numpy's float power of negative bases is ~150× slower than a product).  The reverse
    branch (products and one division) is written over the whole array at ``min(x, −3·N·Vt)``, and
    the forward one (an exponential) only gathered and scattered where it applies: most clamp
    diodes sit reverse-biased, and the index scatters of the larger branch cost more than its
    arithmetic.  Every element gets the same operations on the same values as branch by branch,
    so the results are bit for bit those of evaluating each branch on its own elements.
    """
    if reverse not in ("spice3", "shockley"):
        raise ValueError(f"reverse must be 'spice3' or 'shockley', got {reverse!r}")
    x0 = -3.0 * nvt
    c3 = (3.0 * nvt / np.e) ** 3
    flat = x.reshape(-1)
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
        i, gd, w = np.empty_like(flat), np.empty_like(flat), np.empty_like(flat)
        fi = None
    with np.errstate(over="ignore", invalid="ignore"):
        xf = flat if fi is None else flat[fi]
        e = np.exp(xf / nvt)
        em1 = e - 1.0
        fwd = i_s * em1, i_s / nvt * e, i_s * nvt * em1 - i_s * xf
    if fi is None:
        i, gd, w = fwd
    else:
        i[fi], gd[fi], w[fi] = fwd
    i += gmin * flat
    gd += gmin
    w += 0.5 * gmin * flat * flat
    return i.reshape(x.shape), gd.reshape(x.shape), w.reshape(x.shape)
