"""A batch of operating points split over several libngspice processes.

libngspice is one per process (:func:`codegen.run.ngspice.shared_ngspice`), and one
:class:`~codegen.run.ngspice.BatchSession` analysis runs on one core.  :class:`BatchPool` holds a
session in this process and ``workers − 1`` more in worker processes (``python -m
codegen.run.batch_pool``), each with the whole network loaded: :meth:`BatchPool.solve` gives each
session a contiguous slice of the batch (``numpy.array_split`` order), the slices run at the same
time, and the results are joined in sample order; :meth:`BatchPool.set_conductances` alters the
changed cells in every session at the same time.

The split is fixed by ``workers`` alone, never by the machine, so the numbers do not depend on the
core count: each slice's first sample starts Newton from that session's last solution instead of
the previous sample's, which moves node voltages by ~1e-12 V (the sessions' own convergence
tolerance), not more.

Protocol: length-prefixed pickles over the worker's stdin/stdout, ``("open", kwargs)``,
``("g", conductances)``, ``("solve", x, t)``, answered ``("ok", value)`` or ``("error", message)``;
ngspice's own output goes to stderr, so nothing it prints can be mistaken for a reply.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..ir import Chip

__all__ = ["BatchPool", "worker_main"]

_HEAD = struct.Struct("<Q")


def _send(fh: BinaryIO, obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    fh.write(_HEAD.pack(len(data)) + data)
    fh.flush()


def _recv(fh: BinaryIO) -> Any:
    head = fh.read(_HEAD.size)
    if len(head) < _HEAD.size:
        raise EOFError("the worker closed its pipe")
    (n,) = _HEAD.unpack(head)
    return pickle.loads(fh.read(n))


class _Worker:
    """One worker process holding a BatchSession."""

    def __init__(self, kwargs: dict, index: int):
        from .tran_session import _python

        self.where = f"ngspice worker {index}"
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        self.proc = subprocess.Popen(
            [_python(), "-m", "codegen.run.batch_pool"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self.send(("open", kwargs))

    def send(self, msg: tuple) -> None:
        from .ngspice import NgspiceError

        assert self.proc.stdin is not None
        try:
            _send(self.proc.stdin, msg)  # type: ignore[arg-type]
        except (BrokenPipeError, OSError):
            raise NgspiceError(f"the {self.where} exited (status {self.proc.poll()})") from None

    def reply(self) -> Any:
        from .ngspice import NgspiceError

        assert self.proc.stdout is not None
        try:
            kind, value = _recv(self.proc.stdout)  # type: ignore[arg-type]
        except EOFError:
            raise NgspiceError(f"the {self.where} exited (status {self.proc.wait()})") from None
        if kind == "error":
            raise NgspiceError(f"{self.where}: {value}")
        return value

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                if self.proc.stdin is not None:
                    self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class BatchPool:
    """:class:`~codegen.run.ngspice.BatchSession` over ``workers`` processes (this one included).

    Takes BatchSession's arguments (``files``, ``top``, ``nodes``, ``conductances`` in S,
    ``reltol_factor``); ``workers = 1`` is a plain BatchSession in this process.  ``seconds``: wall
    time of the last :meth:`solve` (s); ``altered``: resistors re-written in this process's session
    (every session alters the same cells).  Call :meth:`close` (or let it be collected) to end the
    workers.
    """

    def __init__(
        self,
        chip: Chip,
        files: Mapping[str, str],
        top: str = "simultaneous",
        nodes: list[str] | None = None,
        conductances: Mapping[str, np.ndarray] | None = None,
        reltol_factor: float | None = None,
        workers: int = 2,
    ):
        from .ngspice import BatchSession, NgspiceError

        if workers < 1:
            raise NgspiceError(f"BatchPool needs at least one worker, got {workers}")
        kwargs: dict[str, Any] = {
            "chip": chip,
            "files": dict(files),
            "top": top,
            "nodes": nodes,
            "conductances": None
            if conductances is None
            else {k: np.asarray(v) for k, v in conductances.items()},
            "reltol_factor": reltol_factor,
        }
        self.workers: list[_Worker] = []
        try:
            # the workers load their decks while this process loads its own
            self.workers = [_Worker(kwargs, i) for i in range(1, workers)]
            self.session = BatchSession(**kwargs)
            for w in self.workers:
                w.reply()
        except BaseException:
            self.close()
            raise
        self.n = workers
        self.nodes = self.session.nodes
        self.load_seconds = self.session.load_seconds
        self.seconds = 0.0

    @property
    def altered(self) -> int:
        return self.session.altered

    def set_conductances(self, conductances: Mapping[str, np.ndarray]) -> None:
        """Set every session's crossbars to ``conductances`` (S), the changed cells only."""
        g = {k: np.asarray(v, dtype=float) for k, v in conductances.items()}
        for w in self.workers:
            w.send(("g", g))
        try:
            self.session.set_conductances(g)
        finally:
            self._replies(self.workers)  # read every reply, also when this session refused

    @staticmethod
    def _replies(workers: list[_Worker]) -> list[Any]:
        """Every worker's reply (so none is left in a pipe); the first error raised after all."""
        from .ngspice import NgspiceError

        got: list[Any] = []
        first: NgspiceError | None = None
        for w in workers:
            try:
                got.append(w.reply())
            except NgspiceError as exc:
                first = first or exc
                got.append(None)
        if first is not None:
            raise first
        return got

    def solve(self, x: np.ndarray, target: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """As :meth:`codegen.run.ngspice.BatchSession.solve`: per network copy, a (samples, nodes)
        array of node voltages (V), samples in the order of ``x``."""
        t0 = time.perf_counter()
        x = np.atleast_2d(np.asarray(x, dtype=float))
        t = None if target is None else np.atleast_2d(np.asarray(target, dtype=float))
        parts = [p for p in np.array_split(np.arange(len(x)), self.n) if len(p)]
        busy = self.workers[: len(parts) - 1]
        for w, p in zip(busy, parts[1:], strict=True):
            w.send(("solve", x[p], None if t is None else t[p]))
        try:
            own = self.session.solve(x[parts[0]], None if t is None else t[parts[0]])
        finally:
            got = self._replies(busy)  # read every reply, also when this session failed
        out = {c: np.concatenate([own[c], *(r[c] for r in got)], axis=0) for c in own}
        self.seconds = time.perf_counter() - t0
        return out

    def close(self) -> None:
        for w in self.workers:
            w.close()
        self.workers = []

    def __del__(self) -> None:  # a pool left open must not leave its workers behind
        try:
            self.close()
        except Exception:
            pass


def worker_main() -> int:
    """The worker: requests on stdin, replies on the stdout it was started with; anything printed
    (ngspice, PySpice) goes to stderr."""
    reply = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    session = None
    while True:
        try:
            msg = _recv(requests)
        except EOFError:
            return 0
        try:
            if msg[0] == "open":
                from .ngspice import BatchSession

                session = BatchSession(**msg[1])
                value: object = None
            elif session is None:
                raise RuntimeError("no session opened")
            elif msg[0] == "g":
                session.set_conductances(msg[1])
                value = None
            elif msg[0] == "solve":
                value = session.solve(msg[1], msg[2])
            else:
                raise RuntimeError(f"unknown request {msg[0]!r}")
            _send(reply, ("ok", value))
        except Exception as exc:
            _send(reply, ("error", f"{type(exc).__name__}: {exc}"))


if __name__ == "__main__":
    sys.exit(worker_main())
