"""Pass ``device``: derive the VTEAM rates so one programming pulse moves G by the spec's step."""

from __future__ import annotations

from typing import Any

from ..ir import DeviceIR
from ..spec import Spec


def run(spec: Spec, fields: dict[str, Any]) -> dict[str, Any]:
    d = spec.device
    span = d.g_max - d.g_min
    dg_set, dg_reset = d.steps_S()  # project or aihwkit terms, mapped once in codegen.spec.Device
    d2d, c2c = d.sigmas()
    # Δw = k·(V/v_th − 1)^a · t_p  with hard bounds, for a pulse of V = ±pulse_amplitude.
    over_set = (d.pulse_amplitude / d.v_threshold_set - 1) ** d.exponent
    over_reset = (d.pulse_amplitude / -d.v_threshold_reset - 1) ** d.exponent
    i = d.init
    return {
        "device": DeviceIR(
            g_min_S=d.g_min,
            g_max_S=d.g_max,
            dg_set_S=dg_set,
            dg_reset_S=dg_reset,
            pulse_amplitude_V=d.pulse_amplitude,
            pulse_width_s=d.pulse_width,
            v_set_V=d.v_threshold_set,
            v_reset_V=d.v_threshold_reset,
            read_voltage_V=d.read_voltage,
            exponent=d.exponent,
            k_set_per_s=(dg_set / span) / (d.pulse_width * over_set),
            k_reset_per_s=(dg_reset / span) / (d.pulse_width * over_reset),
            soft_bounds=d.soft_bounds,
            d2d_sigma=d2d,
            c2c_sigma=c2c,
            stuck_at_gmin=d.faults.stuck_at_gmin,
            stuck_at_gmax=d.faults.stuck_at_gmax,
            init_distribution=i.distribution,
            init_low_S=d.g_min if i.low is None else i.low,
            init_high_S=d.g_max if i.high is None else i.high,
            init_mean_S=(d.g_min + d.g_max) / 2 if i.mean is None else i.mean,
            init_std_S=i.std,
        )
    }
