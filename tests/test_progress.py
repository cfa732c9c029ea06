"""The progress display of ``train`` / ``sweep``: plain lines with counts and ETA off a terminal,
totals that count the evaluation passes, the spice backend's up-front estimate."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from codegen.cli._progress import PlainProgress, estimate_line, progress_bar
from codegen.elab import elaborate
from codegen.learn.backends import make_backend
from codegen.learn.datasets import load_dataset
from codegen.learn.trainer import progress_total, train
from codegen.load import load_spec

ROOT = Path(__file__).resolve().parents[1]


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=200, force_terminal=False), buf


def test_off_a_terminal_progress_is_plain_lines():
    console, _ = _console()
    assert isinstance(progress_bar(console, quiet=False), PlainProgress)


def test_on_a_terminal_progress_is_rich_with_eta():
    from rich.progress import Progress, TimeRemainingColumn

    console = Console(file=io.StringIO(), force_terminal=True)
    prog = progress_bar(console, quiet=False)
    assert isinstance(prog, Progress)
    assert any(isinstance(c, TimeRemainingColumn) for c in prog.columns)


def test_plain_lines_have_counts_and_eta_every_tenth():
    console, buf = _console()
    clock = _Clock()
    with PlainProgress(console, clock=clock) as prog:
        task = prog.add_task("EP      ", total=100, info="")
        for _ in range(100):
            clock.t += 0.1  # 0.1 s per unit: 10 s in all
            prog.advance(task, 1)
    lines = buf.getvalue().splitlines()
    assert len(lines) == 10, lines  # every 10 %, the last at 100 %
    assert lines[0] == "EP: 10/100 (10%) elapsed 0:00:01 ETA 0:00:09"
    assert lines[4] == "EP: 50/100 (50%) elapsed 0:00:05 ETA 0:00:05"
    assert lines[-1] == "EP: 100/100 (100%) elapsed 0:00:10 ETA 0:00:00"


def test_plain_lines_every_5_s_when_slow():
    console, buf = _console()
    clock = _Clock()
    prog = PlainProgress(console, clock=clock)
    task = prog.add_task("sweep", total=1000, info="")
    for _ in range(30):  # 30 units of 1 s each: 3 % of the total, so only the 5 s rule prints
        clock.t += 1.0
        prog.advance(task, 1)
    prog.update(task, info="last: loss 0.1 V²")
    lines = buf.getvalue().splitlines()
    assert len(lines) == 6, lines
    assert lines[0] == "sweep: 5/1000 (0%) elapsed 0:00:05 ETA 0:16:35"
    prog.stop()
    assert buf.getvalue().splitlines()[-1].endswith("last: loss 0.1 V²")


def test_quiet_prints_nothing():
    console, buf = _console()
    with PlainProgress(console, quiet=True) as prog:
        t = prog.add_task("EP", total=2, info="")
        prog.advance(t, 2)
    assert buf.getvalue() == ""


def test_total_counts_training_and_evaluation_passes():
    chip = elaborate(load_spec(ROOT / "examples" / "kiraz_case1.yaml"))
    ds = load_dataset(chip)
    counted = {"step": 0, "eval": 0}

    def step(n: int) -> None:
        counted["step"] += n

    def ev(n: int) -> None:
        counted["eval"] += n

    train(chip, make_backend("golden", chip), ds, epochs=2, step_callback=step, eval_callback=ev)
    n_tr, n_te = len(ds.x_train), len(ds.x_test)
    assert counted["step"] == 2 * n_tr
    assert counted["eval"] == 3 * (n_tr + n_te)  # before the first epoch and after each
    assert counted["step"] + counted["eval"] == progress_total(2, n_tr, n_te)


def test_train_off_a_terminal_counts_to_the_total(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "codegen", "train", str(ROOT / "examples" / "kiraz_case1.yaml")]
        + ["--epochs", "2", "--no-baseline", "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    ep = [ln for ln in proc.stdout.splitlines() if ln.startswith("EP: ")]
    assert ep, proc.stdout
    chip = elaborate(load_spec(ROOT / "examples" / "kiraz_case1.yaml"))
    ds = load_dataset(chip)
    phases = 3 if chip.nudge.centered else 2  # a training sample counts its operating points
    total = progress_total(2, len(ds.x_train), len(ds.x_test), phases)
    assert total == 2 * len(ds.x_train) * phases + 3 * (len(ds.x_train) + len(ds.x_test))
    assert ep[-1].startswith(f"EP: {total}/{total} (100%) elapsed "), ep
    assert all(" ETA " in ln for ln in ep)


def test_estimate_line_when_it_takes_minutes():
    clock = _Clock()

    def solve() -> int:
        clock.t += 0.08  # 8 samples in 80 ms: 10 ms each
        return 8

    line = estimate_line(solve, 60_000, "ngspice operating points", clock=clock)
    assert line is not None
    assert line.startswith(
        "estimate: about 10 min for 60000 ngspice operating points (10 ms each, timed on 8)"
    )
    assert estimate_line(solve, 100, "ngspice operating points", clock=clock) is None


@pytest.mark.ngspice
def test_train_spice_prints_the_estimate_up_front(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "codegen", "train", str(ROOT / "examples" / "kiraz_case1.yaml")]
        + ["--backend", "spice", "--epochs", "1", "--no-baseline", "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    i = next(i for i, ln in enumerate(lines) if "ngspice operating points" in ln)
    assert i < next(i for i, ln in enumerate(lines) if ln.startswith("EP: "))  # before training
    assert re.match(r"(estimate: about \S+ min for )?\d+ ngspice operating points", lines[i]), lines[i]


def test_sweep_off_a_terminal_prints_plain_lines(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "codegen", "sweep", str(ROOT / "examples" / "kiraz_case1.yaml")]
        + ["--param", "training.learning_rate=1e-9,2e-9", "--init-seeds", "1", "--epochs", "2"]
        + ["-o", str(tmp_path / "sweep")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("sweep: ")]
    assert lines and lines[-1].startswith("sweep: 2/2 (100%) elapsed "), proc.stdout
    assert " ETA " in lines[-1] and "last: loss" in lines[-1]
