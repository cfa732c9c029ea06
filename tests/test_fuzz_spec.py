"""Property-based fuzzing of chip.yaml (hypothesis): mutated examples never crash.

Each case takes an example, replaces 1-3 random values with junk (``1e-308``, ``nan``, ``inf``,
``2**70``, ``-1``, ``0``, ``[]``, ``{}``, ``"x"``, a huge string, a bare SPICE ``"1M"`` …), deletes
keys or adds unknown ones (half of them with ``simulation.allow_extreme: true``), then runs load → elaborate → render every backend in memory → golden
model → one EP training step → inference.  The only allowed outcomes are success and a
:class:`~codegen.errors.CodegenError` (exit 2 in the CLI); anything else is a traceback.  A few
cases go through the CLI too: exit 0 or 2, no traceback, nothing written on exit 2.

The default run is derandomized (the same 300 cases every time, ~10-30 s); ``-m slow`` runs many more.
"""

from __future__ import annotations

import copy
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codegen.build import render_plan
from codegen.elab import elaborate
from codegen.errors import CodegenError
from codegen.learn.backends import GoldenBackend
from codegen.learn.datasets import load_dataset
from codegen.learn.devices import DeviceArrays
from codegen.learn.rules import gradient_step, pulse_codes
from codegen.load import load_spec_text

ROOT = Path(__file__).resolve().parents[1]
#: examples small enough to run the whole path in well under a second each
FAST = [
    "xor.yaml",
    "kiraz_case1.yaml",
    "iris.yaml",
    "sign_pulse/xor_sign.yaml",
    "sign_pulse/kiraz_case1_sign.yaml",
    "sign_pulse/iris_sign.yaml",
]
ALL = [*FAST, "digits.yaml", "sign_pulse/digits_sign.yaml"]
BASES = {name: yaml.safe_load((ROOT / "examples" / name).read_text()) for name in ALL}

JUNK: list[Any] = [
    1e-308,
    5e-324,
    1e-300,
    1e308,
    -1e308,
    float("nan"),
    float("inf"),
    float("-inf"),
    2**70,
    -(2**70),
    2**31,
    -1,
    0,
    -0.0,
    0.5,
    1.5,
    3,
    1e6,
    [],
    {},
    [1, 2],
    {"a": 1},
    "x",
    "x" * 10_000,
    "",
    True,
    None,
    "1M",
    "1meg",
    "1e-6",
    "1 G",
    ".nan",
]
ACTIONS = ["junk", "junk", "junk", "scale", "delete", "add_key"]
SCALES = [1e6, 1e-6, -1.0, 1e300, 1e-300, 10.0, 0.1, 2.0, 0.5]

#: per-case limit (s) of the in-process path
CASE_LIMIT_S = 10.0


def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    out = []
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for k, v in items:
        out.append(prefix + (k,))
        out.extend(_paths(v, prefix + (k,)))
    return out


@st.composite
def mutated_spec(draw, examples: list[str]) -> tuple[str, list[str], str]:
    """(example name, list of mutations done, YAML text)."""
    name = draw(st.sampled_from(examples))
    data = copy.deepcopy(BASES[name])
    done = []
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = data
        for k in path[:-1]:
            parent = parent[k]
        action = draw(st.sampled_from(ACTIONS))
        current = parent[path[-1]]
        if action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
            done.append(f"del {'.'.join(map(str, path))}")
        elif action == "add_key" and isinstance(parent, dict):
            # a copy: a later mutation in this case may edit inside it, and JUNK's own [1, 2] and
            # {"a": 1} must stay as they are for every later case (else hypothesis sees the same
            # choices give other paths and fails the run as a flaky strategy)
            parent["zz_unknown"] = copy.deepcopy(draw(st.sampled_from(JUNK)))
            done.append(f"add {'.'.join(map(str, path[:-1]))}.zz_unknown")
        elif action == "scale" and isinstance(current, int | float) and not isinstance(current, bool):
            factor = draw(st.sampled_from(SCALES))
            new = current * factor
            parent[path[-1]] = int(new) if isinstance(current, int) and abs(new) < 1e18 else new
            done.append(f"{'.'.join(map(str, path))} ×{factor:g}")
        else:
            value = copy.deepcopy(draw(st.one_of(st.sampled_from(JUNK), st.floats(), st.integers())))
            parent[path[-1]] = value
            done.append(f"{'.'.join(map(str, path))} = {str(value)[:30]}")
    if draw(st.booleans()) and isinstance(data, dict):
        # half the cases waive the plausibility ranges: the hard numeric bounds alone must hold
        sim = data.get("simulation")
        data["simulation"] = {**(sim if isinstance(sim, dict) else {}), "allow_extreme": True}
        done.append("simulation.allow_extreme = True")
    return name, done, yaml.safe_dump(data, sort_keys=False)


def run_path(text: str) -> str:
    """load → elaborate → render → golden model → one training step → inference: ``ok`` or
    ``refused`` (a CodegenError); any other exception propagates."""
    try:
        chip = elaborate(load_spec_text(text, "chip.yaml"))
        render_plan(chip)
        ds = load_dataset(chip)
        devices = DeviceArrays.create(chip)
        backend = GoldenBackend(chip)
        backend.set_conductances(devices.conductances)
        batch = slice(0, min(2, len(ds.x_train)))
        grads = backend.ep_gradient(ds.x_train[batch], ds.t_train[batch])
        eta = chip.training.learning_rate
        if chip.training.rule == "gradient":
            devices.apply_delta(gradient_step(grads, chip, eta))
        else:
            devices.program(pulse_codes(grads, chip, learning_rate=eta))
        backend.set_conductances(devices.conductances)
        backend.outputs(ds.x_test[:4])
    except CodegenError:
        return "refused"
    return "ok"


def _check(case: tuple[str, list[str], str]) -> str:
    """Run one case; fail on anything but ok/refused or on a case over CASE_LIMIT_S.  Returns the outcome."""
    name, done, text = case
    t0 = time.perf_counter()
    try:
        outcome = run_path(text)
    except Exception as exc:  # noqa: BLE001 - the property: nothing but CodegenError
        raise AssertionError(f"{name} with {done}: {type(exc).__name__}: {exc}") from exc
    elapsed = time.perf_counter() - t0
    assert elapsed < CASE_LIMIT_S, f"{name} with {done} took {elapsed:.1f} s"
    return outcome


_COMMON = {
    "deadline": None,  # the per-case limit is asserted in _check, with the case named
    "database": None,  # write nothing into the checkout
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}


@settings(max_examples=300, derandomize=True, **_COMMON)
@given(mutated_spec(FAST))
def test_mutated_examples_never_crash(case):
    _check(case)


@pytest.mark.slow
@settings(max_examples=1500, **_COMMON)
@given(mutated_spec(ALL))
def test_mutated_examples_never_crash_many(case):
    _check(case)


@settings(max_examples=3, derandomize=True, **_COMMON)
@given(mutated_spec(["xor.yaml", "sign_pulse/kiraz_case1_sign.yaml"]))
def test_mutated_examples_cli_exit_0_or_2(tmp_path_factory, case):
    name, done, text = case
    tmp = tmp_path_factory.mktemp("fuzz")
    (tmp / "chip.yaml").write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "codegen", "build", "chip.yaml", "-o", "out"],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode in (0, 2), (name, done, proc.stderr)
    assert "Traceback" not in proc.stderr, (name, done, proc.stderr)
    if proc.returncode == 2:
        assert proc.stderr.startswith("error:"), proc.stderr
        assert not (tmp / "out").exists(), "nothing may be written on exit 2"


SWEEP_JUNK: list[Any] = [1e-308, 1e308, -1e308, float("nan"), 2**70, -1, 0, [], "1M"]


@pytest.mark.parametrize("allow_extreme", [False, True])
def test_every_value_replaced_by_junk_never_crashes(allow_extreme):
    """Deterministic companion of the random fuzz: every key of xor.yaml, in turn, replaced by each
    junk value or deleted, with and without simulation.allow_extreme (the hard bounds alone)."""
    base = copy.deepcopy(BASES["xor.yaml"])
    if allow_extreme:
        base["simulation"] = {"allow_extreme": True}
    outcomes = {"ok": 0, "refused": 0}
    for path in _paths(base):
        for junk in [*SWEEP_JUNK, "<delete>"]:
            data = copy.deepcopy(base)
            parent = data
            for k in path[:-1]:
                parent = parent[k]
            if junk == "<delete>":
                if not isinstance(parent, dict):
                    continue
                del parent[path[-1]]
            else:
                parent[path[-1]] = copy.deepcopy(junk)
            outcomes[
                _check(("xor.yaml", [f"{'.'.join(map(str, path))} = {junk!r}"], yaml.safe_dump(data)))
            ] += 1
    assert outcomes["refused"] > outcomes["ok"] > 0, outcomes
