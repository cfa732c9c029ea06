"""The controller inside ngspice (d_cosim + Verilator) programs Verilog-A memristors (Kiraz case 1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codegen.elab import elaborate
from codegen.load import load_spec

KIRAZ = Path(__file__).resolve().parents[1] / "examples" / "kiraz_case1.yaml"


@pytest.mark.slow
@pytest.mark.verilator
@pytest.mark.ngspice
@pytest.mark.openvaf
def test_dcosim_controller_programs_memristors_as_golden_predicts(tmp_path):
    from codegen.cosim.mixed import dcosim_smoke

    chip = elaborate(load_spec(KIRAZ))
    counts = np.array([[3, -2], [0, 1]])
    r = dcosim_smoke(chip, tmp_path, xbar="W01", counts=counts)
    step = chip.device.dg_set_S
    moved = np.abs(r["g_after"] - r["g_before"]) / step
    # cells with pulses moved by about |count| steps, the cell without pulses (half-selected while
    # the others were programmed) did not move at all
    np.testing.assert_allclose(moved[counts != 0], np.abs(counts[counts != 0]), rtol=1e-2)
    assert moved[1, 0] < 1e-9
    # against the golden device model: ≤ 1 % of a step (the Verilog-A checks' tolerance)
    assert r["max_err_steps"] <= 1e-2
    # done rose when the reference model says the update ends (within one clock period)
    period = 1 / chip.controller.clock_hz
    assert r["done_at_s"] is not None and abs(r["done_at_s"] - r["end_s"]) < period
    assert Path(r["library"]).is_file()
