"""codegen.run.batch_pool: a batch split over libngspice processes gives the one-process numbers,
in sample order, and ends its workers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codegen.elab import elaborate
from codegen.learn.datasets import load_dataset
from codegen.load import load_spec

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.ngspice


def _pool(chip, workers):
    from codegen.run.batch_pool import BatchPool
    from codegen.run.ngspice import netlist_files

    g = chip.initial_conductances()
    return BatchPool(chip, netlist_files(chip, g), "nudged", conductances=g, workers=workers), g


def test_pool_matches_one_session_in_sample_order_and_after_an_update():
    chip = elaborate(load_spec(ROOT / "examples" / "xor.yaml"))
    ds = load_dataset(chip)
    one, g = _pool(chip, 1)
    two, _ = _pool(chip, 2)
    try:
        assert len(two.workers) == 1 and not one.workers
        x, t = ds.x_train, ds.t_train
        a, b = one.solve(x, t), two.solve(x, t)
        assert set(a) == set(b) == {"free", "pos", "neg"}
        for c in a:
            assert a[c].shape == b[c].shape == (len(x), len(one.nodes))
            # the second slice starts Newton from another solution: agreement to the deck's
            # tolerance (reltol 1e-9 here), not bit for bit; measured ≤ 1e-11 V
            assert np.abs(a[c] - b[c]).max() <= 1e-9
        rev = two.solve(x[::-1], t[::-1])  # each sample's voltages follow it through the split
        for c in a:
            assert np.abs(rev[c][::-1] - a[c]).max() <= 1e-9
        # an update reaches every process: afterwards both agree again, and differ from before
        g2 = {k: v * 1.5 for k, v in g.items()}
        one.set_conductances(g2)
        two.set_conductances(g2)
        a2, b2 = one.solve(x, t), two.solve(x, t)
        assert np.abs(a2["free"] - b2["free"]).max() <= 1e-9
        assert np.abs(a2["free"] - a["free"]).max() > 1e-3
        # the worker's slice as well (the last samples are solved in the worker process)
        assert np.abs(b2["free"][-1] - b["free"][-1]).max() > 1e-3
    finally:
        procs = [w.proc for w in two.workers]
        two.close()
        one.close()
    assert procs and all(p.poll() is not None for p in procs)


def test_pool_worker_errors_are_named():
    from codegen.run.ngspice import NgspiceError

    chip = elaborate(load_spec(ROOT / "examples" / "xor.yaml"))
    pool, g = _pool(chip, 2)
    try:
        bad = {k: np.zeros((1, 1)) for k in g}  # wrong shapes: every session refuses them
        with pytest.raises((NgspiceError, ValueError)):
            pool.set_conductances(bad)
        w = pool.workers[0]
        with pytest.raises(NgspiceError, match="ngspice worker 1"):
            w.send(("g", bad))
            w.reply()
    finally:
        pool.close()
