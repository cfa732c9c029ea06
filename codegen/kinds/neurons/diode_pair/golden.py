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
    product).  Both branches are evaluated on the whole array and picked per element by
    ``np.where`` (the reverse one only when some voltage needs it): per element the same
    operations as on the branch's own voltages, bit for bit, without the index arrays that cost
    more than the arithmetic on a small network's few nodes.
    """
    if reverse not in ("spice3", "shockley"):
        raise ValueError(f"reverse must be 'spice3' or 'shockley', got {reverse!r}")
    x0 = -3.0 * nvt
    c3 = (3.0 * nvt / np.e) ** 3
    flat = x.reshape(-1)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        # forward (Shockley) branch
        e = np.exp(flat / nvt)
        em1 = e - 1.0
        i = i_s * em1
        gd = i_s / nvt * e
        w = i_s * nvt * em1 - i_s * flat
        fwd = flat >= x0 if reverse == "spice3" else None
        if fwd is not None and not fwd.all():
            # the SPICE3 reverse branch, element by element the same operations as on its own
            # voltages (xr < x0 < 0 where it is taken; elsewhere its values are discarded)
            inv2 = 1.0 / (flat * flat)
            arg = c3 / (flat * flat * flat)
            i = np.where(fwd, i, -i_s * (1.0 + arg))
            gd = np.where(fwd, gd, 3.0 * i_s * arg / flat)
            w0 = i_s * nvt * (np.exp(-3.0) - 1.0) - i_s * x0
            w = np.where(fwd, w, w0 - i_s * (flat - x0) + 0.5 * i_s * c3 * (inv2 - x0**-2))
    i += gmin * flat
    gd += gmin
    w += 0.5 * gmin * flat * flat
    return i.reshape(x.shape), gd.reshape(x.shape), w.reshape(x.shape)
