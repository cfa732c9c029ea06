"""``codegen validate chip.yaml``: load and elaborate only; report problems."""

from __future__ import annotations

import argparse

from ..elab import elaborate
from ..load import load_spec
from ..spec import network_cost


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="check a chip.yaml without writing anything",
        description="Load chip.yaml, run the physical checks and the cost limits (simulation.max_cells, "
        "max_nodes: counted from the layer sizes, nothing is allocated) and elaborate it; print a one-line "
        "summary or the problems (exit 2).",
    )
    p.add_argument("spec", nargs="+", help="chip.yaml files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for path in args.spec:
        spec = load_spec(path)  # refuses a chip over the cost limits before anything is allocated
        chip = elaborate(spec)  # linear in the node count, which the limits bound
        cost = network_cost(spec.network, spec.amplifier.enabled, spec.neuron.on_output)
        print(
            f"{path}: ok ({chip.name}: {' × '.join(str(layer.size) for layer in chip.layers)}, "
            f"{cost.cells} conductances, {cost.nodes} nodes; largest array {cost.largest_array} of "
            f"simulation.max_cells = {spec.simulation.max_cells})"
        )
    return 0
