"""The co-simulation's golden side in a worker process (:mod:`codegen.cosim.golden_worker`): the
same numbers as the twin in the loop's process, bit for bit; errors raised in the loop; no worker
left behind."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from codegen.cosim.golden_worker import GoldenClient, GoldenWorker
from codegen.cosim.loop import CosimConfig, GoldenTwin, ReferenceController, batches, run_loop
from codegen.cosim.runner import read_config
from codegen.errors import CodegenError

ROOT = Path(__file__).resolve().parents[1]
XOR = ROOT / "examples" / "xor.yaml"


def _config(tmp_path: Path, steps: int = 6, spec: Path = XOR) -> Path:
    """A run configuration as :func:`codegen.cosim.runner.run_rtl_cosim` writes it."""
    cfg = CosimConfig(steps=steps, out=tmp_path / "out")
    conf = {"spec": str(spec), "overrides": {}, "cosim": {**asdict(cfg), "out": str(cfg.out)}}
    path = tmp_path / "cosim_config.json"
    path.write_text(json.dumps(conf))
    return path


def _same(a, b) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same(a[k], b[k])
    else:
        assert np.array_equal(np.asarray(a), np.asarray(b)), (a, b)


def test_the_worker_gives_the_in_process_twins_numbers_bit_for_bit(tmp_path):
    """Six xor steps through the worker (step, the update sent ahead, the next batch solved there;
    two steps whose codes change after the golden step, as at a tie, so the update the worker made
    ahead is undone) against a twin in this process doing the same: every field of every step and
    every conductance equal; the spice files it renders are this process's; its own time comes
    back at close."""
    from codegen.run.ngspice import netlist_files

    path = _config(tmp_path)
    chip, cfg = read_config(json.loads(path.read_text()))
    from codegen.learn.datasets import load_dataset

    ds = load_dataset(chip)
    order = batches(chip, len(ds.x_train), cfg.steps)
    here = GoldenTwin(chip, cfg.rule(chip))
    worker = GoldenWorker(path, log=tmp_path / "worker.log")
    try:
        there = GoldenClient(worker.address, worker.key)
        _same(there.initial, here.initial)
        assert there.initial_netlists() == netlist_files(chip, here.initial)
        for s, idx in enumerate(order):
            x, t = ds.x_train[idx], ds.t_train[idx]
            if s % 2:  # both ways of asking
                here.start_step(x, t, here.conductances)
                there.start_step(x, t, here.conductances)
                a, b = here.finish_step(), there.finish_step()
            else:
                a, b = here.step(x, t, here.conductances), there.step(x, t, here.conductances)
            _same(asdict(a), asdict(b))
            nxt = (ds.x_train[order[s + 1]], ds.t_train[order[s + 1]]) if s + 1 < len(order) else None
            if s in (2, 3):  # a tie: the chip's code differs, so the worker undoes the update it made ahead
                for codes in (a.codes, b.codes):
                    codes["W01"][0, 0] += 1 if codes["W01"][0, 0] < 0 else -1
            here.start_program(a.codes, nxt)
            there.start_program(b.codes, nxt)
            _same(here.finish_program(), there.finish_program())
        busy = there.close()
        assert busy is not None and busy > 0
        assert there.seconds > 0
    finally:
        worker.close()
    assert worker._proc.returncode == 0
    assert not Path(worker.address).exists()


def test_a_loop_with_the_worker_records_the_steps_of_a_loop_without_it(tmp_path):
    """The whole loop (reference controller, behavioral devices) with its golden side in the worker
    and in its own process: the same records step for step, and the worker's time in the timing."""
    path = _config(tmp_path, steps=5)
    chip, cfg = read_config(json.loads(path.read_text()))
    from codegen.controller import CtrlParams

    def run(golden):
        ctrl = ReferenceController(CtrlParams.all_from_chip(chip))
        return asyncio.run(run_loop(chip, cfg, ctrl, log=lambda s: None, golden=golden))

    inline = run(None)
    worker = GoldenWorker(path)
    try:
        res = run(GoldenClient(worker.address, worker.key))
    finally:
        worker.close()
    assert inline.passed and res.passed
    assert "golden_worker" in res.timing and "golden_worker" not in inline.timing
    keep = ("loss_cosim", "loss_golden", "loss_tol", "ep_rel_err", "pulses", "pulses_golden", "g_err_S")
    assert [{k: r[k] for k in keep} for r in res.steps] == [{k: r[k] for k in keep} for r in inline.steps]


def test_a_golden_error_in_the_worker_is_raised_in_the_loop(tmp_path):
    """A worker whose spec cannot be read answers the first request with the reason, as a
    CodegenError; an unknown request is refused the same way."""
    bad = tmp_path / "missing.yaml"
    worker = GoldenWorker(_config(tmp_path, spec=bad))
    try:
        with pytest.raises(CodegenError, match="golden worker: .*missing.yaml"):
            GoldenClient(worker.address, worker.key).initial  # noqa: B018
    finally:
        worker.close()
    worker = GoldenWorker(_config(tmp_path))
    try:
        client = GoldenClient(worker.address, worker.key)
        with pytest.raises(CodegenError, match="unknown request 'nonsense'"):
            client._call("nonsense")
        client.close()
    finally:
        worker.close()


def test_no_client_without_the_key_and_no_worker_left_behind(tmp_path):
    """A client with another key is refused; a worker nobody talks to leaves once its parent closes
    the pipe (as after a simulator that failed to start, or Ctrl-C)."""
    from multiprocessing import AuthenticationError

    worker = GoldenWorker(_config(tmp_path))
    try:
        with pytest.raises(AuthenticationError):
            GoldenClient(worker.address, b"x" * 32).initial  # noqa: B018
    finally:
        t0 = time.perf_counter()
        worker.close()
    assert worker._proc.returncode is not None and time.perf_counter() - t0 < 5
    idle = GoldenWorker(_config(tmp_path))
    t0 = time.perf_counter()
    idle.close()  # never connected to
    assert idle._proc.returncode == 0 and time.perf_counter() - t0 < 5


def test_a_worker_that_dies_is_named_with_its_log(tmp_path):
    """The loop's next request to a worker that was killed raises a CodegenError naming its log,
    not a broken pipe."""
    worker = GoldenWorker(_config(tmp_path))
    try:
        client = GoldenClient(worker.address, worker.key, log=tmp_path / "worker.log")
        g0 = client.initial
        worker._proc.kill()
        worker._proc.wait()
        with pytest.raises(CodegenError, match=r"golden worker exited \(its log: .*worker.log\)"):
            client.step(np.zeros((1, 2)), np.zeros((1, 1)), g0)  # xor's shapes; never solved
        assert client.close() is None
    finally:
        worker.close()


def test_a_worker_that_dies_before_it_listens_is_told_at_once(tmp_path):
    """A worker killed before it listened (its imports still running) is reported in well under
    the client's connect timeout, with its log, when the client knows its process."""
    worker = GoldenWorker(_config(tmp_path))
    try:
        worker._proc.kill()
        worker._proc.wait()
        Path(worker.address).unlink(missing_ok=True)
        client = GoldenClient(worker.address, worker.key, log=tmp_path / "w.log", pid=worker.pid)
        t0 = time.perf_counter()
        with pytest.raises(
            CodegenError, match=r"golden worker exited \(its log: .*w.log\) before it listened"
        ):
            client.initial  # noqa: B018
        assert time.perf_counter() - t0 < 5
    finally:
        worker.close()
