"""The ngspice batch runs (``ngspice -b``) of the package, and the runner of the device-level checks.

:func:`run_deck` is the one low-level batch run: it writes a ``.spiceinit`` and any extra files
into a run folder, runs ``ngspice -b`` on a deck there with a timeout and returns the completed
process; a timeout raises :class:`NgspiceError` naming the deck.  Both :func:`run_ngspice` (below)
and :func:`codegen.run.ngspice.run_batch` (operating points of the ``spice`` backend's netlists)
call it.

:func:`run_ngspice` writes a netlist (and a ``.spiceinit`` with ``set num_threads=1``: OSDI
transients ran 15–20× slower with ngspice's default of 8 threads on 2 cores; and
``set numdgt=15`` so ``wrdata`` keeps 16 digits) into a run folder,
loads the given ``.osdi`` files with ``pre_osdi``, runs ``ngspice -b`` and reads back the vectors
the netlist's ``.control`` block wrote with ``wrdata``.  The general netlist runner is
``codegen.run.ngspice``; :func:`run_ngspice` serves the device checks in :mod:`codegen.run.pulse`
and the transients of :mod:`codegen.cosim`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import CodegenError
from .tools import ngspice_command

__all__ = [
    "NgspiceError",
    "NgspiceFailed",
    "run_deck",
    "run_ngspice",
    "read_wrdata",
    "run_dir",
    "memristor_deck_head",
    "tran_wrdata_tail",
    "error_lines",
    "describe_failure",
]

SPICEINIT = "set num_threads=1\nset numdgt=15\n"


class NgspiceError(CodegenError):
    """ngspice failed (no convergence, bad netlist, timeout); the message names the deck."""


class NgspiceFailed(NgspiceError):
    """ngspice exited with an error or wrote no data; the message ends with its log tail."""


#: a line of ngspice's log that reports a problem (case-insensitive)
_PROBLEM = re.compile(
    r"\berror\b|\bfatal\b|timestep too small|singular matrix|aborted|\bfailed\b|trouble with|"
    r"no convergence|not converge|could not|iteration limit|gmin stepping failed|source stepping failed|"
    r"unknown (?:parameter|model|device|subckt)|no such|not available|unable to|cannot",
    re.IGNORECASE,
)
#: lines that look like problems but are not: success notes, and the boilerplate batch mode adds
#: after any failure in a .control block (it names no cause)
_NOT_A_PROBLEM = re.compile(
    r"finished successfully|completed|simulation executed|no\. of data rows|"
    r"incomplete or empty netlist|no \"\.plot\"|no simulations run|^\s*warning: .*(?:unsupported|version)",
    re.IGNORECASE,
)


def error_lines(log: str, limit: int = 12) -> list[str]:
    """The lines of an ngspice log that report what went wrong (errors, "Timestep too small",
    "trouble with node …", aborted analyses), in order, without repeats; at most ``limit``.

    Success notes ("Transient op finished successfully", "gmin stepping completed") and batch mode's
    generic "incomplete or empty netlist … no simulations run!" are never among them."""
    out: list[str] = []
    for raw in log.splitlines():
        line = raw.strip()
        if line and _PROBLEM.search(line) and not _NOT_A_PROBLEM.search(line) and line not in out:
            out.append(line)
    return out[:limit]


def describe_failure(log: str, returncode: int | None = None, tail: int = 8) -> str:
    """Lines for an error message about a failed ngspice run: its error lines (:func:`error_lines`),
    or, when it printed none, what its exit status was and the last ``tail`` lines of its log that
    are not success notes."""
    errors = error_lines(log)
    if errors:
        return "ngspice reported:\n" + "\n".join(f"  {e}" for e in errors)
    rest = [ln.rstrip() for ln in log.splitlines() if ln.strip() and not _NOT_A_PROBLEM.search(ln)]
    status = "" if returncode is None else f"ngspice exited with status {returncode} and "
    last = "\n".join(f"  {ln}" for ln in rest[-tail:]) or "  (nothing)"
    return f"{status}printed no error message; the end of its log:\n{last}"


def run_deck(
    deck: str,
    workdir: str | Path,
    deck_name: str,
    spiceinit: str,
    timeout_s: float,
    where: str | None = None,
    files: Mapping[str, str | bytes] | None = None,
    keep_spiceinit: bool = False,
    error: type[NgspiceError] = NgspiceError,
) -> subprocess.CompletedProcess[str]:
    """Run ``ngspice -b <deck_name>`` in ``workdir`` and return the completed process (text output).

    Writes ``spiceinit`` as ``.spiceinit`` (unless ``keep_spiceinit`` and one is there already, e.g.
    a build's ``spice/`` folder), each of ``files`` (``{file name: text or bytes}``) and ``deck`` as
    ``deck_name`` first.  Exit status and output are the caller's to judge.  Running longer than
    ``timeout_s`` (s) raises ``error`` naming ``where`` (default: the deck's path).
    """
    wd = Path(workdir)
    init = wd / ".spiceinit"
    if not (keep_spiceinit and init.exists()):
        init.write_text(spiceinit)
    for name, data in (files or {}).items():
        if isinstance(data, bytes):
            (wd / name).write_bytes(data)
        else:
            (wd / name).write_text(data)
    (wd / deck_name).write_text(deck)
    try:
        return subprocess.run(
            [*ngspice_command(), "-b", deck_name],
            cwd=wd,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired as exc:
        raise error(f"ngspice ran longer than {timeout_s:g} s on {where or wd / deck_name}") from exc


@contextmanager
def run_dir(workdir: str | Path | None) -> Iterator[Path]:
    """``workdir`` (created) if given, else a temporary folder removed afterwards."""
    if workdir is not None:
        p = Path(workdir)
        p.mkdir(parents=True, exist_ok=True)
        yield p
        return
    tmp = tempfile.mkdtemp(prefix="eqp-ngspice-")
    try:
        yield Path(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def memristor_deck_head(title: str) -> list[str]:
    """First lines of a transient deck through the Verilog-A memristor: the title, ``pre_osdi
    eqp_memristor.osdi`` (the file :func:`run_ngspice` writes from its ``osdi`` argument) and the
    model card ``mem`` (``templates/spice/tran.sp.j2``)."""
    from ..circuit.names import MEMRISTOR_MODEL
    from ..templating import render

    return render("spice/tran.sp.j2", part="head", title=title, model=MEMRISTOR_MODEL).splitlines()


def tran_wrdata_tail(
    step_s: float,
    tstop_s: float,
    max_step_s: float,
    wrdata_file: str,
    vectors: list[str],
    save: list[str] | None = None,
) -> list[str]:
    """Last lines of a transient deck: ``.tran`` (print step, stop time, maximum step, s), a
    ``.control`` block that saves ``save`` (default ``vectors``), runs and writes ``vectors`` to
    ``wrdata_file`` (read back by :func:`run_ngspice`'s ``outputs``), and ``.end``
    (``templates/spice/tran.sp.j2``); the last item is ``""``, so joined lines end in a newline."""
    from ..templating import render

    text = render(
        "spice/tran.sp.j2",
        part="tail",
        step_s=step_s,
        tstop_s=tstop_s,
        max_step_s=max_step_s,
        wrdata_file=wrdata_file,
        vectors=vectors,
        save=vectors if save is None else save,
    )
    return [*text.splitlines(), ""]


def read_wrdata(path: str | Path, names: list[str]) -> dict[str, np.ndarray]:
    """Read a ``wrdata`` file of real vectors: pairs of (scale, value) columns, one per name."""
    data = np.loadtxt(path, ndmin=2)
    if data.shape[1] != 2 * len(names):
        raise NgspiceFailed(f"{path}: expected {2 * len(names)} columns, found {data.shape[1]}")
    out = {"time": data[:, 0]}
    for i, name in enumerate(names):
        out[name] = data[:, 2 * i + 1]
    return out


def run_ngspice(
    netlist: str,
    workdir: Path,
    osdi: Mapping[str, bytes] | None = None,
    outputs: Mapping[str, list[str]] | None = None,
    timeout_s: float = 300.0,
) -> dict[str, dict[str, np.ndarray]]:
    """Run ``netlist`` with ``ngspice -b`` in ``workdir``.

    ``osdi``: ``{file name: bytes}`` written into ``workdir`` (the netlist loads them with
    ``pre_osdi <file name>`` in a ``.control`` block).  ``outputs``: ``{wrdata file: [vector names]}``
    the netlist writes; returned as ``{file: {"time": …, name: …}}``.
    Raises :class:`NgspiceFailed` with the log tail when ngspice fails or a file is missing.
    """
    for name in outputs or {}:
        (workdir / name).unlink(missing_ok=True)
    proc = run_deck(netlist, workdir, "circuit.cir", SPICEINIT, timeout_s, files=osdi, error=NgspiceFailed)
    log = proc.stdout + proc.stderr
    (workdir / "ngspice.log").write_text(log)
    bad = [
        ln for ln in log.splitlines() if ln.lower().startswith(("error", "fatal")) or "singular matrix" in ln
    ]
    if proc.returncode != 0 or bad:
        what = f"exited with status {proc.returncode}" if proc.returncode else "reported errors"
        raise NgspiceFailed(
            f"ngspice {what} running {workdir / 'circuit.cir'}; {describe_failure(log, proc.returncode)}"
        )
    result = {}
    for name, vectors in (outputs or {}).items():
        path = workdir / name
        if not path.is_file():
            raise NgspiceFailed(
                f"ngspice wrote no {name} running {workdir / 'circuit.cir'}; "
                f"{describe_failure(log, proc.returncode)}"
            )
        result[name] = read_wrdata(path, vectors)
    return result
