"""The progress display of the long-running commands (``train``, ``sweep``); not a subcommand.

On a terminal: a rich progress bar with done/total, elapsed time and the estimated time left.
Elsewhere (a log file, CI, a pipe): plain lines, one every :data:`PLAIN_EVERY_S` seconds or every
:data:`PLAIN_EVERY_FRACTION` of the total, whichever comes first, each with the counts and the ETA.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["progress_bar", "PlainProgress", "estimate_line", "format_duration"]

#: a plain progress line at least this often (s), while work goes on
PLAIN_EVERY_S = 5.0
#: … and whenever another tenth of the total is done
PLAIN_EVERY_FRACTION = 0.1
#: the spice backend's up-front estimate is printed when the run will take longer than this (s)
ESTIMATE_ABOVE_S = 60.0


def format_duration(seconds: float) -> str:
    """``h:mm:ss`` of a duration in seconds (rich's style), ``-:--:--`` when unknown."""
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        return "-:--:--"
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class _Task:
    __slots__ = ("description", "total", "completed", "fields", "start", "last_t", "last_frac")

    def __init__(self, description: str, total: float, completed: float, fields: dict, now: float):
        self.description = description
        self.total = total
        self.completed = completed
        self.fields = fields
        self.start = now
        self.last_t = now
        self.last_frac = completed / total if total else 0.0


class PlainProgress:
    """The subset of :class:`rich.progress.Progress` that ``train`` and ``sweep`` use, printing
    plain lines (``EP: 420/1347 (31%) elapsed 0:00:12 ETA 0:00:26 epoch 1 …``) to ``console``.

    ``clock``: seconds (monotonic), for tests.  The ETA is the elapsed time per unit done times the
    units left (counted from the units done since the task started)."""

    def __init__(self, console: Console, quiet: bool = False, clock: Callable[[], float] = time.monotonic):
        self.console = console
        self.quiet = quiet
        self.clock = clock
        self.tasks: dict[int, _Task] = {}
        self._started: dict[int, float] = {}  # units already done at add_task (a resumed sweep)

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Print the last state of every task not yet reported complete."""
        for tid, task in self.tasks.items():
            if task.last_frac < 1.0 and task.completed > self._started[tid]:
                self._print(tid)
        self.tasks.clear()

    def add_task(
        self, description: str, total: float | None = None, completed: float = 0, **fields: Any
    ) -> int:
        tid = len(self._started)
        self.tasks[tid] = _Task(description, float(total or 0), float(completed), fields, self.clock())
        self._started[tid] = float(completed)
        return tid

    def advance(self, task_id: int, advance: float = 1) -> None:
        self.update(task_id, advance=advance)

    def update(
        self,
        task_id: int,
        *,
        total: float | None = None,
        completed: float | None = None,
        advance: float | None = None,
        description: str | None = None,
        **fields: Any,
    ) -> None:
        task = self.tasks.get(task_id)
        if task is None:
            return
        if total is not None:
            task.total = float(total)
        if completed is not None:
            task.completed = float(completed)
        if advance is not None:
            task.completed += advance
        if description is not None:
            task.description = description
        task.fields.update(fields)
        now = self.clock()
        frac = task.completed / task.total if task.total else 0.0
        if (
            now - task.last_t >= PLAIN_EVERY_S
            or frac - task.last_frac >= PLAIN_EVERY_FRACTION - 1e-12
            or (frac >= 1.0 > task.last_frac)
        ):
            self._print(task_id)

    def _print(self, task_id: int) -> None:
        task = self.tasks[task_id]
        now = self.clock()
        elapsed = now - task.start
        done = task.completed - self._started[task_id]
        left = task.total - task.completed
        eta = elapsed / done * left if done > 0 else float("nan")
        pct = f" ({task.completed / task.total:.0%})" if task.total else ""
        info = str(task.fields.get("info", "")).strip()
        line = (
            f"{task.description.strip()}: {task.completed:.0f}/{task.total:.0f}{pct} "
            f"elapsed {format_duration(elapsed)} ETA {format_duration(eta)}" + (f" {info}" if info else "")
        )
        task.last_t = now
        task.last_frac = task.completed / task.total if task.total else 0.0
        if not self.quiet:
            self.console.print(line, markup=False, highlight=False, soft_wrap=True)


def progress_bar(console: Console, quiet: bool) -> Any:
    """A rich progress bar on a terminal (the task's description, bar, done/total, the task's
    ``info`` field, elapsed time and ETA; set ``info`` with ``add_task(..., info="")`` /
    ``update(task, info=...)``); :class:`PlainProgress` lines when ``console`` is not a terminal."""
    if not console.is_terminal:
        return PlainProgress(console, quiet)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
    )


def estimate_line(
    solve: Callable[[], int], n_solves: int, what: str, clock: Callable[[], float] = time.perf_counter
) -> str | None:
    """Time one call of ``solve`` (which solves and returns how many operating points it solved)
    and, if ``n_solves`` of them would take longer than :data:`ESTIMATE_ABOVE_S`, return the line
    ``estimate: about 12 min for 40000 ngspice operating points (18 ms each, timed on 8); …``."""
    t0 = clock()
    k = solve()
    per = (clock() - t0) / max(k, 1)
    total = per * n_solves
    if total <= ESTIMATE_ABOVE_S:
        return None
    from ..units import format_si

    size = f"{total / 60:.0f} min" if total < 5400 else f"{total / 3600:.1f} h"
    return (
        f"estimate: about {size} for {n_solves} {what} ({format_si(per, 's', 2)} each, timed on {k}); "
        "--backend golden is much faster, or lower --epochs"
    )
