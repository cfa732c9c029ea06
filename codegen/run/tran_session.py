"""One ngspice kept across many transients: a libngspice worker process fed decks over a pipe.

``ngspice -b`` per transient pays for a process start, the OSDI load and — when the deck saves
device parameters such as ``@inst[g]`` as vectors — a memory check and a column per vector at every
time point.  :class:`TranSession` starts one worker (``python -m codegen.run.tran_session``) that
loads libngspice (PySpice shared mode, ``set num_threads=1``) and the ``.osdi`` files once; each
:meth:`TranSession.run` sends one deck (no ``.control`` block: the worker loads it, runs its
``.tran``, prints the requested instance parameters at the final time point and removes the
circuit) and returns those values.  Nothing is saved per time point but one node voltage (an
analysis with nothing saved is refused), so a transient costs its time steps only.

The worker is a separate process on purpose: the co-simulation's operating points already hold the
process-wide libngspice (:class:`codegen.run.ngspice.SharedSession`), which keeps one circuit; a
transient circuit in the same library would evict it every step.

Protocol (one JSON object per line): request ``{"deck": text, "params": [names], "save": node}``,
reply ``{"values": [floats]}`` or ``{"error": message}``; ``{"runs": [requests]}`` runs several
in turn, reply ``{"values": [[floats], ...]}`` or ``{"error": message, "index": i}``; ``{"osdi": [paths], "setup": [commands]}`` first (the ``.osdi`` files
to load and ngspice commands to run once, e.g. ``set no_mem_check``), answered ``{"ok": true}``.  Replies go to the file descriptor the worker was started with as stdout; ngspice's
own output is sent to stderr, so nothing it prints can be mistaken for a reply.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .ngspice_tran import NgspiceFailed, describe_failure

__all__ = ["TranSession", "parse_printed", "worker_main"]

#: ``name = value`` lines that ngspice's ``print`` writes for scalars
_PRINTED = re.compile(r"^\s*(\S+)\s*=\s*([-+0-9.eE]+|nan|inf)\s*$", re.IGNORECASE | re.MULTILINE)
#: ngspice's limit on one command is about 1 000 characters (PySpice refuses longer ones)
_MAX_COMMAND_CHARS = 900


def parse_printed(text: str) -> dict[str, float]:
    """``{name (lower case): value}`` from the ``name = value`` lines of ngspice's ``print``."""
    return {m.group(1).lower(): float(m.group(2)) for m in _PRINTED.finditer(text)}


def _chunks(names: Sequence[str], prefix: str) -> list[str]:
    out: list[str] = []
    cur: list[str] = []
    size = len(prefix)
    for n in names:
        if cur and size + len(n) + 1 > _MAX_COMMAND_CHARS:
            out.append(prefix + " ".join(cur))
            cur, size = [], len(prefix)
        cur.append(n)
        size += len(n) + 1
    if cur:
        out.append(prefix + " ".join(cur))
    return out


def _python() -> str:
    """The Python that runs the worker: this interpreter's, also inside a simulator that embeds
    Python (cocotb names it in ``PYGPI_PYTHON_BIN``)."""
    exe = os.environ.get("PYGPI_PYTHON_BIN") or sys.executable
    if not exe or not Path(exe).name.startswith("python"):
        exe = sys.executable
    return exe


class TranSession:
    """A libngspice worker process that runs transients one after another.

    ``osdi``: ``.osdi`` files (paths) to load once.  ``setup``: ngspice commands run once after
    them (``set no_mem_check``: no read of ``/proc/meminfo`` at every time point, which ngspice 46
    does when it stores the saved vector; it changes no value).  ``timeout_s``: longest wait for one
    transient (s).  Use as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        osdi: Sequence[str | Path] = (),
        timeout_s: float = 300.0,
        setup: Sequence[str] = (),
        where: str = "transient",
        log: str | Path | None = None,
        _wait: bool = True,
    ):
        self.timeout_s = timeout_s
        self.where = where
        self.log = None if log is None else Path(log)  # the worker's stderr (ngspice's output)
        self._log_fh = None if self.log is None else self.log.open("w")
        self.seconds = 0.0  # time waiting for the worker (s)
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        self._proc = subprocess.Popen(
            [_python(), "-m", "codegen.run.tran_session"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL if self._log_fh is None else self._log_fh,
            text=True,
            bufsize=1,
            env=env,
        )
        self.setup = tuple(setup)
        self._starting = True  # the start-up reply not read yet
        self._send({"osdi": [str(Path(p).resolve()) for p in osdi], "setup": list(self.setup)})
        if _wait:
            self._started()

    @classmethod
    def several(
        cls,
        n: int,
        osdi: Sequence[str | Path] = (),
        logs: Sequence[str | Path | None] | None = None,
        wait: bool = True,
        **kw,
    ) -> list[TranSession]:
        """``n`` workers started at once (their start-ups overlap); ``logs``: one log file each.
        ``wait=False``: return while they start (the caller's own work overlaps theirs); the first
        request to each waits for its start and raises if it failed."""
        logs = [None] * n if logs is None else list(logs)
        out: list[TranSession] = []
        try:
            for i in range(n):
                out.append(cls(osdi, log=logs[i], _wait=False, **kw))
            if wait:
                for s in out:
                    s._started()
        except BaseException:
            TranSession.close_all(out)
            raise
        return out

    @staticmethod
    def close_all(sessions: Sequence[TranSession]) -> None:
        """:meth:`close` each, their workers told to stop all at once (their exits overlap)."""
        for s in sessions:
            with contextlib.suppress(OSError):
                if s._proc.poll() is None and s._proc.stdin is not None:
                    s._proc.stdin.close()
        for s in sessions:
            s.close()

    def _started(self) -> None:
        self._starting = False
        rep = self._receive()
        if "error" in rep:
            self.close()
            raise NgspiceFailed(f"the ngspice worker for {self.where} could not start: {rep['error']}")

    def _ask(self, msg: dict) -> dict:
        self._send(msg)
        return self._receive()

    def _send(self, msg: dict) -> None:
        if self._starting and "osdi" not in msg:
            self._started()  # a session made with wait=False: its start-up reply comes first
        proc = self._proc
        if proc.poll() is not None or proc.stdin is None or proc.stdout is None:
            raise NgspiceFailed(
                f"the ngspice worker for {self.where} is not running (exit {proc.returncode})"
            )
        try:
            proc.stdin.write(json.dumps(msg) + "\n")
            proc.stdin.flush()
        except BrokenPipeError:
            raise NgspiceFailed(
                f"the ngspice worker for {self.where} exited (status {proc.wait()})"
            ) from None

    def _receive(self) -> dict:
        import selectors

        proc = self._proc
        assert proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        ready = sel.select(self.timeout_s)
        sel.close()
        if not ready:
            self.close()
            raise NgspiceFailed(f"ngspice ran longer than {self.timeout_s:g} s on {self.where}")
        line = proc.stdout.readline()
        if not line:
            status = proc.wait()
            tail = ""
            if self.log is not None and self.log.is_file():
                tail = "; the end of its log:\n" + "\n".join(
                    self.log.read_text(errors="replace").splitlines()[-8:]
                )
            raise NgspiceFailed(f"the ngspice worker for {self.where} exited (status {status}){tail}")
        return json.loads(line)

    def run(self, deck: str, params: Sequence[str], save: str, where: str | None = None) -> list[float]:
        """Run ``deck`` (with its ``.tran`` line, without ``.control``) and return the instance
        parameters ``params`` (``@inst[param]``) at the final time point.  ``save``: one node saved
        per time point.  Raises :class:`NgspiceFailed` naming ``where`` when ngspice fails."""
        t0 = time.perf_counter()
        try:
            rep = self._ask({"deck": deck, "params": list(params), "save": save})
        finally:
            self.seconds += time.perf_counter() - t0
        if "error" in rep:
            raise NgspiceFailed(f"ngspice failed on {where or self.where}; {rep['error']}")
        return [float(v) for v in rep["values"]]

    def run_many(
        self, runs: Sequence[tuple[str, Sequence[str], str]], where: Sequence[str] | None = None
    ) -> list[list[float]]:
        """:meth:`run` for each ``(deck, params, save)`` of ``runs``, one after the other in one round
        trip to the worker; the values of each.  A failure names ``where[i]`` of the deck that failed."""
        return TranSession.run_spread([self], runs, where)

    @staticmethod
    def run_spread(
        sessions: Sequence[TranSession],
        runs: Sequence[tuple[str, Sequence[str], str]],
        where: Sequence[str] | None = None,
        during: Callable[[], None] | None = None,
    ) -> list[list[float]]:
        """:meth:`run_many` with the runs spread over ``sessions``, which run at once: the largest
        (most parameters read back: a transient's cost grows with its cells) to the least loaded
        worker first, each worker running its decks in the order given.  Every deck is a circuit
        of its own, so where it runs changes no value; the values come back in the order of
        ``runs``.  ``during``: called once while the workers run
        (after every request is sent; if it raises, the workers are closed, none left with a
        reply unread).  The wall time is added to the first session's :attr:`seconds`."""
        t0 = time.perf_counter()
        groups: list[list[int]] = [[] for _ in sessions]
        load = [0] * len(sessions)
        for i in sorted(range(len(runs)), key=lambda i: (-len(runs[i][1]), i)):
            k = load.index(min(load))
            groups[k].append(i)
            load[k] += len(runs[i][1]) or 1
        busy = [(s, sorted(g)) for s, g in zip(sessions, groups, strict=True) if g]  # each in given order
        try:
            for s, g in busy:
                s._send(
                    {
                        "runs": [
                            {"deck": runs[i][0], "params": list(runs[i][1]), "save": runs[i][2]} for i in g
                        ]
                    }
                )
            try:
                if during is not None:
                    during()
                replies = [(g, s._receive()) for s, g in busy]
            except BaseException:  # a worker that timed out or died: none keeps a reply unread
                for s in sessions:
                    s.close()
                raise
        finally:
            sessions[0].seconds += time.perf_counter() - t0
        out: list[list[float]] = [[] for _ in runs]
        for g, rep in replies:
            if "error" in rep:
                i = g[int(rep.get("index", 0))]
                name = where[i] if where is not None and i < len(where) else f"{sessions[0].where} (run {i})"
                raise NgspiceFailed(f"ngspice failed on {name}; {rep['error']}")
            for i, vals in zip(g, rep["values"], strict=True):
                out[i] = [float(v) for v in vals]
        return out

    def close(self) -> None:
        proc = self._proc
        if proc.poll() is None:
            try:
                if proc.stdin is not None and not proc.stdin.closed:
                    proc.stdin.close()
                proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        if self._log_fh is not None:
            self._log_fh.close()

    def __enter__(self) -> TranSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # a session left open must not leave its worker behind
        try:
            self.close()
        except Exception:
            pass


def _serve(ng, req: dict) -> dict:
    if "osdi" in req:
        try:
            for path in req["osdi"]:
                ng.exec_command(f"osdi {path}")
        except Exception as exc:
            return {"error": f"`osdi {path}`: {exc}"}
        for c in req.get("setup", []):
            try:
                ng.exec_command(c)
            except Exception as exc:
                return {"error": f"`{c}`: {exc}"}
        return {"ok": True}
    if "runs" in req:  # several transients in one round trip; the first failure ends the batch
        values = []
        for i, run in enumerate(req["runs"]):
            rep = _serve(ng, run)
            if "error" in rep:
                return {"error": rep["error"], "index": i}
            values.append(rep["values"])
        return {"values": values}
    lines: list[str] = []

    def cmd(c: str) -> str:
        try:
            out = ng.exec_command(c)
        except Exception as exc:
            lines.extend(getattr(ng, "_stdout", []) + getattr(ng, "_stderr", []))
            raise RuntimeError(f"`{c[:120]}`: {exc}") from exc
        lines.extend(getattr(ng, "_stdout", []) + getattr(ng, "_stderr", []))
        return out

    try:
        try:
            cmd("remcirc")
        except RuntimeError:
            pass  # no circuit loaded yet
        lines.clear()
        cmd("destroy all")
        try:
            ng.load_circuit(req["deck"])
        except Exception as exc:
            lines.extend(getattr(ng, "_stdout", []) + getattr(ng, "_stderr", []))
            raise RuntimeError(f"load: {exc}") from exc
        cmd(f"save {req['save']}")
        cmd("run")
        got: dict[str, float] = {}
        for c in _chunks(req["params"], "print "):
            got.update(parse_printed(cmd(c)))
        missing = [p for p in req["params"] if p.lower() not in got]
        if missing:
            raise RuntimeError(f"ngspice printed no value for {', '.join(missing[:4])}")
        return {"values": [got[p.lower()] for p in req["params"]]}
    except Exception as exc:
        return {"error": f"{exc}; {describe_failure(chr(10).join(lines))}"}


def worker_main() -> int:
    """The worker: replies on the stdout it was started with, ngspice's own output to stderr."""
    reply = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything printed from here on (ngspice, PySpice) goes to stderr
    from .ngspice import shared_ngspice

    try:
        ng = shared_ngspice()
        ng.exec_command("set numdgt=15")
        broken = None
    except Exception as exc:  # e.g. no libngspice: every request is answered with why
        ng, broken = None, f"libngspice did not start: {exc}"
    for line in sys.stdin:
        if not line.strip():
            continue
        rep = {"error": broken} if broken else _serve(ng, json.loads(line))
        reply.write(json.dumps(rep) + "\n")
        reply.flush()
    return 0


if __name__ == "__main__":
    sys.exit(worker_main())
