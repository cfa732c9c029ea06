"""The progress bar of the long-running commands (``train``, ``sweep``); not a subcommand."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress


def progress_bar(console: Console, quiet: bool) -> Progress:
    """A rich progress bar: the task's description, bar, done/total, the task's ``info`` field
    (set it with ``add_task(..., info="")`` / ``update(task, info=...)``) and elapsed time."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
    )
