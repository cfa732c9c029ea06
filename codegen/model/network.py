"""Golden network model: the chip as a nonlinear resistive network, solved exactly (numpy/scipy).

Reads only the Chip IR (:mod:`codegen.ir`; its docstring defines the conventions used here).

Unknowns are the voltages ``v`` (V) of ``chip.free_nodes`` (hidden and output nodes).  Source nodes
are clamped; an amplifier output is the dependent node ``gain·V(in_node)``.  The equilibrium is the
stationary point of the total energy (co-content, W)::

    F(v) = Σ_k c_k·E_k(v) + β·c_out·C(v),   C = ½ Σ_i (t_i − y_i)²  (V²)

where ``E_k`` holds the crossbars into layer ``k`` (``½ Σ G·ΔV²``) and the co-contents of layer ``k``'s
clamp diodes.  ``∂F/∂v_j = c_j·I_j`` with ``I_j`` the net current leaving node ``j`` (A), so the
stationary point satisfies KCL at every free node (the ``1/gain`` backward CCCS makes the unscaled
KCL Jacobian non-symmetric; the ``c_k``-scaled one, the Hessian of ``F``, is symmetric and, for
``β ≥ 0``, positive definite).  Damped Newton on ``∇F = 0`` with a backtracking line search on ``F``
solves it; the reported residual is the largest ``|I_j|`` (A).

Gradients of the loss ``C`` with respect to every conductance (V²/S):

* EP (:meth:`GoldenModel.ep_gradient`): ``∂C/∂G = (c/c_out)·(ΔV²_β − ΔV²_0)/(2β)``, centered
  ``(c/c_out)·(ΔV²_{+β} − ΔV²_{−β})/(4β)``, ``ΔV`` the drop across the conductance (V).
* exact (:meth:`GoldenModel.exact_gradient`): implicit differentiation, ``λ = H⁻¹ ∂C/∂v`` (adjoint,
  ``H`` the Hessian of ``F`` at the free equilibrium), ``∂C/∂G = −c·ΔV·Δλ``.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from threadpoolctl import ThreadpoolController

from ..errors import CodegenError
from ..ir import Chip
from ..kinds.neurons import neuron_kind
from . import _layered, readout
from ._malloc import keep_freed_memory
from .wires import CrossbarWires

__all__ = ["GoldenModel", "Equilibrium", "ConvergenceError", "phase_name"]

#: floats per batch chunk of the dense solver's Schur step (batch × n_R × max(n_R, n_D), ≈ 128 MB)
_DENSE_CHUNK_FLOATS = 16_000_000
#: free-node count above which ``method="auto"`` uses the sparse solver
_DENSE_MAX_NODES = 2000
#: size of the reduced (non-independent) node set R above which ``method="auto"`` uses the
#: layered solver: the dense Schur complement costs n_D·n_R² per sample and Newton step
_LAYERED_MIN_R = 64
#: forcing term of the layered solver's Newton steps: each step is solved by CG to a KCL residual
#: (A) of max(_LAYERED_FLOOR·residual_tol_A, _LAYERED_ETA·current residual): practically exact,
#: so Newton converges as with the direct solve (a looser η = 1e-4 left the EP gradient of the
#: first layers of deep networks 1e-4 off the dense solver's)
_LAYERED_ETA = 1e-10
_LAYERED_FLOOR = 1e-5
#: conjugate-gradient iteration cap per Newton step (samples above it are solved densely)
_LAYERED_MAXITER = 500
#: floats of working arrays per batch chunk of the layered solver's CG (≈ 10 arrays of n_free
#: floats per sample: 16e6 floats ≈ 128 MB)
_LAYERED_CHUNK_FLOATS = 16_000_000
#: layered solver, phases from v = 0: layer-wise block Gauss–Seidel sweeps (each node solved for
#: its own voltage by a few scalar Newton steps) give Newton a start near the clamps
_LAYERED_SWEEPS = 4
#: layered solver: a batch of at least 2 × this many samples is solved as two halves, in two
#: threads where the process may run on two cores (numpy's ufuncs and BLAS release the GIL; each
#: thread's BLAS stays single-threaded).  The split depends on the batch alone, never on the
#: machine, so the numbers (rounding of the batched products) are the same everywhere
_SPLIT_MIN_SAMPLES = 16
_NODE_NEWTON_STEPS = 3
#: −β continuation (:meth:`GoldenModel._continuation`): first and largest step of ``s`` in
#: ``s·β``, smallest step before giving up, Newton iterations allowed per step
_CONTINUATION_FIRST_STEP = 1 / 16
_CONTINUATION_MIN_STEP = 1 / 4096
_CONTINUATION_ITERATIONS = 50


@functools.cache
def _blas() -> ThreadpoolController:
    """The process's BLAS thread pools (inspected once: creating a controller reads /proc)."""
    return ThreadpoolController()


def _blas_limited(method):
    """Run a GoldenModel method under :meth:`GoldenModel._blas_threads`."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._blas_threads():
            return method(self, *args, **kwargs)

    return wrapper


def phase_name(beta_S: float) -> str:
    """Human name of a phase: ``free`` (β = 0), ``nudged +β`` or ``nudged −β``."""
    return "free" if beta_S == 0 else ("nudged +β" if beta_S > 0 else "nudged −β")


class ConvergenceError(CodegenError):
    """The equilibrium solver did not reach the KCL residual tolerance.

    ``phase``: free / nudged +β / nudged −β; ``iterations``: Newton iterations done;
    ``residual_A``: worst KCL residual left (A); ``samples``: indices of the samples that failed.
    """

    def __init__(self, phase: str, iterations: int, residual_A: float, tol_A: float, samples: list[int]):
        self.phase = phase
        self.iterations = iterations
        self.residual_A = residual_A
        self.samples = samples
        shown = ", ".join(map(str, samples[:8])) + (" …" if len(samples) > 8 else "")
        super().__init__(
            f"golden model: {phase} phase did not converge after {iterations} Newton iterations: "
            f"KCL residual {residual_A:.3g} A > tolerance {tol_A:.3g} A (samples {shown}); "
            "raise simulation.max_newton_iterations or check the network"
        )


@dataclass(frozen=True)
class _Crossbar:
    name: str
    c: float  # energy scale of the destination layer (1)
    rows: np.ndarray  # free-node index of each row
    src_free: bool  # columns are (gain ×) free nodes, else fixed sources
    cols: np.ndarray  # free-node index (src_free) or fixed-node index of each column
    gain: float  # V(column) = gain·V(free node) (V/V), 1 for sources


@dataclass
class Equilibrium:
    """One equilibrium of a batch.

    ``v``: (B, n_free) voltages (V) of ``chip.free_nodes``; ``u``: (B, n_fixed) voltages (V) of the
    source nodes (``GoldenModel.fixed_nodes`` order); ``target``: (B, n_out) targets (V) or None;
    ``beta``: nudge strength (S); ``iterations``: (B,) Newton iterations; ``residual``: (B,) largest
    |KCL residual| (A); ``phase``: free / nudged ±β.
    """

    model: GoldenModel = field(repr=False)
    v: np.ndarray
    u: np.ndarray
    target: np.ndarray | None
    beta: float
    iterations: np.ndarray
    residual: np.ndarray
    phase: str

    @property
    def batch(self) -> int:
        return self.v.shape[0]

    @property
    def outputs(self) -> np.ndarray:
        """(B, n_out) outputs y = V(out p) − V(out n) (V)."""
        return readout.outputs(self.v, self.model._P)

    def voltages(self) -> dict[str, np.ndarray]:
        """Every node's voltage (V) as (B,): free nodes, amplifier outputs and source nodes."""
        m = self.model
        out = {n: self.v[:, i] for i, n in enumerate(m.chip.free_nodes)}
        for a in m.chip.amplifiers:
            out[a.out_node] = a.gain * self.v[:, m._free[a.in_node]]
        for i, n in enumerate(m.fixed_nodes):
            out[n] = self.u[:, i]
        if m._wires is not None:
            for xb in m._xbs:
                w = m._wires[xb.name]
                vi = w.internal(m._ports(xb, self))
                out.update({n: vi[:, i] for i, n in enumerate(w.internal_nodes)})
        return out


class GoldenModel:
    """The chip as a nonlinear resistive network.

    ``conductances``: dict crossbar name → (rows, cols) array (S); default
    ``chip.initial_conductances()``.  ``method``: ``dense`` (batched LAPACK solves of the Schur
    complement), ``layered`` (batched conjugate gradients on the same reduced system, applied
    from the layer blocks and never formed: for deep and wide networks), ``sparse`` (one
    block-diagonal sparse LU per Newton step for the whole batch) or ``auto`` (sparse above 2000
    free nodes, else layered when more than 64 nodes remain after eliminating the independent
    set, else dense).  All of them stop at the same KCL residual tolerance.  ``blas_threads``:
    BLAS threads while solving (None: the library default).
    """

    def __init__(
        self,
        chip: Chip,
        conductances: dict[str, np.ndarray] | None = None,
        method: Literal["auto", "dense", "layered", "sparse"] = "auto",
        blas_threads: int | None = 1,
    ):
        keep_freed_memory()  # glibc keeps the freed temporaries (codegen/model/_malloc.py)
        self.chip = chip
        self.blas_threads = blas_threads
        #: threads for the two halves of a large batch (layered solver): 2 where this process may
        #: run on two cores or more, else 1 (the halves one after the other; the same numbers)
        self.threads = 2 if len(os.sched_getaffinity(0)) >= 2 else 1
        self._lock = threading.Lock()  # the solver diagnostics, summed from the worker threads
        self._blas_held = False  # inside :meth:`_blas_threads` (nested calls skip the limit)
        free = {n: i for i, n in enumerate(chip.free_nodes)}
        self._free = free
        n = len(free)
        self.n_free = n
        self.fixed_nodes: tuple[str, ...] = tuple(s.node for s in chip.sources)
        fixed = {s: i for i, s in enumerate(self.fixed_nodes)}
        self._fixed = fixed
        if method not in ("auto", "dense", "layered", "sparse"):
            raise CodegenError(f"golden model: unknown method {method!r}; use auto, dense, layered or sparse")

        amp_in = {a.out_node: (a.in_node, a.gain) for a in chip.amplifiers}
        xbs = []
        for ir in chip.crossbars:
            rows = np.array([free[d] for d in ir.dst_nodes], dtype=np.intp)
            first = ir.src_nodes[0]
            if first in fixed:
                cols = np.array([fixed[s] for s in ir.src_nodes], dtype=np.intp)
                xbs.append(_Crossbar(ir.name, ir.energy_scale, rows, False, cols, 1.0))
            else:
                idx, gains = [], []
                for s in ir.src_nodes:
                    node, g = amp_in.get(s, (s, 1.0))
                    idx.append(free[node])
                    gains.append(g)
                if not np.allclose(gains, ir.gain):
                    raise CodegenError(
                        f"crossbar {ir.name}: amplifier gains {gains} differ from gain {ir.gain}"
                    )
                xbs.append(
                    _Crossbar(ir.name, ir.energy_scale, rows, True, np.array(idx, dtype=np.intp), ir.gain)
                )
        self._xbs = xbs
        #: crossbar name → its wire network, when the chip has wire resistance (else None: the
        #: ideal-crossbar path, unchanged)
        self._wires: dict[str, CrossbarWires] | None = (
            {ir.name: CrossbarWires.build(ir, chip.interconnect) for ir in chip.crossbars}
            if chip.interconnect.resistive
            else None
        )
        if self._wires is not None and method == "layered":
            raise CodegenError(
                "golden model: the layered solver assumes no coupling inside a layer, which wire "
                "resistance adds; use method auto, dense or sparse"
            )

        # energy scale c_j of every free node (its layer's c_k)
        self._c = np.ones(n)
        neuron_nodes, neuron_c = [], []
        for layer in chip.layers[1:]:
            for node in layer.nodes:
                self._c[free[node]] = layer.energy_scale
                if layer.neuron is not None:
                    neuron_nodes.append(free[node])
                    neuron_c.append(layer.energy_scale)
        self._nrn = np.array(neuron_nodes, dtype=np.intp)
        self._nrn_c = np.array(neuron_c)
        nrn = next((la.neuron for la in chip.layers if la.neuron is not None), None)
        self._neuron = nrn
        if nrn is not None:
            self._clamp_diode = neuron_kind(nrn.kind).clamp_diode
            self._diode_ir = d = nrn.diode
            # the layered solver's node Newton start (_node_solve) uses plain Shockley parameters
            self._is, self._nvt, self._gmin = d.is_A, d.n * d.vt_V, d.gmin_S
            self._vh, self._vl = nrn.v_high_V, nrn.v_low_V

        # output map: y = P v
        self._P = readout.output_matrix(chip, free, n)
        self._PtP = self._P.T @ self._P
        self._c_out = chip.nudge.energy_scale

        # source voltages independent of x
        self._u_const = np.zeros(len(self.fixed_nodes))
        self._u_input = np.array([fixed[s.node] for s in chip.input_sources()], dtype=np.intp)
        for src in chip.sources:
            if src.kind != "input":
                self._u_const[fixed[src.node]] = src.value_V

        # nodes eliminated first by the dense solver; the coupling pattern is structural (any G)
        self._D, self._R = self._independent_set(self._structure() + np.abs(self._PtP))
        if method == "auto":
            method = (
                "sparse"
                if n > _DENSE_MAX_NODES
                else ("layered" if self._R.size > _LAYERED_MIN_R and self._wires is None else "dense")
            )
        self.method = method
        #: layered solver diagnostics, summed over this model's solves: CG iterations (the largest
        #: count in the batch, per Newton step) and samples handed to the dense fallback
        self.cg_iterations = 0
        self.dense_fallbacks = 0
        self.set_conductances(chip.initial_conductances() if conductances is None else conductances)

    # ------------------------------------------------------------------ conductances
    @property
    def conductances(self) -> dict[str, np.ndarray]:
        """Crossbar name → (rows, cols) conductances (S) (copies)."""
        return {k: v.copy() for k, v in self._G.items()}

    def set_conductances(self, conductances: dict[str, np.ndarray]) -> None:
        """Replace the conductances (S); every crossbar must be given with its (rows, cols) shape."""
        G = {}
        for ir in self.chip.crossbars:
            if ir.name not in conductances:
                raise CodegenError(f"golden model: no conductances for crossbar {ir.name}")
            g = np.array(conductances[ir.name], dtype=float)
            if g.shape != ir.shape:
                raise CodegenError(f"golden model: crossbar {ir.name} needs shape {ir.shape}, got {g.shape}")
            G[ir.name] = g
        extra = set(conductances) - set(G)
        if extra:
            raise CodegenError(f"golden model: unknown crossbars {sorted(extra)}")
        self._G = G
        n = self.n_free
        K = np.zeros((n, n))
        Bm = np.zeros((n, len(self.fixed_nodes)))
        if self._wires is not None:
            self._assemble_wires(K, Bm)
        for xb in self._xbs if self._wires is None else ():
            g = G[xb.name]
            cg = xb.c * g
            # rows (and cols) of one crossbar are distinct nodes: plain fancy-index += is exact
            K[xb.rows, xb.rows] += cg.sum(axis=1)
            if xb.src_free:
                a = xb.gain
                K[xb.cols, xb.cols] += a * a * cg.sum(axis=0)
                K[np.ix_(xb.rows, xb.cols)] -= a * cg
                K[np.ix_(xb.cols, xb.rows)] -= a * cg.T
            else:
                Bm[np.ix_(xb.rows, xb.cols)] += cg
        self._K = K  # Hessian of the linear part of F (S, c-scaled)
        self._Bm = Bm  # ∇F = K v − Bm u + diodes + nudge
        self._blocks: dict[float, _layered.Blocks] = {}  # layered solver: base(β) in block form
        self._bases: dict[float, np.ndarray] = {}  # K + β·c_out·PᵀP per β (:meth:`_base`)
        self._dparts: dict[float, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # its dense blocks
        self._groups: list[_layered.Group] | None = None  # layered solver: K by layers
        self._groups32: list[_layered.Group] | None = None  # the same in float32 (Gauss–Seidel start)

    def _assemble_wires(self, K: np.ndarray, Bm: np.ndarray) -> None:
        """Add every crossbar's port admittance ``c·Y`` (its wires eliminated, S) to ``K`` / ``Bm``."""
        assert self._wires is not None
        for xb in self._xbs:
            w = self._wires[xb.name]
            w.set_conductances(self._G[xb.name])
            C = xb.cols.size
            rows_local = np.arange(C, w.n_ports)
            if xb.src_free:
                Y = w.schur(np.arange(w.n_ports))
                a = xb.gain
                K[np.ix_(xb.rows, xb.rows)] += xb.c * Y[C:, C:]
                K[np.ix_(xb.cols, xb.cols)] += xb.c * a * a * Y[:C, :C]
                K[np.ix_(xb.rows, xb.cols)] += xb.c * a * Y[C:, :C]
                K[np.ix_(xb.cols, xb.rows)] += xb.c * a * Y[:C, C:]
            else:
                Y = w.schur(rows_local)  # (n_ports, R): Y is symmetric, Y_rc = Y_crᵀ
                K[np.ix_(xb.rows, xb.rows)] += xb.c * Y[C:, :]
                Bm[np.ix_(xb.rows, xb.cols)] -= xb.c * Y[:C, :].T

    def _ports(self, xb: _Crossbar, eq: Equilibrium) -> np.ndarray:
        """(B, C + R) voltages (V) of a crossbar's ports: column drivers, then row nodes."""
        return np.concatenate([self._columns(xb, eq), eq.v[:, xb.rows]], axis=1)

    def _wire_state(self, xb: _Crossbar, eq: Equilibrium) -> tuple[CrossbarWires, np.ndarray]:
        """A crossbar's wire network and its (B, ports + wire nodes) voltages (V) at ``eq``."""
        assert self._wires is not None
        w = self._wires[xb.name]
        return w, w.all_voltages(self._ports(xb, eq))

    def _base_blocks(self, beta: float) -> _layered.Blocks:
        """``K + β·c_out·PᵀP`` in independent-set block form (cached per β, S)."""
        bl = self._blocks.get(beta)
        if bl is None:
            if len(self._blocks) > 8:
                self._blocks.clear()
            base = self._K + (beta * self._c_out) * self._PtP if beta else self._K
            bl = self._blocks[beta] = _layered.split_blocks(base, self._D, self._R)
        return bl

    # ------------------------------------------------------------------ sources and helpers
    def source_values(self, x: np.ndarray) -> np.ndarray:
        """(B, n_fixed) voltages (V) of every source node for inputs ``x`` ((n_in,) or (B, n_in))."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        if not np.isfinite(x).all():
            raise CodegenError("golden model: inputs contain NaN or inf")
        if x.shape[1] != self.chip.n_inputs:
            raise CodegenError(f"golden model: inputs need {self.chip.n_inputs} features, got {x.shape[1]}")
        u = np.tile(self._u_const, (x.shape[0], 1))
        u[:, self._u_input] = self.chip.source_voltages(x)
        return u

    def _targets(self, target: np.ndarray | None, B: int) -> np.ndarray | None:
        if target is None:
            return None
        t = np.atleast_2d(np.asarray(target, dtype=float))
        if not np.isfinite(t).all():
            raise CodegenError("golden model: targets contain NaN or inf")
        if t.shape[1] != self.chip.n_outputs:
            raise CodegenError(f"golden model: targets need {self.chip.n_outputs} values, got {t.shape[1]}")
        if t.shape[0] == 1 and B > 1:
            t = np.repeat(t, B, axis=0)
        if t.shape[0] != B:
            raise CodegenError(f"golden model: {t.shape[0]} targets for {B} inputs")
        return t

    def _diode(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Current (A), conductance (S) and co-content (W) of one clamp diode at voltage ``x`` (V):
        the neuron kind's :meth:`~codegen.kinds.neurons.NeuronKind.clamp_diode`."""
        return self._clamp_diode(x, self._diode_ir)

    def _eval(
        self, v: np.ndarray, b: np.ndarray, t: np.ndarray | None, beta: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Energy (up to a constant, W), gradient ∇F (A, c-scaled) and diode Hessian diagonal (S)."""
        Kv = _layered.block_matvec(self._base_blocks(0.0), v) if self.method == "layered" else v @ self._K
        grad = Kv - b
        energy = 0.5 * np.einsum("bi,bi->b", v, Kv) - np.einsum("bi,bi->b", v, b)
        hdiag = np.zeros_like(v)
        if self._nrn.size:
            vn = v[:, self._nrn]
            # both clamp diodes in one call (elementwise: the same numbers as two calls)
            k = vn.shape[1]
            i2, g2, w2 = self._diode(np.concatenate((vn - self._vh, self._vl - vn), axis=1))
            ih, il, gh, gl, wh, wl = i2[:, :k], i2[:, k:], g2[:, :k], g2[:, k:], w2[:, :k], w2[:, k:]
            grad[:, self._nrn] += self._nrn_c * (ih - il)
            energy = energy + (self._nrn_c * (wh + wl)).sum(axis=1)
            hdiag[:, self._nrn] = self._nrn_c * (gh + gl)
        if beta != 0.0 and t is not None:
            err = t - v @ self._P.T  # (B, n_out) V
            grad -= beta * self._c_out * (err @ self._P)
            energy = energy + 0.5 * beta * self._c_out * (err * err).sum(axis=1)
        return energy, grad, hdiag

    def _newton_step(
        self, hdiag: np.ndarray, grad: np.ndarray, beta: float, atol_A: np.ndarray
    ) -> np.ndarray:
        """Solve (K + diag(hdiag_b) + β c_out PᵀP) p_b = −grad_b for every sample b.

        ``atol_A``: (B,) KCL residual (A) the layered solver may leave in the step (the direct
        solvers are exact to rounding)."""
        if self.method == "layered":
            return -self._layered_solve(beta, hdiag, grad, atol_A)
        if self.method == "dense":
            return -self._dense_solve(self._base(beta), hdiag, grad, self._dense_parts(beta))
        return -self._sparse_solve(self._base(beta), hdiag, grad)

    def _base(self, beta: float) -> np.ndarray:
        """``K + β·c_out·PᵀP`` (S, c-scaled), cached per β until the conductances change."""
        got = self._bases.get(beta)
        if got is None:
            if len(self._bases) > 8:
                self._bases.clear()
            got = self._bases[beta] = self._K + (beta * self._c_out) * self._PtP
        return got

    def _dense_parts(self, beta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The constant blocks :meth:`_dense_solve` takes from ``base(β)``: ``base[D, R]``,
        ``base[R, R]`` and the diagonal ``base[D, D]``, cached with :meth:`_base`."""
        got = self._dparts.get(beta)
        if got is None:
            if len(self._dparts) > 8:
                self._dparts.clear()
            base, D, R = self._base(beta), self._D, self._R
            got = self._dparts[beta] = (base[np.ix_(D, R)], base[np.ix_(R, R)], base[D, D])
        return got

    def _layered_solve(
        self, beta: float, hdiag: np.ndarray, rhs: np.ndarray, atol_A: np.ndarray
    ) -> np.ndarray:
        """(base(β) + diag(hdiag_b)) x_b = rhs_b by CG on the reduced system (:mod:`._layered`),
        to a residual of ``atol_A`` (A); samples CG cannot take are solved densely."""
        bl = self._base_blocks(beta)
        B = rhs.shape[0]
        chunk = max(1, _LAYERED_CHUNK_FLOATS // (10 * max(1, self.n_free)))
        x = np.empty_like(rhs)
        ok = np.empty(B, dtype=bool)
        scale = 1.0 / self._c[self._R]
        for s in range(0, B, chunk):
            e = min(B, s + chunk)
            x[s:e], ok[s:e], its = _layered.reduced_cg(
                bl, hdiag[s:e], rhs[s:e], scale, atol_A[s:e], _LAYERED_MAXITER
            )
            with self._lock:
                self.cg_iterations += its
        if not ok.all():
            bad = np.flatnonzero(~ok)
            with self._lock:
                self.dense_fallbacks += bad.size
            base = self._K + (beta * self._c_out) * self._PtP
            x[bad] = self._dense_solve(base, hdiag[bad], rhs[bad])
        return x

    def _layer_groups(self) -> list[_layered.Group]:
        """The free nodes layer by layer with K's blocks to the other layers (cached per conductances)."""
        if self._groups is None:
            where = {int(j): k for k, j in enumerate(self._nrn)}
            idxs = [
                np.array([self._free[nd] for nd in la.nodes], dtype=np.intp) for la in self.chip.layers[1:]
            ]
            self._groups = _layered.layer_groups(self._K, idxs, where, self._nrn_c)
        return self._groups

    def _relax(self, v: np.ndarray, b: np.ndarray, sweeps: int) -> None:
        """Layer-wise block Gauss–Seidel on the free energy (β = 0), in place on ``v`` (B, n_free)
        (V): layer by layer from the input side, each node set to the minimiser of the energy along
        its own voltage with the other layers held (nodes of one layer share no conductance, so
        this minimises over the whole layer).  Stops early once no node is past a clamp (the rest
        is linear, and one Newton step solves it).  Only a start for Newton, which then meets the
        usual KCL tolerance; ``b`` (B, n_free): source currents ``Bm·u`` (A, c-scaled)."""
        groups = self._layer_groups32()
        v32 = v.astype(np.float32)
        b32 = b.astype(np.float32)
        for _ in range(sweeps):
            for g in groups:
                s = b32[:, g.idx]
                for nbr, blk in g.nbrs:
                    s -= v32[:, nbr] @ blk
                v32[:, g.idx] = self._node_solve(g, s)
            if self._nrn.size:
                vn = v32[:, self._nrn]
                if not ((vn > self._vh) | (vn < self._vl)).any():
                    break  # every diode off: a linear problem, which one Newton step solves
        v[:] = v32

    def _layer_groups32(self) -> list[_layered.Group]:
        """:meth:`_layer_groups` in float32, for the Gauss–Seidel start (cached per conductances).

        The start only has to bring Newton near the clamps (it is several mV from the equilibrium
        after its sweeps), so single precision (≈1e-7 relative, 1e-8 V here) costs nothing in
        Newton iterations and halves the products and the exponentials' time (numpy's float32
        exp is vectorised on AVX2, its float64 one is not)."""
        if self._groups32 is None:
            f = np.float32
            self._groups32 = [
                _layered.Group(
                    g.idx,
                    g.a.astype(f),
                    tuple((nbr, blk.astype(f)) for nbr, blk in g.nbrs),
                    g.pos,
                    g.c.astype(f),
                )
                for g in self._layer_groups()
            ]
        return self._groups32

    def _node_solve(self, g: _layered.Group, s: np.ndarray) -> np.ndarray:
        """(B, len(g.idx)) voltages (V) solving ``a_j·v + c_j·(I_hi(v) − I_lo(v)) = s_j`` node by node
        (``a_j = K_jj`` (S), ``s_j`` (A), diodes of neuron nodes only, as plain Shockley diodes with
        GMIN: the reverse branch differs by less than IS, and this is only Newton's start).

        Start: the linear solution, or for a node driven past a clamp the voltage where that diode
        alone carries the excess current (from there the equation is convex towards the root, so
        the scalar Newton steps do not overshoot)."""
        pos, c, a = g.pos, g.c, g.a
        v = s / a
        if pos.size:
            sn, an = s[:, pos], a[pos]
            vlin = v[:, pos]
            vh, vl, nvt, i_s, gmin = self._vh, self._vl, self._nvt, self._is, self._gmin
            over = np.maximum(sn - an * vh, 0.0) + np.maximum(an * vl - sn, 0.0)  # excess current (A)
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
                # log(1 + z), not log1p: a start needs no accuracy at small z, and numpy's log is
                # vectorised where its log1p is not (7× here)
                shift = nvt * np.log(1.0 + over / (c * i_s))
            x = np.where(vlin > vh, vh + shift, np.where(vlin < vl, vl - shift, vlin))
            r0 = math.exp((vl - vh) / nvt)  # a Python float: keeps float32 arrays float32
            lim = 600.0 if x.dtype == np.float64 else 80.0  # exp stays finite (float32 in _relax)
            for _ in range(_NODE_NEWTON_STEPS):
                eh = np.exp(np.clip((x - vh) / nvt, -lim, lim))  # exp((v − v_hi)/NVt)
                el = r0 / eh  # exp((v_lo − v)/NVt)
                cur = i_s * (eh - el) + gmin * (2.0 * x - vh - vl)  # I_hi − I_lo (A)
                cond = (i_s / nvt) * (eh + el) + 2.0 * gmin  # (S)
                x = x - (an * x - sn + c * cur) / (an + c * cond)
            v[:, pos] = x
        return v

    def _structure(self) -> np.ndarray:
        """(n_free, n_free) 1 where two free nodes share a crossbar cell (any G), else 0."""
        n = self.n_free
        S = np.zeros((n, n))
        for xb in self._xbs:
            if xb.src_free:
                S[np.ix_(xb.rows, xb.cols)] = 1.0
                S[np.ix_(xb.cols, xb.rows)] = 1.0
            if self._wires is not None:  # the lines couple the rows (and the columns) of one crossbar
                S[np.ix_(xb.rows, xb.rows)] = 1.0
                if xb.src_free:
                    S[np.ix_(xb.cols, xb.cols)] = 1.0
        return S

    def _independent_set(self, pattern: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Split the free nodes into D, no two of which are coupled in ``pattern`` (so the Hessian's
        D×D block is diagonal for every sample), and the rest R.  Greedy, largest layers first: for
        a layered network D is a whole hidden layer (nodes of one layer never share a conductance)."""
        n = self.n_free
        coupled = pattern != 0
        np.fill_diagonal(coupled, False)
        layer_of = np.zeros(n, dtype=int)
        for k, layer in enumerate(self.chip.layers[1:], start=1):
            layer_of[[self._free[nd] for nd in layer.nodes]] = k
        size = np.bincount(layer_of)
        order = sorted(range(n), key=lambda i: (-size[layer_of[i]], layer_of[i], i))
        blocked = np.zeros(n, dtype=bool)
        chosen = []
        for i in order:
            if not blocked[i]:
                chosen.append(i)
                blocked |= coupled[i]
                blocked[i] = True
        D = np.array(sorted(chosen), dtype=np.intp)
        return D, np.setdiff1d(np.arange(n), D)

    def _dense_solve(
        self,
        base: np.ndarray,
        hdiag: np.ndarray,
        rhs: np.ndarray,
        parts: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Solve (base + diag(hdiag_b)) p_b = rhs_b for every sample b.

        The independent set D is eliminated first (its block is diagonal); the Schur complement on
        the rest R is factorised densely, one small LU per sample.  ``parts``: ``base``'s blocks
        ``(base[D, R], base[R, R], base[D, D])`` when cached (:meth:`_dense_parts`).
        """
        B, n = rhs.shape
        D, R = self._D, self._R
        out = np.empty_like(rhs)
        m = R.size
        chunk = max(1, _DENSE_CHUNK_FLOATS // max(1, m * max(m, D.size)))
        C, E, dD = (base[np.ix_(D, R)], base[np.ix_(R, R)], base[D, D]) if parts is None else parts
        dR = np.arange(m)
        for s in range(0, B, chunk):
            e = min(B, s + chunk)
            d = dD + hdiag[s:e][:, D]  # (b, nD) diagonal of the D block
            rD = rhs[s:e][:, D] / d
            if m:
                S = E - np.matmul(C.T[None, :, :] / d[:, None, :], C)  # batched GEMM
                S[:, dR, dR] += hdiag[s:e][:, R]
                pR = np.linalg.solve(S, (rhs[s:e][:, R] - rD @ C)[:, :, None])[:, :, 0]
                out[s:e, R] = pR
                out[s:e, D] = rD - (pR @ C.T) / d
            else:
                out[s:e, D] = rD
        return out

    def _sparse_solve(self, base: np.ndarray, hdiag: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        B, n = rhs.shape
        H0 = sp.csc_matrix(base + np.eye(n))  # explicit diagonal in the pattern
        H0.sort_indices()
        diag_pos = np.empty(n, dtype=np.intp)
        for j in range(n):
            lo, hi = H0.indptr[j], H0.indptr[j + 1]
            diag_pos[j] = lo + np.searchsorted(H0.indices[lo:hi], j)
        data0 = H0.data.copy()
        data0[diag_pos] -= 1.0
        nnz = data0.size
        data = np.tile(data0, B)
        data[(diag_pos[None, :] + nnz * np.arange(B)[:, None]).ravel()] += hdiag.ravel()
        indices = (H0.indices[None, :] + n * np.arange(B)[:, None]).ravel()
        indptr = np.concatenate([[0], (H0.indptr[1:][None, :] + nnz * np.arange(B)[:, None]).ravel()])
        H = sp.csc_matrix((data, indices, indptr), shape=(n * B, n * B))
        return spla.splu(H).solve(rhs.ravel()).reshape(B, n)

    # ------------------------------------------------------------------ equilibrium
    def _blas_threads(self):
        """Context: BLAS limited to ``blas_threads`` threads (default 1).  The batched work is many
        small products and LU factorisations, where BLAS threads add wake-up latency and stall badly
        (measured: 70× slower) when other processes hold the cores."""
        if self._blas_held:  # inside this model's own limit already: a second one changes nothing
            return contextlib.nullcontext()
        return self._blas_limit()

    @contextlib.contextmanager
    def _blas_limit(self) -> Iterator[None]:
        with _blas().limit(limits=self.blas_threads, user_api="blas"):
            self._blas_held = True
            try:
                yield
            finally:
                self._blas_held = False

    def solve(
        self,
        x: np.ndarray,
        target: np.ndarray | None = None,
        beta: float = 0.0,
        v0: np.ndarray | None = None,
        *,
        sources: np.ndarray | None = None,
    ) -> Equilibrium:
        """Equilibrium for inputs ``x`` ((n_in,) or (B, n_in), feature units), nudged by ``beta`` (S)
        towards ``target`` ((n_out,) or (B, n_out), V).  ``v0``: (B, n_free) start voltages (V).
        ``sources``: :meth:`source_values` of ``x`` (V) when the caller has them already.

        Raises :class:`ConvergenceError` if the KCL residual does not reach
        ``chip.simulation.residual_tol_A`` within ``max_newton_iterations``.
        """
        with self._blas_threads():
            B = 1 if np.ndim(x) < 2 else len(x)
            if self.method != "layered" or B < 2 * _SPLIT_MIN_SAMPLES:
                return self._solve(x, target, beta, v0, sources)
            return self._solve_halves(B, x, target, beta, v0, sources)

    def _solve_halves(
        self,
        B: int,
        x: np.ndarray,
        target: np.ndarray | None,
        beta: float,
        v0: np.ndarray | None,
        sources: np.ndarray | None = None,
    ) -> Equilibrium:
        """:meth:`_solve` of each half of the batch, in two threads (:attr:`threads`), joined in
        sample order.  Every sample's Newton iteration is its own (samples leave it one by one), so
        the halves change nothing but the blocking of the batched products."""
        x = np.asarray(x, dtype=float)
        parts = [slice(0, B // 2), slice(B // 2, B)]

        def rows(a: np.ndarray | None, sl: slice) -> np.ndarray | None:
            if a is None:
                return None
            a = np.asarray(a, dtype=float)
            return a[sl] if a.ndim == 2 and a.shape[0] == B else a  # one row broadcasts

        # the caches both halves read, filled before the threads start
        self._base_blocks(0.0)
        self._base_blocks(float(beta))
        self._layer_groups32()

        def run(sl: slice) -> Equilibrium | ConvergenceError:
            try:
                return self._solve(x[sl], rows(target, sl), beta, rows(v0, sl), rows(sources, sl))
            except ConvergenceError as exc:
                return exc

        if self.threads >= 2:
            with ThreadPoolExecutor(2) as pool:
                done = list(pool.map(run, parts))
        else:
            done = [run(sl) for sl in parts]
        failed = [(sl, e) for sl, e in zip(parts, done, strict=True) if isinstance(e, ConvergenceError)]
        if failed:
            raise ConvergenceError(
                failed[0][1].phase,
                max(e.iterations for _, e in failed),
                max(e.residual_A for _, e in failed),
                self.chip.simulation.residual_tol_A,
                [sl.start + i for sl, e in failed for i in e.samples],
            )
        eqs = [e for e in done if isinstance(e, Equilibrium)]
        t = None if eqs[0].target is None else np.concatenate([e.target for e in eqs])  # type: ignore[misc]
        return Equilibrium(
            self,
            np.concatenate([e.v for e in eqs]),
            np.concatenate([e.u for e in eqs]),
            t,
            eqs[0].beta,
            np.concatenate([e.iterations for e in eqs]),
            np.concatenate([e.residual for e in eqs]),
            eqs[0].phase,
        )

    def _solve(
        self,
        x: np.ndarray,
        target: np.ndarray | None,
        beta: float,
        v0: np.ndarray | None,
        sources: np.ndarray | None = None,
    ) -> Equilibrium:
        u = self.source_values(x) if sources is None else sources
        B = u.shape[0]
        t = self._targets(target, B)
        if beta != 0.0 and t is None:
            raise CodegenError("golden model: a nudged phase (beta != 0) needs a target")
        beta = float(beta)
        b = u @ self._Bm.T
        v = (
            np.zeros((B, self.n_free))
            if v0 is None
            else np.array(np.broadcast_to(v0, (B, self.n_free)), dtype=float)
        )
        tol = self.chip.simulation.residual_tol_A
        iters = np.zeros(B, dtype=int)
        res = np.full(B, np.inf)
        if v0 is None and self.method == "layered" and _LAYERED_SWEEPS:
            # start from the relaxed voltages where they lower the energy below F(0) (always, in
            # practice); F(0) is the same for every sample up to the nudge term
            self._relax(v, b, _LAYERED_SWEEPS)
            energy, grad, hdiag = self._eval(v, b, t, beta)
            z = np.zeros((1, self.n_free))
            e_zero = np.full(B, self._eval(z, z, None, 0.0)[0][0])
            if beta != 0.0 and t is not None:
                e_zero += 0.5 * beta * self._c_out * (t * t).sum(axis=1)
            worse = np.flatnonzero(~(np.isfinite(energy) & (energy <= e_zero)))
            if worse.size:
                v[worse] = 0.0
                tw = None if t is None else t[worse]
                energy[worse], grad[worse], hdiag[worse] = self._eval(v[worse], b[worse], tw, beta)
        else:
            energy, grad, hdiag = self._eval(v, b, t, beta)
        start = v.copy() if beta < 0 else None
        failed = self._newton(v, b, t, beta, np.arange(B), energy, grad, hdiag, iters, res, "energy")
        if failed.size and start is not None:
            # −β: the nudge term −½β·c_out·C makes F unbounded below where β·c_out outweighs the
            # output's conductances, and descending F can lead away from the stationary point (on
            # one CPU and not on another: rounding decides).  The samples that failed are followed
            # from their start instead, β stepped from 0 (continuation)
            failed = np.array(
                [i for i in failed if not self._continuation(v, b, t, beta, int(i), start[i], iters, res)],
                dtype=int,
            )
        if failed.size:
            raise ConvergenceError(
                phase_name(beta), int(iters[failed].max()), float(res[failed].max()), tol, failed.tolist()
            )
        return Equilibrium(self, v, u, t, beta, iters, res, phase_name(beta))

    def _continuation(
        self,
        v: np.ndarray,
        b: np.ndarray,
        t: np.ndarray | None,
        beta: float,
        i: int,
        start: np.ndarray,
        iters: np.ndarray,
        res: np.ndarray,
    ) -> bool:
        """Sample ``i``'s equilibrium at ``beta`` reached from ``start`` through the equilibria at
        ``s·beta``, ``s`` stepped from 0 to 1 (a step that does not converge within
        ``_CONTINUATION_ITERATIONS`` Newton iterations, judged by the residual, is halved; a step
        that does is doubled).  ``v[i]``, ``iters[i]`` (every iteration counted) and ``res[i]``
        updated; False where the step fell below ``_CONTINUATION_MIN_STEP`` or the iterations
        reached ``max_newton_iterations`` more than the first try's."""
        sl = slice(i, i + 1)
        vi, bi = start[None, :].copy(), b[sl]
        ti = None if t is None else t[sl]
        it_i, res_i = iters[sl].copy(), res[sl].copy()
        done, ds, total = 0.0, _CONTINUATION_FIRST_STEP, int(iters[i])
        budget = total + self.chip.simulation.max_newton_iterations  # as many again as the first try
        while done < 1.0:
            s = min(1.0, done + ds)
            trial = vi.copy()
            e, g, h = self._eval(trial, bi, ti, s * beta)
            left = self._newton(
                trial,
                bi,
                ti,
                s * beta,
                np.zeros(1, dtype=int),
                e,
                g,
                h,
                it_i,
                res_i,
                "residual",
                maxit=min(_CONTINUATION_ITERATIONS, budget - total),
            )
            total += int(it_i[0])
            if left.size:
                ds *= 0.5
                if ds < _CONTINUATION_MIN_STEP or total >= budget:
                    iters[i], res[i] = total, res_i[0]
                    return False
                continue
            vi, done, ds = trial, s, min(2.0 * ds, _CONTINUATION_FIRST_STEP)
        v[i], iters[i], res[i] = vi[0], total, res_i[0]
        return True

    def _newton(
        self,
        v: np.ndarray,
        b: np.ndarray,
        t: np.ndarray | None,
        beta: float,
        act: np.ndarray,
        energy: np.ndarray,
        grad: np.ndarray,
        hdiag: np.ndarray,
        iters: np.ndarray,
        res: np.ndarray,
        merit: Literal["energy", "residual"],
        it0: int = 0,
        maxit: int | None = None,
    ) -> np.ndarray:
        """Damped Newton on the samples ``act`` (their ``energy``/``grad``/``hdiag`` given), ``v``,
        ``iters`` and ``res`` updated in place; returns the samples left unconverged after
        ``maxit`` iterations (default ``max_newton_iterations``; reported as ``it0`` + the
        iterations done here).

        A step (halved up to 60 times) is taken where it is finite and, with ``merit="energy"``,
        lowers ``F`` (Armijo) or the largest residual; with ``merit="residual"``, lowers
        ``½‖I‖²`` (Armijo), ``I`` the KCL residual (A).
        """
        sim = self.chip.simulation
        tol = sim.residual_tol_A
        maxit = sim.max_newton_iterations if maxit is None else maxit
        c = self._c

        def accept(e_new, g_new, e_old, r_old, phi_old, a, slope):
            if merit == "residual":
                with np.errstate(over="ignore", invalid="ignore"):  # a far step: inf, refused
                    phi_new = 0.5 * ((g_new / c) ** 2).sum(axis=1)
                return np.isfinite(e_new) & (phi_new <= phi_old * (1.0 - 2e-4 * a))
            return np.isfinite(e_new) & (
                (e_new <= e_old + 1e-4 * a * slope) | (np.abs(g_new / c).max(axis=1) < r_old)
            )

        it = 0
        while True:
            r = np.abs(grad / c).max(axis=1) if self.n_free else np.zeros(len(act))
            res[act] = r
            iters[act] = it0 + it
            keep = ~(r <= tol)  # NaN stays unconverged
            if not keep.all():  # (all still active: the arrays as they are, no copies)
                act, energy, grad, hdiag, r = act[keep], energy[keep], grad[keep], hdiag[keep], r[keep]
            if act.size == 0 or it >= maxit:
                return act
            it += 1
            va, ba = v[act], b[act]
            ta = None if t is None else t[act]
            step = self._newton_step(hdiag, grad, beta, np.maximum(_LAYERED_FLOOR * tol, _LAYERED_ETA * r))
            slope = np.einsum("bi,bi->b", grad, step)
            phi = 0.5 * ((grad / c) ** 2).sum(axis=1) if merit == "residual" else r
            alpha = np.ones(act.size)
            new_v = va + step
            new_e, new_g, new_h = self._eval(new_v, ba, ta, beta)
            # the first test on every sample at once, then on those still pending
            ok = accept(new_e, new_g, energy, r, phi, alpha, slope)
            pending = np.flatnonzero(~ok)
            for halving in range(60 if pending.size else 0):
                alpha[pending] *= 0.5
                tv = va[pending] + alpha[pending, None] * step[pending]
                te, tg, th = self._eval(tv, ba[pending], None if ta is None else ta[pending], beta)
                new_v[pending], new_e[pending], new_g[pending], new_h[pending] = tv, te, tg, th
                if halving == 59:
                    break  # the 60th halving is taken untested
                ok = accept(te, tg, energy[pending], r[pending], phi[pending], alpha[pending], slope[pending])
                pending = pending[~ok]
                if pending.size == 0:
                    break
            v[act] = new_v
            energy, grad, hdiag = new_e, new_g, new_h

    # ------------------------------------------------------------------ readouts
    def _columns(self, xb: _Crossbar, eq: Equilibrium) -> np.ndarray:
        """(B, cols) voltages (V) of a crossbar's column nodes."""
        return xb.gain * eq.v[:, xb.cols] if xb.src_free else eq.u[:, xb.cols]

    def voltage_drops(self, eq: Equilibrium) -> dict[str, np.ndarray]:
        """Crossbar → (B, rows, cols) drop ``ΔV = V(src column) − V(dst row)`` (V) across each
        memristor (with wires: between its column-side and row-side wire nodes)."""
        if self._wires is not None:
            out = {}
            for xb in self._xbs:
                w, vall = self._wire_state(xb, eq)
                out[xb.name] = w.drops(vall)
            return out
        return {xb.name: readout.drops(self._columns(xb, eq), eq.v[:, xb.rows]) for xb in self._xbs}

    def loss(self, x: np.ndarray, target: np.ndarray) -> np.ndarray:
        """(B,) loss ``C = ½ Σ (t − y)²`` (V²) at the free equilibrium."""
        eq = self.solve(x)
        t = self._targets(target, eq.batch)
        assert t is not None  # target given
        return readout.loss(t, eq.outputs)

    def energy(self, eq: Equilibrium) -> np.ndarray:
        """(B,) total energy ``Σ_k c_k E_k + β·c_out·C`` (W): crossbar co-content ``½ G ΔV²``, diode
        co-content ``∫ I dV`` and the nudge term, each weighted by its layer's ``c_k``."""
        tot = np.zeros(eq.batch)
        for xb in self._xbs:
            if self._wires is not None:  # memristors and wire segments
                w, vall = self._wire_state(xb, eq)
                dv, ds = w.drops(vall), w.segment_drops(vall)
                tot += 0.5 * xb.c * (ds * ds) @ w.seg_g
            else:
                dv = readout.drops(self._columns(xb, eq), eq.v[:, xb.rows])
            tot += 0.5 * xb.c * np.einsum("rc,brc->b", self._G[xb.name], dv * dv)
        if self._nrn.size:
            vn = eq.v[:, self._nrn]
            tot += (self._nrn_c * (self._diode(vn - self._vh)[2] + self._diode(self._vl - vn)[2])).sum(axis=1)
        if eq.beta != 0.0 and eq.target is not None:
            tot += 0.5 * eq.beta * self._c_out * ((eq.target - eq.outputs) ** 2).sum(axis=1)
        return tot

    def kcl_residual(self, eq: Equilibrium) -> np.ndarray:
        """(B, n_free) net current leaving each free node (A), from the element currents."""
        cur = np.zeros_like(eq.v)
        amp_out = np.zeros_like(eq.v)  # Σ I_out/gain drawn by the CCCS of each in_node
        for xb in self._xbs:
            if self._wires is not None:
                w, vall = self._wire_state(xb, eq)
                ip = w.port_currents(vall)  # (B, C + R) current from each port into the crossbar (A)
                C = xb.cols.size
                np.add.at(cur.T, xb.rows, ip[:, C:].T)
                if xb.src_free:
                    np.add.at(amp_out.T, xb.cols, (ip[:, :C] / xb.gain).T)
                continue
            g = self._G[xb.name]
            dv = readout.drops(self._columns(xb, eq), eq.v[:, xb.rows])
            i = g * dv  # (B, R, C) current from column into row (A)
            np.add.at(cur.T, xb.rows, -i.sum(axis=2).T)
            if xb.src_free:
                np.add.at(amp_out.T, xb.cols, (i.sum(axis=1) / xb.gain).T)
        cur += amp_out
        if self._nrn.size:
            vn = eq.v[:, self._nrn]
            cur[:, self._nrn] += self._diode(vn - self._vh)[0] - self._diode(self._vl - vn)[0]
        if eq.beta != 0.0 and eq.target is not None:
            cur -= eq.beta * ((eq.target - eq.outputs) @ self._P)
        return cur

    def power(self, eq: Equilibrium) -> dict[str, np.ndarray]:
        """Power absorbed by every element (W; negative = delivered), grouped by kind.

        Keys: ``crossbar:<name>`` (B, rows, cols) ``G·ΔV²``; ``diode_hi`` / ``diode_lo`` (B, n_neuron)
        ``V_d·I_d`` of the node→nrn_hi and nrn_lo→node diodes (gmin included); ``vcvs`` and ``cccs``
        (B, n_amp) ``−V_out·I_out`` and ``V_in·I_out/gain`` in ``chip.amplifiers`` order; ``source``
        (B, n_fixed) ``−V·I`` of every voltage source (``fixed_nodes`` order); ``nudge`` (B, n_free)
        ``−V·I`` of the nudging current sources.  By Tellegen's theorem all of it sums to 0.
        """
        out: dict[str, np.ndarray] = {}
        B = eq.batch
        src_i = np.zeros((B, len(self.fixed_nodes)))  # current delivered by each source (A)
        amp_i = {a.out_node: np.zeros(B) for a in self.chip.amplifiers}
        for xb, ir in zip(self._xbs, self.chip.crossbars, strict=True):
            g = self._G[xb.name]
            if self._wires is not None:
                w, vall = self._wire_state(xb, eq)
                dv, ds = w.drops(vall), w.segment_drops(vall)
                out[f"wire:{xb.name}"] = w.seg_g * ds * ds
                ic = w.port_currents(vall)[:, : xb.cols.size]  # current out of each column node (A)
            else:
                dv = readout.drops(self._columns(xb, eq), eq.v[:, xb.rows])
                ic = (g * dv).sum(axis=1)  # (B, C) current out of each column node (A)
            out[f"crossbar:{xb.name}"] = g * dv * dv
            if xb.src_free:
                for c, node in enumerate(ir.src_nodes):
                    if node in amp_i:  # else amplifiers are off: the column is the free node itself
                        amp_i[node] += ic[:, c]
            else:
                np.add.at(src_i.T, xb.cols, ic.T)
        if self._nrn.size:
            vn = eq.v[:, self._nrn]
            xh, xl = vn - self._vh, self._vl - vn
            ih, il = self._diode(xh)[0], self._diode(xl)[0]
            out["diode_hi"], out["diode_lo"] = xh * ih, xl * il
            src_i[:, self._fixed["nrn_hi"]] -= ih.sum(axis=1)
            src_i[:, self._fixed["nrn_lo"]] += il.sum(axis=1)
        volts = eq.voltages()
        amps = self.chip.amplifiers
        out["vcvs"] = (
            np.stack([-volts[a.out_node] * amp_i[a.out_node] for a in amps], axis=1)
            if amps
            else np.zeros((B, 0))
        )
        out["cccs"] = (
            np.stack([volts[a.in_node] * amp_i[a.out_node] / a.gain for a in amps], axis=1)
            if amps
            else np.zeros((B, 0))
        )
        out["source"] = -eq.u * src_i
        nud = np.zeros_like(eq.v)
        if eq.beta != 0.0 and eq.target is not None:
            nud = -eq.v * (eq.beta * ((eq.target - eq.outputs) @ self._P))
        out["nudge"] = nud
        return out

    def power_totals(self, eq: Equilibrium) -> dict[str, np.ndarray]:
        """(B,) total absorbed power (W) per group: ``resistors``, ``diodes``, ``amplifiers``
        (VCVS + CCCS), ``sources`` (voltage sources) and ``nudge``; the groups sum to 0."""
        p = self.power(eq)
        res = sum(v.sum(axis=(1, 2)) for k, v in p.items() if k.startswith("crossbar:"))
        dio = sum((p[k].sum(axis=1) for k in ("diode_hi", "diode_lo") if k in p), np.zeros(eq.batch))
        wires = {}
        if self._wires is not None:  # only with wire resistance: the ideal chip's keys stay as they were
            wires["wires"] = sum(
                (v.sum(axis=1) for k, v in p.items() if k.startswith("wire:")), np.zeros(eq.batch)
            )
        return {
            **wires,
            "resistors": np.asarray(res),
            "diodes": dio,
            "amplifiers": p["vcvs"].sum(axis=1) + p["cccs"].sum(axis=1),
            "sources": p["source"].sum(axis=1),
            "nudge": p["nudge"].sum(axis=1),
        }

    # ------------------------------------------------------------------ gradients
    def _pair_mean(self, xb: _Crossbar, e1: Equilibrium, e0: Equilibrium) -> np.ndarray:
        """(rows, cols) batch mean of ``ΔV²(e1) − ΔV²(e0)`` (V²) (:func:`.readout.pair_mean`; with
        wires: from the memristor drops at the wire nodes)."""
        if self._wires is not None:
            w, v1 = self._wire_state(xb, e1)
            v0 = w.all_voltages(self._ports(xb, e0))
            return (w.drops(v1 - v0) * w.drops(v1 + v0)).mean(axis=0)
        return readout.pair_mean(
            self._columns(xb, e1), e1.v[:, xb.rows], self._columns(xb, e0), e0.v[:, xb.rows]
        )

    def ep_phases(
        self,
        x: np.ndarray,
        target: np.ndarray,
        beta: float | None = None,
        centered: bool | None = None,
        *,
        v0_free: np.ndarray | None = None,
    ) -> tuple[Equilibrium, Equilibrium, Equilibrium]:
        """The three equilibria EP uses: (free, first, second).  Vanilla: (free, +β, free); centered:
        (free, +β, −β).  β (S) and centered default to ``chip.nudge``; ``v0_free``: (B, n_free)
        start of the free phase (V), e.g. the last step's free equilibrium (the free energy is
        convex: the same equilibrium, to the residual tolerance, in fewer Newton iterations)."""
        beta = self.chip.nudge.beta_S if beta is None else float(beta)
        centered = self.chip.nudge.centered if centered is None else centered
        if beta <= 0:
            raise CodegenError(f"golden model: EP needs beta > 0 S, got {beta}")
        with self._blas_threads():  # one limit for the three solves
            u = self.source_values(x)  # once for the three phases
            free = self.solve(x, v0=v0_free, sources=u)
            plus = self.solve(x, target, beta, v0=free.v, sources=u)
            minus = self.solve(x, target, -beta, v0=free.v, sources=u) if centered else free
        return free, plus, minus

    def ep_gradient(
        self,
        x: np.ndarray,
        target: np.ndarray,
        beta: float | None = None,
        centered: bool | None = None,
        energy: Literal["full", "resistors_only"] = "full",
    ) -> dict[str, np.ndarray]:
        """Batch-mean EP estimate of ``∂C/∂G`` (V²/S) for every crossbar.

        ``energy="full"`` differentiates the energy the circuit minimises, ``Σ_k c_k E_k``:
        ``(c/c_out)·(ΔV²_β − ΔV²_0)/(2β)`` (centered: ``(ΔV²_{+β} − ΔV²_{−β})/(4β)``).
        ``energy="resistors_only"`` uses the resistor drops alone, unweighted,
        ``(ΔV²_β − ΔV²_0)/(2β)``: the rule one gets from the resistors' dissipated power when the
        amplifiers' re-weighting of each layer's energy is left out (equal to ``full`` without
        amplifiers, a layer-wise mis-scaled gradient with them).
        """
        return self.ep_gradient_and_free(x, target, beta, centered, energy)[0]

    @_blas_limited
    def ep_gradient_and_free(
        self,
        x: np.ndarray,
        target: np.ndarray,
        beta: float | None = None,
        centered: bool | None = None,
        energy: Literal["full", "resistors_only"] = "full",
        *,
        v0_free: np.ndarray | None = None,
    ) -> tuple[dict[str, np.ndarray], Equilibrium]:
        """:meth:`ep_gradient` and the free equilibrium it solved (outputs, loss: no second solve);
        ``v0_free``: as in :meth:`ep_phases`."""
        free, first, second = self.ep_phases(x, target, beta, centered, v0_free=v0_free)
        denom = readout.ep_denominator(first.beta, second is not free)
        if energy not in readout.ENERGIES:
            raise CodegenError(f"golden model: energy must be 'full' or 'resistors_only', got {energy!r}")
        scale = readout.ep_scale(self.chip, energy)
        out = {xb.name: scale[xb.name] * self._pair_mean(xb, first, second) / denom for xb in self._xbs}
        return out, free

    def hessian(self, eq: Equilibrium) -> np.ndarray:
        """(B, n_free, n_free) Hessian of the energy ``F`` at ``eq`` (S, c-scaled)."""
        _, _, hd = self._eval(eq.v, eq.u @ self._Bm.T, eq.target, eq.beta)
        H = np.broadcast_to(
            self._K + eq.beta * self._c_out * self._PtP, (eq.batch, self.n_free, self.n_free)
        ).copy()
        H[:, np.arange(self.n_free), np.arange(self.n_free)] += hd
        return H

    @_blas_limited
    def exact_gradient(self, x: np.ndarray, target: np.ndarray) -> dict[str, np.ndarray]:
        """Batch-mean ``∂C/∂G`` (V²/S) by implicit differentiation of the free equilibrium.

        Adjoint ``λ_b = H_b⁻¹ ∂C/∂v`` (V/S; ``H_b`` the Hessian Newton uses, S), then
        ``∂C/∂G[r, c] = −c·ΔV[r, c]·(gain·λ_col − λ_row)``.
        """
        eq = self.solve(x)
        t = self._targets(target, eq.batch)
        dCdv = -(t - eq.outputs) @ self._P  # (B, n_free) V
        _, _, hd = self._eval(eq.v, eq.u @ self._Bm.T, None, 0.0)
        if self.method == "dense":
            lam = self._dense_solve(self._K, hd, dCdv)
        elif self.method == "layered":
            # λ to 1e-13 of the right-hand side's scale (dense: exact to rounding)
            tol_lam = 1e-13 * np.abs(dCdv / self._c).max(axis=1)
            lam = self._layered_solve(0.0, hd, dCdv, tol_lam)
        else:
            lam = self._sparse_solve(self._K, hd, dCdv)
        B = eq.batch
        out = {}
        for xb in self._xbs:
            if self._wires is not None:  # adjoint at the wire nodes by the same linear map as voltages
                w, vall = self._wire_state(xb, eq)
                mu_c = xb.gain * lam[:, xb.cols] if xb.src_free else np.zeros((B, xb.cols.size))
                lall = w.all_voltages(np.concatenate([mu_c, lam[:, xb.rows]], axis=1))
                out[xb.name] = -xb.c * (w.drops(vall) * w.drops(lall)).mean(axis=0)
                continue
            s, vr, lr = self._columns(xb, eq), eq.v[:, xb.rows], lam[:, xb.rows]
            mu = xb.gain * lam[:, xb.cols] if xb.src_free else np.zeros_like(s)
            # mean_b (s_c − v_r)(μ_c − λ_r)
            m = (
                (s * mu).mean(axis=0)[None, :]
                - (lr.T @ s) / B
                - (vr.T @ mu) / B
                + (vr * lr).mean(axis=0)[:, None]
            )
            out[xb.name] = -xb.c * m
        return out
