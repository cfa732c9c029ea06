"""Newton-step solver for deep layered networks: the Hessian in independent-set block form, solved by
batched preconditioned conjugate gradients on the reduced system (internal to :mod:`.network`).

The free nodes are split into an independent set ``D`` (no two of its nodes share a conductance, so
the ``D×D`` block of ``H_b = base + diag(hdiag_b)`` is diagonal for every sample: in a layered
network ``D`` is every other layer) and the rest ``R``.  Eliminating ``D`` exactly leaves the Schur
complement ``S_b = H_RR − H_RD·diag(1/d_b)·H_DR`` on ``R``.  Forming ``S_b`` densely costs
``n_D·n_R²`` per sample and Newton step (the dense solver's cost, which grows with width³ at
depth); here ``S_b`` is only applied, ``S_b·p = H_RR·p − H_RD·((H_DR·p)/d_b)``, in batched matrix
products with the constant blocks, inside conjugate gradients with the exact diagonal of ``S_b`` as
preconditioner.  ``H`` is the c-scaled Hessian of the energy: symmetric, and positive definite for
``β ≥ 0``, so CG applies; a sample whose curvature turns non-positive (strong negative nudge) or
that does not converge within the iteration cap is reported back and solved densely by the caller.

The residual the caller asks for is in amperes (the KCL residual ``|r_j/c_j|``), so a Newton step
solved to ``η·|∇F/c|`` leaves the outer Newton iteration and its tolerance unchanged: the solver's
accuracy shows up in the number of Newton iterations, never in the reported equilibrium.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["Blocks", "Group", "split_blocks", "block_matvec", "layer_groups", "reduced_cg"]


@dataclass(frozen=True)
class Blocks:
    """A symmetric (n, n) matrix ``base`` (S, c-scaled) in independent-set block form.

    ``D``, ``R``: free-node indices; ``d0``: (n_D,) diagonal of the ``D×D`` block (the block is
    diagonal); ``C``: (n_D, n_R) ``base[D, R]``; ``CT``: its transpose (contiguous); ``C2``:
    ``C·C`` elementwise (``C2_32``: in float32); ``e0``: (n_R,) diagonal of ``base[R, R]``; ``E_off``: its off-diagonal
    part (skip connections within R, the nudge's ``PᵀP`` on output pairs) as a sparse matrix, or
    None when there is none.
    """

    D: np.ndarray
    R: np.ndarray
    d0: np.ndarray
    C: np.ndarray
    CT: np.ndarray
    C2: np.ndarray
    e0: np.ndarray
    E_off: sp.csr_array | None
    C2_32: np.ndarray  # C2 in float32 (the preconditioner's product)

    def off_rows(self, p: np.ndarray) -> np.ndarray:
        """(B, n_R) rows ``E_off·p_b`` (``E_off`` symmetric)."""
        assert self.E_off is not None
        return np.asarray(self.E_off @ p.T).T


@dataclass(frozen=True)
class Group:
    """One layer of free nodes for block Gauss–Seidel: ``idx`` their free-node indices; ``a``
    (len(idx),) ``K``'s diagonal there (S); ``nbrs``: (indices of another layer, ``K[nbr, idx]``)
    for every layer coupled to this one; ``pos``, ``c``: positions (in ``idx``) of the neuron
    nodes and their energy scales c_k."""

    idx: np.ndarray
    a: np.ndarray
    nbrs: tuple[tuple[np.ndarray, np.ndarray], ...]
    pos: np.ndarray
    c: np.ndarray


def layer_groups(
    K: np.ndarray, layers: list[np.ndarray], neuron_of: dict[int, int], neuron_c: np.ndarray
) -> list[Group]:
    """:class:`Group` s of ``K`` (symmetric, S) for the free-node index arrays ``layers``;
    ``neuron_of``: free index → position in ``neuron_c`` (the energy scales of neuron nodes)."""
    out = []
    for k, idx in enumerate(layers):
        nbrs = []
        for j, other in enumerate(layers):
            if j != k:
                blk = K[np.ix_(other, idx)]
                if blk.any():
                    nbrs.append((other, np.ascontiguousarray(blk)))
        pos = np.array([p for p, n in enumerate(idx) if int(n) in neuron_of], dtype=np.intp)
        c = neuron_c[[neuron_of[int(idx[p])] for p in pos]] if pos.size else np.zeros(0)
        out.append(Group(idx, K[idx, idx].copy(), tuple(nbrs), pos, c))
    return out


def split_blocks(base: np.ndarray, D: np.ndarray, R: np.ndarray) -> Blocks:
    """``base`` (symmetric, S) as :class:`Blocks`; its ``D×D`` block must be diagonal."""
    C = np.ascontiguousarray(base[np.ix_(D, R)])
    E = base[np.ix_(R, R)]
    e0 = np.ascontiguousarray(np.diag(E))
    off = E - np.diag(e0)
    E_off = sp.csr_array(off) if off.any() else None
    C2 = C * C
    return Blocks(D, R, base[D, D].copy(), C, np.ascontiguousarray(C.T), C2, e0, E_off, C2.astype(np.float32))


def block_matvec(bl: Blocks, v: np.ndarray) -> np.ndarray:
    """(B, n) rows ``base·v_b`` (A for v in V), from the nonzero blocks only."""
    vD, vR = v[:, bl.D], v[:, bl.R]
    out = np.empty_like(v)
    out[:, bl.D] = vD * bl.d0 + vR @ bl.CT
    oR = vD @ bl.C
    oR += vR * bl.e0
    if bl.E_off is not None:
        oR += bl.off_rows(vR)
    out[:, bl.R] = oR
    return out


def reduced_cg(
    bl: Blocks,
    hdiag: np.ndarray,
    rhs: np.ndarray,
    scale: np.ndarray,
    atol: np.ndarray,
    maxiter: int,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Solve ``(base + diag(hdiag_b)) x_b = rhs_b`` for every sample b of the batch.

    ``hdiag``: (B, n) extra diagonal (S); ``rhs``: (B, n) (A); ``scale``: (n_R,) weights of the
    residual on ``R`` (``1/c``: c-scaled currents back to A); ``atol``: (B,) stop once
    ``max_j |scale_j·residual_j| ≤ atol_b`` (A).  The ``D`` rows are eliminated exactly, so the
    ``R`` residual is the whole system's.  Returns ``x`` (B, n), ``ok`` (B,) (False: the sample met
    non-positive curvature or ``maxiter``; its ``x`` is unusable) and the CG iterations done.

    Cost per iteration: two products with the constant ``C`` (``(p·Cᵀ)/d``, then ``·C``).  The
    back-substitution ``x_D = (rhs_D − C·x_R)/d`` reuses them: ``C·x_R = Σ αᵢ·(C·pᵢ)`` is summed
    as CG goes (elementwise), so no third product is needed; ``1/d`` is formed once per call.
    """
    D, R, C, CT, coupled = bl.D, bl.R, bl.C, bl.CT, bl.E_off is not None
    B = rhs.shape[0]
    x_out = np.zeros_like(rhs)
    xc_out = np.zeros((B, D.size))  # Σ α·(p·Cᵀ): C·x_R of each finished sample (A/S·S = A)
    ok = np.zeros(B, dtype=bool)
    d = bl.d0 + hdiag[:, D]  # (B, nD) > 0
    dinv = 1.0 / d
    hR = bl.e0 + hdiag[:, R]  # (B, nR) diagonal of H_RR
    rD = rhs[:, D] * dinv
    f = rhs[:, R] - rD @ C  # reduced right-hand side
    # diagonal of S_b for the preconditioner, its product in float32 (it only steers the search
    # directions; the residual and the solution stay float64)
    mdiag = hR - (dinv.astype(np.float32) @ bl.C2_32).astype(np.float64)
    good = (mdiag > 0).all(axis=1) & (d > 0).all(axis=1)
    minv = np.where(mdiag > 0, 1.0 / np.where(mdiag > 0, mdiag, 1.0), 0.0)

    act = np.flatnonzero(good)
    x = np.zeros((act.size, R.size))
    xc = np.zeros((act.size, D.size))
    r = f[act]
    z = minv[act] * r
    p = z.copy()
    rz = np.einsum("bi,bi->b", r, z)
    da, ma, ha, ta = dinv[act], minv[act], hR[act], atol[act]
    it = 0
    while True:
        done = np.abs(r * scale).max(axis=1, initial=0.0) <= ta
        if done.any():
            idx = act[done]
            x_out[idx[:, None], R[None, :]] = x[done]
            xc_out[idx] = xc[done]
            ok[idx] = True
            keep = ~done
            act, x, xc, r, z, p, rz = act[keep], x[keep], xc[keep], r[keep], z[keep], p[keep], rz[keep]
            da, ma, ha, ta = da[keep], ma[keep], ha[keep], ta[keep]
        if act.size == 0 or it >= maxiter:
            break
        it += 1
        pc = p @ CT  # (b, nD): C·p
        q = (pc * da) @ C
        hp = p * ha
        if coupled:
            hp += bl.off_rows(p)
        q = np.subtract(hp, q, out=q)  # S·p
        pq = np.einsum("bi,bi->b", p, q)
        curved = pq > 0
        if not curved.all():  # indefinite (strong negative nudge): leave it to the caller
            keep = curved
            act, x, xc, r, z, p, rz, q, pq, pc = (
                act[keep],
                x[keep],
                xc[keep],
                r[keep],
                z[keep],
                p[keep],
                rz[keep],
                q[keep],
                pq[keep],
                pc[keep],
            )
            da, ma, ha, ta = da[keep], ma[keep], ha[keep], ta[keep]
            if act.size == 0:
                break
        alpha = (rz / pq)[:, None]
        x += alpha * p
        xc += alpha * pc
        r -= alpha * q
        z = np.multiply(ma, r, out=z)
        rz_new = np.einsum("bi,bi->b", r, z)
        p *= (rz_new / rz)[:, None]
        p += z
        rz = rz_new
    # back-substitute D exactly: x_D = (rhs_D − H_DR x_R) / d
    x_out[:, D] = rD - xc_out * dinv
    return x_out, ok, it
