"""The co-simulation's golden side in a process of its own: its work overlaps the controller's.

In a co-simulated step the chip side (ngspice's phases, the controller RTL, the chip's devices) and
the golden side (:class:`codegen.cosim.loop.GoldenTwin`: the golden model's EP solve, the rule, the
golden devices) meet only where they are compared: the golden step is needed once ngspice's codes
are known, the golden conductances once the chip's devices are programmed.  So the golden update
of step ``s`` and the EP solve of batch ``s + 1`` can run while the RTL programs the chip and
ngspice solves batch ``s + 1``: on a second core.  Python threads would not overlap them (the
golden model on a small chip is Python-bound and holds the GIL, and cocotb keeps the GIL while the
simulator runs), so the twin runs in a worker.  So does the reading of the controller's lines: each
crossbar's capture is decoded there (:func:`codegen.cosim.decode.decode`) and, with behavioral
devices, its cells programmed (:class:`codegen.cosim.devices.BehavioralDevices`), while the RTL
programs the next crossbar.

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
package, on this machine, behind the key: the connection's HMAC challenge, in a folder only this
user can open, ``tempfile.mkdtemp``).  The numbers are the in-process twin's bit for bit: the
same code on the same arrays (``tests/test_cosim_golden_worker.py``).  A golden-model error in the
worker is raised again in the loop with its own type and message.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..controller import CtrlParams
from ..errors import CodegenError
from ..ir import Chip
from ..run.ngspice import netlist_files
from .decode import Capture, Decoded, decode

__all__ = ["ADDRESS_ENV", "GoldenClient", "GoldenWorker", "KEY_ENV", "PID_ENV", "WorkerDevices", "serve"]

#: environment variables the testbench reads the worker's socket, key (hex) and process id from
ADDRESS_ENV = "EQP_GOLDEN_ADDRESS"
KEY_ENV = "EQP_GOLDEN_KEY"
PID_ENV = "EQP_GOLDEN_PID"
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
        if len(os.fsencode(self._dir)) > 90:  # a long TMPDIR: the socket would not fit
            os.rmdir(self._dir)
            self._dir = tempfile.mkdtemp(prefix="eqp-golden-", dir="/tmp")
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
        self.pid = self._proc.pid
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

    The worker answers in the order it was asked; each ``start_…`` queues the name of the answer it
    expects, and ``finish_…`` reads answers up to its own (keeping those that came before it).
    ``seconds``: time the loop waited for golden answers (s), sending included; ``lines_seconds``:
    for decoded lines; :meth:`close` returns the worker's own time (s)."""

    def __init__(self, address: str, key: bytes, log: str | Path | None = None, pid: int | None = None):
        """``log``: the worker's log file, named in the message if it exits; ``pid``: its process,
        so that a worker that died before it listened is told at once, not after ``TIMEOUT_S``."""
        self._address, self._key, self._pid = address, key, pid
        self._exited = f"the golden worker exited (its log: {log})" if log else "the golden worker exited"
        self._conn_: Any = None  # connected at the first request (the worker answers once set up)
        self.seconds = 0.0
        self.lines_seconds = 0.0
        self._initial: dict[str, np.ndarray] | None = None
        self._expect: deque[Any] = deque()  # names of the answers on their way, in order
        self._got: dict[Any, tuple[str, Any]] = {}  # answers read ahead of the one asked for
        self._next: tuple[np.ndarray, np.ndarray] | None = None  # the batch to solve ahead
        self._program: tuple[str, Any] | None = None  # the golden update's answer, collected
        self._program_sent = False
        self._lines: list[str] = []  # crossbars whose decoded lines are on their way
        self._devices: WorkerDevices | None = None
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
                    if self._pid is not None and not _alive(self._pid):
                        raise CodegenError(f"{self._exited} before it listened") from None
                    if time.monotonic() > t_end:
                        raise CodegenError(
                            f"the golden worker did not listen at {self._address} within {TIMEOUT_S:g} s: {exc}"
                        ) from None
                    time.sleep(0.002)
        return self._conn_

    def _start(self, tag: Any, *msg: Any) -> None:
        try:
            self._conn.send(msg)
        except OSError:
            raise CodegenError(self._exited) from None
        if tag is not None:
            self._expect.append(tag)

    def _finish(self, tag: Any) -> Any:
        while tag not in self._got:
            if not self._expect:
                raise CodegenError(f"golden worker: no answer {tag!r} is on its way")
            first = self._expect.popleft()
            if not self._conn.poll(TIMEOUT_S):
                raise CodegenError(f"the golden worker did not answer within {TIMEOUT_S:g} s")
            try:
                self._got[first] = self._conn.recv()
            except (EOFError, OSError):
                raise CodegenError(self._exited) from None
        kind, value = self._got.pop(tag)
        if kind == "error":
            raise value
        return value

    def _call(self, *msg: Any) -> Any:
        t0 = time.perf_counter()
        try:
            self._start(msg[0], *msg)
            return self._finish(msg[0])
        finally:
            self.seconds += time.perf_counter() - t0

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

    def start_step(self, x: np.ndarray, t: np.ndarray, g_chip: dict[str, np.ndarray]) -> None:
        """Send the step's batch; the worker solves it (or takes its prefetch) while ngspice runs."""
        t0 = time.perf_counter()
        self._start("step", "step", x, t, g_chip)
        self.seconds += time.perf_counter() - t0

    def finish_step(self):
        """The :class:`~codegen.cosim.loop.GoldenStep` of :meth:`start_step`'s batch."""
        t0 = time.perf_counter()
        try:
            return self._finish("step")
        finally:
            self.seconds += time.perf_counter() - t0

    def start_program(self, codes: dict[str, np.ndarray], nxt: tuple[np.ndarray, np.ndarray] | None) -> None:
        """Send the step's golden update (the worker applies it at once; its answer comes with the
        decoded lines, :meth:`lines`); the next batch ``nxt`` is solved ahead after the lines are
        read, so their reading is not kept waiting behind it."""
        t0 = time.perf_counter()
        self._start(None, "program", codes)
        self._program = None  # the answer, once collected
        self._program_sent = True
        self._next = nxt
        self.seconds += time.perf_counter() - t0

    def _collect(self) -> dict[str, Any]:
        """Everything the worker has done since the last collection: the golden update's answer
        and each crossbar's decoded lines, in one answer; then the next batch's solve is sent."""
        self._start("collect", "collect")
        if self._next is not None:
            self._start(None, "prefetch", *self._next)  # no answer: the next step takes it
            self._next = None
        got = self._finish("collect")
        if got["program"] is not None:
            self._program = got["program"]
        return got["lines"]

    def finish_program(self) -> dict[str, np.ndarray]:
        """The golden conductances (S) after the codes of :meth:`start_program`."""
        t0 = time.perf_counter()
        try:
            if self._program is None:
                if not self._program_sent:
                    raise CodegenError("golden worker: finish_program without start_program")
                self._collect()
            assert self._program is not None
            (kind, value), self._program, self._program_sent = self._program, None, False
            if kind == "error":
                raise value
            return value
        finally:
            self.seconds += time.perf_counter() - t0

    def read_lines(self, p: CtrlParams, cap: Capture) -> None:
        """Send one crossbar's capture: the worker decodes it (and, with :meth:`behavioral_devices`,
        programs its cells) while the controller programs the next crossbar."""
        t0 = time.perf_counter()
        self._start(None, "lines", p.name, cap, self._devices is not None)
        self._lines.append(p.name)
        self.lines_seconds += time.perf_counter() - t0

    def lines(self) -> dict[str, Decoded]:
        """The decoded lines of every crossbar sent since the last call (by name, in order)."""
        t0 = time.perf_counter()
        try:
            got = self._collect()
            out: dict[str, Decoded] = {}
            for name in self._lines:
                kind, value = pickle.loads(got[name])  # pickled by the worker itself
                if kind == "error":
                    raise value
                dec, g = value
                out[name] = dec
                if g is not None and self._devices is not None:
                    self._devices.g[name] = g
            return out
        finally:
            self._lines = []
            self.lines_seconds += time.perf_counter() - t0

    def behavioral_devices(self, chip: Chip, g0: dict[str, np.ndarray]) -> WorkerDevices:
        """The chip's behavioral devices (:class:`~codegen.cosim.devices.BehavioralDevices`) in the
        worker, starting at ``g0`` (S): it programs each crossbar as it decodes its lines."""
        self._start(None, "devices", g0)
        self._devices = WorkerDevices({k: np.array(v, dtype=float) for k, v in g0.items()})
        return self._devices

    def close(self) -> float | None:
        """Stop the worker; its own seconds (s), or ``None`` if it had already gone."""
        if self._closed:
            return None
        self._closed = True
        try:
            return float(self._call("close"))  # answers still on their way are read and dropped
        except Exception:  # noqa: BLE001 - the loop has its verdict already
            return None
        finally:
            if self._conn_ is not None:
                self._conn_.close()


class WorkerDevices:
    """:class:`~codegen.cosim.devices.BehavioralDevices` whose cells the worker programs as it reads
    each crossbar's lines (:meth:`GoldenClient.read_lines`); ``program`` only hands the result on.
    ``seconds``: time spent here (s; the worker's share is in its own)."""

    def __init__(self, g: dict[str, np.ndarray]):
        self.g = g
        self.seconds = 0.0

    def program(
        self,
        params: dict[str, CtrlParams],
        decoded: dict[str, Decoded],
        step: int,
        during: Callable[[], None] | None = None,
    ) -> dict[str, np.ndarray]:
        """The conductances (S) after the update the worker applied; ``during`` called once."""
        t0 = time.perf_counter()
        out = {k: v.copy() for k, v in self.g.items()}
        self.seconds += time.perf_counter() - t0
        if during is not None:
            during()
        return out


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (an exited child its parent has not reaped yet counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True


def _try(fn, *args: Any) -> tuple[str, Any]:
    """``("ok", fn(*args))``, or ``("error", exception)`` (as a :class:`CodegenError` with the same
    message where the exception does not survive pickling)."""
    try:
        return ("ok", fn(*args))
    except Exception as exc:  # noqa: BLE001 - raised again in the loop
        try:
            pickle.loads(pickle.dumps(exc))
            return ("error", exc)
        except Exception:  # noqa: BLE001 - an exception pickle cannot rebuild
            return ("error", CodegenError(f"golden worker: {type(exc).__name__}: {exc}"))


def _answer(conn, fn, *args: Any) -> None:
    """Send :func:`_try`'s answer."""
    conn.send(_try(fn, *args))


def _read(p: CtrlParams, cap: Capture, devices) -> tuple[Decoded, np.ndarray | None]:
    """The decoded lines of one crossbar, and its new conductances (S) if ``devices`` program it."""
    dec = decode(p, cap)
    return dec, None if devices is None else devices.apply(p, dec).copy()


def serve(conn, twin, netlists: dict[str, str]) -> None:
    """Answer the loop's requests with ``twin`` (a :class:`~codegen.cosim.loop.GoldenTwin`) until
    it says ``close`` or hangs up; ``netlists``: the spice files at the initial conductances."""
    from .devices import BehavioralDevices

    params = {p.name: p for p in CtrlParams.all_from_chip(twin.chip)}
    chip_devices: BehavioralDevices | None = None
    done: dict[str, Any] = {"program": None, "lines": {}}  # answers kept for the next "collect"
    speculated = None  # the last step's codes applied ahead (GoldenTwin.speculate)
    busy = 0.0
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        t0 = time.perf_counter()
        op = msg[0]
        if op == "initial":
            _answer(conn, lambda: twin.initial)
        elif op == "netlists":
            conn.send(("ok", netlists))
        elif op == "step":
            got = _try(twin.step, *msg[1:])
            conn.send(got)
            # the update of these codes, while the loop's ngspice solves (kept unless a tie changes them)
            speculated = twin.speculate(got[1].codes) if got[0] == "ok" else None
        elif op == "program":  # answered at "collect"
            done["program"] = _try(twin.program_as, msg[1], speculated)
            speculated = None
        elif op == "prefetch":  # no answer: a solver error is left for the next step to raise
            twin.prefetch(*msg[1:])
        elif op == "devices":  # no answer: the chip's behavioral devices, programmed by "lines"
            chip_devices = BehavioralDevices(twin.chip, msg[1])
        elif op == "lines":  # answered at "collect"
            name, cap, apply = msg[1:]
            # pickled now, while the controller runs, not when the loop collects it
            done["lines"][name] = pickle.dumps(
                _try(_read, params[name], cap, chip_devices if apply else None), pickle.HIGHEST_PROTOCOL
            )
        elif op == "collect":
            conn.send(("ok", done))
            done = {"program": None, "lines": {}}
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
        twin = None
        netlists: dict[str, str] = {}
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
