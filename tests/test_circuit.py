"""The element-level circuit IR (codegen.circuit): names given once, every dialect renders it,
adding an element kind is a few lines, large crossbars come in tiles, no regex over netlists."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from codegen.circuit import KINDS, Element, build_circuit
from codegen.circuit import names as nm
from codegen.circuit.build import TILE
from codegen.circuit.render import DIALECTS, render_dialect
from codegen.elab import elaborate
from codegen.load import load_spec

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("*.yaml"))


def _example(name: str):
    return elaborate(load_spec(ROOT / "examples" / f"{name}.yaml"))


def _big_chip():
    from bench.bench_equilibrium import bench_chip

    return bench_chip([150, 20, 4], input_doubling=True)  # 300 + 20 ports: tiled


@pytest.mark.parametrize("case", EXAMPLES)
def test_every_element_is_named_once_and_by_the_names_module(case):
    chip = _example(case)
    c = build_circuit(chip)
    subs = [*c.crossbars, *c.neurons, c.network]
    for s in subs:
        names = [e.name for e in s.elements]
        assert len(names) == len(set(n.lower() for n in names)), s.name  # SPICE folds case
        for e in s.elements:
            assert e.kind in KINDS
    for top in c.tops.values():
        names = [e.name for e in c.sources] + [e.name for cp in top.copies for e in cp.elements]
        assert len(names) == len(set(n.lower() for n in names)), top.name
    for xb, sub in zip(chip.crossbars, c.crossbars, strict=True):
        tiles = sub.about.get("tiles", ())  # a large crossbar: its cells are in its tiles
        cells = [e for t in tiles for e in t.elements] if tiles else sub.elements
        assert len(cells) == xb.size, sub.name
        for e in cells:
            r, k = e.params["cell"]
            assert e.name == nm.cell_resistor(r, k)
            assert e.nodes == (xb.dst_nodes[r], xb.src_nodes[k])  # a tile's ports keep the names
            assert e.params["r"] == 1.0 / e.params["g"]
    for a in chip.amplifiers:
        assert c.amplifier_senses()[a.name] == nm.amplifier_elements(a.name)[1]


def test_cell_paths_and_node_names_per_copy():
    chip = _example("xor")
    c = build_circuit(chip)
    paths = c.cell_paths("simultaneous", "W01")
    assert list(paths) == c.copies_of("simultaneous") == ["free", "pos", "neg"]
    assert paths["pos"][0][1] == ("XNET__POS", "XW01", "R0_1")
    assert nm.ngspice_path(*paths["pos"][0][1]) == "r.xnet__pos.xw01.r0_1"
    assert nm.ngspice_alter("r.xnet.xw01.r0_1", "5", "resistance") == "alter r.xnet.xw01.r0_1 resistance=5"
    assert c.node("simultaneous", "neg", "h1_0") == "h1_0__neg"
    assert c.node("simultaneous", "neg", "bias_p") == "bias_p"  # source nodes are shared
    assert c.node("nudged", "pos", "h1_0") == "h1_0"
    assert nm.vacask_path("xyce", "XNET", "V_Ah1_0_a1") == "xnet:v_ah1_0_a1"
    assert nm.vacask_path("spectre", "XNET", "V_Ah1_0_a1") == "XNET:V_Ah1_0_a1"


def test_a_new_element_kind_is_an_entry_and_one_line_per_dialect():
    """A wire resistor between two named nodes and a capacitor to ground, added to the network,
    come out in every dialect in its own spelling (what the `wires` work builds on)."""
    chip = _example("xor")
    c = build_circuit(chip)
    wire = Element("RWIRE_h1_0", "resistor", ("h1_0", "h1_0w"), {"r": 12.5, "g": 0.08})
    cap = Element("CW_h1_0", "capacitor", ("h1_0w", "0"), {"c": 2e-15})
    net = dataclasses.replace(c.network, elements=(*c.network.elements, wire, cap))
    c2 = dataclasses.replace(c, network=net)
    expect = {
        "spice": ["RWIRE_h1_0 h1_0 h1_0w r=12.5", "CW_h1_0 h1_0w 0 2e-15"],
        "xyce": ["RWIRE_h1_0 h1_0 h1_0w 12.5", "CW_h1_0 h1_0w 0 2e-15"],
        "spectre": ["RWIRE_h1_0 (h1_0 h1_0w) resistor r=12.5", "CW_h1_0 (h1_0w 0) capacitor c=2e-15"],
        "vacask": ["RWIRE_h1_0 (h1_0 h1_0w) resistor r=12.5", "CW_h1_0 (h1_0w 0) capacitor c=2e-15"],
    }
    assert set(DIALECTS) == set(expect)
    for d, lines in expect.items():
        cells = render_dialect(d, c2)[f"cells.{DIALECTS[d].ext}"]
        got = [ln.strip() for ln in cells.splitlines()]
        for line in lines:
            assert line in got, (d, line)
    with pytest.raises(ValueError, match="1 nodes, expected 2"):
        Element("C1", "capacitor", ("a",), {"c": 1e-15})


def test_large_crossbars_come_in_tiles_small_ones_do_not():
    small = build_circuit(_example("digits"))
    assert all("tiles" not in s.about for s in small.crossbars)
    chip = _big_chip()
    c = build_circuit(chip)
    w = c.crossbar("W01")
    tiles = w.about["tiles"]
    assert len(tiles) == 3 and all(e.kind == "instance" for e in w.elements)
    cells = [e.params["cell"] for t in tiles for e in t.elements]
    rows, cols = chip.crossbars[0].shape
    assert sorted(cells) == [(r, k) for r in range(rows) for k in range(cols)]  # each cell once
    for t in tiles:
        assert len(t.ports) <= 2 * TILE
        assert {n for e in t.elements for n in e.nodes} <= set(t.ports)
    path = c.cell_paths("free", "W01")["free"][3][200]
    assert path == ("XNET", "XW01", "XW01_T0_1", "R3_200")
    diodes = sum(len(n.elements) for n in c.neurons)
    expected = sum(xb.size for xb in chip.crossbars) + diodes + 3 * len(chip.amplifiers) + len(c.sources)
    assert c.element_count("free") == expected
    spice = render_dialect("spice", c)["cells.sp"]
    assert ".subckt W01_T0_1 " in spice and "\nXW01_T0_1 " in spice


@pytest.mark.ngspice
def test_tiled_netlist_runs_and_alters_by_the_circuit_names():
    """ngspice on a tiled chip equals the golden model, also after conductances change through the
    cell paths the circuit gives (a wrong tile path is refused by ngspice's alter)."""
    from codegen.model import GoldenModel
    from codegen.run.equivalence import TOL_V
    from codegen.run.ngspice import SharedSession, netlist_files

    chip = _big_chip()
    g = chip.initial_conductances()
    s = SharedSession(chip, netlist_files(chip, g), "free")
    x = np.random.default_rng(0).uniform(-1, 1, chip.n_inputs)
    g2 = {k: v * np.random.default_rng(1).uniform(0.5, 1.5, v.shape) for k, v in g.items()}
    s.set_conductances(g2)
    op = s.op(x)
    eq = GoldenModel(chip, g2).solve(x[None, :]).voltages()
    worst = max(abs(op.copies["free"][n] - float(np.ravel(v)[0])) for n, v in eq.items())
    assert worst <= TOL_V, worst


def test_no_regular_expression_reads_netlists():
    """The modules that build, name and run netlists import no `re` (names come from the IR)."""
    files = [
        *sorted((ROOT / "codegen" / "circuit").glob("*.py")),
        ROOT / "codegen" / "backends" / "spice.py",
        ROOT / "codegen" / "run" / "ngspice.py",
        ROOT / "codegen" / "run" / "vacask.py",
        ROOT / "codegen" / "run" / "simulators.py",
        ROOT / "codegen" / "cosim" / "analog.py",
    ]
    for f in files:
        lines = f.read_text().splitlines()
        assert not [ln for ln in lines if ln.strip() in ("import re", "from re import")], f


def test_duplicate_template_share_is_well_below_half():
    """Share of dialect template lines that stand verbatim in another dialect's templates
    (scripts/template_share.py): 65 % before the circuit IR (Xyce 80 %), 55 % without the thin
    closing tags; now 39 % and 24 % with a fourth dialect."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("template_share", ROOT / "scripts" / "template_share.py")
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    r = mod.template_share()
    assert r["share"] < 0.42, r
    assert mod.template_share(content=True)["share"] < 0.3
    assert r["dialects"]["xyce"]["lines"] <= 0.2 * r["dialects"]["spice"]["lines"], r
    assert r["dialects"]["spectre"]["lines"] <= 0.6 * r["dialects"]["spice"]["lines"], r


def test_transient_deck_pieces_are_templates():
    from codegen.run.ngspice_tran import memristor_deck_head, tran_wrdata_tail

    assert memristor_deck_head("step 3") == [
        "* step 3",
        ".control",
        "pre_osdi eqp_memristor.osdi",
        ".endc",
        ".model mem eqp_memristor",
    ]
    assert tran_wrdata_tail(1e-9, 1e-6, 2e-9, "g.txt", ["@n1[g]"], ["v(a)"]) == [
        ".tran 1e-09 1e-06 0 2e-09",
        ".control",
        "save v(a)",
        "run",
        "wrdata g.txt @n1[g]",
        ".endc",
        ".end",
        "",
    ]


@pytest.mark.ngspice
@pytest.mark.openvaf
def test_memristor_deck_operating_point_converges_directly(tmp_path):
    """memristor.sp's .op converges by Newton alone: eqp_memristor holds its state in static
    analyses.  Before, Newton's iterates crossed the programming thresholds (a rate up to
    1/tau_bound), gmin and source stepping failed and ngspice fell back to a transient op: a
    784×100×10 deck did not finish in 600 s."""
    import subprocess

    from codegen.backends import BuildOptions
    from codegen.build import render_plan

    chip = _big_chip()
    plan = render_plan(chip, BuildOptions(compile=True), only=["spice", "veriloga"])
    for rel, data in plan.files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data if isinstance(data, bytes) else data.encode())
    deck = (tmp_path / "spice" / "memristor.sp").read_text()
    (tmp_path / "spice" / "_op.sp").write_text(
        deck.replace("\n.op\n.end\n", "\n.control\nop\nrusage totiter\n.endc\n.end\n")
    )
    proc = subprocess.run(
        ["ngspice", "-b", "_op.sp"], cwd=tmp_path / "spice", capture_output=True, text=True, timeout=300
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-2000:]
    assert "stepping" not in log and "Transient op" not in log, log[-2000:]
    iters = [int(ln.split("=")[1]) for ln in log.splitlines() if ln.strip().startswith("Total iterations")]
    assert iters and iters[0] <= 20, iters


def test_a_wired_large_crossbar_is_not_tiled_and_its_wire_nodes_sit_in_it():
    """Wire segments run across tile boundaries, so a crossbar with wire resistance stays one
    subcircuit (docs/wires.md): its cells, segments and wire nodes are all inside it, the cell and
    wire-node paths have no tile instance, and the element count includes the segments."""
    chip = _big_chip()
    chip = dataclasses.replace(chip, interconnect=dataclasses.replace(chip.interconnect, r_row_ohm=2.0))
    c = build_circuit(chip)
    w = c.crossbar("W01")
    assert "tiles" not in w.about and all(e.kind != "instance" for e in w.elements)
    segs = chip.interconnect.segments(chip.crossbars[0])
    assert segs and {s.b for s in segs} == set(w.about["wire_nodes"])
    path = c.cell_paths("free", "W01")["free"][3][200]
    assert path == ("XNET", "XW01", "R3_200")
    paths = c.wire_node_paths("free")["free"]
    assert ("XNET", "XW01", "W01_r3_200") in paths
    inside = {n for e in w.elements for n in e.nodes}
    assert {n for _, _, n in paths if n.startswith("W01_")} <= inside
    n_segs = sum(len(chip.interconnect.segments(xb)) for xb in chip.crossbars)
    diodes = sum(len(n.elements) for n in c.neurons)
    expected = (
        sum(xb.size for xb in chip.crossbars) + n_segs + diodes + 3 * len(chip.amplifiers) + len(c.sources)
    )
    assert c.element_count("free") == expected
