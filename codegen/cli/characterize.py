"""``codegen characterize chip.yaml``: settling time and energy of the EP phases (ngspice transients)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "characterize",
        help="settling time and energy of the free and nudged phases (ngspice transients)",
        description=(
            "Run ngspice transients of the free and nudged phases of one training sample with the line "
            "and node capacitances of interconnect: (c_segment, c_node in F; set them in chip.yaml or "
            "with --set). Reports the settling time to within 1 mV and to 1e-3 of each node's step, the "
            "energy per inference and per training step split by component (memristors, wires, diodes, "
            "amplifiers, sources, nudging, capacitance), the programming energy per pulse from the "
            "memristor model, and the DC power of every element checked against the golden model. "
            "Writes characterize.json, characterize.md (the table) and characterize.png "
            "(default folder build/<name>/characterize); docs/characterize.md."
        ),
    )
    p.add_argument("spec", help="path to chip.yaml")
    p.add_argument(
        "--set", action="append", default=[], metavar="PATH=VALUE", help="override a spec value (repeatable)"
    )
    p.add_argument(
        "--sample",
        type=int,
        help="training sample to characterize (default: the first whose inputs are not all 0, so the "
        "free phase has a step to settle from)",
    )
    p.add_argument(
        "--keep-decks", action="store_true", help="keep the phase decks and rawfiles in OUT/ngspice/"
    )
    p.add_argument(
        "--update-deck",
        action="store_true",
        help="also write OUT/update/: the analog update circuit (analog/eqp_update.sp) on the simultaneous "
        "copies of the first training batch, as `codegen cosim --codes analog` runs it (docs/update_circuit.md)",
    )
    p.add_argument("-o", "--out", metavar="DIR", help="output folder (default build/<name>/characterize)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..characterize.report import characterize, format_table, write_report
    from ..elab import elaborate
    from ..errors import CodegenError
    from ..learn.datasets import load_dataset
    from ..learn.overrides import override, parse_sets
    from ..load import load_spec

    spec = load_spec(args.spec)
    sets = parse_sets(args.set)
    if sets:
        spec = override(spec, sets)
    chip = elaborate(spec)
    ds = load_dataset(chip)
    n = len(ds.x_train)
    if args.sample is None:
        nz = np.flatnonzero(np.abs(ds.x_train).sum(axis=1) > 0)
        args.sample = int(nz[0]) if nz.size else 0
    if not 0 <= args.sample < n:
        raise CodegenError(
            f"--sample must be in 0..{n - 1} (the training split of {chip.name}), got {args.sample}"
        )
    ic = chip.interconnect
    if not (ic.c_node_F > 0 or ic.c_segment_F > 0):
        raise CodegenError(
            f"{args.spec}: interconnect: has no capacitance; characterize needs interconnect.c_node and/or "
            "interconnect.c_segment > 0 F (e.g. --set interconnect.c_node=10f --set interconnect.c_segment=1f)"
        )
    out = Path(args.out) if args.out else Path("build") / chip.name / "characterize"
    wd = out / "ngspice" if args.keep_decks else None
    report, runs = characterize(chip, ds.x_train[args.sample], ds.t_train[args.sample], workdir=wd)
    paths = write_report(report, runs, out)
    if args.update_deck:
        from ..cosim.codes_analog import AnalogCodes

        bs = min(chip.training.batch_size, n)
        files = AnalogCodes(chip).deck_files(chip.initial_conductances(), ds.x_train[:bs], ds.t_train[:bs])
        (out / "update").mkdir(exist_ok=True)
        for name, text in files.items():
            (out / "update" / name).write_text(text)
            paths.append(out / "update" / name)
    print(f"{chip.name}: sample {args.sample}\n")
    print(format_table(report))
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0
