"""Backends spice / spectre / xyce: golden files, structure against the IR, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codegen.backends import BuildOptions, get_backend
from codegen.backends.spice import netlist_context
from codegen.elab import elaborate
from codegen.ir import Chip
from codegen.load import load_spec
from tests.chips import random_chip
from tests.netlist_parse import flatten_count, node_names

ROOT = Path(__file__).resolve().parents[1]
OPTS = BuildOptions(compile=False)
DIALECTS = {"spice": "sp", "spectre": "scs", "xyce": "cir"}
TOPS = ("free", "nudged", "simultaneous")


def _case(name: str) -> Chip:
    if name == "skip_relu":
        # three hidden layers' worth of structure in a small net: a skip from the inputs past the
        # first hidden layer, ReLUα clamps, neurons on the outputs too, outputs not doubled
        return random_chip(
            11,
            [3, 3, 2, 2],
            skip=[(0, 2), (1, 3)],
            neuron="relu_clamp",
            on_output=True,
            doubled_outputs=False,
        )
    return elaborate(load_spec(ROOT / "examples" / f"{name}.yaml"))


CASES = ["xor", "kiraz_case1", "skip_relu"]


def _files(chip: Chip, dialect: str) -> dict[str, str]:
    out = get_backend(dialect).render(chip, OPTS)
    return {k.split("/", 1)[1]: v for k, v in out.items() if isinstance(v, str)}


def _netlists(chip: Chip, dialect: str) -> dict[str, str]:
    ext = DIALECTS[dialect]
    return {k: v for k, v in _files(chip, dialect).items() if k.endswith("." + ext)}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_golden_netlists(golden, case, dialect):
    files = _files(_case(case), dialect)
    ext = DIALECTS[dialect]
    expected = {f"cells.{ext}", f"params.{ext}", *(f"{t}.{ext}" for t in TOPS)}
    if dialect == "spice":
        expected |= {".spiceinit", "memristor.sp", "memristor_cells.sp"}
    if dialect == "spectre":
        expected |= {"memristor.scs", "memristor_cells.scs"}
    assert set(files) == expected
    for name, text in sorted(files.items()):
        golden(f"{dialect}/{case}/{name}", text)


@pytest.mark.parametrize("case", CASES)
def test_every_ir_node_and_element_appears_in_every_dialect(case):
    chip = _case(case)
    ctx = netlist_context(chip)
    ir_nodes = {s.node for s in chip.sources} | set(chip.free_nodes) | {a.out_node for a in chip.amplifiers}
    # element count of the flattened circuit: resistors, diodes, 3 per amplifier, sources, nudging
    n_diodes = 2 * sum(len(layer.nodes) for layer in chip.layers if layer.neuron is not None)
    per_net = sum(xb.size for xb in chip.crossbars) + n_diodes + 3 * len(chip.amplifiers)
    n_nudge = 2 * len(chip.nudge.outputs)
    n_copies = 3 if chip.nudge.centered else 2
    expect = {
        "free": len(chip.sources) + per_net,
        "nudged": len(chip.sources) + per_net + n_nudge,
        "simultaneous": len(chip.sources) + n_copies * per_net + (n_copies - 1) * n_nudge,
    }
    for dialect, ext in DIALECTS.items():
        files = _netlists(chip, dialect)
        spectre = dialect == "spectre"
        names = node_names(files, spectre)
        missing = {n.lower() for n in ir_nodes} - names
        assert not missing, f"{dialect}: IR nodes missing from the netlist: {sorted(missing)}"
        for suffix in ("__pos", "__neg") if chip.nudge.centered else ("__pos",):
            dyn = {n.lower() + suffix for n in set(chip.free_nodes)}
            assert dyn <= names, f"{dialect}: copy {suffix} lacks {sorted(dyn - names)[:5]}"
        for top in TOPS:
            n = flatten_count(
                {k: v for k, v in files.items() if "memristor" not in k}, f"{top}.{ext}", spectre
            )
            assert n == expect[top] == ctx.element_count(top), (dialect, top, n, expect[top])
    # the memristor variant: the free circuit with one memristor instance per conductance
    for dialect, ext in (("spice", "sp"), ("spectre", "scs")):
        files = _netlists(chip, dialect)
        names = (f"memristor.{ext}", f"memristor_cells.{ext}", f"params.{ext}")
        mem = {k: v for k, v in files.items() if k in names}
        assert flatten_count(mem, f"memristor.{ext}", dialect == "spectre") == expect["free"]
        n_inst = sum(line.lstrip().startswith("N") for line in files[f"memristor_cells.{ext}"].splitlines())
        assert n_inst == sum(xb.size for xb in chip.crossbars)


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_conductance_parameters_are_the_ir_conductances(dialect):
    chip = _case("xor")
    g = {k: v * 1.5 for k, v in chip.initial_conductances(seed=7).items()}
    ctx = netlist_context(chip, g)
    values = dict(ctx.params)
    for xb in chip.crossbars:
        for (r, c), val in np.ndenumerate(g[xb.name]):
            assert values[f"g_{xb.name}_{r}_{c}"] == val
    params_text = _files(chip, dialect)[f"params.{DIALECTS[dialect]}"]
    assert repr(float(chip.initial_conductances()["W01"][0, 0])) in params_text


def test_netlists_are_deterministic():
    chip = _case("skip_relu")
    for dialect in DIALECTS:
        assert _files(chip, dialect) == _files(_case("skip_relu"), dialect)


#: a crossbar cell's resistor line in each dialect: (row, col, resistance in Ω)
_RLINE = {
    "spice": r"^R(\d+)_(\d+) \S+ \S+ r=(\S+)$",
    "xyce": r"^R(\d+)_(\d+) \S+ \S+ (\S+)$",
    "spectre": r"^\s*R(\d+)_(\d+) \(\S+ \S+\) resistor r=(\S+)$",
}


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_decks_carry_the_conductances_as_numbers_and_include_no_parameter_file(dialect):
    # ngspice's parse of one .param per cell is superlinear (docs/netlists.md): no deck may depend
    # on the params listing; each resistor's value is the number 1/G (Ω) of the build's G (S)
    import re

    from codegen.model.conductances import ConductanceSet

    chip = _case("xor")
    g = chip.initial_conductances(seed=7)
    opts = BuildOptions(compile=False, conductances=ConductanceSet.from_values(chip, g, seed=7))
    files = {k.split("/", 1)[1]: v for k, v in get_backend(dialect).render(chip, opts).items()}
    ext = DIALECTS[dialect]
    for name, text in files.items():
        if name.startswith("params."):
            continue
        code = re.sub(r"^\s*(\*|//).*$", "", text, flags=re.M)  # comments may name the listing
        assert f"params.{ext}" not in code and not re.search(r"^\s*(\.param|parameters)\b", code, re.M), name
        assert not re.search(r"\bg_\w+_\d+_\d+\b", code), name
    seen = 0
    for xb in chip.crossbars:
        body = re.search(rf"^\.?subckt {xb.name} .*?^\.?ends {xb.name}$", files[f"cells.{ext}"], re.M | re.S)
        assert body, xb.name
        for m in re.finditer(_RLINE[dialect], body.group(0), re.M):
            r, c, value = int(m.group(1)), int(m.group(2)), m.group(3)
            assert value == repr(1.0 / float(g[xb.name][r, c])), (xb.name, r, c)
            seen += 1
    assert seen == sum(xb.size for xb in chip.crossbars)
