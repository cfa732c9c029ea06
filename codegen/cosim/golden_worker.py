"""The co-simulation's golden side in a process of its own: its work overlaps the controller's.

In a co-simulated step the chip side (ngspice's phases, the controller RTL, the chip's devices) and
the golden side (:class:`codegen.cosim.loop.GoldenTwin`: the golden model's EP solve, the rule, the
golden devices) meet only where they are compared: the golden step is needed once ngspice's codes
are known, the golden conductances once the chip's devices are programmed.  So the golden update
of step ``s`` and the EP solve of batch ``s + 1`` can run while the RTL programs the chip and
ngspice solves batch ``s + 1``: on a second core.  Python threads would not overlap them (the
golden model on a small chip is Python-bound and holds the GIL), so the twin runs in a worker.

:class:`GoldenWorker` (in :func:`codegen.cosim.runner.run_rtl_cosim`) starts ``python -m
codegen.cosim.golden_worker CONFIG`` before the simulator, so the worker's imports and its twin's
set-up overlap the simulator's start.  The worker listens on a socket
(:class:`multiprocessing.connection.Listener`: a Unix socket in a fresh temporary folder and a
random 32-byte key, both chosen by the parent, handed to the worker on stdin and to the testbench
in its environment, ``EQP_GOLDEN_ADDRESS`` and ``EQP_GOLDEN_KEY``; the worker leaves when that
stdin closes);
the testbench connects with :class:`GoldenClient`, which :func:`codegen.cosim.loop.run_loop` uses as
its twin.  The worker builds the chip from the same configuration file the testbench reads
(:func:`codegen.cosim.runner.read_config`), so both sides elaborate the same spec.

Requests and replies are Python objects (the connection pickles them; both ends are this
package, on this machine, behind the key).  The numbers are the in-process twin's bit for bit: the
same code on the same arrays (``tests/test_cosim_golden_worker.py``).  A golden-model error in the
worker is raised again in the loop with its own type and message.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CodegenError
from ..run.ngspice import netlist_files

__all__ = ["ADDRESS_ENV", "GoldenClient", "GoldenWorker", "KEY_ENV", "serve"]

#: environment variables the testbench reads the worker's socket and key (hex) from
ADDRESS_ENV = "EQP_GOLDEN_ADDRESS"
KEY_ENV = "EQP_GOLDEN_KEY"
#: longest wait (s) for the worker to start listening, or for one reply
TIMEOUT_S = 300.0


class GoldenWorker:
    """The parent's handle on a worker process: started with the run's configuration file, it
    listens at :attr:`address` for the testbench (key :attr:`key`).  :meth:`close` stops it."""

    def __init__(self, config: str | Path, log: str | Path | None = None):
        import tempfile

        from ..run.tran_session import _python

        self.key = os.urandom(32)
        # chosen here, so nothing waits for the worker's imports (a short path: Unix sockets allow
        # about 100 characters)
        self._dir = tempfile.mkdtemp(prefix="eqp-golden-")
        self.address = os.path.join(self._dir, "socket")
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        self._log = None if log is None else Path(log).open("w")
        self._proc = subprocess.Popen(
            [_python(), "-m", "codegen.cosim.golden_worker", str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL if self._log is None else self._log,
            text=True,
            env=env,
        )
        assert self._proc.stdin is not None
        # stdin stays open: the worker leaves when it closes (this process done, or gone)
        self._proc.stdin.write(f"{self.key.hex()} {self.address}\n")
        self._proc.stdin.flush()

    def close(self) -> None:
        """Stop the worker (it has normally left already, after the loop's ``close``)."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()  # the worker's watcher exits on this
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._log is not None:
            self._log.close()
        import shutil

        shutil.rmtree(self._dir, ignore_errors=True)


class GoldenClient:
    """:class:`codegen.cosim.loop.GoldenTwin`'s interface, served by a worker.

    ``seconds``: time the loop waited here (s), sending and receiving included;
    :meth:`close` returns the worker's own time (s)."""

    def __init__(self, address: str, key: bytes):
        self._address, self._key = address, key
        self._conn_: Any = None  # connected at the first request (the worker answers once set up)
        self.seconds = 0.0
        self._initial: dict[str, np.ndarray] | None = None
        self._waiting = 0  # requests sent whose answers are not read yet
        self._closed = False

    @property
    def _conn(self) -> Any:
        if self._conn_ is None:
            from multiprocessing.connection import Client

            t_end = time.monotonic() + TIMEOUT_S
            while True:  # the worker may not listen yet (its imports run while the simulator starts)
                try:
                    self._conn_ = Client(self._address, family="AF_UNIX", authkey=self._key)
                    break
                except (FileNotFoundError, ConnectionRefusedError) as exc:
                    if time.monotonic() > t_end:
                        raise CodegenError(
                            f"the golden worker did not listen at {self._address} within {TIMEOUT_S:g} s: {exc}"
                        ) from None
                    time.sleep(0.002)
        return self._conn_

    def _call(self, *msg: Any) -> Any:
        t0 = time.perf_counter()
        try:
            self._conn.send(msg)
            return self._reply()
        finally:
            self.seconds += time.perf_counter() - t0

    def _reply(self) -> Any:
        if not self._conn.poll(TIMEOUT_S):
            raise CodegenError(f"the golden worker did not answer within {TIMEOUT_S:g} s")
        try:
            kind, value = self._conn.recv()
        except EOFError:
            raise CodegenError("the golden worker exited (its log: sim_build/golden_worker.log)") from None
        if kind == "error":
            raise value
        return value

    @property
    def initial(self) -> dict[str, np.ndarray]:
        """The golden devices' initial conductances (S)."""
        if self._initial is None:
            self._initial = self._call("initial")
        return self._initial

    def initial_netlists(self) -> dict[str, str]:
        """The spice backend's files at :attr:`initial` (:func:`codegen.run.ngspice.netlist_files`),
        rendered by the worker while the simulator started."""
        return self._call("netlists")

    def step(self, x: np.ndarray, t: np.ndarray, g_chip: dict[str, np.ndarray]):
        """:meth:`GoldenTwin.step <codegen.cosim.loop.GoldenTwin.step>` in the worker."""
        return self._call("step", x, t, g_chip)

    def _start(self, *msg: Any) -> None:
        t0 = time.perf_counter()
        self._conn.send(msg)
        self._waiting += 1
        self.seconds += time.perf_counter() - t0

    def _finish(self) -> Any:
        t0 = time.perf_counter()
        try:
            self._waiting -= 1
            return self._reply()
        finally:
            self.seconds += time.perf_counter() - t0

    def start_step(self, x: np.ndarray, t: np.ndarray, g_chip: dict[str, np.ndarray]) -> None:
        """Send the step's batch; the worker solves it (or takes its prefetch) while ngspice runs."""
        self._start("step", x, t, g_chip)

    def finish_step(self):
        """The :class:`~codegen.cosim.loop.GoldenStep` of :meth:`start_step`'s batch."""
        return self._finish()

    def start_program(self, codes: dict[str, np.ndarray], nxt: tuple[np.ndarray, np.ndarray] | None) -> None:
        """Send the step's golden update; the worker applies it, answers with the conductances and
        then solves the next batch ``nxt`` ahead, while the loop goes on."""
        self._start("program", codes, nxt)

    def finish_program(self) -> dict[str, np.ndarray]:
        """The golden conductances (S) after the codes of :meth:`start_program`."""
        return self._finish()

    def close(self) -> float | None:
        """Stop the worker; its own seconds (s), or ``None`` if it had already gone."""
        if self._closed:
            return None
        self._closed = True
        try:
            while self._waiting:  # answers the loop did not wait for (it stopped at a divergence)
                try:
                    self._finish()
                except Exception:  # noqa: BLE001 - the loop has its verdict already; this is an old answer
                    pass
            return float(self._call("close"))
        except (CodegenError, OSError):
            return None
        finally:
            if self._conn_ is not None:
                self._conn_.close()


def _answer(conn, fn, *args: Any) -> None:
    """Send ``("ok", fn(*args))``, or ``("error", exception)`` (as a :class:`CodegenError` with the
    same message where the exception does not survive pickling)."""
    import pickle

    try:
        conn.send(("ok", fn(*args)))
    except Exception as exc:  # noqa: BLE001 - raised again in the loop
        try:
            pickle.loads(pickle.dumps(exc))
            conn.send(("error", exc))
        except Exception:  # noqa: BLE001 - an exception pickle cannot rebuild
            conn.send(("error", CodegenError(f"golden worker: {type(exc).__name__}: {exc}")))


def serve(conn, twin, netlists: dict[str, str] | None = None) -> None:
    """Answer the loop's requests with ``twin`` (a :class:`~codegen.cosim.loop.GoldenTwin`) until
    it says ``close`` or hangs up; ``netlists``: the spice files at the initial conductances."""
    busy = 0.0
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        t0 = time.perf_counter()
        op = msg[0]
        if op == "initial":
            _answer(conn, lambda: twin.initial)
        elif op == "netlists":
            _answer(
                conn, lambda: netlists if netlists is not None else netlist_files(twin.chip, twin.initial)
            )
        elif op == "step":
            _answer(conn, twin.step, *msg[1:])
        elif op == "program":
            codes, nxt = msg[1], msg[2]
            _answer(conn, twin.program, codes)
            if nxt is not None:
                twin.prefetch(*nxt)  # a solver error is left for the next step to raise
        elif op == "close":
            busy += time.perf_counter() - t0
            conn.send(("ok", busy))
            return
        else:
            conn.send(("error", CodegenError(f"golden worker: unknown request {op!r}")))
        busy += time.perf_counter() - t0


def _leave_with_parent() -> None:
    """Exit as soon as the parent closes stdin or dies (the pipe's end): a testbench that never
    connected, or a run stopped with Ctrl-C, leaves no worker behind."""
    sys.stdin.read()
    os._exit(0)


def main(argv: list[str]) -> int:
    import signal
    import threading
    from multiprocessing.connection import Listener

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it closes the pipe
    key_hex, address = sys.stdin.readline().split(maxsplit=1)
    threading.Thread(target=_leave_with_parent, daemon=True).start()
    with Listener(address.strip(), family="AF_UNIX", authkey=bytes.fromhex(key_hex)) as listener:
        error: Exception | None = None
        twin = netlists = None
        try:
            import json

            from .loop import GoldenTwin
            from .runner import read_config

            chip, cfg = read_config(json.loads(Path(argv[1]).read_text()))
            twin = GoldenTwin(chip, cfg.rule(chip))
            netlists = netlist_files(chip, twin.initial)  # the loop's ngspice deck, ahead
        except Exception as exc:  # noqa: BLE001 - told to the loop at its first request
            error = CodegenError(f"golden worker: {type(exc).__name__}: {exc}")
        try:
            conn = listener.accept()
        except Exception:  # noqa: BLE001 - a client without the key, or none: nothing to serve
            return 1
        with conn:
            if error is not None:
                try:
                    conn.recv()
                    conn.send(("error", error))
                except (EOFError, OSError):
                    pass
                return 1
            serve(conn, twin, netlists)
    return 0


if __name__ == "__main__":
    rc = main(sys.argv)
    sys.stderr.flush()
    os._exit(rc)  # no interpreter teardown (≈ 0.1 s the parent would wait for): nothing is left to write
