"""Wire resistance in the golden model: each crossbar with resistive lines as a linear multiport.

Reads only the Chip IR; the geometry (node names, segments) comes from
:class:`codegen.ir.InterconnectIR`, the same fields the netlists are written from.

A crossbar with wires is a linear resistive network between its *ports* (column drivers
``src_nodes`` and row drivers ``dst_nodes``) and its *internal* wire nodes.  Its local Laplacian
``L`` (S) splits into port and internal blocks; the internal nodes carry no other element, so KCL
there gives ``w = −L_ii⁻¹ L_ip p`` and the crossbar seen from its ports is the Schur complement
``Y = L_pp − L_pi L_ii⁻¹ L_ip`` (S): the crossbar's co-content is ``½ pᵀ Y p`` at the wire nodes'
own equilibrium.  The golden model adds ``c·Y`` to its Hessian ``K`` exactly where an ideal
crossbar adds ``c·[[diag(Σ_r G), −Gᵀ], [−G, diag(Σ_c G)]]``, so the nonlinear solve stays on the
free nodes and is as fast as without wires; ``L_ii`` is sparse (each wire node has 2–4 neighbours)
and is factorised once per set of conductances (SuperLU).

EP with wires: the wires are fixed conductances of the same energy, so the EP estimate of
``∂C/∂G`` uses the drop across each memristor only (between its column-side and row-side wire
nodes); the exact gradient uses the adjoint at the wire nodes, recovered by the same linear map.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..ir import CrossbarIR, InterconnectIR

__all__ = ["CrossbarWires"]

#: right-hand sides per SuperLU solve (scipy's SuperLU solves a wide right-hand side more slowly
#: per column than a narrow one: measured 2.5 ms for one column, 50 ms per column for 64)
_CHUNK = 8


def _solve(lu: spla.SuperLU, rhs: np.ndarray) -> np.ndarray:
    """``lu⁻¹ rhs`` for a (n, k) right-hand side, :data:`_CHUNK` columns at a time."""
    out = np.empty_like(rhs)
    for s in range(0, rhs.shape[1], _CHUNK):
        out[:, s : s + _CHUNK] = lu.solve(np.asfortranarray(rhs[:, s : s + _CHUNK]))
    return out


@dataclass
class CrossbarWires:
    """One crossbar's wire network.  Local node order: ports (``C`` column drivers, then ``R`` row
    drivers), then the internal wire nodes ``internal_nodes``.

    ``mem_a`` / ``mem_b``: (R·C,) local indices of each memristor's column-side / row-side node
    (row-major); ``seg_a`` / ``seg_b``: local indices of each wire segment's ends, ``seg_g`` their
    conductances (S), in :meth:`InterconnectIR.segments` order.
    """

    xb: CrossbarIR
    internal_nodes: tuple[str, ...]
    seg_names: tuple[str, ...]
    mem_a: np.ndarray
    mem_b: np.ndarray
    seg_a: np.ndarray
    seg_b: np.ndarray
    seg_g: np.ndarray
    L: sp.csr_matrix | None = None  # local Laplacian (S), set by set_conductances
    lu: spla.SuperLU | None = None

    @classmethod
    def build(cls, xb: CrossbarIR, ic: InterconnectIR) -> CrossbarWires:
        R, C = xb.shape
        local = {n: i for i, n in enumerate(xb.src_nodes)}
        for r, n in enumerate(xb.dst_nodes):
            local[n] = C + r
        segs = ic.segments(xb)
        internal = tuple(s.b for s in segs)
        for n in internal:
            local[n] = len(local)
        cols, rows = ic.cell_nodes(xb)
        mem_a = np.array([local[n] for row in cols for n in row], dtype=np.intp)
        mem_b = np.array([local[n] for row in rows for n in row], dtype=np.intp)
        return cls(
            xb,
            internal,
            tuple(s.name for s in segs),
            mem_a,
            mem_b,
            np.array([local[s.a] for s in segs], dtype=np.intp),
            np.array([local[s.b] for s in segs], dtype=np.intp),
            np.array([1.0 / s.r_ohm for s in segs]),
        )

    @property
    def n_ports(self) -> int:
        return sum(self.xb.shape)

    def set_conductances(self, g: np.ndarray) -> None:
        """Build ``L`` with memristor conductances ``g`` ((R, C), S) and factorise ``L_ii``."""
        a = np.concatenate([self.mem_a, self.seg_a])
        b = np.concatenate([self.mem_b, self.seg_b])
        w = np.concatenate([np.asarray(g, dtype=float).reshape(-1), self.seg_g])
        n = self.n_ports + len(self.internal_nodes)
        L = sp.coo_matrix(
            (np.concatenate([w, w, -w, -w]), (np.concatenate([a, b, a, b]), np.concatenate([a, b, b, a]))),
            shape=(n, n),
        ).tocsr()
        self.L = L
        p = self.n_ports
        self.lu = spla.splu(L[p:, p:].tocsc(), permc_spec="MMD_AT_PLUS_A")

    def schur(self, ports: np.ndarray) -> np.ndarray:
        """``Y[:, ports]`` (n_ports × len(ports), S): the port admittance seen from the given ports."""
        assert self.L is not None and self.lu is not None
        p = self.n_ports
        L_pi = self.L[:p, p:]
        L_ip = self.L[p:, :p].tocsc()
        out = self.L[:p, :p][:, ports].toarray()
        return out - L_pi @ _solve(self.lu, L_ip[:, ports].toarray())

    def internal(self, vp: np.ndarray) -> np.ndarray:
        """(B, n_internal) wire-node voltages (V) for port voltages ``vp`` (B, n_ports) (V): KCL at
        every wire node.  The same map takes port adjoints to wire-node adjoints."""
        assert self.L is not None and self.lu is not None
        p = self.n_ports
        rhs = -(self.L[p:, :p] @ vp.T)
        return _solve(self.lu, np.asarray(rhs)).T if rhs.size else np.zeros((vp.shape[0], 0))

    def all_voltages(self, vp: np.ndarray) -> np.ndarray:
        """(B, n_ports + n_internal) local node voltages (V)."""
        return np.concatenate([vp, self.internal(vp)], axis=1)

    def drops(self, vall: np.ndarray) -> np.ndarray:
        """(B, R, C) drop across each memristor, column side − row side (V)."""
        return (vall[:, self.mem_a] - vall[:, self.mem_b]).reshape(-1, *self.xb.shape)

    def segment_drops(self, vall: np.ndarray) -> np.ndarray:
        """(B, n_segments) drop across each wire segment, ``a`` end − ``b`` end (V)."""
        return vall[:, self.seg_a] - vall[:, self.seg_b]

    def port_currents(self, vall: np.ndarray) -> np.ndarray:
        """(B, n_ports) current (A) each port node sends into the crossbar."""
        assert self.L is not None
        p = self.n_ports
        return (self.L[:p] @ vall.T).T
