"""Backend ``golden``: initial conductances and reference equilibria, deterministic bytes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from codegen.backends import BuildOptions, get_backend
from codegen.elab import elaborate
from codegen.load import load_spec
from codegen.model import GoldenModel

ROOT = Path(__file__).resolve().parents[1]
OPTS = BuildOptions(compile=False)


def test_golden_backend_files_round_trip_and_are_stable(golden):
    chip = elaborate(load_spec(ROOT / "examples" / "kiraz_case1.yaml"))
    files = get_backend("golden").render(chip, OPTS)
    assert files == get_backend("golden").render(chip, OPTS)  # deterministic
    cond = json.loads(files["golden/conductances.json"])
    G0 = chip.initial_conductances()
    for xb in chip.crossbars:
        entry = cond["crossbars"][xb.name]
        assert np.array_equal(np.array(entry["G"]), G0[xb.name])  # repr floats: exact round trip
        assert entry["rows"] == list(xb.dst_nodes) and entry["cols"] == list(xb.src_nodes)
    ref = json.loads(files["golden/reference.json"])
    eq = GoldenModel(chip).solve(np.array(ref["inputs"]))
    for node, v in eq.voltages().items():
        np.testing.assert_allclose(ref["voltages"][node], v, rtol=0, atol=1e-9)  # rounding to 1e-9 V
    np.testing.assert_allclose(ref["outputs"], eq.outputs, rtol=0, atol=1e-9)
    for path, text in sorted(files.items()):
        golden(f"golden/kiraz_case1/{Path(path).name}", text)
