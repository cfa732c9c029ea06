"""Pass ``network``: nodes, sources, neurons, amplifiers, crossbars and nudging (see :mod:`codegen.ir`)."""

from __future__ import annotations

from typing import Any, Literal

from ..ir import AmplifierIR, CrossbarIR, DiodeIR, LayerIR, NudgeIR, SourceIR
from ..kinds.neurons import neuron_kind
from ..spec import Spec

#: Boltzmann constant over elementary charge (V/K), as in ngspice 46 (const.h: CONSTboltz =
#: 1.38064852e-23 J/K, CHARGE = 1.6021766208e-19 C, CODATA 2014).  SPICE3's older 1.3806226e-23 /
#: 1.6021918e-19 make kT/q 2.9e-5 smaller, which moves a forward-biased diode node by ~1e-5 V:
#: measured with a 1e-4 A, IS = 1e-12 A diode at 27 °C, ngspice gives 0.476449378916 V.
K_OVER_Q = 1.38064852e-23 / 1.6021766208e-19
KELVIN = 273.15


def thermal_voltage(temperature_C: float) -> float:
    """kT/q at ``temperature_C`` (V), with ngspice's constants."""
    return K_OVER_Q * (temperature_C + KELVIN)


def run(spec: Spec, fields: dict[str, Any]) -> dict[str, Any]:
    net, nrn, amp = spec.network, spec.neuron, spec.amplifier
    L = len(net.layers) - 1  # index of the output layer
    A = amp.gain if amp.enabled else 1.0

    def scale(k: int) -> float:  # c_k, energy weight of layer k's KCL
        return A ** (-2 * (k - 1)) if k >= 1 else 1.0

    d = nrn.diode
    diode = DiodeIR(
        is_A=d.is_,
        n=d.n,
        vt_V=thermal_voltage(d.temperature),
        temperature_C=d.temperature,
        gmin_S=spec.simulation.gmin,
    )
    neuron = neuron_kind(nrn.kind).elaborate(nrn, diode)  # the kind's slice (codegen/kinds/neurons/)

    sources: list[SourceIR] = []
    in_nodes: list[str] = []
    for i in range(net.layers[0]):
        for sign, suffix in ((1, "p"), (-1, "n")) if net.input_doubling else ((1, ""),):
            node = f"in{i}{suffix}"
            in_nodes.append(node)
            sources.append(SourceIR(name=f"V{node}", node=node, kind="input", input_index=i, sign=sign))
    bias_nodes: list[str] = []
    if net.bias:
        for sign, suffix in ((1, "p"), (-1, "n")) if net.input_doubling else ((1, "p"),):
            node = f"bias_{suffix}"
            bias_nodes.append(node)
            sources.append(SourceIR(name=f"V{node}", node=node, kind="bias", value_V=sign * net.bias_voltage))

    layers = [LayerIR(0, "input", net.layers[0], tuple(in_nodes), None, 1.0)]
    for k in range(1, L + 1):
        if k < L:
            nodes = tuple(f"h{k}_{j}" for j in range(net.layers[k]))
            role: Literal["hidden", "output"] = "hidden"
        else:
            nodes = tuple(
                n
                for j in range(net.layers[k])
                for n in ((f"out{j}p", f"out{j}n") if net.doubled_outputs else (f"out{j}",))
            )
            role = "output"
        has_neuron = role == "hidden" or nrn.on_output
        layers.append(LayerIR(k, role, net.layers[k], nodes, neuron if has_neuron else None, scale(k)))
    if any(layer.neuron for layer in layers):
        sources.append(SourceIR(name="Vnrn_hi", node="nrn_hi", kind="neuron", value_V=neuron.v_high_V))
        sources.append(SourceIR(name="Vnrn_lo", node="nrn_lo", kind="neuron", value_V=neuron.v_low_V))

    # crossbars: forward (k-1 → k), skips, and one bias crossbar per neuron layer
    links: list[tuple[int, int, Literal["forward", "skip"]]] = [
        (k - 1, k, "forward") for k in range(1, L + 1)
    ]
    links += [(s.src, s.dst, "skip") for s in net.skip]
    links.sort(key=lambda t: (t[1], t[0]))
    amplifiers: dict[tuple[str, int], AmplifierIR] = {}
    # first-use order of amplifier output nodes (a dict: membership and position in O(1), so a
    # wide layer elaborates in linear time; a list here made 20 000 nodes take seconds)
    amp_order: dict[str, int] = {}
    crossbars: list[CrossbarIR] = []
    for src, dst, kind in links:
        dist = dst - src
        if src == 0 or not amp.enabled:
            src_nodes, gain = layers[src].nodes, 1.0
        else:
            gain = A**dist
            src_nodes = tuple(f"{n}_a{dist}" for n in layers[src].nodes)
            for n, a in zip(layers[src].nodes, src_nodes, strict=True):
                amplifiers.setdefault(
                    (n, dist), AmplifierIR(name=f"A{n}_a{dist}", in_node=n, out_node=a, gain=gain)
                )
            for a in src_nodes:
                amp_order.setdefault(a, len(amp_order))
        crossbars.append(
            CrossbarIR(
                f"W{src}{dst}" if max(src, dst) < 10 else f"W{src}_{dst}",
                kind,
                src,
                dst,
                src_nodes,
                layers[dst].nodes,
                gain,
                scale(dst),
            )
        )
        if kind == "forward" and bias_nodes:
            crossbars.append(
                CrossbarIR(f"B{dst}", "bias", -1, dst, tuple(bias_nodes), layers[dst].nodes, 1.0, scale(dst))
            )

    out = layers[L]
    pairs = tuple(
        (f"out{j}p", f"out{j}n") if net.doubled_outputs else (f"out{j}", None) for j in range(out.size)
    )
    nudge = NudgeIR(
        outputs=pairs, beta_S=spec.nudge.beta, centered=spec.nudge.centered, energy_scale=out.energy_scale
    )

    free = tuple(n for layer in layers[1:] for n in layer.nodes)
    return {
        "layers": tuple(layers),
        "sources": tuple(sources),
        "amplifiers": tuple(sorted(amplifiers.values(), key=lambda a: amp_order[a.out_node])),
        "crossbars": tuple(crossbars),
        "nudge": nudge,
        "input_doubling": net.input_doubling,
        "doubled_outputs": net.doubled_outputs,
        "free_nodes": free,
    }
